"""Where a webhook may point: public addresses only, unless an administrator allows the host.

An operator's webhook URL is fetched by this server, so without a check it reaches whatever this
server reaches: its own loopback services, the cloud metadata endpoint (169.254.169.254), the
control centre's private network. A URL is refused when its host is, or resolves to, an address
that is not globally routable (loopback, private, link-local, shared, multicast, reserved,
unspecified; IPv4-mapped IPv6 judged by its IPv4), unless the host is listed in
GIS_APP_WEBHOOK_ALLOWED_HOSTS. The check runs when the URL is set and again before each send
(DNS may have changed); redirects are not followed when sending.
"""

from __future__ import annotations

import ipaddress
import socket
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
    resolver: Resolver = system_resolver,
) -> None:
    """Raise WebhookRefused unless `url` is an http(s) URL of a public host or an allowed one.

    `must_resolve`: a host name that does not resolve is refused too (at send time); when the
    URL is set it is accepted, since the closed network's DNS may not know it yet.
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookRefused(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookRefused("must be an http:// or https:// URL with a host")
    if host in allowed_hosts:
        return
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses: list[str] = [host]
    except ValueError:
        try:
            addresses = list(resolver(host, port))
        except (OSError, UnicodeError):
            if must_resolve:
                raise WebhookRefused(f"host {host!r} does not resolve") from None
            return
    refused = sorted({a for a in addresses if _not_public(a)})
    if refused:
        raise WebhookRefused(
            f"host {host!r} is a loopback, private, link-local or otherwise non-public address "
            f"({', '.join(refused)}); an administrator may allow it in "
            "GIS_APP_WEBHOOK_ALLOWED_HOSTS"
        )
