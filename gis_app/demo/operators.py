"""The demo operators: invented organisations, each clearly named «ДЕМО …», with valid-form INNs."""

from __future__ import annotations

import random
from dataclasses import dataclass

from gis_app.demo.places import OBLAST, Place

INN_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def demo_inn(seed: int) -> str:
    """A 10-digit legal-entity INN of region 47 with a correct check digit (not a real company's)."""
    rng = random.Random(seed)
    digits = [4, 7, 9, 9] + [rng.randint(0, 9) for _ in range(5)]  # 4799…: a range not issued
    check = sum(w * d for w, d in zip(INN_WEIGHTS, digits, strict=True)) % 11 % 10
    return "".join(map(str, digits)) + str(check)


@dataclass(frozen=True)
class DemoOperator:
    """An operator: its names, contacts, utilities, where it serves and which roles it plays."""

    slug: str
    full_name: str
    short_name: str
    utilities: tuple[str, ...]
    serves: tuple[str, ...]  # municipality slugs
    phone: str
    seed: int
    area_priority: int = 10  # town operators win over oblast-wide ones in the same area


def town_operators(
    place: Place, town_name_gen: str, with_second_heat: bool
) -> dict[str, DemoOperator]:
    """Role → operator of one town (water and sewerage share the town's vodokanal)."""
    code = place.phone_code
    s = place.slug
    ops = {
        "water": DemoOperator(
            f"demo-vodokanal-{s}",
            f"ДЕМО Муниципальное унитарное предприятие «Водоканал {town_name_gen}»",
            f"ДЕМО Водоканал {town_name_gen}",
            ("water", "sewerage"),
            (s,),
            f"+7 ({code}) 2-00-01",
            place.seed * 10 + 1,
        ),
        "heat": DemoOperator(
            f"demo-teploseti-{s}",
            f"ДЕМО АО «Тепловые сети {town_name_gen}»",
            f"ДЕМО Тепловые сети {town_name_gen}",
            ("heat", "hot_water"),  # ГВС from the heat company, as in Gatchina
            (s,),
            f"+7 ({code}) 2-00-02",
            place.seed * 10 + 2,
        ),
        "electricity": DemoOperator(
            f"demo-gorset-{s}",
            f"ДЕМО АО «Горэлектросеть {town_name_gen}»",
            f"ДЕМО Горэлектросеть {town_name_gen}",
            ("electricity",),
            (s,),
            f"+7 ({code}) 2-00-03",
            place.seed * 10 + 3,
        ),
        "roads": DemoOperator(
            f"demo-dorogi-{s}",
            f"ДЕМО МБУ «Служба благоустройства и дорожного хозяйства {town_name_gen}»",
            f"ДЕМО Дорожная служба {town_name_gen}",
            ("roads",),
            (s,),
            f"+7 ({code}) 2-00-04",
            place.seed * 10 + 4,
        ),
    }
    ops["housing"] = DemoOperator(
        f"demo-uk-{s}",
        f"ДЕМО ООО «Управляющая компания {town_name_gen}»",
        f"ДЕМО УК {town_name_gen}",
        ("housing",),
        (s,),
        f"+7 ({code}) 2-00-06",
        place.seed * 10 + 6,
    )
    ops["sewerage"] = ops["water"]
    if with_second_heat:
        ops["heat_small"] = DemoOperator(
            f"demo-teploenergoservis-{s}",
            "ДЕМО ООО «ТеплоЭнергоСервис»",
            "ДЕМО ТеплоЭнергоСервис",
            ("heat",),
            (s,),
            f"+7 ({code}) 2-00-05",
            place.seed * 10 + 5,
            area_priority=20,
        )
    return ops


OBLAST_OPERATORS = {
    "grid_110": DemoOperator(
        "demo-oblenergo",
        "ДЕМО ПАО «Облэнерго»",
        "ДЕМО Облэнерго",
        ("electricity",),
        (OBLAST.slug,),
        "+7 (812) 000-00-01",
        901,
        area_priority=0,
    ),
    "gas": DemoOperator(
        "demo-gazraspredelenie",
        "ДЕМО АО «Газораспределение Ленинградской области»",
        "ДЕМО Газораспределение ЛО",
        ("gas",),
        (OBLAST.slug,),
        "+7 (812) 000-00-04",
        902,
        area_priority=0,
    ),
    "regional_roads": DemoOperator(
        "demo-lenobldor",
        "ДЕМО ГКУ «Леноблдорсервис»",
        "ДЕМО Леноблдорсервис",
        ("roads",),
        (OBLAST.slug,),
        "+7 (812) 000-00-05",
        903,
        area_priority=0,
    ),
}

# The genitive of each town's name, as it stands in an organisation's name.
GENITIVE = {
    "gatchina": "Гатчины",
    "sosnovy-bor": "Соснового Бора",
    "kirishi": "Киришей",
    "vyborg": "Выборга",
}
