"""The web floor: Flask blueprints (JSON API, OGC API, tiles, Open311, map pages, login), request
authentication and the error handlers. Views parse the request, call one service, shape the answer."""

from __future__ import annotations

from flask import Flask


def init_web(app: Flask) -> None:
    """Register the access check, the blueprints and the error handlers on `app`."""
    from gis_app.web import access, auth, basemap, errors, guard, headers, open311, tiles, vendor
    from gis_app.web.api import api
    from gis_app.web.ogc import ogc
    from gis_app.web.pages.accounts import account_pages
    from gis_app.web.pages.admin import admin_pages
    from gis_app.web.pages.dashboard import bp as dashboard_pages
    from gis_app.web.pages.feedback import bp as feedback_pages
    from gis_app.web.pages.maps import maps
    from gis_app.web.pages.rules import bp as rules_pages
    from gis_app.web.tile_fast_path import TileFastPath

    _import_routes()

    guard.init_app(app)  # bad bytes in the URL and headers: 400 before authentication
    access.init_app(app)
    guard.init_body_check(app)  # bad form fields and JSON values: 400 after it
    pages = (maps, admin_pages, account_pages, dashboard_pages, feedback_pages, rules_pages)
    for blueprint in (api, *pages, vendor.bp, auth.bp, ogc, tiles.bp, open311.bp, basemap.bp):
        app.register_blueprint(blueprint)
    errors.register_error_handlers(app)
    headers.init_app(app)
    hops = int(app.config["GIS_APP_PROXY_HOPS"])
    if hops:
        # Behind nginx (TLS ends there): links in OGC answers, redirects and the client address
        # of the login limits must be the public ones, not 127.0.0.1:8000 over plain HTTP.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    # The plain tile request skips Flask's request machinery; all else goes on to the app.
    app.wsgi_app = TileFastPath(app, app.wsgi_app)


def _import_routes() -> None:
    """Import the route modules of the api and ogc blueprints: their views register on import."""
    from gis_app.web.api import (  # noqa: F401
        addresses,
        admin,
        board,
        exports,
        features,
        imports,
        incident_network,
        incidents,
        kpi,
        layers,
        municipalities,
        network,
        operators,
        outages,
        places,
        report_point,
        responsible,
        rules,
    )
    from gis_app.web.ogc import crud, views  # noqa: F401
