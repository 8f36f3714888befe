"""Network features as the service serves and edits them: collection sources and the one
GeoJSON builder (sources.py), pages, counts and revisions (pages.py), vector tiles (tiles.py),
and single-feature edits with their record (edits.py)."""
