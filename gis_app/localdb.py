"""The project-local PostgreSQL cluster under var/: created, started and stopped by `gis-app localdb`.

PostgreSQL refuses to run as root, so when we are root (CI is) initdb and the server run as the
OS's `postgres` user. The cluster listens on 127.0.0.1 only, with a password kept in var/.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

from gis_app.config import LOCAL_DATABASE_URL_FILE, PROJECT_ROOT

VAR = PROJECT_ROOT / "var"
PG_LINK = VAR / "pg"
DB_NAME = "gis_app"
DB_USER = "gis"


class LocalDbError(RuntimeError):
    """The local cluster could not be set up; the message says what to do."""


def pg_bindir() -> Path:
    """The newest installed PostgreSQL server's bin folder (Debian: /usr/lib/postgresql/N/bin)."""
    override = os.environ.get("GIS_APP_PG_BINDIR")
    if override:
        return Path(override)
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise LocalDbError("PostgreSQL server binaries not found: install postgresql (make run does)")


def _as_root() -> bool:
    return os.geteuid() == 0


def _run_pg(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a PostgreSQL binary, as the `postgres` user when we are root."""
    if _as_root():
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs)


def _postgres_can_use(path: Path) -> bool:
    probe = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-x", str(path)], capture_output=True
    )
    return probe.returncode == 0


def cluster_dir() -> Path:
    """Where the cluster lives: var/pg, or (as root, where `postgres` cannot reach var/) a folder
    under /var/lib/gis-app that var/pg links to."""
    if PG_LINK.exists():
        return PG_LINK.resolve()
    VAR.mkdir(exist_ok=True)
    if _as_root():
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise LocalDbError(
                "running as root needs the OS user 'postgres' (package postgresql)"
            ) from exc
        if _postgres_can_use(VAR):
            PG_LINK.mkdir()
            shutil.chown(PG_LINK, "postgres", "postgres")
        else:
            digest = hashlib.sha1(str(PROJECT_ROOT).encode()).hexdigest()[:12]
            target = Path("/var/lib/gis-app") / digest
            target.mkdir(parents=True, exist_ok=True)
            shutil.chown(target, "postgres", "postgres")
            PG_LINK.symlink_to(target)
    else:
        PG_LINK.mkdir()
    return PG_LINK.resolve()


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _is_running(data: Path) -> bool:
    status = subprocess.run(
        (["runuser", "-u", "postgres", "--"] if _as_root() else [])
        + [str(pg_bindir() / "pg_ctl"), "status", "-D", str(data)],
        capture_output=True,
    )
    return status.returncode == 0


def start(first_port: int = 54329) -> str:
    """Create the cluster if needed, start it if stopped, create the database; return its URL."""
    base = cluster_dir()
    data = base / "data"
    secret_file = VAR / "pg_password"
    port_file = VAR / "pg_port"
    bindir = pg_bindir()
    if not (data / "PG_VERSION").exists():
        password = secrets.token_urlsafe(18)
        pwfile = base / "pwfile"
        pwfile.write_text(password + "\n")
        if _as_root():
            shutil.chown(pwfile, "postgres", "postgres")
        try:
            _run_pg(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    DB_USER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        secret_file.write_text(password)
        secret_file.chmod(0o600)
    password = secret_file.read_text().strip()
    if not _is_running(data):
        port = int(port_file.read_text()) if port_file.exists() else first_port
        while not _port_free(port):
            port += 1
        port_file.write_text(str(port))
        # Sockets off: TCP on loopback only, so the path length of var/ never matters.
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        try:
            _run_pg(
                [
                    str(bindir / "pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(data),
                    "-l",
                    str(base / "server.log"),
                    "-o",
                    options,
                ]
            )
        except subprocess.CalledProcessError as exc:
            log = (
                (base / "server.log").read_text()[-2000:] if (base / "server.log").exists() else ""
            )
            raise LocalDbError(f"PostgreSQL did not start: {exc.stderr}\n{log}") from exc
    port = int(port_file.read_text())
    url = f"postgresql://{DB_USER}:{password}@127.0.0.1:{port}/{DB_NAME}"
    _wait_and_create_database(url, port, password)
    LOCAL_DATABASE_URL_FILE.write_text(url + "\n")
    LOCAL_DATABASE_URL_FILE.chmod(0o600)
    return url


def _wait_and_create_database(url: str, port: int, password: str) -> None:
    import psycopg2

    deadline = time.monotonic() + 30
    while True:
        try:
            conn = psycopg2.connect(
                host="127.0.0.1", port=port, user=DB_USER, password=password, dbname="postgres"
            )
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{DB_NAME}"')
    conn.close()


def stop() -> bool:
    """Stop the cluster if it runs; True if it was running."""
    if not PG_LINK.exists():
        return False
    data = PG_LINK.resolve() / "data"
    if not (data / "PG_VERSION").exists() or not _is_running(data):
        return False
    _run_pg([str(pg_bindir() / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(data)])
    return True
