"""Export a decode step and check the exported program against eager; shared by the export suites."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils import _pytree as pytree

from suites.models import PROMPT_LEN, DecodeStep, clone, kv_tensors, prompt_ids

CACHE_KINDS = ["DynamicCache", "StaticCache"]


def all_static(tree: Any) -> Any:
    """`None` for every tensor of `tree`, in the shape torch.export expects for `dynamic_shapes`."""
    node = pytree.SUPPORTED_NODES.get(type(tree))
    if node is None:
        return None
    if isinstance(tree, dict):
        return {key: all_static(value) for key, value in tree.items()}
    children = [all_static(child) for child in node.flatten_fn(tree)[0]]
    return type(tree)(children) if isinstance(tree, (list, tuple)) else children


def export_decode_step(model, cache, input_ids, cache_position, strict: bool, dynamic: bool):
    """Export DecodeStep; with `dynamic`, the number of new tokens is a `Dim` (cache shapes stay static).

    torch.export matches `dynamic_shapes` against the inputs with each user-registered pytree node
    replaced by the list of its children, so the cache's entry is built that way (`all_static`).
    """
    options = {}
    if dynamic:
        new_tokens = torch.export.Dim("new_tokens", min=2, max=8)
        options["dynamic_shapes"] = {
            "input_ids": {1: new_tokens},
            "cache": all_static(cache),
            "cache_position": {0: new_tokens},
        }
    with torch.no_grad():
        return torch.export.export(
            DecodeStep(model), (input_ids, cache, cache_position), strict=strict, **options
        )


def assert_matches_eager(run, model, cache, input_ids, cache_position) -> None:
    """`run(input_ids, cache, cache_position)` gives the eager logits and the eager updated cache."""
    with torch.no_grad():
        eager_logits, eager_cache = DecodeStep(model)(input_ids, clone(cache), cache_position)
        logits, out_cache = run(input_ids, clone(cache), cache_position)
    torch.testing.assert_close(logits, eager_logits)
    assert type(out_cache) is type(eager_cache), f"returned {type(out_cache).__name__}"
    expected, actual = kv_tensors(eager_cache), kv_tensors(out_cache)
    assert len(actual) == len(expected) > 0
    for got, want in zip(actual, expected):
        torch.testing.assert_close(got, want)


def new_tokens(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids for `count` new tokens after the prompt, and their cache positions."""
    return prompt_ids(count, seed=seed), torch.arange(PROMPT_LEN, PROMPT_LEN + count)
