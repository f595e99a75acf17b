"""The decode-step programs of the export suite, built in one place: the export column checks each against
eager, and the decompose column lowers the same program (suites/test_decompose.py), so a failure in lowering
is told apart from one in export.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from compat.tiny import OTHER_PROMPT_SEED, DecodeStep
from suites.support.exporting import (
    VMAP_FREE,
    assert_matches_eager,
    export_decode_step,
    model_with_mask,
    new_tokens,
    vmap_calls,
)
from suites.support.models import FlatOutputsStep, clone, prefilled

STEP_CLASSES = {"cache": DecodeStep, "flat": FlatOutputsStep}
"""The decode step by what it returns: the cache object, or its key and value tensors flat."""


@dataclass(frozen=True)
class ProgramSpec:
    """One program of the export suite: the cache kind, strict or non-strict, static or dynamic new-token
    length, the mask (`default` or `vmap-free`) and what the step returns (`cache` or `flat`)."""

    kind: str
    mode: str
    shapes: str = "static"
    mask: str = "default"
    outputs: str = "cache"

    @property
    def id(self) -> str:
        """The test id part naming the program: `<kind>-<mode>-<shapes>`, or `<kind>-<mode>-<mask>-<outputs>`
        for an export path variant."""
        if (self.mask, self.outputs) == ("default", "cache"):
            return f"{self.kind}-{self.mode}-{self.shapes}"
        return f"{self.kind}-{self.mode}-{self.mask}-{self.outputs}"


@dataclass
class ExportedStep:
    """A program of the export suite with what it is checked against: the eager step and the groups of calls
    (each an argument tuple per cache: the export example's, then one filled from another prompt) that
    suites.support.exporting.assert_matches_eager compares."""

    program: Any
    reference: torch.nn.Module
    call_groups: list[list[tuple[Any, ...]]]


def export_program(spec: ProgramSpec, model: torch.nn.Module | None = None, record=None) -> ExportedStep:
    """Export `spec`'s decode step of `model` (default: a fresh tiny Llama on `spec.mask`); the vmap-free mask
    must leave no vmap call in the program (the switch reached it). `record` receives the export time."""
    model = model_with_mask(spec.mask) if model is None else model
    cache, other = prefilled(model, spec.kind), prefilled(model, spec.kind, seed=OTHER_PROMPT_SEED)
    step = STEP_CLASSES[spec.outputs]
    dynamic = spec.shapes == "dynamic"
    input_ids, cache_position = new_tokens(2 if dynamic else 1, seed=2)
    program = export_decode_step(model, clone(cache), input_ids, cache_position, strict=spec.mode == "strict",
                                 dynamic=dynamic, record=record, step=step)
    if spec.mask == VMAP_FREE:
        assert vmap_calls(program) == [], "the vmap-free mask left vmap calls in the exported program"
    groups = [[(input_ids, cache, cache_position), (input_ids, other, cache_position)]]
    if dynamic:
        other_ids, other_position = new_tokens(3, seed=3)
        groups.append([(other_ids, cache, other_position), (other_ids, other, other_position)])
    return ExportedStep(program, step(model), groups)


def assert_program_matches_eager(program: Any, exported: ExportedStep) -> None:
    """`program` (`exported`'s, or one derived from it: decomposed, saved and loaded) matches `exported`'s
    eager step on every group of its calls."""
    for calls in exported.call_groups:
        assert_matches_eager(program.module(), exported.reference, calls)
