"""Checking the features of a boundary file: name, OKTMO, kind and geometry of every unit; the
reasons of every feature that cannot be a unit (all features are checked, none is written here)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import shapely
from shapely.geometry import MultiPolygon, Polygon

from gis_app.errors import InvalidParameter
from gis_app.imports.read import Batch
from gis_app.municipalities.kinds import LEVEL, kind_from_text

NAME_FIELDS = ("name_ru", "name", "district", "NAME", "Name", "название", "NAME_RU")
OKTMO_FIELDS = ("oktmo", "OKTMO", "октмо")
KIND_FIELDS = ("kind", "type", "KIND", "вид")
# GEOS's words for a ring that only touches itself at a point: repairable without guessing.
SELF_TOUCHING = ("Ring Self-intersection",)


@dataclass
class Fields:
    """Which columns hold the name, the OKTMO code and the kind; the kind when none does."""

    name: str | None = None
    oktmo: str | None = None
    kind: str | None = None
    fixed_kind: str | None = None


@dataclass
class Unit:
    """One unit of the file, checked: its name, kind, OKTMO and MultiPolygon (EPSG:4326)."""

    index: int
    name: str
    kind: str
    oktmo: str | None
    geom: MultiPolygon
    repaired: bool = False

    @property
    def level(self) -> int:
        """0 oblast, 1 district/okrug, 2 settlement."""
        return LEVEL[self.kind]


@dataclass
class Prepared:
    """The units that passed, the reasons of those that did not (by feature index), the fields."""

    units: list[Unit] = field(default_factory=list)
    rejected: dict[int, list[str]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    fields: dict = field(default_factory=dict)


def _pick(columns: list[str], given: str | None, guesses: tuple[str, ...], what: str) -> str | None:
    if given:
        if given not in columns:
            raise InvalidParameter(
                f"{what}_field: the file has no column '{given}' (it has {columns})",
                code="unknown_field", parameter=f"{what}_field", value=given, columns=columns,
            )  # fmt: skip
        return given
    return next((c for c in guesses if c in columns), None)


def resolve_fields(batch: Batch, fields: Fields) -> Fields:
    """The columns to read: as given (400 when the file lacks one), else guessed by usual names."""
    if fields.fixed_kind and fields.fixed_kind not in LEVEL:
        raise InvalidParameter(
            f"kind must be one of {list(LEVEL)}", parameter="kind", value=fields.fixed_kind
        )
    name = _pick(batch.columns, fields.name, NAME_FIELDS, "name")
    if name is None:
        raise InvalidParameter(
            f"name_field: no column names the units; say which (the file has {batch.columns})",
            code="unknown_field", parameter="name_field", columns=batch.columns,
        )  # fmt: skip
    return Fields(
        name=name,
        oktmo=_pick(batch.columns, fields.oktmo, OKTMO_FIELDS, "oktmo"),
        kind=_pick(batch.columns, fields.kind, KIND_FIELDS, "kind"),
        fixed_kind=fields.fixed_kind,
    )


def _multi(geom) -> MultiPolygon | None:
    """The polygons of a geometry as one MultiPolygon (None when it has none)."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    polys = [p for g in parts for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    return MultiPolygon(polys) if polys else None


def check_geometry(geom) -> tuple[MultiPolygon | None, bool, str | None]:
    """(multipolygon, repaired, reason): made valid only where a ring touches itself; any other
    invalidity is a reason, as are non-polygons and coordinates outside longitude/latitude."""
    if geom is None or geom.is_empty:
        return None, False, "geometry: missing or unreadable"
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return None, False, f"geometry: a {geom.geom_type}, not a polygon"
    w, s, e, n = geom.bounds
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        return None, False, "geometry: coordinates are not longitude/latitude (wrong CRS? give it)"
    repaired = False
    if not geom.is_valid:
        why = shapely.is_valid_reason(geom)
        if not why.startswith(SELF_TOUCHING):
            return None, False, f"geometry: invalid ({why}); only self-touching rings are repaired"
        geom, repaired = shapely.make_valid(geom), True
    multi = _multi(geom)
    if multi is None or multi.is_empty:
        return None, False, "geometry: no area left after repair"
    return multi, repaired, None


def _oktmo(value: object) -> tuple[str | None, str | None]:
    text = re.sub(r"\s", "", str(value if value is not None else ""))
    if text.endswith(".0"):  # a number column read as float
        text = text[:-2]
    if not text:
        return None, None
    if not re.fullmatch(r"\d{8}|\d{11}", text):
        return None, f"oktmo: '{value}' is not 8 or 11 digits"
    return text, None


def prepare_units(batch: Batch, fields: Fields) -> Prepared:
    """Check every feature of the file on its own and against the others (OKTMO, names)."""
    fields = resolve_fields(batch, fields)
    col = {c: batch.values[i] for i, c in enumerate(batch.columns)}
    out = Prepared(fields=vars(fields))
    by_oktmo: dict[str, int] = {}
    by_name: dict[str, int] = {}
    for i in range(len(batch)):
        reasons = [batch.problems[i]] if i in batch.problems else []
        name = str(col[fields.name][i] or "").strip()
        out.names[i] = name
        if not name:
            reasons.append(f"name: empty ({fields.name})")
        oktmo, why = _oktmo(col[fields.oktmo][i]) if fields.oktmo else (None, None)
        if why:
            reasons.append(why)
        raw_kind = col[fields.kind][i] if fields.kind else None
        # A kind column says it first, then a fixed --kind, then the words of the name.
        kind = kind_from_text(raw_kind) or fields.fixed_kind or kind_from_text(name)
        if raw_kind not in (None, "") and kind_from_text(raw_kind) is None:
            reasons.append(f"kind: unknown '{raw_kind}' (one of {list(LEVEL)} or its Russian name)")
        elif kind is None:
            reasons.append("kind: not given (no kind column, the name does not say, no --kind)")
        geom, repaired, why = check_geometry(batch.geoms[i])
        if why:
            reasons.append(why)
        if oktmo and oktmo in by_oktmo:
            reasons.append(f"oktmo: {oktmo} also of feature #{by_oktmo[oktmo]}")
        key = name.lower()
        if name and not oktmo and key in by_name:
            reasons.append(f"name: '{name}' also of feature #{by_name[key]} (and no OKTMO)")
        if reasons:
            out.rejected[i] = reasons
            continue
        if oktmo:
            by_oktmo[oktmo] = i
        by_name.setdefault(key, i)
        out.units.append(Unit(i, name, kind, oktmo, geom, repaired))
    out.units.sort(key=lambda u: (u.level, u.index))  # parents before their children
    return out


def reject_outside(prepared: Prepared, oblast) -> None:
    """Move units mostly (over half their area) outside `oblast` to the rejected, with the share."""
    if oblast is None:
        return
    shapely.prepare(oblast)
    kept = []
    for unit in prepared.units:
        if unit.kind != "oblast":
            inside = shapely.area(shapely.intersection(unit.geom, oblast)) / unit.geom.area
            if inside < 0.5:
                prepared.rejected[unit.index] = [
                    f"geometry: outside the oblast ({inside:.0%} of it inside)"
                ]
                continue
        kept.append(unit)
    prepared.units = kept
