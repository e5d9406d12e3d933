"""One local system per state directory: an exclusive ``flock`` on ``<data-dir>/lock``.

Two systems in one directory would share the peers file (each rewriting the other's ring),
the SQLite database, the logs and ``system.json``. The lock is held by the supervisor for
its whole life and released by the kernel when it exits, however it exits (``kill -9``
included), so a stale lock can never block a new start. The lock file also records who
holds it, so the refusal can name the running system.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import IO, Final

LOCK_FILE: Final = "lock"


class StateDirectoryInUseError(RuntimeError):
    """Another running local system holds the state directory; the message says which and what to do."""


class StateLock:
    """The exclusive lock on a state directory, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir.resolve() / LOCK_FILE
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._file is not None

    def acquire(self, *, port: int) -> None:
        """Take the lock and record this process and ``port`` in it.

        Raises :class:`StateDirectoryInUseError` naming the holder's pid and URL if another
        process holds it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opened without truncating: the holder's record must survive a refused attempt.
        lock_file = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(lock_file)
            lock_file.close()
            raise StateDirectoryInUseError(
                f"another local system ({holder}) is using the state directory {self.path.parent}; "
                "stop it first, or give this one its own state with --data-dir DIR"
            ) from None
        lock_file.seek(0)
        lock_file.truncate()
        json.dump({"pid": os.getpid(), "url": f"http://127.0.0.1:{port}"}, lock_file)
        lock_file.flush()
        self._file = lock_file

    def release(self) -> None:
        """Let go of the lock (the file stays; an unlocked file means nobody holds it)."""
        lock_file, self._file = self._file, None
        if lock_file is not None:
            with contextlib.suppress(OSError):
                lock_file.seek(0)
                lock_file.truncate()
            lock_file.close()  # closing the last descriptor drops the flock

    def holder_url(self) -> str | None:
        """The balancer URL of the system holding the lock, or None when none does (tools use it)."""
        try:
            lock_file = self.path.open(encoding="utf-8")
        except FileNotFoundError:
            return None
        with lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    return str(json.loads(lock_file.read())["url"])
                except (ValueError, KeyError, TypeError):
                    return None
            return None  # nobody holds it (closing the file drops this probe's lock)

    @staticmethod
    def _holder(lock_file: IO[str]) -> str:
        lock_file.seek(0)
        try:
            record = json.loads(lock_file.read())
            return f"pid {int(record['pid'])}, {record['url']}"
        except (ValueError, KeyError, TypeError):  # the holder is between taking the lock and writing its record
            return "just starting"
