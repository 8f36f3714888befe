"""Where a webhook may point: public addresses only, unless an administrator allows the host.

An operator's webhook URL is fetched by this server, so without a check it reaches whatever this
server reaches: its own loopback services, the cloud metadata endpoint (169.254.169.254), the
control centre's private network. A URL is refused when its host is, or resolves to, an address
that is not globally routable (loopback, private, link-local, shared, multicast, reserved,
unspecified; IPv4-mapped IPv6 judged by its IPv4), unless the host is listed in
GIS_APP_WEBHOOK_ALLOWED_HOSTS. The check runs when the URL is set and again before each send
(DNS may have changed), and `post` connects to the very address that was checked (the name is
not resolved a second time, so it cannot be rebound in between); redirects are not followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

Resolver = Callable[[str, int], Iterable[str]]


class WebhookRefused(ValueError):
    """The URL may not be used as a webhook; the message says why."""


def parse_allowed_hosts(setting: str | None) -> frozenset[str]:
    """The host names and addresses of the comma-separated setting, lower case."""
    return frozenset(h.strip().lower().strip("[]") for h in (setting or "").split(",") if h.strip())


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host name resolves to (raises OSError when it does not resolve)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]


def _not_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(
    url: str,
    allowed_hosts: frozenset[str] = frozenset(),
    *,
    must_resolve: bool = False,
    resolver: Resolver | None = None,
) -> list[str]:
    """Raise WebhookRefused unless `url` is an http(s) URL of a public host or an allowed one;
    the checked addresses to connect to ([] for an allowed host, or one that does not resolve).

    `must_resolve`: a host name that does not resolve is refused too (at send time); when the
    URL is set it is accepted, since the closed network's DNS may not know it yet.
    """
    resolver = resolver or RESOLVER
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookRefused(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookRefused("must be an http:// or https:// URL with a host")
    if host in allowed_hosts:
        return []
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses: list[str] = [host]
    except ValueError:
        try:
            addresses = list(resolver(host, port))
        except (OSError, UnicodeError):
            if must_resolve:
                raise WebhookRefused(f"host {host!r} does not resolve") from None
            return []
    refused = sorted({a for a in addresses if _not_public(a)})
    if refused:
        raise WebhookRefused(
            f"host {host!r} is a loopback, private, link-local or otherwise non-public address "
            f"({', '.join(refused)}); an administrator may allow it in "
            "GIS_APP_WEBHOOK_ALLOWED_HOSTS"
        )
    return addresses


RESOLVER: Resolver = system_resolver  # tests may replace it


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to a checked address; the Host header still names the URL's host."""

    def __init__(self, host: str, port: int | None, address: str | None, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:  # noqa: D102
        self.sock = socket.create_connection((self._address or self.host, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address; the certificate is verified for the URL's host (SNI)."""

    def __init__(self, host: str, port: int | None, address: str | None, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:  # noqa: D102
        sock = socket.create_connection((self._address or self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict, addresses: list[str], timeout: float) -> int:
    """POST `body` to `url`, connecting to the first of the checked `addresses` (the URL's own
    host when none were checked: an allowed host); the HTTP status. Redirects are answers."""
    parts = urlsplit(url)
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = kind(
        parts.hostname or "", parts.port, addresses[0] if addresses else None, timeout
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()
