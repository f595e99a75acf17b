"""Export a decode step and check the exported program against eager; shared by the export suites."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
import torch
from torch.utils import _pytree as pytree

import compat
from compat.tiny import PROMPT_LEN, DecodeStep, prompt_ids, tiny_llama
from kvmatrix.run.process.attribution import eager
from suites.support.models import NoCacheStep, clone, kv_tensors

CACHE_KINDS = ["DynamicCache", "StaticCache"]
VMAP_FREE = "vmap-free"


def shapes_for(tree: Any, leaf_shape: Any) -> Any:
    """`dynamic_shapes` for `tree`: `leaf_shape(tensor)` per tensor, in the structure torch.export expects,
    where each user-registered pytree node is replaced by the list of its children."""
    if isinstance(tree, torch.Tensor):
        return leaf_shape(tree)
    node = pytree.SUPPORTED_NODES.get(type(tree))
    if node is None:
        return None
    if isinstance(tree, dict):
        return {key: shapes_for(value, leaf_shape) for key, value in tree.items()}
    children = [shapes_for(child, leaf_shape) for child in node.flatten_fn(tree)[0]]
    return type(tree)(children) if isinstance(tree, (list, tuple)) else children


def all_static(tree: Any) -> Any:
    """`None` for every tensor of `tree`, in the shape torch.export expects for `dynamic_shapes`."""
    return shapes_for(tree, lambda _: None)


def model_with_mask(mask: str) -> torch.nn.Module:
    """A fresh tiny Llama on the `default` mask of its release, or on the `vmap-free` one that transformers'
    export wrappers switch to (through `compat.use_export_mask`); `n/a` (a skip) where the release has no
    such switch, with the reason."""
    model = tiny_llama()
    if mask == VMAP_FREE:
        switch = compat.use_export_mask(model)
        if not switch.available:
            pytest.skip(f"n/a: {switch.detail}")
    return model


def vmap_calls(program: Any) -> list[str]:
    """The calls into torch.vmap's machinery (`_vmap_increment_nesting` ...) left in an exported program's
    graph: what a vmap-built attention mask leaves behind, and the vmap-free mask must not."""
    names = [getattr(node.target, "__name__", str(node.target)) for node in program.graph.nodes
             if node.op == "call_function"]
    return [name for name in names if "_vmap_" in name]


def export_decode_step(model, cache, input_ids, cache_position, strict: bool, dynamic: bool, record=None,
                       step: type[torch.nn.Module] = DecodeStep):
    """Export `step` (DecodeStep or a subclass) of `model`; with `dynamic`, the number of new tokens is a
    `Dim` (cache shapes stay static). `record` (pytest's record_property) receives the export time as
    `export_s`."""
    options = {}
    if dynamic:
        new_tokens = torch.export.Dim("new_tokens", min=2, max=8)
        options["dynamic_shapes"] = {
            "input_ids": {1: new_tokens},
            "cache": all_static(cache),
            "cache_position": {0: new_tokens},
        }
    start = time.perf_counter()
    with torch.no_grad():
        program = torch.export.export(step(model), (input_ids, cache, cache_position), strict=strict, **options)
    if record is not None:
        record("export_s", round(time.perf_counter() - start, 3))
    return program


BAKED_IN = "the program ignores its cache input: its cache tensors were baked in as constants"


def assert_matches_eager(run, reference, calls: list[tuple[Any, ...]]) -> None:
    """`run(*args)` gives the same (logits, returned cache) as the eager `reference(*args)` for every argument
    tuple of `calls`, each holding one cache (copied per call): the export example's first, then ones filled
    from other prompts. The returned cache may be a cache object or its key and value tensors as a tuple
    (FlatOutputsStep). A program whose answer does not move when its cache does, while eager's does,
    baked the cache in: that is said by name."""
    results = []
    for args in calls:
        with torch.no_grad():
            with eager("decode step (the reference)"):
                eager_logits, eager_cache = reference(*clone(args))
            logits, out_cache = run(*clone(args))
        results.append((logits, out_cache, eager_logits, eager_cache))
    example_logits, _, example_eager, _ = results[0]
    for logits, _, eager_logits, _ in results[1:]:
        assert not torch.allclose(eager_logits, example_eager), "the other cache does not change eager's answer"
        assert not torch.allclose(logits, example_logits), BAKED_IN
    for logits, out_cache, eager_logits, eager_cache in results:
        torch.testing.assert_close(logits, eager_logits)
        assert type(out_cache) is type(eager_cache), f"returned {type(out_cache).__name__}"
        expected, actual = _returned_tensors(eager_cache), _returned_tensors(out_cache)
        assert len(actual) == len(expected) > 0
        for got, want in zip(actual, expected, strict=True):
            torch.testing.assert_close(got, want)


def _returned_tensors(returned: Any) -> list[torch.Tensor]:
    return list(returned) if isinstance(returned, tuple) else kv_tensors(returned)


def check_export_without_cache(model, strict: bool | None, dynamic: bool = False, save_and_load: bool = False,
                               unflatten: bool = False) -> None:
    """The no-cache rung of the ladder: export the same model with `use_cache=False` over a prompt plus one
    token (the span a cached step attends to), optionally through save/load or `torch.export.unflatten`,
    and compare with eager on another prompt. `strict=None` keeps torch.export's default, as the test did."""
    length = PROMPT_LEN + (2 if dynamic else 1)
    options: dict[str, Any] = {} if strict is None else {"strict": strict}
    if dynamic:
        options["dynamic_shapes"] = {"input_ids": {1: torch.export.Dim("length", min=2, max=16)}}
    with torch.no_grad():
        program = torch.export.export(NoCacheStep(model), (prompt_ids(length, seed=2),), **options)
        if save_and_load:
            buffer = io.BytesIO()
            torch.export.save(program, buffer)
            buffer.seek(0)
            program = torch.export.load(buffer)
        run = torch.export.unflatten(program) if unflatten else program.module()
        for other in (prompt_ids(length, seed=3), *([prompt_ids(length + 1, seed=4)] if dynamic else [])):
            torch.testing.assert_close(run(other), NoCacheStep(model)(other))


def export_without_cache(model, mode: str, shapes: str = "static") -> None:
    """The no-cache probe of an export test parametrized by `mode` (strict / non-strict) and, where it has
    one, `shapes` (static / dynamic new-token length)."""
    check_export_without_cache(model, strict=mode == "strict", dynamic=shapes == "dynamic")


def new_tokens(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids for `count` new tokens after the prompt, and their cache positions."""
    return prompt_ids(count, seed=seed), torch.arange(PROMPT_LEN, PROMPT_LEN + count)


def _children(spec: Any) -> list[Any]:
    return list(spec.children()) if callable(getattr(spec, "children", None)) else list(spec.children_specs)


def spec_difference(expected: Any, actual: Any, path: str = "") -> str | None:
    """Where two tree specs first differ (node type, context field or child count), or None if equal."""
    if expected.type is not actual.type:
        return f"{path or 'root'}: {getattr(expected.type, '__name__', expected.type)} became {getattr(actual.type, '__name__', actual.type)}"
    if expected.context != actual.context:
        if isinstance(expected.context, dict) and isinstance(actual.context, dict):
            for key in sorted(set(expected.context) | set(actual.context), key=str):
                a, b = expected.context.get(key), actual.context.get(key)
                if a != b and isinstance(a, dict) and isinstance(b, dict):
                    fields = [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
                    return f"{path or 'root'} context {key}: " + ", ".join(fields)
                if a != b:
                    return f"{path or 'root'} context {key}: {a!r} -> {b!r}"
        return f"{path or 'root'} context: {expected.context!r} -> {actual.context!r}"
    expected_children, actual_children = _children(expected), _children(actual)
    if len(expected_children) != len(actual_children):
        return f"{path or 'root'}: {len(expected_children)} children became {len(actual_children)}"
    for index, (a, b) in enumerate(zip(expected_children, actual_children, strict=True)):
        names = expected.context.get("children") if isinstance(expected.context, dict) else None
        label = f"{path}.{names[index]}" if names and index < len(names) else f"{path}[{index}]"
        found = spec_difference(a, b, label)
        if found:
            return found
    return None


def assert_same_spec_as_traced(traced: Any, cache: Any) -> None:
    """Fail with the changed field when a cache no longer has the tree spec an exported program was
    traced with (an exported program only accepts that spec)."""
    difference = spec_difference(traced, pytree.tree_structure(cache))
    assert difference is None, f"the cache's tree spec changed between decode steps: {difference}"


def check_compile_without_cache(model, backend: str) -> None:
    """The no-cache rung for torch.compile: the compiled cache-free forward over a prompt plus one token
    equals eager."""
    ids = prompt_ids(PROMPT_LEN + 1, seed=2)
    with torch.no_grad():
        compiled = torch.compile(NoCacheStep(model), backend=backend)(ids)
        torch.testing.assert_close(compiled, NoCacheStep(model)(ids), rtol=1e-4, atol=1e-4)
