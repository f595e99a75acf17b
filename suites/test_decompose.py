"""The decomposition step every backend takes after export: `ExportedProgram.run_decompositions()`.

Each decode-step program of the export suite (suites.support.programs: DynamicCache and StaticCache, strict
and non-strict, static and dynamic new-token length, and the vmap-free mask that exporters lowering to
ExecuTorch switch to) is exported as the export column exports it, then decomposed to core ATen
(`run_decompositions()`, what ExecuTorch's and ONNX's lowering starts from) and with an empty table
(`run_decompositions({})`: functionalization and the re-trace alone), and the decomposed program is run against
eager on the export example's cache and on one filled from another prompt (pytorch#179555: custom pytree
flatten functions break `run_decompositions`). A program that does not export here, or does not match eager
before any decomposition, is `n/a` in this column (the export column says why), so a failure here is one in
lowering, never in export.
"""

from __future__ import annotations

from functools import cache

import pytest
import torch

from kvmatrix.run.process.attribution import SetupFailure, no_cache_probe
from suites.support.exporting import CACHE_KINDS, VMAP_FREE, check_export_without_cache, model_with_mask
from suites.support.programs import ExportedStep, ProgramSpec, assert_program_matches_eager, export_program

PROGRAMS = {spec.id: spec for spec in
            [ProgramSpec(kind, mode, shapes) for kind in CACHE_KINDS for mode in ("strict", "non-strict")
             for shapes in ("static", "dynamic")] +
            [ProgramSpec(kind, mode, mask=VMAP_FREE) for kind in CACHE_KINDS for mode in ("strict", "non-strict")]}
"""The export suite's programs lowered here, by id: every default-path program, and the vmap-free mask path
(the other path variant, flat outputs, changes only what the step returns)."""
DECOMPOSITIONS = {"core-aten": None, "none": {}}
"""Decomposition table by name: None is run_decompositions()'s default (core ATen)."""


@cache
def _exported(program: str) -> ExportedStep | str:
    """The export suite's program `program`, exported and checked against eager as the export column checks
    it, once per process for both decompositions; where it does not export or the program does not match
    eager, why, as text (an eager setup failure stays one)."""
    try:
        exported = export_program(PROGRAMS[program])
        assert_program_matches_eager(exported.program, exported)
    except SetupFailure:
        raise
    except Exception as exc:  # said as this column's n/a; the export column records the failure itself
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    return exported


def decompose_without_cache(program: str) -> None:
    """The no-cache rung: the same mask and export mode, no cache (the decomposition runs on what export made)."""
    spec = PROGRAMS[program]
    check_export_without_cache(model_with_mask(spec.mask), strict=spec.mode == "strict")


@no_cache_probe(decompose_without_cache)
@pytest.mark.parametrize("decomposition", list(DECOMPOSITIONS))
@pytest.mark.parametrize("program", list(PROGRAMS))
def test_exported_decode_step_decomposes_and_matches_eager(program: str, decomposition: str) -> None:
    exported = _exported(program)
    if isinstance(exported, str):
        pytest.skip(f"n/a: the exported decode step fails here before any decomposition (the export column's "
                    f"failure): {exported}")
    with torch.no_grad():
        table = DECOMPOSITIONS[decomposition]
        decomposed = exported.program.run_decompositions() if table is None else \
            exported.program.run_decompositions(table)
    assert_program_matches_eager(decomposed, exported)
