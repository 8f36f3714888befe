"""Every layer file is valid; a bad one is refused with the file and key named."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from gis_app.config import PROJECT_ROOT
from gis_app.layers import LayerFileError, LayerRegistry, parse_layer_file, validate_attributes

LAYER_FILES = sorted((PROJECT_ROOT / "layers").glob("*.toml"))


@pytest.mark.parametrize("path", LAYER_FILES, ids=lambda p: p.stem)
def test_layer_file_is_valid(path: Path, session):
    layer = parse_layer_file(path)
    assert layer.id == path.stem
    assert layer.title_ru and layer.title_en
    known = set(session.execute(text("SELECT code FROM utilities")).scalars())
    assert layer.utility in known
    assert layer.style["color"].startswith("#")
    for prop in layer.properties:
        assert prop.title_ru and prop.title_en


def test_every_utility_has_a_line_and_a_point_layer():
    registry = LayerRegistry.from_dir(PROJECT_ROOT / "layers")
    for utility in ("electricity", "heat", "gas", "water", "sewerage"):
        kinds = {layer.geometry for layer in registry.for_utility(utility)}
        assert kinds == {"POINT", "LINESTRING"}, utility
    assert registry.for_utility("roads")


def layer_text(
    top: str = "",
    prop: str = 'name = "diameter_mm"\ntype = "int"',
    tail: str = "",
    layer_id: str = "bad_layer",
    geometry: str = "LINESTRING",
    titles: bool = True,
) -> str:
    """A layer file: top-level keys, one property, then any tables after it."""
    head = f'id = "{layer_id}"\nutility = "water"\ngeometry = "{geometry}"\n'
    if titles:
        head += 'title_ru = "Т"\ntitle_en = "T"\n'
    return f"{head}{top}\n[[properties]]\n{prop}\n{tail}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (layer_text(geometry="POLYGONZ"), "key 'geometry'"),
        (layer_text(prop='name = "diameter_mm"\ntype = "decimal"'), "key 'type'"),
        (layer_text(titles=False), "missing key 'title_ru'"),
        (layer_text(top='colour = "#fff"'), "unknown key(s) ['colour']"),
        (layer_text(tail='[style]\ncolor = "red"'), "style.color"),
        (layer_text(prop='name = "operator"\ntype = "str"'), "key 'name'"),
        (layer_text(prop='name = "step"\ntype = "int"'), "key 'name'"),  # a trace's own
        (layer_text(top="search_distance_m = -5"), "search_distance_m"),
        (layer_text(layer_id="other"), "equal the file name"),
        (layer_text(tail="[[properties]\n"), "not valid TOML"),
        (layer_text(prop='name = "d"\ntype = "int"\nallowed = ["x"]'), "key 'allowed'"),
        (
            layer_text(
                prop='name = "m"\ntype = "str"\nallowed = ["steel"]\n'
                'allowed_titles = { iron = { ru = "чугун", en = "iron" } }'
            ),
            "names 'iron', not one of 'allowed'",
        ),
        (
            layer_text(
                prop='name = "m"\ntype = "str"\nallowed = ["steel"]\n'
                'allowed_titles = { steel = { ru = "сталь" } }'
            ),
            "allowed_titles.steel",
        ),
    ],
)
def test_bad_layer_file_names_file_and_key(tmp_path, content, message):
    path = tmp_path / "bad_layer.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LayerFileError) as info:
        parse_layer_file(path)
    assert "bad_layer.toml" in str(info.value)
    assert message in str(info.value)


def test_good_layer_text_parses(tmp_path):
    path = tmp_path / "bad_layer.toml"
    path.write_text(layer_text(), encoding="utf-8")
    assert parse_layer_file(path).property_names == ("diameter_mm",)


def test_every_allowed_word_has_a_title_in_both_languages():
    """The map shows words, not codes: each allowed text value of every layer has its titles."""
    registry = LayerRegistry.from_dir(PROJECT_ROOT / "layers")
    for layer in registry:
        for prop in layer.properties:
            words = [v for v in prop.allowed if isinstance(v, str) and v.replace("_", "").isalpha()]
            titled = {code for code, _, _ in prop.allowed_titles}
            assert set(words) <= titled, (layer.id, prop.name, set(words) - titled)
    mains = registry.get("water_mains")
    material = next(p for p in mains.properties if p.name == "material")
    assert material.value_title("cast_iron", "ru") == "чугун"
    assert material.value_title("cast_iron", "en") == "cast iron"


def test_validate_attributes_explains_each_problem():
    layer = parse_layer_file(PROJECT_ROOT / "layers" / "power_lines.toml")
    assert validate_attributes(layer, {"voltage_kv": 10.0, "construction": "cable"}) == []
    problems = validate_attributes(
        layer, {"voltage_kv": 11.0, "construction": 3, "year_built": 1800, "colour": "red"}
    )
    joined = " | ".join(problems)
    assert "unknown attribute 'colour'" in joined
    assert "'voltage_kv' must be one of" in joined
    assert "'construction' must be text" in joined
    assert "'year_built' must be at least 1900" in joined
    assert validate_attributes(layer, {}) == [
        "'voltage_kv' is required",
        "'construction' is required",
    ]


def test_device_cut_states_are_values_of_state(tmp_path):
    """A devices layer says which of its states cut the network; they must be its own words."""
    base = (
        'id = "bad_layer"\ntitle_ru = "Т"\ntitle_en = "T"\nutility = "electricity"\n'
        'geometry = "POINT"\nsnap_tolerance_m = 2.0\ndevice_kinds = ["switch"]\n{cut}\n'
        '[[properties]]\nname = "kind"\ntype = "str"\n'
        '[[properties]]\nname = "state"\ntype = "str"\nallowed = ["on", "off"]\n'
        '[[properties]]\nname = "operable"\ntype = "bool"\n'
    )
    path = tmp_path / "bad_layer.toml"
    path.write_text(base.replace("{cut}", 'device_cut_states = ["off"]'), encoding="utf-8")
    assert parse_layer_file(path).device_cut_states == ("off",)
    for cut, message in (("", "must be values of 'state'"),  # the default "closed" is not one
                         ('device_cut_states = ["closed"]', "must be values of 'state'"),
                         ("device_cut_states = []", "must be a list of states")):  # fmt: skip
        path.write_text(base.replace("{cut}", cut), encoding="utf-8")
        with pytest.raises(LayerFileError) as info:
            parse_layer_file(path)
        assert "bad_layer.toml" in str(info.value) and message in str(info.value)
    shipped = LayerRegistry.from_dir(PROJECT_ROOT / "layers")
    assert shipped.get("power_switches").device_cut_states == ("off",)
    assert shipped.get("water_valves").device_cut_states == ("closed",)
