"""The article's Flask app, written the way the article writes it (the baseline of `mlapps compare`).

Kept deliberately as published: the model loaded at import with `joblib.load`,
no validation, `model.predict` on a numpy array per request.  Only the model
path is read from the environment so the comparison serves the same artifact
as the apps (`MLAPPS_SEED_MODEL_FILE`, default `model.pkl` as in the article).
"""

import os

import joblib
import numpy as np
from flask import Flask, jsonify, request

app = Flask(__name__)
model = joblib.load(os.environ.get("MLAPPS_SEED_MODEL_FILE", "model.pkl"))


@app.route("/predict", methods=["POST"])
def predict():
    data = request.get_json()
    prediction = model.predict([np.array(data["features"])])
    return jsonify({"prediction": int(prediction[0])})
