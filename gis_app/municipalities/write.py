"""Writing checked units: match each to an existing unit (OKTMO, else name and kind), insert or
update it, find its parent (OKTMO prefix, else the largest overlap), retire what a replace drops,
and optionally make the oblast the union of its units. SQL only; the caller owns the transaction."""

from __future__ import annotations

import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.municipalities.kinds import LEVEL, parent_oktmo
from gis_app.municipalities.prepare import Unit
from gis_app.municipalities.slugs import slugify
from gis_app.places.municipalities import oblast_boundary_wkb

KINDS_AT = {level: [k for k, v in LEVEL.items() if v == level] for level in (0, 1, 2)}


def current_oblast(session: Session) -> shapely.Geometry | None:
    """The union of the active units of kind 'oblast' (EPSG:4326), or None."""
    wkb = oblast_boundary_wkb(session)
    return shapely.from_wkb(wkb) if wkb is not None else None


def match(session: Session, unit: Unit) -> tuple[int | None, str | None]:
    """(id of the existing unit this one updates, or None; a reason when the match is ambiguous)."""
    if unit.oktmo:
        found = session.execute(
            text("SELECT id FROM municipalities WHERE oktmo = :o"), {"o": unit.oktmo}
        ).scalar()
        if found is not None:
            return found, None
    rows = session.execute(
        text(
            "SELECT id, oktmo FROM municipalities WHERE lower(name_ru) = lower(:n) AND kind = :k"
            " ORDER BY retired_at IS NOT NULL, id"
        ),
        {"n": unit.name, "k": unit.kind},
    ).all()
    if len(rows) > 1:
        return None, f"name: {len(rows)} units of this kind are named '{unit.name}'; give OKTMO"
    if rows and unit.oktmo and rows[0][1] and rows[0][1] != unit.oktmo:
        return None, f"oktmo: '{unit.name}' exists with OKTMO {rows[0][1]}, not {unit.oktmo}"
    return (rows[0][0], None) if rows else (None, None)


def _free_slug(session: Session, name: str) -> str:
    base = slugify(name)
    slug, n = base, 1
    while session.execute(
        text("SELECT 1 FROM municipalities WHERE slug = :s"), {"s": slug}
    ).first():
        n += 1
        slug = f"{base}-{n}"
    return slug


def upsert(session: Session, unit: Unit, existing: int | None) -> tuple[int, str, dict | None]:
    """Insert or update one unit; (id, 'added' | 'changed' | 'unchanged', the row before). A demo
    unit the official file names becomes real (not demo): the demo then no longer loads over it."""
    params = {
        "name": unit.name,
        "kind": unit.kind,
        "oktmo": unit.oktmo,
        "wkb": shapely.to_wkb(unit.geom, hex=True, output_dimension=2),
    }
    if existing is None:
        slug = _free_slug(session, unit.name)
        new_id = session.execute(
            text(
                "INSERT INTO municipalities (slug, kind, oktmo, name_ru, name_en, geom) VALUES"
                " (:slug, :kind, :oktmo, :name, :name_en,"
                " ST_Multi(ST_SetSRID(CAST(:wkb AS geometry), 4326))) RETURNING id"
            ),
            {**params, "slug": slug, "name_en": slug.replace("-", " ").title()},
        ).scalar_one()
        return new_id, "added", None
    before = unit_row(session, existing)
    same = session.execute(
        text(
            "SELECT name_ru = :name AND kind = :kind AND oktmo IS NOT DISTINCT FROM"
            " coalesce(:oktmo, oktmo) AND retired_at IS NULL AND NOT is_demo"
            " AND ST_Equals(geom, ST_SetSRID(CAST(:wkb AS geometry), 4326))"
            " FROM municipalities WHERE id = :id"
        ),
        {**params, "id": existing},
    ).scalar_one()
    if same:
        return existing, "unchanged", before
    session.execute(
        text(
            "UPDATE municipalities SET name_ru = :name, kind = :kind, is_demo = false,"
            " oktmo = coalesce(:oktmo, oktmo), retired_at = NULL, retired_reason = NULL,"
            " geom = ST_Multi(ST_SetSRID(CAST(:wkb AS geometry), 4326)) WHERE id = :id"
        ),
        {**params, "id": existing},
    )
    return existing, "changed", before


