"""ExecuTorch as a client: transformers' own export route, lowered with ExecuTorch and run on its runtime.

The decode step with a StaticCache inside the program (`suites.support.wrapping`: `TorchExportableModuleForDecoderOnlyLM`
or `convert_and_export_with_cache`, `n/a` where the release has neither; strict and non-strict) goes through
`executorch.exir.to_edge_transform_and_lower` (with the XNNPACK partitioner where it imports) and
`.to_executorch()`; ExecuTorch's Python runtime (`executorch.runtime.Runtime`) then decodes two prompts token
by token, each from fresh program state, and its greedy tokens must equal the eager wrapper's, its logits
close to them. Runs only in the cell's ExecuTorch environment (kvmatrix.run.clients), and there once per cell:
the program's inputs and outputs are tensors and its cache is a buffer, so no pytree registration reaches the
lowering (suites.support.once; the wrapper column runs the export itself in every mode).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from compat.tiny import PROMPT_LEN, prompt_ids
from kvmatrix.run.process.attribution import eager, no_cache_probe
from suites.support.models import NoCacheStep
from suites.support.once import only_once_per_cell
from suites.support.wrapping import ROUTES, decode, export_by_route, static_cache_model

XNNPACK_PARTITIONER = ("executorch.backends.xnnpack.partition.xnnpack_partitioner", "XnnpackPartitioner")
TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
"""Logits of the lowered program against eager: XNNPACK's kernels sum in another order than eager's."""


def partitioners() -> list[Any]:
    """The XNNPACK partitioner where this ExecuTorch has it; none otherwise (the portable kernels run)."""
    module_name, class_name = XNNPACK_PARTITIONER
    try:
        return [getattr(importlib.import_module(module_name), class_name)()]
    except (ImportError, AttributeError):
        return []


def lower(program: Any) -> bytes:
    """The ExecuTorch program (`.pte` bytes) of an exported program."""
    from executorch.exir import to_edge_transform_and_lower

    return to_edge_transform_and_lower(program, partitioner=partitioners()).to_executorch().buffer


@dataclass(frozen=True)
class LoadedForward:
    """The `forward` method of a `.pte` program on ExecuTorch's Python runtime, with the program and the bytes
    it came from, all alive for as long as the method is used.

    ExecuTorch's `Method` keeps no reference to its `Program`, and the `Program` holds (in the releases that
    do) the `.pte` bytes the method runs from: a method whose program or bytes were collected runs on freed
    memory. Reproduced with executorch 1.4.1 on torch 2.13 (tf5.24.0): the no-cache probe, which lowered into a
    temporary buffer and kept only the method, segfaulted in `execute` when the whole suite ran in one process."""

    buffer: bytes
    program: Any
    method: Any

    def execute(self, inputs: list[torch.Tensor]) -> Any:
        """The method's outputs for `inputs` (its state, such as a StaticCache's buffers, carries over)."""
        return self.method.execute(inputs)


def load_forward(buffer: bytes) -> LoadedForward:
    """The `forward` method of a `.pte` buffer, loaded by ExecuTorch's Python runtime (fresh state)."""
    try:
        from executorch.runtime import Runtime
    except ImportError as exc:
        pytest.skip(f"n/a: this ExecuTorch has no Python runtime (executorch.runtime): {exc}")
    program = Runtime.get().load_program(buffer)
    return LoadedForward(buffer, program, program.load_method("forward"))


def greedy_tokens(logits_per_step: list[torch.Tensor]) -> list[int]:
    """The greedy token each decode step chose."""
    return [int(logits[0, -1].argmax()) for logits in logits_per_step]


def lower_without_cache(mode: str) -> None:
    """The no-cache probe: the same model with no cache, exported in `mode`, lowered and run on the runtime."""
    model = static_cache_model()
    with torch.no_grad():
        program = torch.export.export(NoCacheStep(model), (prompt_ids(PROMPT_LEN + 1, seed=2),),
                                      strict=mode == "strict")
    method = load_forward(lower(program))
    other = prompt_ids(PROMPT_LEN + 1, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(method.execute([other])[0], NoCacheStep(model)(other), **TOLERANCE)


@no_cache_probe(lower_without_cache)
@pytest.mark.parametrize("mode", ["strict", "non-strict"])
@pytest.mark.parametrize("route", ROUTES)
def test_lowered_decode_step_runs_on_executorch_like_eager(route: str, mode: str, record_property) -> None:
    only_once_per_cell("ExecuTorch's lowering of transformers' wrapper (its cache lives inside the program)")
    model = static_cache_model()
    program, build = export_by_route(route, model, strict=mode == "strict")
    buffer = lower(program)
    record_property("pte_bytes", len(buffer))
    for seed in (1, 11):  # two prompts, each from fresh program state and a fresh eager wrapper
        prompt = prompt_ids(PROMPT_LEN, seed=seed)
        with eager("decode through the wrapper module"):
            wrapper = build()
            expected = decode(lambda ids, pos, w=wrapper: w(input_ids=ids, cache_position=pos), prompt)
        method = load_forward(buffer)
        logits = decode(lambda ids, pos, m=method: m.execute([ids, pos])[0], prompt)
        assert greedy_tokens(logits) == greedy_tokens(expected), f"greedy tokens differ (prompt seed {seed})"
        for step, (got, want) in enumerate(zip(logits, expected, strict=True)):
            where = f"step {step} (prompt seed {seed})"
            torch.testing.assert_close(got, want, **TOLERANCE, msg=lambda m, w=where: f"{w}: {m}")
