"""An import whose worker dies leaves no temporary file and its attempt recorded as failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gis_app import config
from gis_app.imports import attempts

WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from gis_app import create_app
    from gis_app.db import get_session
    from gis_app.imports import attempts, service
    from gis_app.layers import get_layer

    url, marker = sys.argv[1], Path(sys.argv[2])

    def slow_read(*args, **kwargs):  # the worker is busy reading when it is killed
        marker.write_text("reading")
        time.sleep(120)

    service.read_file = slow_read
    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        session = get_session()
        operator = session.execute(
            service.text("SELECT id FROM operators WHERE slug = 'demo-vodokanal-gatchina'")
        ).scalar_one()
        with attempts.upload_folder() as folder:
            (folder / "upload.geojson").write_text("{}")
            (marker.parent / "folder").write_text(str(folder))
            req = service.ImportRequest(
                layer=get_layer("water_mains"), operator_id=operator,
                path=folder / "upload.geojson", file_name="killed-worker.geojson",
                username="operator-vodokanal-gatchina",
            )
            service.run_import(session, req)
    """
)


@pytest.fixture
def forget_killed_import(postgis_url):
    """Delete the killed worker's committed row once the test's transaction is over."""
    yield
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM imports WHERE file_name = 'killed-worker.geojson'"))
    engine.dispose()


def test_a_killed_import_is_recorded_failed_and_leaves_no_file(
    forget_killed_import, postgis_url, client_as, tmp_path
):
    marker = tmp_path / "marker"
    worker = subprocess.Popen([sys.executable, "-c", WORKER, postgis_url, str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.poll() is None, "the worker ended before reading"
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        folder = Path((tmp_path / "folder").read_text())
        assert folder.is_dir()  # left behind by the killed worker...
        engine = create_engine(config.sqlalchemy_url(postgis_url))
        with engine.connect() as conn:
            status = conn.execute(
                text("SELECT status FROM imports WHERE file_name = 'killed-worker.geojson'")
            ).scalar_one()
        engine.dispose()
        assert status == "running"
        # ...until anyone looks: the list of imports sweeps, and so does the next upload.
        listed = client_as("operator").get("/api/imports").get_json()["imports"]
        (mine,) = [i for i in listed if i["file_name"] == "killed-worker.geojson"]
        assert mine["status"] == "failed" and mine["message"] == attempts.DIED
        assert mine["finished_at"] is not None
        assert folder in attempts.sweep_temp_dirs()
        assert not folder.exists()
    finally:
        if worker.poll() is None:
            worker.kill()


def test_a_live_import_is_not_swept(postgis_url, session):
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.connect() as worker:
        trans = worker.begin()
        import_id = worker.execute(
            text(
                "INSERT INTO imports (username, operator_id, layer_id, mode, status, file_name)"
                " SELECT 'x', id, 'water_mains', 'upsert', 'running', 'live.geojson'"
                " FROM operators LIMIT 1 RETURNING id"
            )
        ).scalar_one()
        trans.commit()
        try:
            trans = worker.begin()
            worker.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('import-run:' || :id))"),
                {"id": str(import_id)},
            )
            attempts.sweep(session)
            status = session.execute(
                text("SELECT status FROM imports WHERE id = :id"), {"id": import_id}
            ).scalar_one()
            assert status == "running"
            trans.rollback()
        finally:
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM imports WHERE id = :id"), {"id": import_id})
    engine.dispose()


def test_upload_folders_of_live_workers_stay(tmp_path):
    mine = tmp_path / f"{attempts.TEMP_PREFIX}{os.getpid()}-abc"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    dead = tmp_path / f"{attempts.TEMP_PREFIX}{gone}-abc"
    mine.mkdir()
    dead.mkdir()
    (dead / "upload.gpkg").write_bytes(b"x")
    assert attempts.sweep_temp_dirs(tmp_path) == [dead]
    assert mine.is_dir() and not dead.exists()
