"""HTML pages: the web maps (maps.py)."""
