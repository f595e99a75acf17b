"""torch.compile of a greedy decode loop, with recompiles counted by dynamo's own counters.

The backend is KVCC_COMPILE_BACKEND (default "inductor", what users run). Counts are recorded as test
metrics; StaticCache must not recompile after its first compiled step; outputs must equal eager.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch._dynamo.utils import counters

from suites.models import PROMPT_LEN, DecodeStep, clone, kv_tensors, prefilled, prompt_ids

BACKEND = os.environ.get("KVCC_COMPILE_BACKEND", "inductor")
STEPS = 8


def compiled_graphs() -> int:
    """Graphs dynamo has compiled since the last reset (each recompile adds one)."""
    return int(counters["stats"]["unique_graphs"])


def mark_sequence_dynamic(cache: Any) -> None:
    """The transformers PR #40328 approach: mark the cache's sequence dimension dynamic before a step."""
    for tensor in kv_tensors(cache):
        torch._dynamo.mark_dynamic(tensor, 2)


def greedy_decode(step: Callable, cache: Any, before_step: Callable[[Any], None] | None = None):
    """Decode STEPS tokens one at a time; return (logits of every step, graphs compiled after each step)."""
    token = prompt_ids(1, seed=5)
    logits_per_step, graphs = [], []
    with torch.no_grad():
        for i in range(STEPS):
            if before_step is not None:
                before_step(cache)
            logits, cache = step(token, cache, torch.tensor([PROMPT_LEN + i]))
            logits_per_step.append(logits)
            graphs.append(compiled_graphs())
            token = logits[:, -1:].argmax(-1)
    return torch.cat(logits_per_step, dim=1), graphs


def run_compiled_against_eager(model, kind: str, record_property, before_step=None) -> list[int]:
    """Compile the decode step, decode, compare with eager, record compile counts; return graphs per step."""
    cache = prefilled(model, kind)
    eager_logits, _ = greedy_decode(DecodeStep(model), clone(cache))
    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(DecodeStep(model), backend=BACKEND)
    logits, graphs = greedy_decode(compiled, clone(cache), before_step)
    record_property("backend", BACKEND)
    record_property("graphs_first_step", graphs[0])
    record_property("recompiles_after_first_step", graphs[-1] - graphs[0])
    record_property("graph_breaks", sum(counters["graph_break"].values()))
    torch.testing.assert_close(logits, eager_logits, rtol=1e-4, atol=1e-4)
    return graphs


def test_static_cache_decode_loop_compiles_once(model, record_property) -> None:
    graphs = run_compiled_against_eager(model, "StaticCache", record_property)
    assert graphs[-1] == graphs[0], f"recompiled after the first step: graphs per step {graphs}"


@pytest.mark.parametrize("marking", ["plain", "mark_dynamic"])
def test_dynamic_cache_decode_loop_matches_eager(model, marking: str, record_property) -> None:
    before = mark_sequence_dynamic if marking == "mark_dynamic" else None
    graphs = run_compiled_against_eager(model, "DynamicCache", record_property, before)
    assert graphs[0] >= 1, "nothing was compiled"
