"""Re-importing while dispatchers search: they see the old addresses until the new ones commit."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from addresses.osm_extract import write_osm
from gis_app.addresses import import_osm, load_rows, read_osm, search


def test_searches_read_the_old_generation_until_the_new_one_commits(engine, tmp_path):
    rows = read_osm(write_osm(tmp_path))
    try:
        with Session(engine) as first, first.begin():
            old = import_osm(first, tmp_path / "gatchina.osm")
        # A second import runs in its own transaction: renamed street, not committed yet.
        renamed = [
            (k, i, "улица Новая" if s == "улица Чехова" else s, n, c, g)
            for k, i, s, n, c, g in rows
        ]
        with Session(engine) as importer:
            new = load_rows(importer, renamed, "renamed.osm")
            with Session(engine) as reader:
                during = search(reader, "Чехова 5")
                assert during["features"][0]["properties"]["label"] == "Гатчина, улица Чехова, 5"
                reader.rollback()
            importer.commit()
        with Session(engine) as reader:
            after = search(reader, "Новая 5")
            assert after["features"][0]["properties"]["label"] == "Гатчина, улица Новая, 5"
            gens = reader.execute(text("SELECT id FROM address_generations")).scalars().all()
            assert gens == [new.generation] and new.generation != old.generation
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM address_generations"))
