"""gis_app: the map service of a control centre for utility networks and incidents."""

from __future__ import annotations

from flask import Flask

from gis_app.config import PROJECT_ROOT, load_config

__version__ = "0.1.0"


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config → db → layer registry → blueprints → errors → CLI."""
    from gis_app import access, auth, db, errors, guard, open311, tiles, vendor
    from gis_app.api import api
    from gis_app.layers import LayerRegistry
    from gis_app.maps import maps
    from gis_app.ogc import ogc

    app = Flask(
        __name__,
        static_folder=str(PROJECT_ROOT / "static"),
        static_url_path="/static",
    )
    app.config.update(load_config(config))
    app.secret_key = app.config["SECRET_KEY"]
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    # No request body may exceed the largest import (Werkzeug answers 413 before parsing more).
    app.config.setdefault("MAX_CONTENT_LENGTH", app.config["GIS_APP_MAX_IMPORT_BYTES"])
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    db.init_app(app)
    guard.init_app(app)  # bad bytes in the URL and headers: 400 before authentication
    access.init_app(app)
    guard.init_body_check(app)  # bad form fields and JSON values: 400 after it
    app.extensions["gis_app"] = LayerRegistry.from_dir(app.config["GIS_APP_LAYERS_DIR"])
    app.register_blueprint(api)
    app.register_blueprint(maps)
    app.register_blueprint(vendor.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(ogc)
    app.register_blueprint(tiles.bp)
    app.register_blueprint(open311.bp)
    errors.register_error_handlers(app)
    hops = int(app.config["GIS_APP_PROXY_HOPS"])
    if hops:
        # Behind nginx (TLS ends there): links in OGC answers, redirects and the client address
        # of the login limits must be the public ones, not 127.0.0.1:8000 over plain HTTP.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    return app


def layer_registry(app: Flask | None = None) -> "LayerRegistry":  # noqa: F821
    """The layer registry of `app` (default: the current app)."""
    from flask import current_app

    return (app or current_app).extensions["gis_app"]
