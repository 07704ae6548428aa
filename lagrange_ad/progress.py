"""Progress of long work (`la.compare`, `la.verify`) on stderr: one line per finished step.

On by default when stderr is a terminal and off otherwise (pipes, files, tests), so that
output meant for a program stays clean. Each line counts the whole time since the work
began, including what a step does after its timed part (a traced run for memory, the checks
of a result)::

    compare [3/13] gauss-seidel: over budget (0.01 s; 1.2 s in all)

On a terminal the step under way is shown on the same line until it ends
(``compare [4/13] spsolve ...``), so a long step is visible while it runs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from .errors import LagrangeADError

Callback = Callable[[int, int, str], object]


class Progress:
    """Reports ``total`` steps of ``what`` as they start and finish.

    Parameters
    ----------
    what : str
        The work, first on every line (``"compare"``).
    total : int
        How many steps there will be.
    enabled : bool, optional
        Whether to write at all; None (the default) writes when ``stream`` is a terminal.
    stream : file, optional
        Where to write; stderr by default.
    callback : callable, optional
        Also called as ``callback(index, total, label)`` after step ``index`` (from 1) ends.
    """

    def __init__(self, what: str, total: int, enabled: bool | None = None,
                 stream: TextIO | None = None, callback: Callback | None = None):
        self.what, self.total = what, int(total)
        self.stream = sys.stderr if stream is None else stream
        self.enabled = _is_terminal(self.stream) if enabled is None else bool(enabled)
        self.live = self.enabled and _is_terminal(self.stream)
        self.callback = callback
        self.index = 0
        self.began = time.perf_counter()
        self._step_began = self.began

    def start(self, label: str) -> None:
        """Step ``label`` begins (shown in place on a terminal)."""
        self.index += 1
        self._step_began = time.perf_counter()
        if self.live:
            self.stream.write(f"\r{self._prefix()} {label} ...\x1b[K")
            self.stream.flush()

    def done(self, label: str, status: str = "done") -> None:
        """Step ``label`` ended with ``status``: one line with its time and the time in all."""
        now = time.perf_counter()
        if self.enabled:
            line = (f"{self._prefix()} {label}: {status} ({now - self._step_began:.2f} s; "
                    f"{now - self.began:.1f} s in all)")
            self.stream.write(("\r" if self.live else "") + line + ("\x1b[K" if self.live else "")
                              + "\n")
            self.stream.flush()
        if self.callback is not None:
            self.callback(self.index, self.total, label)

    def _prefix(self) -> str:
        return f"{self.what} [{self.index}/{self.total}]"


def progress_for(what: str, total: int, progress) -> Progress:
    """The `Progress` that a ``progress=`` argument asks for.

    None: on when stderr is a terminal; True or False: on or off; a callable: called as
    ``progress(index, total, label)`` after each step, nothing written; a `Progress`: itself.
    """
    if isinstance(progress, Progress):
        return progress
    if progress is None or isinstance(progress, bool):
        return Progress(what, total, enabled=progress)
    if callable(progress):
        return Progress(what, total, enabled=False, callback=progress)
    raise LagrangeADError(f"progress must be None (on for a terminal), True, False or a callable "
                          f"progress(index, total, label); got {progress!r}")


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False
