"""A replica promoted to replace a lost primary, for real: a primary and its streaming standby
(pg_basebackup -R), the app given both in libpq's multi-host URLs (the primary's with
target_session_attrs=read-write, the replica's with prefer-standby). Under load the primary is
stopped and the standby promoted (`SELECT pg_promote()`): reads keep being answered, writes get
503 with Retry-After (never 500) until the promotion, then go to the new primary by themselves
(no setting changed, no restart), and a writer that retries every 503 loses no write and
applies none twice."""

from __future__ import annotations

import os
import threading
import time

import pytest
from pg_clusters import Cluster, new_primary, new_standby, remove, wait_until
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gis_app import config, create_app, migrate
from gis_app.accounts.users import create_token
from gis_app.db import replicas
from gis_app.demo.load import load_demo
from gis_app.layers import LayerRegistry

ITEMS = "/ogc/collections/water_mains/items"
GEOJSON = "application/geo+json"


def multi_host(first: Cluster, second: Cluster, attrs: str) -> str:
    """libpq's multi-host URL of the gis_app database on both servers, `first` tried first."""
    return (
        f"postgresql://gis:{first.password}@127.0.0.1:{first.port},127.0.0.1:{second.port}"
        f"/gis_app?target_session_attrs={attrs}"
    )


def test_multi_host_urls_are_read_as_libpq_reads_them():
    url = "postgresql://gis:p%40ss@db1:5432,db2:5433/gis?target_session_attrs=read-write"
    assert config.sqlalchemy_url(url) == (
        "postgresql+psycopg2://gis:p%40ss@/gis?host=db1:5432&host=db2:5433"
        "&target_session_attrs=read-write"
    )
    assert config.sqlalchemy_url("postgresql://g:p@db1:5432/gis") == (
        "postgresql+psycopg2://g:p@db1:5432/gis"
    )
    listed = "postgresql://g@r1:5432,r2:5432/gis?target_session_attrs=prefer-standby, postgres://g@r3/gis"
    assert config.split_urls(listed) == [
        "postgresql://g@r1:5432,r2:5432/gis?target_session_attrs=prefer-standby",
        "postgres://g@r3/gis",
    ]


@pytest.fixture(scope="module")
def pair():
    """A primary with the demo data, a streaming standby of it, and a token of the Gatchina
    water operator (who may edit water_mains)."""
    primary = new_primary(int(os.environ.get("GIS_APP_LOCAL_PG_PORT", "54329")) + 30)
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
            token = create_token(session, "operator-vodokanal-gatchina", "failover test")
        engine.dispose()
        standby = new_standby(primary, primary.port + 1)
        yield primary, standby, token
    finally:
        remove(*[c for c in (standby, primary) if c is not None])


def _feature(ext: str) -> dict:
    return {"type": "Feature", "properties": {"external_id": ext, "diameter_mm": 100},
            "geometry": {"type": "LineString", "coordinates": [[30.1, 59.57], [30.1005, 59.5705]]}}  # fmt: skip


def _in_recovery(cluster: Cluster) -> bool:
    engine = create_engine(config.sqlalchemy_url(cluster.url("gis_app")))
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT pg_is_in_recovery()")).scalar())
    finally:
        engine.dispose()


def test_multi_host_urls_reach_the_primary_for_writes_and_the_standby_for_reads(pair):
    primary, standby, token = pair
    # The standby is listed first for writes: libpq passes it by (read-only) and takes the primary.
    app = create_app({"DATABASE_URL": multi_host(standby, primary, "read-write"),
                      "GIS_APP_DATABASE_REPLICA_URLS": multi_host(standby, primary, "prefer-standby"),
                      "GIS_APP_REPLICA_CHECK_S": 0, "TESTING": True})  # fmt: skip
    try:
        with app.config["ENGINE"].connect() as conn:
            port, recovery = conn.execute(
                text("SELECT inet_server_port(), pg_is_in_recovery()")
            ).one()
        assert (port, recovery) == (primary.port, False)
        with app.app_context():
            status = replicas(app).status()[0]
        assert status["healthy"] and status["reason"] == "ok", status
        assert status["host"] == f"127.0.0.1:{standby.port},127.0.0.1:{primary.port}"
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        created = client.post(ITEMS, json=_feature("MH-1"), content_type=GEOJSON)
        assert created.status_code == 201, created.get_json()
    finally:
        replicas(app).dispose()
        app.config["ENGINE"].dispose()


