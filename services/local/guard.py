"""Run a command that dies with its parent: ``python -m services.local.guard PROGRAM ARGS...``.

The local system starts every child through this guard. It asks Linux to send the child
SIGTERM when its parent dies (``PR_SET_PDEATHSIG``, which survives ``exec``), then becomes
the program. So even a ``kill -9`` of the supervisor leaves no orphan processes behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Final

_PR_SET_PDEATHSIG: Final = 1


def main() -> None:
    """Arm the parent-death signal, then exec the command given as arguments."""
    if len(sys.argv) < 2:
        sys.exit("usage: python -m services.local.guard PROGRAM [ARGS...]")
    parent = os.getppid()
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the signal was armed
        sys.exit(1)
    os.execvp(sys.argv[1], sys.argv[1:])  # noqa: S606 - the supervisor's own command line


if __name__ == "__main__":
    main()
