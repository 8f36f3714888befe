"""The layer registry: layers/*.toml read, checked and frozen into LayerDef objects.

A layer file is data only. Each error names the file and the key, so a utility's GIS engineer
can fix a layer without reading Python.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

GEOMETRY_TYPES = ("POINT", "LINESTRING")
PROPERTY_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "date": str}
STYLE_KEYS = {
    "color",
    "weight",
    "opacity",
    "dash_array",
    "radius",
    "fill_color",
    "fill_opacity",
    "by",
}
# Attribute names the API itself puts in a feature's properties; a layer may not reuse them.
RESERVED = {
    "id",
    "layer",
    "utility",
    "operator",
    "operator_id",
    "external_id",
    "name",
    "updated_at",
    "updated_by",
    # a trace's answer adds its role and cascade step to each feature (docs/network.md)
    "trace",
    "step",
}
LAYER_ID = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
LIST_RULES = ("max", "min", "first")
OUTSIDE_RULES = ("reject", "intersects", "clip")


class LayerFileError(ValueError):
    """A layer file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class PropertyDef:
    """One attribute of a layer's features: its type, unit and allowed values."""

    name: str
    type: str
    title_ru: str
    title_en: str
    unit: str | None = None
    required: bool = False
    allowed: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 500
    # Units an import may bring this attribute in, with the factor into `unit` (V → kV: 0.001).
    convert: tuple[tuple[str, float], ...] = ()
    # How an import reads a list such as OpenStreetMap's "330000;330000" (several circuits):
    # "max", "min" or "first" value; None: a list is not a value of this attribute.
    list_values: str | None = None
    # Words for the allowed values: (value as text, Russian, English); the map shows these.
    allowed_titles: tuple[tuple[str, str, str], ...] = ()

    def value_title(self, value: object, lang: str) -> str:
        """The word for an allowed value in `lang` ("ru" or "en"); the value itself otherwise."""
        for code, ru, en in self.allowed_titles:
            if code == str(value):
                return ru if lang == "ru" else en
        return str(value)

    def factor(self, unit: str) -> float | None:
        """The factor from `unit` into this attribute's unit (1 for its own), or None."""
        if unit == self.unit:
            return 1.0
        return dict(self.convert).get(unit)


@dataclass(frozen=True)
class LayerDef:
    """A layer of network features: what it holds, how it is checked and drawn."""

    id: str
    title_ru: str
    title_en: str
    utility: str
    geometry: str
    properties: tuple[PropertyDef, ...]
    style: dict = field(hash=False)
    search_distance_m: float = 25.0
    kinds: tuple[str, ...] = ()
    source: str = ""
    # The network topology (gis_app/network): ends and points within this many metres join;
    # None keeps the layer out of the topology (roads).
    snap_tolerance_m: float | None = None
    # Values of the `kind` attribute that feed the network, and that are switching devices
    # (attributes `state` and `operable`).
    source_kinds: tuple[str, ...] = ()
    device_kinds: tuple[str, ...] = ()
    # The values of a device's `state` that cut the network at it: a valve cuts when "closed",
    # a switch when "off" (an electrician's "open" switch conducts nothing: the words of the two
    # trades are opposite, so each layer says which of its words cut; docs/network.md).
    device_cut_states: tuple[str, ...] = ("closed",)
    # A consumers layer: each point is supplied, per utility, by the nearest network line
    # within this many metres (unless it names its supplier).
    supply_distance_m: float | None = None
    # What an import does with a feature that is not wholly inside the oblast: "reject" it,
    # accept it whole if it "intersects" the oblast, or "clip" it to the oblast (issue 12).
    outside_oblast: str = "reject"

    @property
    def property_names(self) -> tuple[str, ...]:
        """The attribute names in schema order."""
        return tuple(p.name for p in self.properties)

    def property(self, name: str) -> PropertyDef | None:
        """The attribute called `name`, or None."""
        return next((p for p in self.properties if p.name == name), None)

    def to_json(self) -> dict:
        """The layer's public description (titles, schema, style) for the API and the map."""
        return {
            "id": self.id,
            "title": {"ru": self.title_ru, "en": self.title_en},
            "utility": self.utility,
            "geometry": self.geometry,
            "search_distance_m": self.search_distance_m,
            "snap_tolerance_m": self.snap_tolerance_m,
            "properties": [
                {
                    "name": p.name,
                    "type": p.type,
                    "title": {"ru": p.title_ru, "en": p.title_en},
                    "unit": p.unit,
                    "required": p.required,
                    "allowed": list(p.allowed) or None,
                    "allowed_titles": {c: {"ru": ru, "en": en} for c, ru, en in p.allowed_titles}
                    or None,
                    "minimum": p.minimum,
                    "maximum": p.maximum,
                    "convert": dict(p.convert) or None,
                    "list": p.list_values,
                }
                for p in self.properties
            ],
            "style": self.style,
            "outside_oblast": self.outside_oblast,
        }


