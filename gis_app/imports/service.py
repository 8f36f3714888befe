"""One import, all or nothing: read, prepare, stage, check, write, record; the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from gis_app.errors import Forbidden, ImportFailed, InvalidParameter, NotFound
from gis_app.imports import attempts, load
from gis_app.imports.prepare import parse_mapping, prepare
from gis_app.imports.read import parse_crs, read_file
from gis_app.imports.report import group_reasons
from gis_app.layers import LayerDef
from gis_app.models import IMPORT_MODES, Import, Operator
from gis_app.network import topology
from gis_app.operators.directory import check_operator_serves

# Most rejected features listed in one answer (all are counted).
MAX_LISTED = 10_000
Progress = Callable[[str, int, int], None]  # (stage, advance by, stage total)


@dataclass
class ImportRequest:
    """What to import, where, how, and for whom."""

    layer: LayerDef
    operator_id: int
    path: Path
    mode: str = "upsert"
    crs: str | None = None
    dry_run: bool = False
    mapping: dict = field(default_factory=dict)
    encoding: str | None = None
    file_name: str = ""
    user_id: int | None = None
    username: str = ""


def _rejections(rejected: dict[int, list[str]], ids: list[str | None]) -> list[dict]:
    return [
        {"index": i, "external_id": ids[i], "reason": "; ".join(reasons)}
        for i, reasons in sorted(rejected.items())[:MAX_LISTED]
    ]


def run_import(session: Session, req: ImportRequest, progress: Progress | None = None) -> dict:
    """Import a file into the operator's features of a layer in one transaction; the report.
    Any rejected feature fails the whole import (ImportFailed, nothing written); either way the
    attempt is recorded in `imports`."""
    if req.mode not in IMPORT_MODES:
        raise InvalidParameter(f"mode must be one of {list(IMPORT_MODES)}", parameter="mode",
                               value=req.mode)  # fmt: skip
    source_crs = parse_crs(req.crs)
    mapping = parse_mapping(req.mapping)
    check_operator_serves(session, req.operator_id, req.layer)
    report: dict = {
        "layer": req.layer.id, "operator_id": req.operator_id, "mode": req.mode,
        "dry_run": req.dry_run, "file_name": req.file_name,
    }  # fmt: skip
    # The attempt is on record before the work: if this worker dies, a sweep marks it failed.
    attempts.sweep(session)
    attempt = _record(session, req, report, "running")
    session.commit()
    try:
        attempts.hold(session, attempt)
        # One import per layer and owner at a time; others wait for this transaction.
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
            {"k": f"import:{req.layer.id}:{req.operator_id}"},
        )
        batch = read_file(req.path, source_crs, req.encoding)
        report.update({"format": batch.file_format, "crs": batch.crs, "features": len(batch)})
        step = (lambda stage: lambda n: progress(stage, n, len(batch))) if progress else None
        boundary = load.oblast(session)
        prepared = prepare(
            req.layer, batch, mapping, req.mode, boundary, step("validate") if step else None
        )
        report["ignored_columns"] = prepared.ignored_columns
        load.stage(session, prepared.rows, step("stage") if step else None)
        rejected = prepared.rejected
        if req.mode == "append":
            for index, ext in load.existing_ids(session, req.layer, req.operator_id).items():
                rejected.setdefault(index, []).append(
                    f"external_id: '{ext}' exists already (append adds only new features)"
                )
        report["rejected"] = len(rejected)
        report["reasons"] = group_reasons(rejected, dict(enumerate(prepared.external_ids)))
        report["rejected_features"] = _rejections(rejected, prepared.external_ids)
        report["outside_oblast"] = {
            "rule": req.layer.outside_oblast,
            "crossing": len(prepared.crossing),
            "clipped": len(prepared.crossing) if req.layer.outside_oblast == "clip" else 0,
        }
        if prepared.constants:
            report["constants"] = prepared.constants
        if req.dry_run or rejected:
            counts = load.plan(session, req.layer, req.operator_id, req.mode)
        else:
            counts = load.write(session, req.layer, req.operator_id, req.mode, req.username)
            # The topology follows in the same transaction (what was added or changed).
            topology.upkeep_import(session, None, req.layer, req.operator_id)
        report.update(vars(counts))
        if progress:
            progress("write", len(batch), len(batch))
    except (InvalidParameter, ImportFailed, Forbidden, NotFound) as exc:
        session.rollback()
        _record(session, req, {**report, **exc.details}, "failed", exc.message, attempt)
        session.commit()
        raise
    if rejected and not req.dry_run:
        session.rollback()  # nothing of this import stays
        message = f"{len(rejected)} of {len(batch)} features rejected; nothing was imported."
        report["import_id"] = _record(session, req, report, "failed", message, attempt)
        session.commit()
        raise ImportFailed(message, **report)
    if req.dry_run:
        session.rollback()  # a dry run writes nothing but its record
    status = "succeeded" if not rejected else "failed"
    report["import_id"] = _record(session, req, report, status, None, attempt)
    session.commit()
    return report


def _record(
    session: Session,
    req: ImportRequest,
    report: dict,
    status: str,
    message: str | None = None,
    attempt: int | None = None,
) -> int:
    """Write the import's row in `imports` (who, when, file, mode, counts), or finish the
    `attempt` recorded as running; its id."""
    values = {k: int(report.get(k) or 0) for k in ("added", "changed", "removed", "unchanged")}
    statement = insert(Import) if attempt is None else update(Import).where(Import.id == attempt)
    return session.execute(
        statement.values(
            user_id=req.user_id,
            username=req.username,
            operator_id=req.operator_id,
            layer_id=req.layer.id,
            file_name=req.file_name,
            file_format=report.get("format", ""),
            mode=req.mode if req.mode in IMPORT_MODES else "upsert",
            crs=report.get("crs"),
            dry_run=req.dry_run,
            status=status,
            rejected=int(report.get("rejected") or 0),
            message=message,
            finished_at=None if status == "running" else func.now(),
            **values,
        ).returning(Import.id)  # fmt: skip
    ).scalar_one()


def list_imports(session: Session, operator_id: int | None = None, limit: int = 100) -> list[dict]:
    """The latest imports, newest first (one operator's when `operator_id` is given); running
    imports whose worker died are marked failed first."""
    if attempts.sweep(session):
        session.commit()
    query = select(Import, Operator.slug).join(Operator, Operator.id == Import.operator_id)
    if operator_id is not None:
        query = query.where(Import.operator_id == operator_id)
    rows = session.execute(query.order_by(Import.id.desc()).limit(limit)).all()
    fields = ("id", "username", "operator_id", "layer_id", "file_name", "file_format", "mode",
              "crs", "dry_run", "status", "added", "changed", "removed", "unchanged", "rejected",
              "message", "started_at", "finished_at")  # fmt: skip
    return [{**{f: getattr(row, f) for f in fields}, "operator": slug} for row, slug in rows]
