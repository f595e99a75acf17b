"""ONNX as a client: `torch.onnx.export(..., dynamo=True)` (onnxscript's translation) run in onnxruntime.

Two routes, each checked against eager:

- the decode step with the cache as an *input* (DynamicCache, StaticCache): the ONNX model's inputs are the
  flattened leaves of `(input_ids, cache, cache_position)` in torch's pytree order (named after their path,
  `cache_key_cache_0`, ..., by torch), its outputs those of `(logits, updated cache)`. So the registration of
  the cache decides whether it exports at all, and the test runs in every registration mode. Run on the
  example's cache and on one filled from another prompt, it must give eager's logits and updated cache; a
  model that baked its cache in has fewer inputs than the step's leaves and fails.
- transformers' wrapper route (`suites.support.wrapping.export_by_route`, strict; `n/a` where the release
  has neither route): its ExportedProgram converted by `torch.onnx.export(program, dynamo=True)`, two
  prompts decoded token by token from a fresh session, against the eager wrapper. Its cache lives inside the
  program, where no registration reaches: it runs once per cell (suites.support.once).

How the wrapper's cache travels: in the ExportedProgram the StaticCache is a mutable buffer (`BUFFER`
inputs; the update a `BUFFER_MUTATION` output, or an in-place `index_copy_` left in the graph in newer
torches). torch.onnx makes every buffer an initializer, a constant of the ONNX model, and keeps no
mutation (torch/onnx/_internal/exporter/_core.py: "TODO: Decide if we should keep mutated buffers as
inputs/outputs"; torch 2.5.1 to 2.13.0 alike): the model's only inputs are `input_ids` and `cache_position`,
its only output the logits, and every call sees the empty cache. The first step matches eager, the next ones
do not (a known limitation, suites/known_limitations.py). ONNX has no mutable state: a user of ONNX passes
the cache as inputs and outputs, the first route.

Both routes export under `torch.no_grad()`: torch 2.5's exporter decomposes in training mode and refuses a
StaticCache's in-place update of tensors that require gradients ("Found a graph input that requires
gradients, and received a mutation"). Runs only in the cell's ONNX environment (kvmatrix.run.clients).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch
from torch.utils import _pytree as pytree

from compat.tiny import OTHER_PROMPT_SEED, PROMPT_LEN, DecodeStep, prompt_ids, tiny_llama
from kvmatrix.run.process.attribution import eager, no_cache_probe
from suites.support.exporting import CACHE_KINDS, new_tokens
from suites.support.models import NoCacheStep, clone, prefilled
from suites.support.once import only_once_per_cell
from suites.support.wrapping import ROUTES, decode, export_by_route, static_cache_model

TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
"""onnxruntime's float32 CPU kernels against eager's: they sum in another order (fused MatMul, softmax),
measured at most ~1e-7 apart on this model; 1e-4 leaves room for other kernels and is far below what a
wrong cache gives (differences of 0.1 and more)."""
STATE_FREE_INPUTS = 2
"""The wrapper's own inputs (`input_ids`, `cache_position`): an ONNX model with no more carries no cache."""


def to_onnx(model: Any, args: tuple[Any, ...] = ()) -> Any:
    """`torch.onnx.export(model, args, dynamo=True)`, the ONNXProgram; `n/a` where this torch has no dynamo
    exporter (the `dynamo` parameter came with torch 2.5)."""
    if "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        pytest.skip(f"n/a: torch {torch.__version__} has no dynamo exporter (torch.onnx.export(dynamo=True))")
    if isinstance(model, torch.nn.Module):
        model.eval()  # as a user exports for inference (the step wrappers are built in training mode)
    with torch.no_grad():
        return torch.onnx.export(model, args, dynamo=True)


def session(program: Any) -> Any:
    """An onnxruntime session (CPU) on the ONNX model of `program`."""
    import onnxruntime

    return onnxruntime.InferenceSession(program.model_proto.SerializeToString(),
                                        providers=["CPUExecutionProvider"])


def tensors(tree: Any) -> list[torch.Tensor]:
    """The tensors of `tree` in torch's pytree order (the order of an ONNX model's inputs and outputs)."""
    return [leaf for leaf in pytree.tree_leaves(tree) if isinstance(leaf, torch.Tensor)]


