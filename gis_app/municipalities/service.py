"""One import of a boundary file, all or nothing: read, check every feature, write, record; the
report groups the rejected features by reason, with counts, then lists the first of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.changes import record_change
from gis_app.errors import Conflict, ImportFailed, InvalidParameter, NotFound
from gis_app.imports.read import parse_crs, read_file
from gis_app.imports.report import group_reasons
from gis_app.municipalities import write
from gis_app.municipalities.prepare import Fields, prepare_units, reject_outside

MODES = ("upsert", "replace")
LISTED = 50  # rejected features listed one by one (all are counted)


@dataclass
class MunicipalityImport:
    """What to import and how: the file, its fields, the mode, who asks."""

    path: Path
    fields: Fields = field(default_factory=Fields)
    mode: str = "upsert"
    dry_run: bool = False
    crs: str | None = None
    encoding: str | None = None
    oblast_from_units: bool = False
    oblast_name: str = "Ленинградская область"
    oblast_oktmo: str | None = None
    file_name: str = ""
    username: str = ""
    user_id: int | None = None


def _report_rejected(report: dict, rejected: dict[int, list[str]], names: dict[int, str]) -> None:
    report["rejected"] = len(rejected)
    report["reasons"] = group_reasons(rejected, names)
    report["rejected_features"] = [
        {"index": i, "name": names.get(i, ""), "reason": "; ".join(r)}
        for i, r in sorted(rejected.items())[:LISTED]
    ]


def import_municipalities(session: Session, req: MunicipalityImport) -> dict:
    """Import the units of a boundary file in the caller's transaction; the report.

    Any rejected feature fails the whole import (ImportFailed, 422; the caller rolls back); a dry
    run checks and plans everything and the caller rolls it back."""
    if req.mode not in MODES:
        raise InvalidParameter(f"mode must be one of {list(MODES)}", parameter="mode",
                               value=req.mode)  # fmt: skip
    batch = read_file(req.path, parse_crs(req.crs), req.encoding)
    report: dict = {"file_name": req.file_name, "format": batch.file_format, "crs": batch.crs,
                    "mode": req.mode, "dry_run": req.dry_run, "features": len(batch)}  # fmt: skip
    # One boundary import at a time: parents and replace decisions read what others write.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('municipalities:import'))"))
    prepared = prepare_units(batch, req.fields)
    report["fields"] = prepared.fields
    file_oblast = [u.geom for u in prepared.units if u.kind == "oblast"]
    reject_outside(prepared, file_oblast[0] if file_oblast else write.current_oblast(session))
    units, counts = [], {"added": 0, "changed": 0, "unchanged": 0, "retired": 0}
    for unit in prepared.units:
        existing, why = write.match(session, unit)
        if why:
            prepared.rejected[unit.index] = [why]
            continue
        unit_id, action, before = write.upsert(session, unit, existing)
        counts[action] += 1
        units.append((unit, unit_id, action, before))
    _report_rejected(report, prepared.rejected, prepared.names)
    if prepared.rejected and not req.dry_run:
        message = f"{len(prepared.rejected)} of {len(batch)} features rejected; nothing imported."
        raise ImportFailed(message, code="import_failed", **report, **counts)
    listed = []
    for unit, unit_id, action, before in units:
        parent_id, how = write.set_parent(session, unit_id, unit)
        listed.append({"index": unit.index, "id": unit_id, "name": unit.name, "kind": unit.kind,
                       "oktmo": unit.oktmo, "action": action, "repaired": unit.repaired,
                       "parent_id": parent_id, "parent_by": how})  # fmt: skip
        if action != "unchanged":
            record_change(session, req.username, req.user_id, "municipality", str(unit_id), action,
                          before, write.unit_row(session, unit_id), f"import of {req.file_name}")  # fmt: skip
    if req.mode == "replace":
        kinds = sorted({u.kind for u in prepared.units})
        retired = write.retire_missing(
            session, [u[1] for u in units], kinds, f"not in {req.file_name} (replace)"
        )
        counts["retired"] = len(retired)
        report["retired_units"] = retired
        for row in retired:
            record_change(session, req.username, req.user_id, "municipality", str(row["id"]),
                          "retired", row, None, f"replace by {req.file_name}")  # fmt: skip
    if req.oblast_from_units:
        oblast_id, action = write.oblast_from_units(session, req.oblast_name, req.oblast_oktmo)
        report["oblast"] = {"id": oblast_id, "action": action, "from": "union of its units"}
        record_change(session, req.username, req.user_id, "municipality", str(oblast_id),
                      f"oblast_{action}", None, write.unit_row(session, oblast_id),
                      "the oblast's outline made the union of its districts and okrugs")  # fmt: skip
    report.update(counts)
    report["repaired"] = sum(1 for u in listed if u["repaired"])
    report["units"] = listed
    return report


def retire_unit(
    session: Session, username: str, user_id: int | None, ref: str, reason: str
) -> dict:
    """Retire one unit (slug or id): it keeps its row, accounts, incidents and history, and no
    longer answers for its land or shows on the map. The unit as it was, and its active children."""
    if not reason or not reason.strip():
        raise InvalidParameter("reason: is required", code="missing_field", field="reason")
    row = (
        session.execute(
            text(
                "SELECT id, slug, name_ru, kind, oktmo, retired_at FROM municipalities"
                " WHERE slug = :r OR CAST(id AS text) = :r"
            ),
            {"r": ref},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"Municipality '{ref}' does not exist.", code="municipality_not_found",
                       municipality=ref)  # fmt: skip
    if row["retired_at"] is not None:
        raise Conflict(f"Municipality '{row['slug']}' is retired already.", code="unit_retired")
    session.execute(
        text("UPDATE municipalities SET retired_at = now(), retired_reason = :why WHERE id = :id"),
        {"why": reason.strip(), "id": row["id"]},
    )
    children = (
        session.execute(
            text("SELECT slug FROM municipalities WHERE parent_id = :id AND retired_at IS NULL"),
            {"id": row["id"]},
        )
        .scalars()
        .all()
    )
    before = {k: v for k, v in row.items() if k != "retired_at"}
    record_change(session, username, user_id, "municipality", str(row["id"]), "retired", before,
                  None, reason.strip())  # fmt: skip
    return {"retired": before, "active_children": list(children)}
