"""Run by tests/test_qgis.py with the system Python that PyQGIS belongs to: load collections of
the server's OGC API through QGIS's OAPIF provider, as a planner's QGIS does, and print what
QGIS saw as JSON.

    /usr/bin/python3 tests/qgis_read.py BASE_URL USER TOKEN collection[,collection...] [bbox]
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    Qgis,
    QgsApplication,
    QgsDataSourceUri,
    QgsFeatureRequest,
    QgsRectangle,
    QgsVectorLayer,
)


def read(base: str, user: str, token: str, collection: str, bbox: list[float] | None) -> dict:
    """What QGIS makes of one collection: validity, features, fields, CRS, the first feature."""
    uri = QgsDataSourceUri()
    uri.setParam("url", f"{base}/ogc")
    uri.setParam("typename", collection)
    # QGIS's connection dialog offers a user and a password: the API token is the password.
    uri.setUsername(user)
    uri.setPassword(token)
    layer = QgsVectorLayer(uri.uri(False), collection, "OAPIF")
    if not layer.isValid():
        return {"valid": False}
    request = QgsFeatureRequest()
    if bbox:
        request.setFilterRect(QgsRectangle(*bbox))
    features = list(layer.getFeatures(request))
    names = [field.name() for field in layer.fields()]
    first = features[0] if features else None
    return {
        "valid": True,
        "count": len(features),
        "ids": sorted(int(f["id"]) if "id" in names else f.id() for f in features)[:5],
        "crs": layer.crs().authid(),
        "fields": names,
        "geometry": first.geometry().asWkt(6)[:40] if first else None,
        "properties": {n: str(first[n]) for n in names} if first else {},
    }


def main() -> None:
    base, user, token, collections = sys.argv[1:5]
    bbox = [float(v) for v in sys.argv[5].split(",")] if len(sys.argv) > 5 else None
    app = QgsApplication([], False)
    app.initQgis()
    result = {c: read(base, user, token, c, bbox) for c in collections.split(",")}
    print(json.dumps({"qgis": Qgis.version(), "collections": result}, ensure_ascii=False))
    app.exitQgis()


if __name__ == "__main__":
    main()