def _require(data: dict, key: str, kind: type, where: str):
    if key not in data:
        raise LayerFileError(f"{where}: missing key '{key}'")
    value = data[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise LayerFileError(f"{where}: key '{key}' must be {kind.__name__}, got {value!r}")
    return value


def _parse_property(raw: dict, where: str) -> PropertyDef:
    name = _require(raw, "name", str, where)
    where = f"{where} '{name}'"
    if not re.match(r"^[a-z][a-z0-9_]*$", name) or name in RESERVED:
        raise LayerFileError(
            f"{where}: key 'name' must be snake_case and not one of {sorted(RESERVED)}"
        )
    ptype = _require(raw, "type", str, where)
    if ptype not in PROPERTY_TYPES:
        raise LayerFileError(f"{where}: key 'type' must be one of {sorted(PROPERTY_TYPES)}")
    unknown = set(raw) - {
        "name",
        "type",
        "title_ru",
        "title_en",
        "unit",
        "required",
        "allowed",
        "allowed_titles",
        "minimum",
        "maximum",
        "max_length",
        "convert",
        "list",
    }
    if unknown:
        raise LayerFileError(f"{where}: unknown key(s) {sorted(unknown)}")
    allowed = tuple(raw.get("allowed", ()))
    for value in allowed:
        if _check_value(PropertyDef(name, ptype, "", ""), value) is not None:
            raise LayerFileError(f"{where}: key 'allowed' holds {value!r}, not of type {ptype}")
    titles = _allowed_titles(raw.get("allowed_titles", {}), allowed, where)
    convert = raw.get("convert", {})
    if convert and (ptype not in ("int", "float") or not raw.get("unit")):
        raise LayerFileError(f"{where}: key 'convert' needs a numeric type and a 'unit'")
    if not isinstance(convert, dict) or not all(
        isinstance(f, int | float) and not isinstance(f, bool) and f > 0 for f in convert.values()
    ):
        raise LayerFileError(f"{where}: key 'convert' must map units to positive factors")
    list_values = raw.get("list")
    if list_values is not None and (list_values not in LIST_RULES or ptype not in ("int", "float")):
        raise LayerFileError(f"{where}: key 'list' must be one of {LIST_RULES} (numbers only)")
    return PropertyDef(
        name=name,
        type=ptype,
        title_ru=raw.get("title_ru", name),
        title_en=raw.get("title_en", name),
        unit=raw.get("unit"),
        required=bool(raw.get("required", False)),
        allowed=allowed,
        minimum=raw.get("minimum"),
        maximum=raw.get("maximum"),
        max_length=int(raw.get("max_length", 500)),
        convert=tuple((str(u), float(f)) for u, f in convert.items()),
        allowed_titles=titles,
        list_values=list_values,
    )


def _allowed_titles(raw: object, allowed: tuple, where: str) -> tuple[tuple[str, str, str], ...]:
    """`allowed_titles = { cast_iron = { ru = "чугун", en = "cast iron" } }`: each key one of the
    allowed values, each with a Russian and an English word."""
    if not isinstance(raw, dict):
        raise LayerFileError(f"{where}: key 'allowed_titles' must map values to {{ru, en}}")
    codes = {str(v) for v in allowed}
    titles = []
    for code, words in raw.items():
        if code not in codes:
            raise LayerFileError(
                f"{where}: key 'allowed_titles' names {code!r}, not one of 'allowed'"
            )
        if (
            not isinstance(words, dict)
            or set(words) != {"ru", "en"}
            or not all(isinstance(w, str) and w for w in words.values())
        ):
            raise LayerFileError(
                f'{where}: key \'allowed_titles.{code}\' must be {{ ru = "…", en = "…" }}'
            )
        titles.append((code, words["ru"], words["en"]))
    return tuple(titles)


def parse_layer_file(path: Path) -> LayerDef:
    """Read and check one layer file; raise LayerFileError naming the file and key."""
    where = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise LayerFileError(f"{where}: not valid TOML: {exc}") from exc
    known = {
        "id",
        "title_ru",
        "title_en",
        "utility",
        "geometry",
        "search_distance_m",
        "kinds",
        "properties",
        "style",
        "snap_tolerance_m",
        "source_kinds",
        "device_kinds",
        "device_cut_states",
        "supply_distance_m",
        "outside_oblast",
    }
    unknown = set(data) - known
    if unknown:
        raise LayerFileError(f"{where}: unknown key(s) {sorted(unknown)}")
    layer_id = _require(data, "id", str, where)
    if not LAYER_ID.match(layer_id) or layer_id != path.stem:
        raise LayerFileError(f"{where}: key 'id' must be snake_case and equal the file name")
    geometry = _require(data, "geometry", str, where).upper()
    if geometry not in GEOMETRY_TYPES:
        raise LayerFileError(f"{where}: key 'geometry' must be one of {GEOMETRY_TYPES}")
    properties = tuple(
        _parse_property(raw, f"{where}: properties[{i}]")
        for i, raw in enumerate(data.get("properties", []))
    )
    names = [p.name for p in properties]
    if len(set(names)) != len(names):
        raise LayerFileError(f"{where}: key 'properties' names an attribute twice")
    style = dict(data.get("style", {}))
    unknown = set(style) - STYLE_KEYS
    if unknown:
        raise LayerFileError(f"{where}: style: unknown key(s) {sorted(unknown)}")
    for key in ("color", "fill_color"):
        if key in style and not COLOR.match(str(style[key])):
            raise LayerFileError(f"{where}: style.{key} must be a #rrggbb colour")
    if "by" in style:
        by = style["by"]
        if by.get("property") not in names or not isinstance(by.get("values"), dict):
            raise LayerFileError(f"{where}: style.by needs 'property' (an attribute) and 'values'")
    distance = (
        _require(data, "search_distance_m", float, where) if "search_distance_m" in data else 25.0
    )
    if not 0 < distance <= 5000:
        raise LayerFileError(f"{where}: key 'search_distance_m' must be in (0, 5000] metres")
    network = _network_keys(data, where, names)
    state = next((p for p in properties if p.name == "state"), None)
    if network.get("device_kinds") and state is not None and state.allowed:
        cut = network.get("device_cut_states", LayerDef.device_cut_states)
        if not set(cut) <= set(state.allowed):
            raise LayerFileError(
                f"{where}: key 'device_cut_states' {list(cut)} must be values of 'state'"
                f" {list(state.allowed)}"
            )
    outside = data.get("outside_oblast", "reject")
    if outside not in OUTSIDE_RULES:
        raise LayerFileError(f"{where}: key 'outside_oblast' must be one of {OUTSIDE_RULES}")
    return LayerDef(
        **network,
        id=layer_id,
        title_ru=_require(data, "title_ru", str, where),
        title_en=_require(data, "title_en", str, where),
        utility=_require(data, "utility", str, where),
        geometry=geometry,
        properties=properties,
        style=style,
        search_distance_m=distance,
        kinds=tuple(data.get("kinds", ())),
        source=str(path),
        outside_oblast=outside,
    )


def _network_keys(data: dict, where: str, names: list[str]) -> dict:
    """The topology keys of a layer file, checked: tolerances in metres, kinds of `kind`."""
    out: dict = {}
    for key, upper in (("snap_tolerance_m", 100.0), ("supply_distance_m", 5000.0)):
        if key in data:
            value = _require(data, key, float, where)
            if not 0 < value <= upper:
                raise LayerFileError(f"{where}: key '{key}' must be in (0, {upper:g}] metres")
            out[key] = value
    for key in ("source_kinds", "device_kinds"):
        kinds = data.get(key, [])
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise LayerFileError(f"{where}: key '{key}' must be a list of kinds")
        if kinds and "snap_tolerance_m" not in data:
            raise LayerFileError(f"{where}: key '{key}' needs 'snap_tolerance_m'")
        if kinds and "kind" not in names:
            raise LayerFileError(f"{where}: key '{key}' needs a 'kind' attribute")
        out[key] = tuple(kinds)
    if data.get("device_kinds") and not {"state", "operable"} <= set(names):
        raise LayerFileError(f"{where}: key 'device_kinds' needs attributes 'state' and 'operable'")
    if "device_cut_states" in data:
        cut = data["device_cut_states"]
        if not data.get("device_kinds"):
            raise LayerFileError(f"{where}: key 'device_cut_states' needs 'device_kinds'")
        if not isinstance(cut, list) or not cut or not all(isinstance(v, str) for v in cut):
            raise LayerFileError(f"{where}: key 'device_cut_states' must be a list of states")
        out["device_cut_states"] = tuple(cut)
    return out


class LayerRegistry:
    """Every layer of the service, by id, in a stable order (utility, then file name)."""

    def __init__(self, layers: list[LayerDef]) -> None:
        self._layers = {layer.id: layer for layer in layers}

    @classmethod
    def from_dir(cls, folder: Path | str) -> LayerRegistry:
        """Load every *.toml of `folder`; the first bad file stops the start-up."""
        files = sorted(Path(folder).glob("*.toml"))
        if not files:
            raise LayerFileError(f"{folder}: no layer files (*.toml)")
        return cls([parse_layer_file(path) for path in files])

    def __iter__(self):
        return iter(self._layers.values())

    def __len__(self) -> int:
        return len(self._layers)

    def __contains__(self, layer_id: object) -> bool:
        return layer_id in self._layers

    def get(self, layer_id: str) -> LayerDef | None:
        """The layer with this id, or None."""
        return self._layers.get(layer_id)

    def for_utility(self, utility: str) -> list[LayerDef]:
        """The layers of one utility."""
        return [layer for layer in self if layer.utility == utility]


def _check_value(prop: PropertyDef, value: object) -> str | None:
    """Why `value` does not fit `prop`, or None when it does."""
    if prop.type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"'{prop.name}' must be a whole number"
    elif prop.type == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"'{prop.name}' must be a number"
    elif prop.type == "bool":
        if not isinstance(value, bool):
            return f"'{prop.name}' must be true or false"
    elif prop.type == "date":
        try:
            dt.date.fromisoformat(str(value))
        except ValueError:
            return f"'{prop.name}' must be a date YYYY-MM-DD"
    elif not isinstance(value, str):
        return f"'{prop.name}' must be text"
    elif len(value) > prop.max_length:
        return f"'{prop.name}' is longer than {prop.max_length} characters"
    return None


def validate_attributes(layer: LayerDef, attributes: dict) -> list[str]:
    """Every reason the attributes do not fit the layer's schema (empty when they do)."""
    errors = []
    for name in attributes:
        if layer.property(name) is None:
            errors.append(
                f"unknown attribute '{name}' (layer {layer.id} has {list(layer.property_names)})"
            )
    for prop in layer.properties:
        value = attributes.get(prop.name)
        if value is None:
            if prop.required:
                errors.append(f"'{prop.name}' is required")
            continue
        problem = _check_value(prop, value)
        if problem:
            errors.append(problem)
            continue
        if prop.allowed and value not in prop.allowed:
            errors.append(f"'{prop.name}' must be one of {list(prop.allowed)}, got {value!r}")
        if prop.minimum is not None and value < prop.minimum:
            errors.append(
                f"'{prop.name}' must be at least {prop.minimum} {prop.unit or ''}".rstrip()
            )
        if prop.maximum is not None and value > prop.maximum:
            errors.append(
                f"'{prop.name}' must be at most {prop.maximum} {prop.unit or ''}".rstrip()
            )
    return errors


def layer_registry(app=None) -> LayerRegistry:
    """The layer registry of `app` (default: the current Flask app), read at start-up."""
    from flask import current_app

    return (app or current_app).extensions["gis_app"]


def get_layer(layer_id: str, registry: LayerRegistry | None = None) -> LayerDef:
    """The layer called `layer_id`, or a 404 naming the layers there are: the one "layer or 404"."""
    from gis_app.errors import NotFound

    registry = registry or layer_registry()
    layer = registry.get(layer_id)
    if layer is None:
        raise NotFound(
            f"Layer '{layer_id}' does not exist.",
            code="layer_not_found",
            layer=layer_id,
            layers=[item.id for item in registry],
        )
    return layer
