"""The Python normalisers agree with the SQL ones of migration 0011, string for string."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from gis_app.addresses import housenumber_norm, parse_query, street_norm
from gis_app.addresses.normalize import street_kind

SAMPLES = [
    "ул. Чехова",
    "улица Антона Чехова",
    "ул. А. Чехова",
    "ПР-Т 25 ОКТЯБРЯ",
    "проспект 25 Октября",
    "Зелёная улица",
    "1-я Советская ул.",
    "2-й Луговой пер.",
    "Красноармейский пр.",
    "наб. реки Фонтанки",
    "б-р Победы",
    "ш. Киевское",
    "Ленинградское шоссе",
    "г. Гатчина, ул. Карла Маркса",
    "  много   пробелов\tи\nпереводов ",
    "Ёлочная",
    "Набережная улица",
    "ул. Набережная",
    "",
    "12 к1",
    "д. 12 корп. 1",
    "5А",
    "5 а",
    "5 лит. А",
    "3/1",
    "10 стр. 2",
    "дом 7 строение 3",
    "7-а",
]


@pytest.mark.parametrize("sample", SAMPLES)
def test_python_and_sql_normalise_alike(session, sample):
    sql = session.execute(
        text("SELECT gis_street_norm(:s), gis_housenumber_norm(:s), gis_street_kind(:s)"),
        {"s": sample},
    ).one()
    assert tuple(sql) == (street_norm(sample), housenumber_norm(sample), street_kind(sample))


@pytest.mark.parametrize(
    ("query", "street", "number"),
    [
        ("Чехова 5", "чехова", "5"),
        ("ул. Чехова, д.5", "чехова", "5"),
        ("чехова д 5", "чехова", "5"),
        ("5 Чехова", "чехова", "5"),
        ("Чехова 5 А", "чехова", "5а"),
        ("Чехова 12 корп. 1", "чехова", "12к1"),
        ("пр-т 25 Октября, 3к1", "25 октября", "3к1"),
        ("1-я Советская 4", "1 советская", "4"),
        ("улица Антона Чехова", "антона чехова", None),
        ("Гатчина, 17А 2-я Рябиновая", "гатчина 2 рябиновая", "17а"),
        ("25 Октября", "октября", "25"),
    ],
)
def test_query_parsing(query, street, number):
    parsed = parse_query(query)
    assert (parsed.street, parsed.housenumber) == (street, number)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ул. Чехова", "улица"),
        ("Зелёная улица", "улица"),
        ("пр-т 25 Октября", "проспект"),
        ("Красноармейский пр.", "проспект"),
        ("б-р Победы", "бульвар"),
        ("2-й Луговой пер.", "переулок"),
        ("наб. реки Фонтанки", "набережная"),
        ("Маркса", ""),
    ],
)
def test_street_kind(name, kind):
    assert street_kind(name) == kind
