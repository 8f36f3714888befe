"""The WSGI entry point for gunicorn: `gunicorn wsgi:app`. The only place an app is built at import."""

from gis_app import create_app

app = create_app()
