"""gis_app: the map service of a control centre for utility networks and incidents."""

from __future__ import annotations

from flask import Flask

from gis_app.config import VERSION as __version__  # noqa: F401  (the package's version)


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config → db → layer registry → the web floor (blueprints, errors, access)."""
    from gis_app import db
    from gis_app.config import PROJECT_ROOT, load_config
    from gis_app.layers import LayerRegistry
    from gis_app.web import init_web

    app = Flask(
        __name__,
        static_folder=str(PROJECT_ROOT / "static"),
        static_url_path="/static",
        template_folder="web/templates",
    )
    app.config.update(load_config(config))
    app.secret_key = app.config["SECRET_KEY"]
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    # No request body may exceed the largest import (Werkzeug answers 413 before parsing more).
    app.config.setdefault("MAX_CONTENT_LENGTH", app.config["GIS_APP_MAX_IMPORT_BYTES"])
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    db.init_app(app)
    app.extensions["gis_app"] = LayerRegistry.from_dir(app.config["GIS_APP_LAYERS_DIR"])
    init_web(app)
    return app
