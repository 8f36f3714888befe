"""Throwaway PostgreSQL clusters for the replication tests: a primary and its streaming standby.

The primary is a fresh small cluster, not the project-local one: a base backup copies the whole
cluster, and the local one may hold the benchmark's 10-million-feature databases. The standby is
made by PostgreSQL's own `pg_basebackup -R` (primary_conninfo and standby.signal written by it).
As root, the servers run as the OS user `postgres`, as the local cluster does (gis_app/localdb.py).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gis_app.localdb import pg_bindir

USER = "gis"


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs)


def free_port(first: int) -> int:
    """The first port from `first` on which nothing listens on 127.0.0.1."""
    port = first
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
        port += 1


@dataclass
class Cluster:
    """One running (or stopped) server: its data folder, port and password."""

    data: Path
    port: int
    password: str

    def url(self, database: str = "postgres") -> str:
        """postgresql:// URL of a database on this server."""
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            # A test cluster: no fsync, small shared buffers; replication on (the default level).
            " -c fsync=off -c full_page_writes=off -c shared_buffers=32MB -c max_wal_senders=4"
            " -c wal_level=replica -c hot_standby=on -c wal_receiver_status_interval=1s"
        )
        _as_postgres([str(pg_bindir() / "pg_ctl"), "start", "-w", "-t", "60", "-D",
                      str(self.data), "-l", str(self.data.parent / f"{self.data.name}.log"),
                      "-o", options])  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (if it runs)."""
        subprocess.run(
            (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else [])
            + [str(pg_bindir() / "pg_ctl"), "stop", "-w", "-m", mode, "-D", str(self.data)],
            capture_output=True,
        )

    def promote(self) -> None:
        """Promote a standby to a primary of its own."""
        _as_postgres([str(pg_bindir() / "pg_ctl"), "promote", "-w", "-D", str(self.data)])


def _workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="gis_app_repl_"))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    return path


def new_primary(first_port: int) -> Cluster:
    """initdb and start a new cluster on a free port from `first_port`."""
    base = _workdir()
    password = secrets.token_urlsafe(12)
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    data = base / "primary"
    _as_postgres([str(pg_bindir() / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
                  "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"])  # fmt: skip
    pwfile.unlink()
    cluster = Cluster(data, free_port(first_port), password)
    cluster.start()
    return cluster


def new_standby(primary: Cluster, first_port: int) -> Cluster:
    """A streaming standby of `primary`: pg_basebackup -R, then started on a free port."""
    data = primary.data.parent / f"standby{first_port}"
    conninfo = f"host=127.0.0.1 port={primary.port} user={USER} password={primary.password}"
    _as_postgres([str(pg_bindir() / "pg_basebackup"), "-D", str(data), "-R", "-X", "stream",
                  "-c", "fast", "--no-sync", "-d", conninfo])  # fmt: skip
    standby = Cluster(data, free_port(first_port), primary.password)
    standby.start()
    return standby


def remove(*clusters: Cluster) -> None:
    """Stop the servers and delete their folders."""
    for cluster in clusters:
        cluster.stop("immediate")
    for cluster in clusters:
        shutil.rmtree(cluster.data.parent, ignore_errors=True)


def wait_until(predicate, seconds: float = 20, step: float = 0.1) -> None:
    """Poll `predicate` until it is true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {seconds} s: {predicate}")
        time.sleep(step)
