"""WSGI entry point: `gunicorn maintenance_flask.wsgi:app` (see gunicorn_conf.py) or `flask --app maintenance_flask.wsgi:app`."""

from maintenance_flask import create_app

app = create_app()
