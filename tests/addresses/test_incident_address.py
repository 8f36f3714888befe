"""An incident created without an address is named by the nearest house (reverse look-up)."""

from __future__ import annotations

from addresses.osm_extract import building_centre


def _create(client, lon: float, lat: float, **extra):
    payload = {"lon": lon, "lat": lat, "utility": "water", "description": "Течь", **extra}
    response = client.post("/api/incidents", json=payload)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_the_nearest_house_names_an_incident_without_address(client, imported):
    lon, lat = building_centre("улица Чехова", "7")
    assert _create(client, lon + 0.0001, lat)["address"] == "Гатчина, улица Чехова, 7"
    # 40 m off: the address says how far.
    far = _create(client, lon, lat - 0.00036, allow_duplicate=True)["address"]
    assert far.startswith("Гатчина, улица Чехова, 7 (≈ ") and far.endswith(" м)")
    # An address given is kept; none near (a field) stays empty.
    given = _create(client, lon, lat, address="у трансформаторной", allow_duplicate=True)
    assert given["address"] == "у трансформаторной"
    assert _create(client, 32.02, 59.45)["address"] is None
