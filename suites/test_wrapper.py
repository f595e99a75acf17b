"""transformers' own export route: the cache lives inside the exported program, as ExecuTorch runs it.

`TorchExportableModuleForDecoderOnlyLM(...).export()` and `convert_and_export_with_cache()` (from
`transformers.integrations.executorch`, whichever the release has; `n/a` where it has neither) wrap a
StaticCache in a module, strict and non-strict. The exported program decodes two different prompts token by
token (each from fresh program state), and every step's logits must equal the same wrapper run eagerly: the
cache written at one step is read at the next, so a program that drops or bakes its cache fails.
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

from suites.attribution import eager, no_cache_probe
from suites.exporting import check_export_without_cache
from suites.models import MAX_CACHE_LEN, PROMPT_LEN, prompt_ids, tiny_llama

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


def static_cache_model() -> torch.nn.Module:
    """A tiny Llama configured the way the wrappers require (static cache, batch 1, causal LM)."""
    from transformers import GenerationConfig

    model = tiny_llama()
    model.config.architectures = ["LlamaForCausalLM"]
    model.generation_config = GenerationConfig(
        use_cache=True, cache_implementation="static",
        cache_config={"batch_size": 1, "max_cache_len": MAX_CACHE_LEN},
    )
    return model


def _sizes(function: Callable[..., Any]) -> dict[str, int]:
    """Batch size and cache length keyword arguments, under the names this release's signature uses."""
    sizes = {"max_batch_size": 1, "batch_size": 1, "max_cache_len": MAX_CACHE_LEN}
    return {name: value for name, value in sizes.items() if name in inspect.signature(function).parameters}


def export_by_route(route: str, model: torch.nn.Module, strict: bool) -> tuple[Any, Callable[[], Any]]:
    """(exported program, factory of the module it exports, for the eager reference)."""
    token, position = prompt_ids(1), torch.tensor([0])
    if route == "TorchExportableModuleForDecoderOnlyLM":
        wrapper_class = _integration(route)

        def build() -> Any:
            return wrapper_class(model, **_sizes(wrapper_class.__init__))

        with eager("wrapper construction"):
            wrapper = build()
        with torch.no_grad():
            return wrapper.export(input_ids=token, cache_position=position, strict=strict), build
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


def export_without_cache(mode: str) -> None:
    check_export_without_cache(static_cache_model(), strict=mode == "strict")


@no_cache_probe(export_without_cache)
@pytest.mark.parametrize("mode", ["strict", "non-strict"])
@pytest.mark.parametrize("route", ROUTES)
def test_transformers_export_route_decodes_like_eager(route: str, mode: str, record_property) -> None:
    model = static_cache_model()
    program, build = export_by_route(route, model, strict=mode == "strict")
    for seed in (1, 11):  # two prompts, each from fresh program state and a fresh eager wrapper
        prompt = prompt_ids(PROMPT_LEN, seed=seed)
        with eager("decode through the wrapper module"):
            wrapper = build()
            expected = decode(lambda ids, pos, w=wrapper: w(input_ids=ids, cache_position=pos), prompt)
        fresh = copy.deepcopy(program)
        logits = decode(partial(call_like_example, fresh, fresh.module()), prompt)
        for step, (got, want) in enumerate(zip(logits, expected, strict=True)):
            where = f"step {step} (prompt seed {seed})"
            torch.testing.assert_close(got, want, msg=lambda m, w=where: f"{w}: {m}")
