"""A greedy decode loop compiled by torch.compile against the same loop run eagerly, with dynamo's own counters
of the graphs it compiled: shared by the compile suite and the model-family suite's compiled route."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch._dynamo.utils import counters

from compat.tiny import PROMPT_LEN, DecodeStep, prompt_ids
from kvmatrix.run.process.attribution import eager as eager_setup
from suites.support.models import clone, greedy_loop, prefilled

STEPS = 8


def compiled_graphs() -> int:
    """Graphs dynamo has compiled since the last reset (each recompile adds one)."""
    return int(counters["stats"]["unique_graphs"])


@dataclass
class Decoded:
    """What a greedy decode produced and how long each step took."""

    logits: torch.Tensor
    graphs: list[int]  # graphs compiled so far, after each step
    seconds: list[float]  # wall time of each step

    def tokens_per_s(self, skip: int = 0) -> float:
        """Decode throughput, leaving out the first `skip` steps (e.g. the compiling one)."""
        return round((len(self.seconds) - skip) / max(sum(self.seconds[skip:]), 1e-9), 1)


def greedy_decode(step: Callable, cache: Any, before_step: Callable[[Any], None] | None = None,
                  steps: int = STEPS) -> Decoded:
    """Decode `steps` tokens one at a time (suites.support.models.greedy_loop), counting compiled graphs and
    timing each step."""
    graphs: list[int] = []
    seconds: list[float] = []
    started: list[float] = []

    def before(current: Any) -> None:
        if before_step is not None:
            before_step(current)
        started.append(time.perf_counter())

    def after() -> None:
        seconds.append(time.perf_counter() - started[-1])
        graphs.append(compiled_graphs())

    logits, _ = greedy_loop(step, cache, steps, PROMPT_LEN, prompt_ids(1, seed=5), before, after)
    return Decoded(torch.cat(logits, dim=1), graphs, seconds)


def compiled_decode(model, backend: str, cache: Any, before_step=None, step_class: type = DecodeStep,
                    steps: int = STEPS) -> Decoded:
    """Greedy decode with the step compiled by `backend`, counting from a reset dynamo."""
    torch._dynamo.reset()
    counters.clear()
    return greedy_decode(torch.compile(step_class(model), backend=backend), clone(cache), before_step, steps)


def run_compiled_against_eager(model, kind: str, record_property, backend: str, before_step=None,
                               step_class: type = DecodeStep, steps: int = STEPS, empty: Any = None) -> list[int]:
    """Compile the decode step with `backend`, decode `steps` tokens from a prefilled cache of `kind` (or the
    cache `empty` prefilled), compare with eager, record the backend, compile counts, compile time and eager
    vs compiled throughput; return the graphs compiled after each step."""
    cache = prefilled(model, kind, empty=empty)
    with eager_setup("greedy decode (the reference)"):
        eager = greedy_decode(DecodeStep(model), clone(cache), steps=steps)
    compiled = compiled_decode(model, backend, cache, before_step, step_class, steps)
    record_property("backend", backend)
    record_property("graphs_first_step", compiled.graphs[0])
    record_property("recompiles_after_first_step", compiled.graphs[-1] - compiled.graphs[0])
    record_property("graph_breaks", sum(counters["graph_break"].values()))
    record_property("compile_s", round(compiled.seconds[0], 3))
    record_property("eager_tokens_per_s", eager.tokens_per_s())
    record_property("compiled_tokens_per_s", compiled.tokens_per_s(skip=1))
    torch.testing.assert_close(compiled.logits, eager.logits, rtol=1e-4, atol=1e-4)
    return compiled.graphs
