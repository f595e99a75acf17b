"""The pytest processes of one cell share the machine's cores: at most KVCC_MODES_AT_ONCE of them run at once,
whichever environment (the cell's own, a client's) and phase (first run, re-run) they belong to, so one
environment's runs fill the cores while another environment is still installing or re-running.

A run waiting for a slot starts by its priority, then by when it asked: first runs (the long ones: a whole
suite directory) before re-runs (a few tests), and of first runs the one with more suite files first, so that
the longest runs start early and the short ones fill the gaps at the end.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from kvmatrix.settings import int_setting

FIRST_RUN, RERUN = 0, 1
"""Phases of a run, in the order their waiting runs are given a slot."""

Priority = tuple[int, int]
"""(phase, minus its number of targets): smaller starts first."""


def priority(phase: int, targets: Sequence[str] | None) -> Priority:
    """A run's priority: its phase, then more targets (suite files or node ids; None: every suite) first."""
    return phase, -(len(targets) if targets is not None else 1_000_000)


class RunSlots:
    """At most `size` holders at once; a freed slot goes to the waiting holder with the smallest priority
    (ties: the one that asked first)."""

    def __init__(self, size: int) -> None:
        self._free = max(1, size)
        self._waiting: list[tuple[Priority, int]] = []
        self._arrivals = itertools.count()
        self._changed = threading.Condition()

    @classmethod
    def from_settings(cls) -> RunSlots:
        """Slots for KVCC_MODES_AT_ONCE pytest processes."""
        return cls(int_setting("KVCC_MODES_AT_ONCE"))

    def waiting(self) -> int:
        """How many holders are waiting for a slot now."""
        with self._changed:
            return len(self._waiting)

    @contextmanager
    def hold(self, rank: Priority) -> Iterator[None]:
        """Block until this holder may run (a slot is free and no waiting holder ranks before it); release
        the slot when the block ends."""
        ticket = (rank, next(self._arrivals))
        with self._changed:
            self._waiting.append(ticket)
            self._changed.wait_for(lambda: self._free > 0 and min(self._waiting) == ticket)
            self._waiting.remove(ticket)
            self._free -= 1
            self._changed.notify_all()  # the next in line may take another free slot
        try:
            yield
        finally:
            with self._changed:
                self._free += 1
                self._changed.notify_all()
