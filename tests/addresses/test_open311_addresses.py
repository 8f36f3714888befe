"""Open311 with an address only (geocoded by the address search) and Open311's XML format."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import text

from addresses.osm_extract import building_centre

KEY = "test-open311-key"


@pytest.fixture
def open311(app, anon_client):
    app.config["GIS_APP_OPEN311_API_KEYS"] = KEY
    yield anon_client
    app.config["GIS_APP_OPEN311_API_KEYS"] = ""


def _post(open311, address: str, suffix: str = "json"):
    return open311.post(
        f"/open311/v2/requests.{suffix}",
        data={"api_key": KEY, "service_code": "water", "address_string": address},
    )


def _geocoding_event(session, incident_id: str) -> dict:
    return session.execute(
        text("SELECT data FROM incident_events WHERE incident_id = :id AND action = 'geocoded'"),
        {"id": int(incident_id)},
    ).scalar_one()


def test_a_sure_address_places_the_request(open311, session, imported):
    r = _post(open311, "ул. Чехова, д.5")
    assert r.status_code == 201, r.get_data(as_text=True)
    answer = r.get_json()[0]
    assert "адрес найден: Гатчина, улица Чехова, 5" in answer["service_notice"]
    # With the key: the full view (the public reads a rounded point and no address, issue 11).
    detail = open311.get(
        f"/open311/v2/requests/{answer['service_request_id']}.json?api_key={KEY}"
    ).get_json()[0]
    lon, lat = building_centre("улица Чехова", "5")
    assert abs(detail["long"] - lon) < 1e-5 and abs(detail["lat"] - lat) < 1e-5
    assert detail["address"] == "ул. Чехова, д.5"
    event = _geocoding_event(session, answer["service_request_id"])
    assert event["confident"] is True
    assert event["candidates"][0]["label"] == "Гатчина, улица Чехова, 5"


def test_an_ambiguous_address_waits_for_a_dispatcher_with_the_candidates(
    open311, session, imported
):
    r = _post(open311, "Чехава 5")
    assert r.status_code == 201, r.get_data(as_text=True)
    answer = r.get_json()[0]
    assert "адрес неоднозначен" in answer["service_notice"]
    status = session.execute(
        text("SELECT status FROM incidents WHERE id = :id"),
        {"id": int(answer["service_request_id"])},
    ).scalar_one()
    assert status == "new"
    event = _geocoding_event(session, answer["service_request_id"])
    assert event["confident"] is False
    labels = [c["label"] for c in event["candidates"]]
    assert labels[0] == "Гатчина, улица Чехова, 5" and len(labels) >= 2


def test_unknown_or_bad_address_is_400_and_writes_nothing(open311, session, imported):
    before = session.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    for address in ("Несуществующая 999", "Чехова\x005", "", "x" * 300):
        r = _post(open311, address)
        assert r.status_code == 400, (address, r.get_data(as_text=True))
        assert r.get_json()[0]["description"]
    assert session.execute(text("SELECT count(*) FROM incidents")).scalar_one() == before


def test_xml_answers_carry_the_json_content(open311, session, imported):
    for path, root, item in (
        ("services", "services", "service"),
        ("requests", "service_requests", "request"),
    ):
        as_json = open311.get(f"/open311/v2/{path}.json").get_json()
        r = open311.get(f"/open311/v2/{path}.xml")
        assert r.status_code == 200 and r.mimetype == "text/xml"
        doc = ET.fromstring(r.data)
        assert doc.tag == root
        items = doc.findall(item)
        assert len(items) == len(as_json) and items
        for element, obj in zip(items, as_json, strict=True):
            for key, value in obj.items():
                text_ = element.findtext(key)
                expected = (
                    ""
                    if value is None
                    else str(value).lower()
                    if isinstance(value, bool)
                    else str(value)
                )
                assert (text_ or "") == expected, (path, key)
    disc = ET.fromstring(open311.get("/open311/v2/discovery.xml").data)
    assert [f.text for f in disc.iter("format")] == ["text/xml", "application/json"]
    definition = ET.fromstring(open311.get("/open311/v2/services/water.xml").data)
    assert definition.tag == "service_definition"
    assert {v.findtext("key") for v in definition.iter("value")} == {"accident", "incident"}
    # Errors in XML too, and a POST answered in XML.
    missing = open311.get("/open311/v2/requests/999999999.xml")
    assert missing.status_code == 404
    assert ET.fromstring(missing.data).find("error/code").text == "404"
    posted = _post(open311, "Чехова 7", "xml")
    assert posted.status_code == 201 and posted.mimetype == "text/xml"
    request_id = ET.fromstring(posted.data).findtext("request/service_request_id")
    assert request_id and int(request_id) > 0
    one = ET.fromstring(open311.get(f"/open311/v2/requests/{request_id}.xml?api_key={KEY}").data)
    assert one.findtext("request/address") == "Чехова 7"
    # The public reads no address (issue 11), in XML as in JSON.
    public = ET.fromstring(open311.get(f"/open311/v2/requests/{request_id}.xml").data)
    assert not public.findtext("request/address")
