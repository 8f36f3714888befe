"""Re-loading the demo keeps every real row and every link to a demo row; `make run` does not load
the demo into a database with real data; deleting what history points at is refused."""

from __future__ import annotations

import pytest
from helpers import recreate_database
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from gis_app import config, create_app, migrate
from gis_app.accounts.users import create_token, create_user
from gis_app.cli import main
from gis_app.demo.load import load_demo
from gis_app.demo.rows import DemoConflict
from gis_app.layers import layer_registry


def one(session, sql: str, **params):
    return session.execute(text(sql), params).scalar()


def test_reload_keeps_real_accounts_links_incidents_and_designations(app, session):
    gatchina = one(session, "SELECT id FROM municipalities WHERE slug = 'gatchina'")
    vodokanal = one(session, "SELECT id FROM operators WHERE slug = 'demo-vodokanal-gatchina'")
    feature = one(session, "SELECT id FROM network_features WHERE operator_id = :o LIMIT 1",
                  o=vodokanal)  # fmt: skip
    area = one(session, "SELECT id FROM service_areas WHERE operator_id = :o LIMIT 1", o=vodokanal)
    create_user(session, "real-dispatcher", "dispatcher", "x" * 12, None, ("gatchina",))
    create_user(session, "real-staff", "operator", "x" * 12, "demo-vodokanal-gatchina")
    token = create_token(session, "real-staff", "tests")
    real_op = one(session, "INSERT INTO operators (slug, full_name, short_name) VALUES"
                  " ('real-heat', 'Real heat', 'Real heat') RETURNING id")  # fmt: skip
    session.execute(text("INSERT INTO operator_municipalities VALUES (:o, :m)"),
                    {"o": real_op, "m": gatchina})  # fmt: skip
    session.execute(
        text("UPDATE designated_operators SET operator_id = :o WHERE municipality_id = :m"
             " AND utility_code = 'heat'"), {"o": real_op, "m": gatchina},
    )  # fmt: skip
    incident = one(
        session,
        "INSERT INTO incidents (utility_code, municipality_id, operator_id, feature_id,"
        " responsible_area_id, geom) VALUES ('water', :m, :o, :f, :a,"
        " ST_SetSRID(ST_MakePoint(30.13, 59.565), 4326)) RETURNING id",
        m=gatchina, o=vodokanal, f=feature, a=area,
    )  # fmt: skip
    with app.app_context():
        load_demo(session, layer_registry(app))
    assert one(session, "SELECT id FROM municipalities WHERE slug = 'gatchina'") == gatchina
    assert (
        one(session, "SELECT id FROM operators WHERE slug = 'demo-vodokanal-gatchina'") == vodokanal
    )
    links = one(session, "SELECT count(*) FROM user_municipalities um JOIN users u ON u.id ="
                " um.user_id WHERE u.username = 'real-dispatcher' AND um.municipality_id = :m",
                m=gatchina)  # fmt: skip
    assert links == 1
    assert one(session, "SELECT operator_id FROM users WHERE username = 'real-staff'") == vodokanal
    assert one(session, "SELECT count(*) FROM api_tokens WHERE prefix = :p", p=token[:10]) == 1
    row = session.execute(
        text("SELECT municipality_id, operator_id, feature_id, responsible_area_id FROM incidents"
             " WHERE id = :i"), {"i": incident},
    ).one()  # fmt: skip
    assert tuple(row) == (gatchina, vodokanal, feature, area)
    assert one(session, "SELECT operator_id FROM designated_operators WHERE municipality_id = :m"
               " AND utility_code = 'heat'", m=gatchina) == real_op  # fmt: skip
    assert one(session, "SELECT count(*) FROM operator_municipalities WHERE operator_id = :o",
               o=real_op) == 1  # fmt: skip


def test_a_real_incident_linked_to_a_demo_one_says_the_link_went(app, session):
    """The demo's incidents are made anew on a reload; a real incident that was marked a duplicate
    of one, or caused by one, keeps an event naming the link and the number that went."""
    master, cause = session.execute(
        text("SELECT id FROM incidents WHERE is_demo ORDER BY id LIMIT 2")
    ).scalars()
    real = one(
        session,
        "INSERT INTO incidents (utility_code, status, duplicate_of, caused_by_id, geom) VALUES"
        " ('water', 'duplicate', :d, :c, ST_SetSRID(ST_MakePoint(30.13, 59.565), 4326))"
        " RETURNING id",
        d=master, c=cause,
    )  # fmt: skip
    with app.app_context():
        load_demo(session, layer_registry(app))
    assert session.execute(
        text("SELECT duplicate_of, caused_by_id FROM incidents WHERE id = :i"), {"i": real}
    ).one() == (None, None)
    events = session.execute(
        text("SELECT comment, data FROM incident_events WHERE incident_id = :i"
             " AND action = 'link_removed' ORDER BY data->>'link'"), {"i": real},
    ).all()  # fmt: skip
    assert [e.data for e in events] == [
        {"link": "caused_by", "incident": cause, "reason": "demo_reload"},
        {"link": "duplicate_of", "incident": master, "reason": "demo_reload"},
    ]
    assert f"№ {master}, дубликатом которого он был" in events[1].comment


def test_deleting_an_operator_with_accounts_or_history_is_refused(session):
    session.execute(text("SAVEPOINT del"))
    with pytest.raises(IntegrityError, match="users_operator_id_fkey|network_features"):
        session.execute(text("DELETE FROM operators WHERE slug = 'demo-gazraspredelenie'"))
    session.execute(text("ROLLBACK TO SAVEPOINT del"))
    with pytest.raises(IntegrityError, match="fkey"):
        session.execute(text("DELETE FROM municipalities WHERE slug = 'gatchina'"))


def test_a_demo_key_held_by_a_real_row_stops_the_load(app, session):
    session.execute(
        text("UPDATE operators SET is_demo = false WHERE slug = 'demo-gorset-gatchina'")
    )
    with app.app_context(), pytest.raises(DemoConflict, match="demo-gorset-gatchina"):
        load_demo(session, layer_registry(app))


@pytest.fixture(scope="module")
def real_db_url(postgis_url):
    url = make_url(config.sqlalchemy_url(postgis_url))
    url = url.set(database=f"{url.database}_real").render_as_string(hide_password=False)
    recreate_database(url)
    migrate.upgrade(url)
    return url


def test_make_run_does_not_load_the_demo_over_real_data(real_db_url):
    auto = create_app({"DATABASE_URL": real_db_url, "TESTING": True})
    with auto.config["ENGINE"].begin() as conn:
        conn.execute(text("INSERT INTO operators (slug, full_name, short_name) VALUES"
                          " ('real-water', 'Real water', 'Real water')"))  # fmt: skip
    result = auto.test_cli_runner().invoke(main, ["demo", "load", "--auto"])
    assert result.exit_code == 0, result.output
    assert "not loaded: the database holds real data (1 operators)" in result.output
    never = create_app({"DATABASE_URL": real_db_url, "TESTING": True, "GIS_APP_DEMO": "never"})
    assert (
        "GIS_APP_DEMO=never"
        in never.test_cli_runner().invoke(main, ["demo", "load", "--auto"]).output
    )
    always = create_app({"DATABASE_URL": real_db_url, "TESTING": True, "GIS_APP_DEMO": "always"})
    loaded = always.test_cli_runner().invoke(main, ["demo", "load", "--auto"])
    assert "demo data loaded" in loaded.output, loaded.output
    with auto.config["ENGINE"].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM operators WHERE NOT is_demo")).scalar() == 1
    for app in (auto, never, always):
        app.config["ENGINE"].dispose()
