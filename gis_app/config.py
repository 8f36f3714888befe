"""Settings: defaults, then the environment, then the factory's mapping. The only reader of os.environ."""

from __future__ import annotations

import os
import re
from pathlib import Path

# The version every answer that names the service carries (OpenAPI, export provenance).
VERSION = "0.1.0"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DATABASE_URL_FILE = PROJECT_ROOT / "var" / "database_url"

# Every setting, its default and its meaning; the README's settings table is checked against this.
SETTINGS: dict[str, tuple[object, str]] = {
    "DATABASE_URL": (
        None,
        "PostgreSQL/PostGIS URL, libpq's multi-host form for failover (h1:5432,h2:5432/db?"
        "target_session_attrs=read-write); unset: the project-local cluster of `make run`",
    ),
    "SECRET_KEY": (None, "signs session cookies; unset: a random key kept in var/secret_key"),
    "GIS_APP_LAYERS_DIR": (str(PROJECT_ROOT / "layers"), "folder of the layer files (*.toml)"),
    "GIS_APP_MAX_FEATURES": (10000, "most features one /api/layers request returns"),
    "GIS_APP_DEFAULT_FEATURES": (5000, "features returned when no limit is given"),
    "GIS_APP_BASEMAP_URL": (
        "",
        "XYZ URL of base tiles, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; "
        "empty: no base map (closed network)",
    ),
    "GIS_APP_BASEMAP_ATTRIBUTION": (
        "© OpenStreetMap contributors",
        "attribution of the base tiles",
    ),
    "GIS_APP_BASEMAP_FILE": (
        "",
        "local base-map archive (.mbtiles or .pmtiles, vector or raster) served at /basemap/ "
        "and drawn under the networks; wins over GIS_APP_BASEMAP_URL; empty: none",
    ),
    "GIS_APP_LOCAL_PG_PORT": (54329, "first port tried for the project-local PostgreSQL cluster"),
    "GIS_APP_TILES_FROM": (
        20000,
        "a layer with at least this many features is drawn from vector tiles on the web map",
    ),
    "GIS_APP_MAX_IMPORT_BYTES": (
        256 * 1024 * 1024,
        "largest upload POST /api/layers/<layer>/import accepts, in bytes (more: 413)",
    ),
    # Incidents (issue 5): duplicates, notifications, Open311.
    "GIS_APP_DUPLICATE_DISTANCE_M": (
        250,
        "an open incident of the same utility this near (metres) is the same one; 0: off",
    ),
    "GIS_APP_DUPLICATE_HOURS": (24, "…and reported within this many hours"),
    "GIS_APP_SMTP_HOST": ("127.0.0.1", "SMTP server of the notification e-mails"),
    "GIS_APP_SMTP_PORT": (25, "its port"),
    "GIS_APP_MAIL_FROM": ("gis-app@localhost", "sender of the notification e-mails"),
    "GIS_APP_NOTIFY_MAX_ATTEMPTS": (8, "tries of one notification before it is marked failed"),
    "GIS_APP_NOTIFY_BACKOFF_S": (30, "first retry delay (s); doubles each time, at most 1 h"),
    "GIS_APP_OPEN311_API_KEYS": ("", "comma-separated API keys accepted by POST /open311/v2"),
    # The reporter's loop (issue 15): links in the mails to people who reported an incident.
    "GIS_APP_PUBLIC_URL": (
        "http://127.0.0.1:5000",
        "the service's address as reporters reach it (links in their e-mails)",
    ),
    "GIS_APP_FEEDBACK_DAYS": (14, "days a reporter's confirm/reopen link stays valid"),
    "GIS_APP_KPI_MAX_AGE_S": (
        60,
        "oldest KPI summary (s) served for a period still running or changed since",
    ),
    # Failed logins (POST /login), counted in the database so every worker shares them.
    "GIS_APP_LOGIN_MAX_FAILURES": (
        5,
        "failed logins of one user name within the window that block it (429) until they age out",
    ),
    "GIS_APP_LOGIN_MAX_FAILURES_PER_ADDRESS": (
        30,
        "failed logins from one client address within the window that block it",
    ),
    "GIS_APP_LOGIN_BLOCK_MINUTES": (15, "the window failed logins are counted in, minutes"),
    # Municipalities (issue 12).
    "GIS_APP_DEMO": (
        "auto",
        "whether `make run` loads the demo: auto (only into a database without real rows), "
        "always, never",
    ),
    "GIS_APP_PROXY_HOPS": (
        0,
        "reverse proxies in front (e.g. 1 behind nginx) whose X-Forwarded-For/-Proto/-Host/-Port/"
        "-Prefix are trusted, for links, redirects and client addresses; 0: none trusted",
    ),
    # Security (issue 11): remits, outbound webhooks, cookies; see docs/security.md.
    "GIS_APP_MAX_OUTAGE_DAYS": (
        14,
        "longest planned outage operator staff may announce, in days (admins may exceed)",
    ),
    "GIS_APP_OUTAGE_MAX_PAST_HOURS": (
        24,
        "how long ago a planned outage announced by operator staff may start, in hours",
    ),
    "GIS_APP_WEBHOOK_ALLOWED_HOSTS": (
        "",
        "comma-separated webhook hosts allowed although they are loopback, private, link-local "
        "or otherwise non-public addresses (e.g. an ADS gateway inside the closed network)",
    ),
    "GIS_APP_SESSION_COOKIE_SECURE": (
        0,
        "1: the session cookie carries Secure (set it when TLS ends in front, as behind nginx)",
    ),
    # Growing past one machine (issue 17): read replicas and the connection pool.
    "GIS_APP_DATABASE_REPLICA_URLS": (
        "",
        "comma-separated postgresql:// URLs of streaming read replicas; reads that may be a few "
        "seconds stale (layer pages, OGC items, tiles, exports, map data) go there; empty: none",
    ),
    "GIS_APP_REPLICA_MAX_LAG_S": (
        5,
        "a replica whose replay lags more than this many seconds (measured on it) is skipped",
    ),
    "GIS_APP_REPLICA_CHECK_S": (2, "seconds between two health checks of one replica"),
    "GIS_APP_READ_YOUR_WRITES_S": (
        10,
        "after a write, the client's reads go to the primary for this many seconds (signed cookie)",
    ),
    # 0 by default: logout, a revoked token and a disabled user take effect at once everywhere;
    # a deployment with heavy tile traffic may trade a few seconds of that for fewer reads.
    "GIS_APP_AUTH_CACHE_S": (
        0,
        "seconds a worker remembers who a token or login session is (a revoked token or "
        "deactivated user is refused at most this late); 0: asked on every request",
    ),
    "GIS_APP_DB_POOL_SIZE": (5, "database connections each worker process keeps open, per server"),
    "GIS_APP_DB_MAX_OVERFLOW": (10, "connections a worker may open beyond the pool under load"),
    "GIS_APP_DB_POOL_TIMEOUT_S": (
        10,
        "seconds a request waits for a free connection before a 503 with Retry-After",
    ),
}


