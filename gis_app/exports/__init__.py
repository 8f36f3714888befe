"""Planners' exports of layers cut by bbox, municipality or operator (writer.py)."""

from gis_app.exports.writer import FORMATS, Cut, UnknownPlace, check_cut, count, export, file_name

__all__ = ["FORMATS", "Cut", "UnknownPlace", "check_cut", "count", "export", "file_name"]
