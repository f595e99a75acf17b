"""transformers' own export route (`transformers.integrations.executorch`): the cache lives inside the exported
program, as ExecuTorch runs it; shared by the wrapper suite and the ExecuTorch client suite.
"""

from __future__ import annotations

import copy
import importlib
import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import torch

from compat.tiny import MAX_CACHE_LEN, PROMPT_LEN, prompt_ids, tiny_llama
from kvmatrix.run.process.attribution import eager

ROUTES = ["TorchExportableModuleForDecoderOnlyLM", "convert_and_export_with_cache"]
STEPS = PROMPT_LEN + 3  # the prompt fed one token at a time, then greedy tokens


def _integration(name: str) -> Any:
    try:
        module = importlib.import_module("transformers.integrations.executorch")
    except ImportError:
        pytest.skip("n/a: transformers has no integrations.executorch")
    found = getattr(module, name, None)
    if found is None:
        pytest.skip(f"n/a: transformers.integrations.executorch has no {name}")
    return found


def static_cache_model(model: torch.nn.Module | None = None) -> torch.nn.Module:
    """`model` (default: a fresh tiny Llama) configured the way the wrappers require (static cache, batch 1,
    causal LM)."""
    from transformers import GenerationConfig

    model = tiny_llama() if model is None else model
    model.config.architectures = [type(model).__name__]
    model.generation_config = GenerationConfig(
        use_cache=True, cache_implementation="static",
        cache_config={"batch_size": 1, "max_cache_len": MAX_CACHE_LEN},
    )
    return model


def _sizes(function: Callable[..., Any]) -> dict[str, int]:
    """Batch size and cache length keyword arguments, under the names this release's signature uses."""
    sizes = {"max_batch_size": 1, "batch_size": 1, "max_cache_len": MAX_CACHE_LEN}
    return {name: value for name, value in sizes.items() if name in inspect.signature(function).parameters}


def first_route() -> str:
    """The first of ROUTES this release has (the one a user of its wrappers reaches first); `n/a` (a skip)
    where it has none."""
    for route in ROUTES:
        try:
            _integration(route)
        except pytest.skip.Exception:
            continue
        return route
    pytest.skip(f"n/a: transformers.integrations.executorch has none of {', '.join(ROUTES)}")


def export_by_route(route: str, model: torch.nn.Module, strict: bool) -> tuple[Any, Callable[[], Any]]:
    """(exported program, factory of the module it exports, for the eager reference)."""
    token, position = prompt_ids(1), torch.tensor([0])
    if route == "TorchExportableModuleForDecoderOnlyLM":
        wrapper_class = _integration(route)

        def wrapper() -> Any:
            return wrapper_class(model, **_sizes(wrapper_class.__init__))

        def build() -> Any:
            # What export() exports in every release that has the wrapper: its `model` (a static- or
            # hybrid-cache module). The wrapper's own forward only hands the call on to it, and in transformers
            # 5.25.0 drops cache_position on the way, so that eager call fails where the program runs.
            return wrapper().model

        with eager("wrapper construction"):
            exporting = wrapper()
        with torch.no_grad():
            return exporting.export(input_ids=token, cache_position=position, strict=strict), build
    convert = _integration(route)
    module_class = _integration("TorchExportableModuleWithStaticCache")

    def build() -> Any:
        return module_class(model, **_sizes(module_class.__init__))

    options = {}
    if "strict" in inspect.signature(convert).parameters:
        options["strict"] = strict
    elif not strict:
        pytest.skip("n/a: convert_and_export_with_cache has no `strict` parameter in this release (always strict)")
    return convert(model, example_input_ids=token, example_cache_position=position, **options), build


def call_like_example(program: Any, module: Any, input_ids: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """Call an unlifted program with its inputs split into positional and keyword arguments as the export
    example was (releases export `(input_ids,)` + `cache_position=`, both positional, or both keywords)."""
    example_args, example_kwargs = program.example_inputs
    values = {"input_ids": input_ids, "cache_position": position}
    return module(*[input_ids, position][: len(example_args)], **{k: values[k] for k in example_kwargs})


def decode(step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], prompt: torch.Tensor) -> list[torch.Tensor]:
    """Feed `prompt` one token at a time, then greedy tokens, up to STEPS; the logits of every step."""
    logits_per_step, token = [], prompt[:, :1]
    with torch.no_grad():
        for position in range(STEPS):
            logits = step(token, torch.tensor([position]))
            logits_per_step.append(logits)
            token = prompt[:, position + 1: position + 2] if position + 1 < PROMPT_LEN else logits[:, -1:].argmax(-1)
    return logits_per_step


def assert_decodes_like_wrapper(program: Any, build: Callable[[], Any]) -> None:
    """The exported wrapper `program` decodes two different prompts token by token (each from fresh program
    state: a deep copy) with every step's logits equal to a fresh eager wrapper's from `build`: the cache
    written at one step is read at the next, so a program that drops or bakes its cache fails."""
    for seed in (1, 11):
        prompt = prompt_ids(PROMPT_LEN, seed=seed)
        with eager("decode through the wrapper module"):
            wrapper = build()
            expected = decode(lambda ids, pos, w=wrapper: w(input_ids=ids, cache_position=pos), prompt)
        fresh = copy.deepcopy(program)
        logits = decode(partial(call_like_example, fresh, fresh.module()), prompt)
        for step, (got, want) in enumerate(zip(logits, expected, strict=True)):
            where = f"step {step} (prompt seed {seed})"
            torch.testing.assert_close(got, want, msg=lambda m, w=where: f"{w}: {m}")
