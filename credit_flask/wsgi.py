"""WSGI entry point: `gunicorn credit_flask.wsgi:app` (see gunicorn_conf.py) or `flask --app credit_flask.wsgi:app`."""

from credit_flask import create_app

app = create_app()