class ConfigError(RuntimeError):
    """A setting has a value the service cannot run with."""


def _coerce(name: str, value: object, default: object) -> object:
    if isinstance(default, int) and not isinstance(value, int):
        try:
            return int(str(value))
        except ValueError as exc:
            raise ConfigError(f"{name} must be a whole number, got {value!r}") from exc
    return value


def default_database_url() -> str | None:
    """The URL of the project-local cluster that `gis-app localdb start` wrote, if any."""
    if LOCAL_DATABASE_URL_FILE.exists():
        return LOCAL_DATABASE_URL_FILE.read_text().strip() or None
    return None


def local_secret_key() -> str:
    """A random key kept in var/secret_key, made on first use, so every worker shares it."""
    import secrets

    path = LOCAL_DATABASE_URL_FILE.parent / "secret_key"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(overrides: dict | None = None) -> dict:
    """Return the settings: defaults, then environment variables, then `overrides`; validated."""
    config: dict[str, object] = {name: default for name, (default, _) in SETTINGS.items()}
    for name, (default, _) in SETTINGS.items():
        if name in os.environ:
            config[name] = _coerce(name, os.environ[name], default)
    if config["DATABASE_URL"] is None:
        config["DATABASE_URL"] = default_database_url()
    if config["SECRET_KEY"] is None:
        config["SECRET_KEY"] = local_secret_key()
    for name, value in (overrides or {}).items():
        config[name] = _coerce(name, value, SETTINGS.get(name, (value, ""))[0])
    validate(config)
    return config


