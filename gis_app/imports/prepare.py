"""From a file's columns to a layer's attributes: the field mapping, unit conversion, type
coercion and the layer's schema (gis_app.layers.validate_attributes), feature by feature."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import shapely

from gis_app.errors import InvalidParameter
from gis_app.imports.read import Batch
from gis_app.layers import LayerDef, PropertyDef, validate_attributes

# Columns that are not attributes: the owner's own id of the feature and its name.
SPECIAL = ("external_id", "name")
GEOMETRY_TYPES = {"POINT": ("Point", "MultiPoint"), "LINESTRING": ("LineString", "MultiLineString")}
TRUE = {"true", "t", "1", "yes", "y", "да", "д"}
FALSE = {"false", "f", "0", "no", "n", "нет", "н"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Target:
    """Where a file's column goes: a layer attribute (or external_id/name), its unit factor, how
    a list of values is read ("max", "min", "first"), and the value used where the cell is empty."""

    field: str
    factor: float = 1.0
    list_rule: str | None = None
    default: object = None


@dataclass
class Prepared:
    """Rows ready to stage, and the features rejected on the way (index → reasons)."""

    rows: list[tuple[int, str | None, str | None, str, shapely.Geometry]]
    rejected: dict[int, list[str]]
    external_ids: list[str | None]
    ignored_columns: list[str]
    # Features that crossed the oblast's boundary and were kept (the layer's outside_oblast).
    crossing: list[int] = field(default_factory=list)
    constants: dict = field(default_factory=dict)


MAPPING_KEYS = {"field", "unit", "list", "default", "value"}


def parse_mapping(raw: object) -> dict[str, dict]:
    """The field mapping as {column: {"field", "unit"?, "list"?, "default"?}} from JSON text or a
    dict; an entry with a "value" is a constant: {"construction": {"value": "overhead"}} gives
    every feature that attribute (the key is the field, unless "field" says another)."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise InvalidParameter("mapping must be a JSON object", parameter="mapping") from None
    if not isinstance(raw, dict):
        raise InvalidParameter("mapping must be a JSON object", parameter="mapping")
    mapping = {}
    for column, target in raw.items():
        if isinstance(target, str):
            target = {"field": target}
        if isinstance(target, dict) and "value" in target:
            target = {"field": column, **target}
        if not isinstance(target, dict) or not isinstance(target.get("field"), str):
            raise InvalidParameter(
                f'mapping[\'{column}\'] must be a field name, {{"field": ..., "unit": ...}} or '
                '{"value": ...}', parameter="mapping",
            )  # fmt: skip
        unknown = sorted(set(target) - MAPPING_KEYS)
        if unknown or target.get("list") not in (None, "max", "min", "first"):
            raise InvalidParameter(
                f"mapping['{column}']: unknown key(s) {unknown} or list not max/min/first "
                f"(keys: {sorted(MAPPING_KEYS)})", parameter="mapping",
            )  # fmt: skip
        mapping[str(column)] = target
    return mapping


def resolve_columns(layer: LayerDef, columns: list[str], mapping: dict[str, dict]) -> dict:
    """Column index → Target; names not in the mapping are taken as they are when the layer
    has them. A mapping naming a missing column or field, or an unknown unit, is a 400."""
    missing = sorted({c for c, spec in mapping.items() if "value" not in spec} - set(columns))
    if missing:
        raise InvalidParameter(
            f"mapping names column(s) {missing} that the file does not have (it has {columns})",
            parameter="mapping",
        )
    known = set(layer.property_names) | set(SPECIAL)
    targets: dict[int, Target] = {}
    for i, column in enumerate(columns):
        spec = mapping.get(column)
        name = spec["field"] if spec else column
        if name not in known:
            if spec:
                raise InvalidParameter(
                    f"mapping['{column}']: layer {layer.id} has no field '{name}' "
                    f"(fields: {sorted(known)})", parameter="mapping",
                )  # fmt: skip
            continue
        factor = 1.0
        if spec and spec.get("unit") is not None:
            prop = layer.property(name)
            factor = prop.factor(str(spec["unit"])) if prop else None
            if factor is None:
                units = [prop.unit, *dict(prop.convert)] if prop and prop.unit else []
                raise InvalidParameter(
                    f"mapping['{column}']: '{name}' cannot be converted from unit "
                    f"{spec['unit']!r} (the layer allows {units})", parameter="mapping",
                )  # fmt: skip
        prop = layer.property(name)
        rule = (spec or {}).get("list") or (prop.list_values if prop else None)
        targets[i] = Target(name, factor, rule, (spec or {}).get("default"))
    constants = [spec["field"] for spec in mapping.values() if "value" in spec]
    for name in constants:
        if name not in known:
            raise InvalidParameter(
                f"mapping: a constant for '{name}', which layer {layer.id} does not have "
                f"(fields: {sorted(known)})", parameter="mapping",
            )  # fmt: skip
    fields = [t.field for t in targets.values()] + constants
    twice = sorted({f for f in fields if fields.count(f) > 1})
    if twice:
        raise InvalidParameter(f"two columns map to {twice}", parameter="mapping")
    if "external_id" not in fields and "id" in columns and columns.index("id") not in targets:
        targets[columns.index("id")] = Target("external_id")  # GeoJSON's own feature id
    return targets


