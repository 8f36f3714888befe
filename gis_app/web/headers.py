"""Security headers: every answer is nosniff; HTML pages get a Content-Security-Policy, no framing
and a same-origin referrer.

The map pages are Folium's HTML, with inline <script> blocks. Rather than allow inline scripts,
the policy lists the SHA-256 of each inline script of the page being sent: those exact scripts
run, and nothing injected into the page (a name, a description) could, since its hash is not
listed. Scripts and styles come from this service only (vendor/, static/); styles may be inline
(Leaflet and Folium write style attributes); images may also come from the base-map tile
server when GIS_APP_BASEMAP_URL names one.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlsplit

from flask import Flask, Response, current_app

# An inline script: <script> without src=; its text is hashed exactly as the browser sees it.
_INLINE_SCRIPT = re.compile(
    r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL
)


def init_app(app: Flask) -> None:
    """Add the headers to every response."""
    app.after_request(add_security_headers)


def script_hashes(html: str) -> list[str]:
    """The CSP sources ('sha256-…') of the inline scripts of `html`, in order, without repeats."""
    found = []
    for body in _INLINE_SCRIPT.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        source = f"'sha256-{digest}'"
        if source not in found:
            found.append(source)
    return found


def _basemap_origin() -> str:
    url = current_app.config.get("GIS_APP_BASEMAP_URL") or ""
    parts = urlsplit(url.replace("{s}", "a"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    host = "*." + parts.netloc.split(".", 1)[1] if "{s}" in url else parts.netloc
    return f"{parts.scheme}://{host}"


def content_security_policy(html: str) -> str:
    """The policy of one HTML page (its inline scripts' hashes included)."""
    scripts = " ".join(["'self'", *script_hashes(html)])
    images = " ".join(filter(None, ["'self'", "data:", "blob:", _basemap_origin()]))
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def add_security_headers(response: Response) -> Response:
    """nosniff everywhere; CSP, X-Frame-Options and Referrer-Policy on HTML pages."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype == "text/html":
        html = "" if response.is_streamed else response.get_data(as_text=True)
        response.headers["Content-Security-Policy"] = content_security_policy(html)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