def validate(config: dict) -> None:
    """Reject settings the service cannot run with, naming the setting."""
    url = config.get("DATABASE_URL")
    if not url:
        raise ConfigError(
            "DATABASE_URL is not set and there is no project-local database: "
            "run `make run` (or `gis-app localdb start`), or set DATABASE_URL"
        )
    if not str(url).startswith(("postgresql://", "postgresql+psycopg2://", "postgres://")):
        raise ConfigError("DATABASE_URL must be a postgresql:// URL")
    if not Path(str(config["GIS_APP_LAYERS_DIR"])).is_dir():
        raise ConfigError(f"GIS_APP_LAYERS_DIR: no such folder {config['GIS_APP_LAYERS_DIR']}")
    basemap = str(config.get("GIS_APP_BASEMAP_FILE") or "")
    if basemap and (
        not Path(basemap).is_file() or Path(basemap).suffix not in (".mbtiles", ".pmtiles")
    ):
        raise ConfigError(
            f"GIS_APP_BASEMAP_FILE must name an existing .mbtiles or .pmtiles file, got {basemap!r}"
        )
    if not 0 <= int(config["GIS_APP_PROXY_HOPS"]) <= 5:
        raise ConfigError("GIS_APP_PROXY_HOPS must be between 0 and 5")
    if config["GIS_APP_DEMO"] not in ("auto", "always", "never"):
        raise ConfigError("GIS_APP_DEMO must be auto, always or never")
    if int(config["GIS_APP_MAX_IMPORT_BYTES"]) < 1:
        raise ConfigError("GIS_APP_MAX_IMPORT_BYTES must be at least 1")
    if not 1 <= int(config["GIS_APP_DEFAULT_FEATURES"]) <= int(config["GIS_APP_MAX_FEATURES"]):
        raise ConfigError("GIS_APP_DEFAULT_FEATURES must be between 1 and GIS_APP_MAX_FEATURES")
    for url in split_urls(str(config.get("GIS_APP_DATABASE_REPLICA_URLS") or "")):
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("GIS_APP_DATABASE_REPLICA_URLS must list postgresql:// URLs")
    for name in (
        "GIS_APP_MAX_OUTAGE_DAYS",
        "GIS_APP_OUTAGE_MAX_PAST_HOURS",
        "GIS_APP_DB_POOL_SIZE",
        "GIS_APP_DB_POOL_TIMEOUT_S",
        "GIS_APP_LOGIN_MAX_FAILURES",
        "GIS_APP_LOGIN_MAX_FAILURES_PER_ADDRESS",
        "GIS_APP_LOGIN_BLOCK_MINUTES",
    ):
        if int(config[name]) < 1:
            raise ConfigError(f"{name} must be at least 1")
    if int(config["GIS_APP_SESSION_COOKIE_SECURE"]) not in (0, 1):
        raise ConfigError("GIS_APP_SESSION_COOKIE_SECURE must be 0 or 1")


def sqlalchemy_url(url: str) -> str:
    """The URL with the psycopg2 driver named, as SQLAlchemy wants it.

    libpq's multi-host form (`postgresql://u:p@h1:5432,h2:5432/db?target_session_attrs=...`,
    for failover) becomes SQLAlchemy's (`...@/db?host=h1:5432&host=h2:5432&...`): psycopg2
    then hands libpq the same host list, which tries the hosts in order."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    scheme, sep, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    if sep and "," in hostlist:
        database, _, query = tail.partition("?")
        hosts = "&".join(f"host={host}" for host in hostlist.split(",") if host)
        url = f"{scheme}://{userinfo}{at}/{database}?{hosts}" + (f"&{query}" if query else "")
    return url


def split_urls(value: str) -> list[str]:
    """The postgresql:// URLs of a comma-separated list; a comma inside a multi-host URL
    (h1:5432,h2:5432) separates hosts, not URLs."""
    parts = re.split(r",\s*(?=postgres(?:ql)?(?:\+psycopg2)?://)", value or "")
    return [part.strip() for part in parts if part.strip()]


def env(name: str, default: str | None = None) -> str | None:
    """Read one environment variable (for the CLI's local-cluster helpers)."""
    return os.environ.get(name, default)