def coerce(
    prop: PropertyDef, value: object, factor: float = 1.0, list_rule: str | None = None
) -> object:
    """The value in the attribute's type and unit when it can be read so; else as it was.
    With a list rule, "330000;330000;110000" is read as its max, min or first number."""
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
        if list_rule and ";" in value and prop.type in ("int", "float"):
            parts = [coerce(prop, part, factor) for part in value.split(";") if part.strip()]
            if parts and all(isinstance(p, int | float) for p in parts):
                return {"max": max, "min": min, "first": lambda v: v[0]}[list_rule](parts)
            return value
    if prop.type in ("int", "float"):
        if isinstance(value, str):
            try:
                value = float(value.replace(",", ".").replace(" ", "").replace("\u00a0", ""))
            except ValueError:
                return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = round(value * factor, 9) if factor != 1.0 else value
            if prop.type == "int" and float(value).is_integer():
                return int(value)
            if prop.type == "float":
                return float(value)
        return value
    if prop.type == "bool":
        if isinstance(value, str) and value.lower() in TRUE | FALSE:
            return value.lower() in TRUE
        if isinstance(value, int | float) and not isinstance(value, bool) and value in (0, 1):
            return bool(value)
        return value
    if prop.type == "date":
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat()[:10]
        if isinstance(value, str) and DATE.match(value):
            return value[:10]
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _coerced(target: Target, prop: PropertyDef | None, values: list) -> list:
    """One column in the attribute's type and unit; each distinct value is converted once."""
    if prop is None:
        return [_text(v) for v in values]
    if target.default is not None:
        values = [target.default if v is None or v == "" else v for v in values]
    cache: dict = {}
    rule = target.list_rule
    try:
        return [cache[v] if v in cache else cache.setdefault(v, coerce(prop, v, target.factor, rule))
                for v in values]  # fmt: skip
    except TypeError:  # an unhashable value (a list or an object in GeoJSON)
        return [coerce(prop, v, target.factor, rule) for v in values]


def geometry_reasons(
    layer: LayerDef, batch: Batch, oblast: shapely.Geometry | None
) -> dict[int, str]:
    """Feature index → why its geometry is refused: unreadable, missing, empty, of another type
    than the layer's, invalid (GEOS, as PostGIS's ST_IsValid), or not inside the oblast."""
    geoms = batch.geoms
    reasons = dict(batch.problems)
    kinds = shapely.get_type_id(geoms)
    allowed = GEOMETRY_TYPES[layer.geometry]
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                      "MultiLineString", "MultiPolygon", "GeometryCollection"])  # fmt: skip
    for i in np.flatnonzero(kinds < 0):
        reasons.setdefault(int(i), "geometry: missing")
    for i in np.flatnonzero(shapely.is_empty(geoms)):
        reasons.setdefault(int(i), "geometry: empty")
    wrong = (kinds >= 0) & ~np.isin(kinds, [int(np.flatnonzero(names == a)[0]) for a in allowed])
    for i in np.flatnonzero(wrong):
        reasons.setdefault(int(i), f"geometry: {names[kinds[i]]}, but layer {layer.id} holds "
                                   f"{' or '.join(allowed)}")  # fmt: skip
    present = kinds >= 0
    invalid = present & ~shapely.is_valid(geoms)
    for i in np.flatnonzero(invalid):
        reasons.setdefault(int(i), f"geometry: invalid ({shapely.is_valid_reason(geoms[i])})")
    if oblast is not None:
        _outside(layer, geoms, present & ~invalid, oblast, reasons)
    return reasons


def _outside(layer: LayerDef, geoms, checked, oblast, reasons: dict[int, str]) -> None:
    """Reasons for features not wholly inside the oblast, as the layer's outside_oblast says:
    reject them all, or only those that do not even intersect it (intersects, clip)."""
    shapely.prepare(oblast)
    crossing = checked & ~shapely.covered_by(geoms, oblast)
    touching = shapely.intersects(geoms, oblast)
    for i in np.flatnonzero(crossing):
        if layer.outside_oblast == "reject":
            reasons.setdefault(int(i), "geometry: not inside the oblast")
        elif not touching[i]:
            reasons.setdefault(int(i), "geometry: outside the oblast (does not touch it)")


