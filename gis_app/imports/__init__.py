"""Imports of a layer by its operator: read (read.py), map and check (prepare.py), bulk load
(load.py), all or nothing with a record of each import (service.py)."""

from gis_app.imports.service import ImportRequest, list_imports, run_import

__all__ = ["ImportRequest", "list_imports", "run_import"]
