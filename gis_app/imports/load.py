"""Loading prepared features in the database: COPY into a temporary table, then set-based
DELETE, UPDATE and INSERT on network_features (no row-by-row ORM)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.layers import LayerDef
from gis_app.places.municipalities import oblast_boundary_wkb

STAGE = "pg_temp.import_rows"
COPY_CHUNK = 20_000
# Whether a staged row differs from the stored feature it replaces.
DIFFERS = (
    "(f.name IS DISTINCT FROM r.name OR f.attributes IS DISTINCT FROM r.attributes"
    " OR NOT ST_OrderingEquals(f.geom, r.geom))"
)
# The stored feature a staged row replaces: same layer, same owner, same external id.
MATCH = "f.layer_id = :layer AND f.operator_id = :operator AND f.external_id = r.external_id"


@dataclass
class Counts:
    """What an import adds, changes, removes and leaves as it was."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0


def _escape(value: str | None) -> str:
    if value is None:
        return "\\N"
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def stage(session: Session, rows: list, progress=None) -> None:
    """COPY the prepared rows (index, external id, name, attributes JSON, geometry) into a
    temporary table that lives until the transaction ends."""
    # text(): a temporary table and COPY have no ORM form.
    session.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {STAGE.split('.')[1]} (idx integer, external_id text,"
            " name text, attributes jsonb, geom geometry(Geometry, 4326)) ON COMMIT DROP"
        )
    )
    # The driver's own cursor: COPY has no SQLAlchemy form.
    with session.connection().connection.cursor() as cursor:
        for start in range(0, len(rows), COPY_CHUNK):
            chunk = rows[start : start + COPY_CHUNK]
            geoms = shapely.set_srid(np.array([r[4] for r in chunk], dtype=object), 4326)
            hexes = shapely.to_wkb(geoms, hex=True, include_srid=True, output_dimension=2)
            buffer = io.StringIO()
            buffer.writelines(
                f"{r[0]}\t{_escape(r[1])}\t{_escape(r[2])}\t{_escape(r[3])}\t{h}\n"
                for r, h in zip(chunk, hexes, strict=True)
            )
            buffer.seek(0)
            cursor.copy_expert(
                f"COPY {STAGE} (idx, external_id, name, attributes, geom) FROM STDIN", buffer
            )
            if progress:
                progress(len(chunk))
    session.execute(text(f"CREATE INDEX ON {STAGE} (external_id)"))
    session.execute(text(f"ANALYZE {STAGE}"))


def oblast(session: Session) -> shapely.Geometry | None:
    """The oblast's boundary (municipalities of kind 'oblast', EPSG:4326), or None if not loaded."""
    wkb = oblast_boundary_wkb(session)
    return shapely.from_wkb(wkb) if wkb is not None else None


def existing_ids(session: Session, layer: LayerDef, operator_id: int) -> dict[int, str]:
    """Staged features whose external id the owner already has in this layer (append mode)."""
    rows = session.execute(
        text(f"SELECT r.idx, r.external_id FROM {STAGE} r JOIN network_features f ON {MATCH}"),
        {"layer": layer.id, "operator": operator_id},
    ).all()
    return dict(rows)


def plan(session: Session, layer: LayerDef, operator_id: int, mode: str) -> Counts:
    """The counts a write would give, without writing (dry run)."""
    params = {"layer": layer.id, "operator": operator_id}
    total = session.execute(text(f"SELECT count(*) FROM {STAGE}")).scalar_one()
    if mode == "append":
        return Counts(added=total)
    matched, changed = session.execute(
        text(
            f"SELECT count(*), count(*) FILTER (WHERE {DIFFERS})"
            f" FROM {STAGE} r JOIN network_features f ON {MATCH}"
        ),
        params,
    ).one()
    removed = 0
    if mode == "replace":
        removed = session.execute(
            text(
                "SELECT count(*) FROM network_features f WHERE f.layer_id = :layer"
                f" AND f.operator_id = :operator AND NOT EXISTS (SELECT 1 FROM {STAGE} r"
                " WHERE r.external_id = f.external_id)"
            ),
            params,
        ).scalar_one()
    return Counts(
        added=total - matched, changed=changed, removed=removed, unchanged=matched - changed
    )


def write(session: Session, layer: LayerDef, operator_id: int, mode: str, username: str) -> Counts:
    """Apply the staged rows to the owner's features of the layer, set-based; the counts."""
    params = {
        "layer": layer.id,
        "operator": operator_id,
        "utility": layer.utility,
        "user": username,
    }
    counts = Counts()
    if mode == "replace":
        # Features of the owner that the file no longer holds (or that had no external id).
        counts.removed = session.execute(
            text(
                "DELETE FROM network_features f WHERE f.layer_id = :layer AND f.operator_id = :operator"
                f" AND NOT EXISTS (SELECT 1 FROM {STAGE} r WHERE r.external_id = f.external_id)"
            ),
            params,
        ).rowcount
    matched = 0
    if mode in ("replace", "upsert"):
        matched = session.execute(
            text(f"SELECT count(*) FROM {STAGE} r JOIN network_features f ON {MATCH}"), params
        ).scalar_one()
        counts.changed = session.execute(
            text(
                "UPDATE network_features f SET name = r.name, attributes = r.attributes,"
                " geom = r.geom, updated_at = now(), updated_by = :user"
                f" FROM {STAGE} r WHERE {MATCH} AND {DIFFERS}"
            ),
            params,
        ).rowcount
    counts.unchanged = matched - counts.changed
    # When no staged row matched a stored one (append, or the owner's first upload of the layer),
    # every row is new: no look-up per row.
    new_only = "" if mode == "append" or matched == 0 else (
        f"WHERE r.external_id IS NULL OR NOT EXISTS (SELECT 1 FROM network_features f WHERE {MATCH})"
    )  # fmt: skip
    counts.added = session.execute(
        text(
            "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id, name,"
            " attributes, geom, updated_at, updated_by)"
            " SELECT :layer, :utility, :operator, r.external_id, r.name, r.attributes, r.geom,"
            f" now(), :user FROM {STAGE} r {new_only} ORDER BY r.idx"
        ),
        params,
    ).rowcount
    return counts


def drop_stage(session: Session) -> None:
    """Drop the temporary table (it would go at commit anyway; a dry run rolls back)."""
    session.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