def crossing_features(
    layer: LayerDef, batch: Batch, oblast: shapely.Geometry | None, rejected: dict
) -> tuple[list[int], dict[int, shapely.Geometry]]:
    """The kept features that cross the oblast's boundary, and (outside_oblast = "clip") their
    geometries cut to the oblast, of the layer's type (EPSG:4326)."""
    if oblast is None or layer.outside_oblast == "reject":
        return [], {}
    kept = np.array([i not in rejected for i in range(len(batch))], dtype=bool)
    present = shapely.get_type_id(batch.geoms) >= 0
    crossing = np.flatnonzero(kept & present & ~shapely.covered_by(batch.geoms, oblast))
    clipped = {}
    if layer.outside_oblast == "clip":
        allowed = GEOMETRY_TYPES[layer.geometry]
        for i in crossing:
            part = shapely.intersection(batch.geoms[i], oblast)
            parts = [g for g in shapely.get_parts(part) if g.geom_type in allowed]
            if parts:
                clipped[int(i)] = parts[0] if len(parts) == 1 else shapely.union_all(parts)
    return [int(i) for i in crossing], clipped


def prepare(
    layer: LayerDef,
    batch: Batch,
    mapping: dict[str, dict],
    mode: str,
    oblast: shapely.Geometry | None = None,
    progress: Callable[[int], None] | None = None,
) -> Prepared:
    """Map, convert and check every feature: its attributes against the layer's schema
    (validate_attributes, once per distinct set of values), its geometry (geometry_reasons),
    its external id (unique in the file; required in upsert mode)."""
    targets = resolve_columns(layer, batch.columns, mapping)
    ignored = [c for i, c in enumerate(batch.columns) if i not in targets]
    order = sorted(targets)
    fields = [targets[i].field for i in order]
    attr_at = [k for k, f in enumerate(fields) if f not in SPECIAL]
    attr_names = [fields[k] for k in attr_at]
    n = len(batch)
    columns = [
        _coerced(targets[i], layer.property(targets[i].field), batch.values[i]) for i in order
    ]
    constants = {}
    for spec in mapping.values():
        if "value" in spec:
            prop = layer.property(spec["field"])
            constants[spec["field"]] = coerce(prop, spec["value"]) if prop else spec["value"]
            fields.append(spec["field"])
            columns.append([constants[spec["field"]]] * n)
            if spec["field"] not in SPECIAL:
                attr_at.append(len(fields) - 1)
                attr_names.append(spec["field"])
    ext_col = columns[fields.index("external_id")] if "external_id" in fields else [None] * n
    name_col = columns[fields.index("name")] if "name" in fields else [None] * n
    attr_cols = [columns[k] for k in attr_at] or [[()] * n]
    geom_reasons = geometry_reasons(layer, batch, oblast)
    if progress:
        progress(n // 2)
    checked: dict[tuple, tuple[list[str], str]] = {}
    rows, rejected, seen = [], {}, {}
    for index, values in enumerate(zip(*attr_cols, strict=True)):
        try:
            reasons, attrs = checked[values]
        except KeyError:
            attributes = {k: v for k, v in zip(attr_names, values, strict=False) if v is not None}
            attrs = json.dumps(attributes, ensure_ascii=False, separators=(",", ":"))
            reasons, attrs = checked.setdefault(
                values, (validate_attributes(layer, attributes), attrs)
            )
        except TypeError:  # unhashable values: check this feature on its own
            attributes = {k: v for k, v in zip(attr_names, values, strict=False) if v is not None}
            attrs = json.dumps(attributes, ensure_ascii=False, separators=(",", ":"))
            reasons = validate_attributes(layer, attributes)
        external_id = ext_col[index]
        if (
            reasons
            or index in geom_reasons
            or (mode == "upsert" and external_id is None)
            or (external_id is not None and external_id in seen)
        ):
            why = list(reasons)
            if index in geom_reasons:
                why.append(geom_reasons[index])
            if mode == "upsert" and external_id is None:
                why.append("external_id: required in upsert mode")
            if external_id is not None and external_id in seen:
                why.append(f"external_id: '{external_id}' also at index {seen[external_id]}")
            rejected[index] = why
        else:
            rows.append((index, external_id, name_col[index], attrs, batch.geoms[index]))
        if external_id is not None:
            seen.setdefault(external_id, index)
    crossing, clipped = crossing_features(layer, batch, oblast, rejected)
    if clipped:
        rows = [(i, e, nm, a, clipped.get(i, g)) for i, e, nm, a, g in rows]
    if progress:
        progress(n - n // 2)
    return Prepared(rows, rejected, ext_col, ignored, crossing, constants)