def run(model: Any, arguments: Any) -> list[torch.Tensor]:
    """The outputs of the ONNX model of `model` (a session) for `arguments`, fed by order as its flattened
    tensors. A model with another number of inputs (a cache baked in as constants) fails here."""
    names = [given.name for given in model.get_inputs()]
    leaves = tensors(arguments)
    assert len(names) == len(leaves), (
        f"the ONNX model takes {len(names)} inputs ({', '.join(names)}) for the {len(leaves)} tensors of the "
        "step's arguments: it does not take the cache as its inputs")
    outputs = model.run(None, {name: leaf.numpy() for name, leaf in zip(names, leaves, strict=True)})
    return [torch.from_numpy(output) for output in outputs]


def compare(got: list[torch.Tensor], want: list[torch.Tensor], where: str) -> None:
    """Every output close to eager's, in order."""
    assert len(got) == len(want), f"{where}: the ONNX model returned {len(got)} outputs, eager {len(want)}"
    for index, (output, expected) in enumerate(zip(got, want, strict=True)):
        torch.testing.assert_close(output, expected, **TOLERANCE,
                                   msg=lambda message, i=index: f"{where}, output {i}: {message}")


def without_cache(model: torch.nn.Module) -> None:
    """The no-cache probe: the same ONNX export of `model` without a cache, run on another prompt."""
    onnx_model = session(to_onnx(NoCacheStep(model), (prompt_ids(PROMPT_LEN + 1, seed=2),)))
    other = prompt_ids(PROMPT_LEN + 1, seed=3)
    with torch.no_grad():
        compare(run(onnx_model, (other,)), [NoCacheStep(model)(other)], "no cache")


@no_cache_probe(lambda: without_cache(tiny_llama()))
@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_decode_step_exports_to_onnx_and_runs_in_onnxruntime_like_eager(kind: str, record_property) -> None:
    model = tiny_llama()
    cache, other = prefilled(model, kind), prefilled(model, kind, seed=OTHER_PROMPT_SEED)
    input_ids, cache_position = new_tokens(1, seed=2)
    program = to_onnx(DecodeStep(model), (input_ids, clone(cache), cache_position))
    record_property("onnx_bytes", program.model_proto.ByteSize())
    onnx_model = session(program)
    for name, filled in (("example cache", cache), ("other prompt's cache", other)):
        with torch.no_grad(), eager("decode step (the reference)"):
            expected = tensors(DecodeStep(model)(input_ids, clone(filled), cache_position))
        compare(run(onnx_model, (input_ids, clone(filled), cache_position)), expected, name)


@no_cache_probe(lambda: without_cache(static_cache_model()))
@pytest.mark.parametrize("route", ROUTES)
def test_wrapper_route_converts_to_onnx_and_decodes_like_eager(route: str, record_property) -> None:
    only_once_per_cell("transformers' wrapper converted to ONNX (its cache lives inside the program)")
    model = static_cache_model()
    program, build = export_by_route(route, model, strict=True)
    converted = to_onnx(program)
    record_property("onnx_bytes", converted.model_proto.ByteSize())
    inputs = [given.name for given in session(converted).get_inputs()]
    carries = "" if len(inputs) > STATE_FREE_INPUTS else (
        f"; the ONNX model takes no cache state (its inputs: {', '.join(inputs)}): the wrapper's cache "
        "buffers became constants")
    for seed in (1, 11):  # two prompts, each from a fresh session and a fresh eager wrapper
        prompt = prompt_ids(PROMPT_LEN, seed=seed)
        with eager("decode through the wrapper module"):
            wrapper = build()
            expected = decode(lambda ids, pos, w=wrapper: w(input_ids=ids, cache_position=pos), prompt)
        onnx_model = session(converted)
        logits = decode(lambda ids, pos, m=onnx_model: run(m, (ids, pos))[0], prompt)
        for step, (got, want) in enumerate(zip(logits, expected, strict=True)):
            compare([got], [want], f"step {step} (prompt seed {seed}){carries}")
