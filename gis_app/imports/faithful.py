"""Nothing silently changed: what GDAL would alter on the way in is refused, with the reason.

GDAL reads a GeoJSON "a\\u0000b" as "a" (C strings end at NUL), a lone surrogate "\\ud800" as
U+FFFD, and a "crs" it does not know (EPSG:999999) as no CRS at all, which the import would then
take for EPSG:4326. PostgreSQL cannot store NUL nor a lone surrogate either. So the raw GeoJSON
is scanned for those escapes and its declared CRS checked before GDAL reads it, every value read
from any format is checked for control characters, and a CRS given by the client must be a
geographic or projected one that PROJ knows, given without reading files (+init=).
"""

from __future__ import annotations

import re

from pyproj import CRS
from pyproj.exceptions import CRSError

from gis_app.errors import InvalidParameter
from gis_app.strict import bad_text_char, describe

# An escape \u0000 preceded by an even number of backslashes (so it is not "\\u0000" as text).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# A high surrogate escape not followed by a low one, or a low one not preceded by a high one.
_LONE_SURROGATE = re.compile(
    rb"(?<!\\)(?:\\\\)*(?:\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)
_CRS_NAME = re.compile(
    rb'"crs"\s*:\s*\{[^{}]*"properties"\s*:\s*\{[^{}]*"name"\s*:\s*"([^"\\]{1,300})"'
)
CRS_SCAN_BYTES = 1024 * 1024  # the top-level "crs" member comes before the features in practice


def _refuse(message: str, code: str, **details: object) -> InvalidParameter:
    return InvalidParameter(f"file: {message}; nothing was imported", code=code,
                            parameter="file", **details)  # fmt: skip


def check_geojson_bytes(raw: bytes) -> None:
    """400 when the GeoJSON holds a value GDAL would change, or declares a CRS PROJ lacks."""
    found = _NUL_ESCAPE.search(raw)
    if found:
        raise _refuse(
            f"a string holds \\u0000 (NUL) at byte {found.end() - 6}; GDAL would cut it there",
            "nul_in_value",
            offset=found.end() - 6,
        )
    found = _LONE_SURROGATE.search(raw)
    if found:
        escape = found.group().lstrip(b"\\")[-5:].decode()
        raise _refuse(
            f"a string holds a lone surrogate \\{escape} at byte {found.start()}; it is not a "
            "character and would be replaced",
            "lone_surrogate_in_value",
            offset=found.start(),
        )
    declared = _CRS_NAME.search(raw[:CRS_SCAN_BYTES])
    if declared:
        name = declared.group(1).decode("utf-8", "replace")
        try:
            check_crs(CRS.from_user_input(name), name)
        except CRSError:
            raise _refuse(
                f"its crs {name!r} is not one PROJ knows; it would be read as EPSG:4326",
                "unknown_crs",
                crs=name,
            ) from None


def check_crs(crs: CRS, given: str) -> CRS:
    """`crs` when it is geographic or projected (or compound of one); 400 otherwise."""
    horizontal = crs.sub_crs_list[0] if crs.is_compound and crs.sub_crs_list else crs
    if not (horizontal.is_geographic or horizontal.is_projected):
        raise InvalidParameter(
            f"crs: {given!r} is a {crs.type_name}, neither geographic nor projected; "
            "give the CRS of the coordinates (e.g. EPSG:4326, EPSG:32636)",
            code="unsupported_crs",
            parameter="crs",
            value=given[:200],
        )
    return crs


def parse_client_crs(value: str) -> CRS:
    """A CRS a client names (EPSG code, PROJ string or WKT): known, not read from files,
    geographic or projected; 400 naming it otherwise (PROJ's own message is not echoed: it may
    name files of the server)."""
    text = value.strip()
    if "+init=" in text or "init=" in text.replace(" ", ""):
        raise InvalidParameter(
            "crs: +init= reads PROJ files of the server; give an EPSG code instead",
            code="unsupported_crs", parameter="crs", value=text[:200],
        )  # fmt: skip
    try:
        crs = CRS.from_user_input(text)
    except CRSError:
        raise InvalidParameter(
            f"crs: {text[:200]!r} is not an EPSG code, PROJ string or WKT that PROJ knows",
            code="unknown_crs", parameter="crs", value=text[:200],
        ) from None  # fmt: skip
    return check_crs(crs, text)


def value_problems(columns: list[str], values: list[list]) -> dict[int, str]:
    """Row index → reason, for rows with a text value holding a control character or a lone
    surrogate (tab, LF and CR are text)."""
    problems: dict[int, str] = {}
    for column, column_values in zip(columns, values, strict=True):
        for row, value in enumerate(column_values):
            if isinstance(value, str) and row not in problems:
                char = bad_text_char(value)
                if char is not None:
                    problems[row] = f"{column}: contains {describe(char)}, which is not stored"
    return problems
