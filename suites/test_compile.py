"""torch.compile of a greedy decode loop, with recompiles counted by dynamo's own counters.

Two backends. Recompiles are decided by dynamo's guards, not by the backend, so the recompile-counting
tests compile with the cheaper KVCC_TRACE_BACKEND (default "aot_eager": dynamo's graphs and guards, plus
AOTAutograd's functionalization of the cache's in-place updates, without inductor's code generation), in
every registration mode. Code generation (KVCC_COMPILE_BACKEND, default "inductor", what users run) is
tested once per cell, in CODEGEN_MODE: the StaticCache loop compiled by it, and the plain DynamicCache loop
compiled by both backends, which proves they compile the same graphs after every step. The other modes
record those two as n/a: inductor compiles what dynamo hands it, and dynamo never sees the registration
(below), so a second and third inductor run per cell would repeat the first at the cell's largest cost.
Counts are recorded as test metrics, with the backend; StaticCache must not recompile after its first
compiled step; outputs must equal eager.

Dynamo traces a cache passed to a compiled function as a Python object (its attributes and tensors),
never through its pytree registration, so this column gives the same verdicts with and without
`compat.register()`: what registration changes is export, not compile.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from compat.tiny import DecodeStep
from kvmatrix.run.process.attribution import no_cache_probe
from kvmatrix.settings import setting
from suites.support.compiling import compiled_decode, run_compiled_against_eager
from suites.support.exporting import check_compile_without_cache
from suites.support.models import kv_tensors, prefilled

BACKEND = setting("KVCC_COMPILE_BACKEND")
TRACE_BACKEND = setting("KVCC_TRACE_BACKEND")
CODEGEN_MODE = "with"
"""The registration mode that runs the code-generation tests: the one users of compat run."""


def mark_sequence_dynamic(cache: Any) -> None:
    """The transformers PR #40328 approach: mark the cache's sequence dimension dynamic before a step."""
    for tensor in kv_tensors(cache):
        torch._dynamo.mark_dynamic(tensor, 2)


class TiedDecodeStep(DecodeStep):
    """DecodeStep that first tells the compiler every layer's cache has one sequence length
    (`torch._check`), the second half of the transformers PR #40328 approach."""

    def forward(self, input_ids: torch.Tensor, cache: Any, cache_position: torch.Tensor) -> tuple[Any, Any]:
        tensors = kv_tensors(cache)
        for tensor in tensors[1:]:
            torch._check(tensor.shape[2] == tensors[0].shape[2])
        return super().forward(input_ids, cache, cache_position)


def compile_without_cache(model) -> None:
    check_compile_without_cache(model, BACKEND)


def count_without_cache(model) -> None:
    check_compile_without_cache(model, TRACE_BACKEND)


MARKINGS = {
    "plain": (None, DecodeStep),
    "mark_dynamic": (mark_sequence_dynamic, DecodeStep),
    "mark_dynamic+torch._check": (mark_sequence_dynamic, TiedDecodeStep),
}
"""How the DynamicCache loops prepare each step: (called on the cache before each step, step class)."""


def only_in_codegen_mode() -> None:
    """Skip as n/a outside CODEGEN_MODE: code generation is tested once per cell."""
    mode = setting("KVCC_REGISTRATION")
    if mode != CODEGEN_MODE:
        pytest.skip(f"n/a: code generation ({BACKEND}) is tested once per cell, in the {CODEGEN_MODE!r} "
                    f"registration run, not in {mode!r}")


@no_cache_probe(count_without_cache)
def test_static_cache_decode_loop_compiles_once(model, record_property) -> None:
    """StaticCache's fixed shapes: no recompile after the first compiled step (KVCC_TRACE_BACKEND)."""
    graphs = run_compiled_against_eager(model, "StaticCache", record_property, TRACE_BACKEND)
    assert graphs[-1] == graphs[0], f"recompiled after the first step: graphs per step {graphs}"


@no_cache_probe(compile_without_cache)
def test_static_cache_decode_loop_generates_code_once(model, record_property) -> None:
    """The code-generation test: the StaticCache loop compiled by KVCC_COMPILE_BACKEND (inductor), once."""
    only_in_codegen_mode()
    graphs = run_compiled_against_eager(model, "StaticCache", record_property, BACKEND)
    assert graphs[-1] == graphs[0], f"recompiled after the first step: graphs per step {graphs}"


@no_cache_probe(count_without_cache)
@pytest.mark.parametrize("marking", list(MARKINGS))
def test_dynamic_cache_decode_loop_matches_eager(model, marking: str, record_property) -> None:
    """Recompile counts are recorded for each marking, not asserted: they are the finding."""
    before, step_class = MARKINGS[marking]
    graphs = run_compiled_against_eager(model, "DynamicCache", record_property, TRACE_BACKEND, before, step_class)
    assert graphs[0] >= 1, "nothing was compiled"


def graphs_or_error(model, backend: str, cache: Any) -> list[int] | str:
    """The graphs compiled after each step of the plain DynamicCache loop, or the name of the exception
    compiling it raised (a backend that fails where the other does not is a difference too)."""
    try:
        return compiled_decode(model, backend, cache).graphs
    except Exception as exc:  # compared with the other backend's outcome, then reported
        return type(exc).__name__


@no_cache_probe(compile_without_cache)
def test_trace_backend_compiles_the_graphs_inductor_compiles(model, record_property) -> None:
    """The plain DynamicCache loop compiled by both backends compiles the same graphs after each step, or
    both raise the same exception. One case, so the cell stays cheap: the one that recompiles in every
    cell (automatic dynamic shapes), and whose second graph has symbolic sizes, where a backend adding
    guards of its own would recompile more. Both outcomes are recorded."""
    if TRACE_BACKEND == BACKEND:
        pytest.skip(f"n/a: KVCC_TRACE_BACKEND is KVCC_COMPILE_BACKEND ({BACKEND})")
    only_in_codegen_mode()
    cache = prefilled(model, "DynamicCache")
    outcomes = {backend: graphs_or_error(model, backend, cache) for backend in (TRACE_BACKEND, BACKEND)}
    for backend, outcome in outcomes.items():
        if isinstance(outcome, str):
            record_property(f"{backend}_raised", outcome)
        else:
            record_property(f"{backend}_graphs_first_step", outcome[0])
            record_property(f"{backend}_recompiles_after_first_step", outcome[-1] - outcome[0])
    record_property("backend", f"{TRACE_BACKEND} vs {BACKEND}")
    assert outcomes[TRACE_BACKEND] == outcomes[BACKEND], f"graphs per step (or exception) differ: {outcomes}"
