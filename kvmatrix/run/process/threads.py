"""Each pytest process of a cell uses its share of the machine's cores for torch's intra-op threads.

A cell runs KVCC_MODES_AT_ONCE pytest processes at once (kvmatrix.run.process.slots), each with KVCC_WORKERS xdist
workers. torch sizes its intra-op (OpenMP) thread pool to every core it may use, so processes at once run more
intra-op threads than there are cores. The suites' tiny models gain nothing from a second thread, and
OpenMP's idle threads wait for work by spinning, on the core another process needs: one thread per process
took less wall and CPU time, with the same verdicts (benchmarks/RESULTS.md, section 8).

The share is the cores this process may run on (its CPU affinity) divided by the pytest workers that run at
once, at least 1. OMP_NUM_THREADS already set in the environment is honoured, as uv's and pip's own
variables are: whoever set it chose the threads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kvmatrix.settings import int_setting

THREADS_VARIABLE = "OMP_NUM_THREADS"
"""What torch (and the OpenMP and MKL libraries it links) reads its intra-op thread count from at start-up."""


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the platform has one, else the CPU count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def process_threads(env: Mapping[str, str]) -> str:
    """The intra-op threads of each pytest process of a cell run with the variables `env`: its
    OMP_NUM_THREADS where set, else the usable cores shared by KVCC_MODES_AT_ONCE x KVCC_WORKERS workers."""
    if env.get(THREADS_VARIABLE):
        return env[THREADS_VARIABLE]
    workers = int_setting("KVCC_MODES_AT_ONCE", env) * int_setting("KVCC_WORKERS", env)
    return str(max(1, usable_cores() // max(1, workers)))


def with_thread_share(env: dict[str, str]) -> dict[str, str]:
    """`env` with OMP_NUM_THREADS set to process_threads(env)."""
    return {**env, THREADS_VARIABLE: process_threads(env)}
