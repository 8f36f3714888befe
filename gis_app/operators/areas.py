"""Service areas and designations set up by an admin: import an operator's areas for a utility
from a file (polygons, a priority each; all or nothing), and say which operator a municipality
designates for a utility. Each change recorded (gis_app.changes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.changes import record_change
from gis_app.errors import Forbidden, ImportFailed, InvalidParameter, NotFound
from gis_app.imports.read import parse_crs, read_file
from gis_app.imports.report import group_reasons
from gis_app.municipalities.prepare import check_geometry
from gis_app.operators.directory import find_operator
from gis_app.places.municipalities import oblast_boundary_wkb


@dataclass
class AreaImport:
    """An operator's service areas for one utility from a file; `replace` drops its others."""

    path: Path
    operator: str
    utility: str
    name_field: str | None = None
    priority_field: str | None = None
    priority: int = 0
    replace: bool = False
    dry_run: bool = False
    crs: str | None = None
    file_name: str = ""
    username: str = ""
    user_id: int | None = None


def check_serves(session: Session, operator_id: int, slug: str, utility: str) -> None:
    """404 for an unknown utility; 403 when the (active) operator does not serve it."""
    known = session.execute(text("SELECT 1 FROM utilities WHERE code = :u"), {"u": utility}).first()
    if not known:
        raise NotFound(f"Utility '{utility}' does not exist.", code="utility_not_found",
                       utility=utility)  # fmt: skip
    serves = session.execute(
        text(
            "SELECT 1 FROM operator_utilities ou JOIN operators o ON o.id = ou.operator_id"
            " WHERE ou.operator_id = :o AND ou.utility_code = :u AND o.retired_at IS NULL"
        ),
        {"o": operator_id, "u": utility},
    ).first()
    if not serves:
        raise Forbidden(
            f"Operator '{slug}' does not serve '{utility}' (or is retired): add the utility to it"
            " first.", code="wrong_utility", operator=slug, utility=utility,
        )  # fmt: skip


def _column(batch, name: str | None, what: str) -> list | None:
    if name is None:
        return None
    if name not in batch.columns:
        raise InvalidParameter(f"{what}_field: the file has no column '{name}' (it has "
                               f"{batch.columns})", code="unknown_field",
                               parameter=f"{what}_field")  # fmt: skip
    return batch.values[batch.columns.index(name)]


def import_service_areas(session: Session, req: AreaImport) -> dict:
    """Import the areas in the caller's transaction; the report. A rejected feature fails the
    whole file (422, nothing written); a dry run plans, and the caller rolls it back."""
    operator = find_operator(session, req.operator)
    check_serves(session, operator.id, operator.slug, req.utility)
    batch = read_file(req.path, parse_crs(req.crs))
    names = _column(batch, req.name_field, "name")
    priorities = _column(batch, req.priority_field, "priority")
    oblast_wkb = oblast_boundary_wkb(session)
    oblast = shapely.from_wkb(oblast_wkb) if oblast_wkb else None
    rejected: dict[int, list[str]] = {}
    rows = []
    for i in range(len(batch)):
        geom, _, why = check_geometry(batch.geoms[i])
        reasons = [why] if why else []
        if geom is not None and oblast is not None and not shapely.intersects(geom, oblast):
            reasons.append("geometry: outside the oblast")
        name = str(names[i] or "").strip() if names else ""
        priority = priorities[i] if priorities else req.priority
        try:
            priority = int(priority)
        except (TypeError, ValueError):
            reasons.append(f"priority: '{priority}' is not a whole number")
        if reasons:
            rejected[i] = reasons
            continue
        rows.append((name or f"{operator.short_name}: {req.utility} #{i + 1}", priority, geom))
    labels = {i: str(names[i]) if names else "" for i in rejected}
    report = {"operator": operator.slug, "utility": req.utility, "features": len(batch),
              "rejected": len(rejected), "reasons": group_reasons(rejected, labels),
              "rejected_features": [{"index": i, "name": labels[i], "reason": "; ".join(r)}
                                    for i, r in sorted(rejected.items())[:50]],
              "dry_run": req.dry_run, "replace": req.replace}  # fmt: skip
    if rejected and not req.dry_run:
        raise ImportFailed(f"{len(rejected)} of {len(batch)} areas rejected; nothing imported.",
                           **report)  # fmt: skip
    removed = []
    if req.replace:
        removed = session.execute(
            text("DELETE FROM service_areas WHERE operator_id = :o AND utility_code = :u"
                 " RETURNING id, name, priority"), {"o": operator.id, "u": req.utility},
        ).mappings().all()  # fmt: skip
    added = []
    for name, priority, geom in rows:
        area_id = session.execute(
            text(
                "INSERT INTO service_areas (operator_id, utility_code, name, priority, geom)"
                " VALUES (:o, :u, :n, :p, ST_Multi(ST_SetSRID(CAST(:wkb AS geometry), 4326)))"
                " RETURNING id"
            ),
            {"o": operator.id, "u": req.utility, "n": name, "p": priority,
             "wkb": shapely.to_wkb(geom, hex=True, output_dimension=2)},
        ).scalar_one()  # fmt: skip
        added.append({"id": area_id, "name": name, "priority": priority})
    for row in removed:
        record_change(session, req.username, req.user_id, "service_area", str(row["id"]),
                      "removed", dict(row), None, f"replaced by {req.file_name}")  # fmt: skip
    for row in added:
        record_change(session, req.username, req.user_id, "service_area", str(row["id"]), "added",
                      None, {**row, "operator": operator.slug, "utility": req.utility},
                      f"import of {req.file_name}")  # fmt: skip
    report.update({"added": len(added), "removed": len(removed), "areas": added})
    return report


def set_designation(
    session: Session, username: str, user_id: int | None, municipality: str, utility: str,
    operator_ref: str | None,
) -> dict:  # fmt: skip
    """Designate the operator of a municipality for a utility (None: remove it); before/after."""
    muni = session.execute(
        text("SELECT id, slug FROM municipalities WHERE slug = :m OR CAST(id AS text) = :m"),
        {"m": municipality},
    ).first()
    if muni is None:
        raise NotFound(f"Municipality '{municipality}' does not exist.",
                       code="municipality_not_found", municipality=municipality)  # fmt: skip
    before = session.execute(
        text("SELECT o.slug FROM designated_operators d JOIN operators o ON o.id = d.operator_id"
             " WHERE d.municipality_id = :m AND d.utility_code = :u"),
        {"m": muni.id, "u": utility},
    ).scalar()  # fmt: skip
    after = None
    if operator_ref is None:
        session.execute(
            text(
                "DELETE FROM designated_operators WHERE municipality_id = :m AND utility_code = :u"
            ),
            {"m": muni.id, "u": utility},
        )
    else:
        operator = find_operator(session, operator_ref)
        check_serves(session, operator.id, operator.slug, utility)
        session.execute(
            text("INSERT INTO designated_operators VALUES (:m, :u, :o) ON CONFLICT"
                 " (municipality_id, utility_code) DO UPDATE SET operator_id = EXCLUDED.operator_id"),
            {"m": muni.id, "u": utility, "o": operator.id},
        )  # fmt: skip
        after = operator.slug
    key = f"{muni.slug}/{utility}"
    if before != after:
        record_change(session, username, user_id, "designation", key, "set" if after else "removed",
                      {"operator": before} if before else None,
                      {"operator": after} if after else None)  # fmt: skip
    return {"municipality": muni.slug, "utility": utility, "operator": after, "before": before}
