"""GeoReport v2's XML format: the same content as the JSON answers, as the specification's XML.

A JSON list becomes an element named for the list whose children are named for one item
(`services` → `service`, `endpoints` → `endpoint`, …); None becomes an empty element, booleans
`true`/`false`. Text is UTF-8 and escaped by ElementTree.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "candidates": "candidate",
}


def _fill(element: ET.Element, value: object) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list):
        item = ITEM_NAMES.get(element.tag, "item")
        for child in value:
            _fill(ET.SubElement(element, item), child)
    elif value is None:
        return
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)


def to_xml(root: str, data: object) -> bytes:
    """The XML document of `data` (a dict or a list) under the element `root`, UTF-8."""
    element = ET.Element(root)
    _fill(element, data)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)
