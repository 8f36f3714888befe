"""Read replicas, against a real streaming standby (pg_basebackup -R) of a real primary: stale-safe
reads go to the standby, writes and the writer's next reads to the primary, a lagging or stopped
standby is skipped and the answer still comes (from the primary)."""

from __future__ import annotations

import os

import pytest
from pg_clusters import new_primary, new_standby, remove, wait_until
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gis_app import config, create_app, migrate
from gis_app.db import WROTE_COOKIE, replicas
from gis_app.demo.load import load_demo
from gis_app.layers import LayerRegistry

ITEMS = "/ogc/collections/water_mains/items"
GEOJSON = "application/geo+json"
MAX_LAG_S = 4


@pytest.fixture(scope="module")
def pair():
    """A primary with the demo data and a streaming standby of it; their engines."""
    first = int(os.environ.get("GIS_APP_LOCAL_PG_PORT", "54329")) + 10
    primary = new_primary(first)
    standby = None
    try:
        admin = create_engine(config.sqlalchemy_url(primary.url()), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE gis_app"))
        admin.dispose()
        migrate.upgrade(primary.url("gis_app"))
        engine = create_engine(config.sqlalchemy_url(primary.url("gis_app")))
        with Session(engine) as session, session.begin():
            load_demo(session, LayerRegistry.from_dir(config.PROJECT_ROOT / "layers"))
        standby = new_standby(primary, primary.port + 1)
        standby_engine = create_engine(
            config.sqlalchemy_url(standby.url("gis_app")), isolation_level="AUTOCOMMIT",
            pool_pre_ping=True,
        )  # fmt: skip
        yield primary, standby, engine, standby_engine
        engine.dispose()
        standby_engine.dispose()
    finally:
        remove(*[c for c in (standby, primary) if c is not None])


@pytest.fixture(scope="module")
def app(pair):
    """The app on the primary, the standby as its replica, checked on every request."""
    primary, standby, _, _ = pair
    application = create_app({
        "DATABASE_URL": primary.url("gis_app"),
        "GIS_APP_DATABASE_REPLICA_URLS": standby.url("gis_app"),
        "GIS_APP_REPLICA_MAX_LAG_S": MAX_LAG_S,
        "GIS_APP_REPLICA_CHECK_S": 0,
        "GIS_APP_READ_YOUR_WRITES_S": 30,
        "TESTING": True,
    })  # fmt: skip
    yield application
    replicas(application).dispose()
    application.config["ENGINE"].dispose()


@pytest.fixture(scope="module")
def token(pair):
    """A token of the demo's Gatchina water operator (who may edit water_mains)."""
    from gis_app.accounts.users import create_token

    with Session(pair[2]) as session, session.begin():
        return create_token(session, "operator-vodokanal-gatchina", "replica tests")


def _client(app, token):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def _get(client, url: str):
    """GET, the streamed body read and the response closed (its Session goes back now)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def _caught_up(primary_engine, standby_engine) -> bool:
    with primary_engine.connect() as p, standby_engine.connect() as s:
        lsn = p.execute(text("SELECT pg_current_wal_lsn()")).scalar()
        return s.execute(
            text("SELECT pg_last_wal_replay_lsn() >= CAST(:l AS pg_lsn)"), {"l": lsn}
        ).scalar()


def _sync(pair) -> None:
    """A fresh transaction on the primary, replayed on the standby (its replay clock is now)."""
    _, _, engine, standby_engine = pair
    with engine.begin() as conn:
        conn.execute(text("UPDATE serving_revisions SET changed_at = changed_at WHERE false"))
        conn.execute(text("SELECT txid_current()"))
    wait_until(lambda: _caught_up(engine, standby_engine))


def _insert_feature(engine, ext: str) -> int:
    with engine.begin() as conn:
        return conn.execute(
            text(
                "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id,"
                " attributes, geom) SELECT 'water_mains', 'water', operator_id, :e,"
                " '{\"diameter_mm\": 100}', ST_GeomFromText('LINESTRING(30.1 59.57, 30.11 59.58)',"
                " 4326) FROM network_features WHERE layer_id = 'water_mains' LIMIT 1 RETURNING id"
            ),
            {"e": ext},
        ).scalar()


def _status(app) -> dict:
    with app.app_context():
        return replicas(app).status()[0]


def test_reads_go_to_the_standby_and_the_writer_reads_the_primary(app, pair, token):
    primary, standby, engine, standby_engine = pair
    assert _status(app)["healthy"], _status(app)
    _sync(pair)
    standby_engine.connect().execute(text("SELECT pg_wal_replay_pause()")).close()
    try:
        # Written on the primary, not replayed on the paused standby (lag under the limit).
        hidden = _insert_feature(engine, "R-hidden")
        reader = _client(app, token)
        assert _get(reader, f"{ITEMS}/{hidden}?f=json").status_code == 404  # from the standby
        # A write (OGC Part 4 create) goes to the primary and marks the writer's session.
        writer = _client(app, token)
        feature = {"type": "Feature", "properties": {"external_id": "R-mine", "diameter_mm": 80},
                   "geometry": {"type": "LineString", "coordinates": [[30.1, 59.57], [30.2, 59.6]]}}  # fmt: skip
        created = writer.post(ITEMS, json=feature, content_type=GEOJSON)
        assert created.status_code == 201, created.get_json()
        assert writer.get_cookie(WROTE_COOKIE) is not None
        mine = int(created.headers["Location"].rsplit("/", 1)[1])
        # Read-your-writes: the writer sees both its feature and the other (the primary);
        # the reader, still on the standby, sees neither.
        assert _get(writer, f"{ITEMS}/{mine}?f=json").status_code == 200
        assert _get(writer, f"{ITEMS}/{hidden}?f=json").status_code == 200
        assert _get(reader, f"{ITEMS}/{mine}?f=json").status_code == 404
        # A forged or foreign cookie does not count.
        forged = _client(app, token)
        forged.set_cookie(WROTE_COOKIE, "1.forged.signature")
        assert _get(forged, f"{ITEMS}/{mine}?f=json").status_code == 404
    finally:
        standby_engine.connect().execute(text("SELECT pg_wal_replay_resume()")).close()
    wait_until(lambda: _caught_up(engine, standby_engine))
    assert _get(_client(app, token), f"{ITEMS}/{mine}?f=json").status_code == 200


def test_a_lagging_standby_is_skipped_until_it_catches_up(app, pair, token):
    _, _, engine, standby_engine = pair
    _sync(pair)
    standby_engine.connect().execute(text("SELECT pg_wal_replay_pause()")).close()
    try:
        late = _insert_feature(engine, "R-late")
        reader = _client(app, token)
        # The standby has received the WAL but not replayed it: its lag grows from the last
        # replayed transaction; past the limit it is skipped and the primary answers.
        wait_until(lambda: not _status(app)["healthy"], seconds=MAX_LAG_S + 10, step=0.5)
        status = _status(app)
        assert "lags" in status["reason"] and status["lag_s"] > MAX_LAG_S
        body = _get(reader, f"{ITEMS}/{late}?f=json")
        assert body.status_code == 200 and body.get_json()["properties"]["external_id"] == "R-late"
        tile = _get(reader, "/tiles/water_mains/14/9560/4741.mvt")
        assert tile.status_code == 200
    finally:
        standby_engine.connect().execute(text("SELECT pg_wal_replay_resume()")).close()
    wait_until(lambda: _status(app)["healthy"], seconds=15, step=0.3)


def test_an_idle_primary_does_not_make_the_standby_lag(app, pair):
    # Nothing written for longer than the limit: the last replayed transaction is old, but
    # everything received is replayed, so the standby is not behind.
    _sync(pair)
    import time

    time.sleep(MAX_LAG_S + 1)
    status = _status(app)
    assert status["healthy"] and status["lag_s"] == 0, status


def test_a_stopped_standby_is_skipped_and_the_answer_still_comes(app, pair, token):
    _, standby, engine, standby_engine = pair
    fid = _insert_feature(engine, "R-stopped")
    _sync(pair)
    reader = _client(app, token)
    assert _get(reader, f"{ITEMS}/{fid}?f=json").status_code == 200
    standby.stop("immediate")
    try:
        page = _get(reader, f"{ITEMS}/{fid}?f=json")
        assert page.status_code == 200, page.get_data(as_text=True)
        assert "does not answer" in _status(app)["reason"]
        assert _get(reader, f"{ITEMS}?limit=5&f=json").status_code == 200
    finally:
        standby.start()
    wait_until(lambda: _status(app)["healthy"], seconds=20, step=0.3)


def test_a_promoted_standby_is_no_longer_a_replica(app, pair, token):
    # Last test of the module: promotion ends the standby's replication for good.
    _, standby, engine, _ = pair
    standby.promote()
    wait_until(lambda: not _status(app)["healthy"], seconds=15, step=0.3)
    assert "not in recovery" in _status(app)["reason"]
    # Written on the primary after the split: only the primary has it, and it answers.
    fid = _insert_feature(engine, "R-after-promotion")
    assert _get(_client(app, token), f"{ITEMS}/{fid}?f=json").status_code == 200
