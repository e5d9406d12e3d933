"""A background duty that runs on a thread of its own, every so often, until stopped."""

from __future__ import annotations

import threading

import structlog

_log = structlog.get_logger(__name__)


class Periodic:
    """Calls :meth:`tick` every :meth:`period` seconds on a daemon thread, until :meth:`stop`.

    One failing tick is logged and the next one runs: a duty must outlive any one failure.
    A tick that returns True ends the thread (its work is done).
    """

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def period(self) -> float:
        """Seconds until the next tick."""
        raise NotImplementedError

    def tick(self) -> bool | None:
        """One round of the duty."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, waiting for a round in progress to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.period()):
            try:
                if self.tick():
                    return
            except Exception:
                _log.exception("periodic duty failed", duty=self._thread.name)