def test_a_promoted_standby_takes_the_writes_and_no_write_is_lost_or_doubled(pair):
    primary, standby, token = pair
    app = create_app({"DATABASE_URL": multi_host(primary, standby, "read-write"),
                      "GIS_APP_DATABASE_REPLICA_URLS": multi_host(standby, primary, "prefer-standby"),
                      "GIS_APP_REPLICA_CHECK_S": 0, "GIS_APP_AUTH_CACHE_S": 0,
                      "TESTING": True})  # fmt: skip
    statuses: dict[str, dict[int, int]] = {"read": {}, "write": {}}
    retry_after: set[str] = set()
    acknowledged: list[str] = []
    reads_while_down: list[int] = []
    writes_after_promotion: list[float] = []
    phase = {"name": "before"}
    promoted_at: list[float] = []
    stop = threading.Event()
    lock = threading.Lock()

    def note(kind: str, response) -> None:
        with lock:
            seen = statuses[kind]
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            if response.status_code == 503:
                retry_after.add(response.headers.get("Retry-After", ""))

    def reader() -> None:
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        while not stop.is_set():
            response = client.get(f"{ITEMS}?limit=20&f=json")
            response.get_data()
            response.close()
            note("read", response)
            if response.status_code == 200 and phase["name"] == "down":
                reads_while_down.append(1)
            time.sleep(0.02)

    def writer() -> None:
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        n = 0
        while not stop.is_set():
            ext = f"FAILOVER-{n}"
            while not stop.is_set():  # the same feature again until the service answers for it
                response = client.post(ITEMS, json=_feature(ext), content_type=GEOJSON)
                note("write", response)
                if response.status_code in (201, 409):  # 409: an earlier try was written
                    acknowledged.append(ext)
                    if promoted_at and not writes_after_promotion:
                        writes_after_promotion.append(time.monotonic() - promoted_at[0])
                    break
                assert response.status_code == 503, response.get_data(as_text=True)
                time.sleep(0.2)
            n += 1

    threads = [threading.Thread(target=reader) for _ in range(2)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        # The old primary goes away (a clean stop: its last WAL reaches the standby first).
        primary.stop("fast")
        phase["name"] = "down"
        time.sleep(1.5)
        # The operator (or Patroni/repmgr) promotes the standby; the app is not touched.
        promoter = create_engine(
            config.sqlalchemy_url(standby.url("gis_app")), isolation_level="AUTOCOMMIT"
        )
        with promoter.connect() as conn:
            assert conn.execute(text("SELECT pg_promote(true, 60)")).scalar() is True
        promoter.dispose()
        promoted_at.append(time.monotonic())
        phase["name"] = "promoted"
        wait_until(lambda: bool(writes_after_promotion), seconds=30, step=0.1)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    with app.app_context():
        status = replicas(app).status()[0]
    replicas(app).dispose()
    app.config["ENGINE"].dispose()
    # Shown with -s: the figures docs/scaling.md quotes.
    print(
        f"statuses {statuses}; first write {writes_after_promotion} s after the promotion;"
        f" {len(acknowledged)} features written; reads while down {len(reads_while_down)}"
    )
    assert 500 not in statuses["read"] and 500 not in statuses["write"], statuses
    assert statuses["write"].get(503, 0) > 0, statuses  # the writes saw the switch ...
    assert retry_after and "" not in retry_after, retry_after  # ... always with Retry-After
    assert reads_while_down, statuses  # the standby answered reads while there was no primary
    assert writes_after_promotion[0] < 15, writes_after_promotion
    # The promoted standby is the primary now, and the router still reads it.
    assert not _in_recovery(standby)
    assert status["healthy"] and "promoted" in status["reason"], status
    engine = create_engine(config.sqlalchemy_url(standby.url("gis_app")))
    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                text("SELECT external_id, count(*) FROM network_features"
                     " WHERE external_id LIKE 'FAILOVER-%' GROUP BY external_id")
            ).all()
        )  # fmt: skip
    engine.dispose()
    assert acknowledged and set(acknowledged) <= set(rows), (acknowledged, rows)
    assert set(rows.values()) == {1}, rows  # none written twice
