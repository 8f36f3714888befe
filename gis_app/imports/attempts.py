"""An import's attempt outlives its worker: a 'running' row before the work, a sweep after.

The row is committed before the work starts, and the work's transaction holds an advisory lock
named after it; a worker that dies (killed, out of memory, the machine restarted) leaves the row
'running' and its lock released with its connection. `sweep` marks such rows failed, and removes
the temporary folders of upload workers that are gone (their process id is in the name), so a
dead import leaves neither a false record nor a file behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

TEMP_PREFIX = "gis-import-"
DIED = "the import's worker stopped before it finished (killed or crashed); nothing was imported"


def hold(session: Session, import_id: int) -> None:
    """Take the attempt's lock for the rest of the session's transaction (the work)."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('import-run:' || CAST(:id AS text)))"),
        {"id": import_id},
    )


def sweep(session: Session) -> int:
    """Mark failed the running imports nobody works on any more; the number marked."""
    # text(): pg_try_advisory_xact_lock succeeds only for rows whose worker's transaction is gone.
    return session.execute(
        text(
            "UPDATE imports SET status = 'failed', message = :msg, finished_at = now()"
            " WHERE status = 'running'"
            " AND pg_try_advisory_xact_lock(hashtext('import-run:' || CAST(id AS text)))"
        ),
        {"msg": DIED},
    ).rowcount


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def sweep_temp_dirs(root: Path | None = None, prefix: str = TEMP_PREFIX) -> list[Path]:
    """Remove the upload folders of workers that are gone; the folders removed."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(prefix + "*-*"):
        pid = folder.name[len(prefix) :].split("-", 1)[0]
        if folder.is_dir() and pid.isascii() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextlib.contextmanager
def upload_folder(prefix: str = TEMP_PREFIX) -> Iterator[Path]:
    """A temporary folder for one upload, named with this process's id (see sweep_temp_dirs)."""
    sweep_temp_dirs(prefix=prefix)
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-") as folder:
        yield Path(folder)