def unit_row(session: Session, unit_id: int) -> dict:
    """A unit's attributes (no geometry) for the record of changes."""
    row = (
        session.execute(
            text(
                "SELECT id, slug, name_ru, kind, oktmo, parent_id, retired_at::text AS retired_at,"
                " round(ST_Area(geom::geography)) AS area_m2 FROM municipalities WHERE id = :id"
            ),
            {"id": unit_id},
        )
        .mappings()
        .one()
    )
    return {k: (float(v) if k == "area_m2" else v) for k, v in row.items()}


def set_parent(session: Session, unit_id: int, unit: Unit) -> tuple[int | None, str]:
    """Link a unit to the unit above: by its OKTMO prefix, else the largest overlap (m²)."""
    if unit.level == 0:
        return None, "top"
    code = parent_oktmo(unit.oktmo, unit.kind) if unit.oktmo else None
    parent = None
    how = "none found"
    if code:
        parent = session.execute(
            text("SELECT id FROM municipalities WHERE oktmo = :o AND retired_at IS NULL"),
            {"o": code},
        ).scalar()
        how = f"OKTMO {code}"
    for level in range(unit.level - 1, -1, -1):
        if parent is not None:
            break
        # text(): the overlap in square metres decides among the units of the level above.
        parent = session.execute(
            text(
                "SELECT p.id FROM municipalities p, municipalities u WHERE u.id = :id"
                " AND p.retired_at IS NULL AND p.id <> u.id AND p.kind = ANY(:kinds)"
                " AND p.geom && u.geom AND ST_Intersects(p.geom, u.geom)"
                " ORDER BY ST_Area(ST_Intersection(p.geom, u.geom)::geography) DESC, p.id LIMIT 1"
            ),
            {"id": unit_id, "kinds": KINDS_AT[level]},
        ).scalar()
        how = "largest overlap"
    session.execute(
        text("UPDATE municipalities SET parent_id = :p WHERE id = :id"),
        {"p": parent, "id": unit_id},
    )
    return parent, how if parent is not None else "none found"


def retire_missing(session: Session, kept: list[int], kinds: list[str], reason: str) -> list[dict]:
    """Retire the active non-demo units of `kinds` not in `kept` (replace mode); what was retired."""
    rows = session.execute(
        text(
            "UPDATE municipalities SET retired_at = now(), retired_reason = :why"
            " WHERE retired_at IS NULL AND NOT is_demo AND kind = ANY(:kinds)"
            " AND NOT (id = ANY(:kept)) RETURNING id, slug, name_ru, kind, oktmo"
        ),
        {"why": reason, "kinds": kinds, "kept": kept},
    ).mappings()
    return [dict(r) for r in rows]


def oblast_from_units(session: Session, name: str, oktmo: str | None) -> tuple[int, str]:
    """Make the (non-demo) oblast the union of the active districts and okrugs; (id, action)."""
    union = (
        "(SELECT ST_Multi(ST_Union(geom)) FROM municipalities"
        " WHERE retired_at IS NULL AND NOT is_demo AND kind = ANY(:kinds))"
    )
    params = {"kinds": KINDS_AT[1], "name": name, "oktmo": oktmo}
    found = session.execute(
        text(
            "SELECT id FROM municipalities WHERE kind = 'oblast' AND NOT is_demo"
            " ORDER BY retired_at IS NOT NULL, id LIMIT 1"
        )
    ).scalar()
    if found is None:
        slug = _free_slug(session, name)
        found = session.execute(
            text(
                "INSERT INTO municipalities (slug, kind, oktmo, name_ru, name_en, geom)"
                f" VALUES (:slug, 'oblast', :oktmo, :name, :name_en, {union}) RETURNING id"
            ),
            {**params, "slug": slug, "name_en": slug.replace("-", " ").title()},
        ).scalar_one()
        action = "added"
    else:
        session.execute(
            text(
                f"UPDATE municipalities SET geom = {union}, retired_at = NULL,"
                " oktmo = coalesce(:oktmo, oktmo) WHERE id = :id"
            ),
            {**params, "id": found},
        )
        action = "changed"
    session.execute(
        text(
            "UPDATE municipalities SET parent_id = :o WHERE parent_id IS NULL AND id <> :o"
            " AND NOT is_demo AND kind = ANY(:kinds)"
        ),
        {"o": found, "kinds": KINDS_AT[1]},
    )
    return found, action
