"""The model-family column: does each architecture users export keep its cache through the routes they take?

Per family (suites.support.families: a tiny model from the family's own config class; `n/a` where the release
has no such family), the three routes of kvmatrix.record.uses.FAMILY_ROUTES, cheapest first:

- a decode step exported non-strict with a prefilled DynamicCache (built from the model's config, so sliding
  layers are sliding) as input and its cache returned, run against eager on that cache and on one prefilled
  from another prompt: the route pytree registration decides, so it runs with and without compat.register();
- transformers' export wrapper (the first of suites.support.wrapping.ROUTES the release has), strict, its
  default, decoding two prompts token by token against the eager wrapper;
- a greedy decode loop over the family's static cache (suites.support.families.family_static_cache)
  compiled on KVCC_TRACE_BACKEND: tokens equal to eager, no recompile
  after the first compiled step.

The wrapper keeps its StaticCache inside the program and dynamo traces a cache as a Python object, never
through its pytree node, so neither of the last two routes can see the registration: each runs once per cell
(suites.support.once).
"""

from __future__ import annotations

import pytest
import torch

from compat.tiny import OTHER_PROMPT_SEED, PROMPT_LEN, DecodeStep, dynamic_cache, fill, prompt_ids
from kvmatrix.run.process.attribution import eager, no_cache_probe
from kvmatrix.settings import setting
from suites.support.compiling import run_compiled_against_eager
from suites.support.exporting import (
    assert_matches_eager,
    check_compile_without_cache,
    check_export_without_cache,
)
from suites.support.families import FAMILIES, family_model, family_static_cache, static_cache_family
from suites.support.once import only_once_per_cell
from suites.support.wrapping import (
    assert_decodes_like_wrapper,
    export_by_route,
    first_route,
    static_cache_model,
)

TRACE_BACKEND = setting("KVCC_TRACE_BACKEND")
COMPILED_STEPS = PROMPT_LEN
"""Decode steps of the compiled route: past the tiny window (the prompt's length) and enough to see a
recompile after the first compiled step."""


def prefilled_dynamic(model, seed: int):
    """A DynamicCache built from `model`'s config (sliding layers where the release supports that), after an
    eager prefill of the prompt drawn with `seed`."""
    with eager("DynamicCache prefill"):
        return fill(model, dynamic_cache(model.config), seed=seed)


@no_cache_probe(lambda model_type: check_export_without_cache(family_model(model_type), strict=False))
@pytest.mark.parametrize("model_type", FAMILIES)
def test_family_dynamic_cache_step_exports_like_eager(model_type: str) -> None:
    model = family_model(model_type)
    example = prefilled_dynamic(model, seed=1)
    token, position = prompt_ids(1, seed=5), torch.tensor([PROMPT_LEN])
    with torch.no_grad():
        program = torch.export.export(DecodeStep(model), (token, example, position), strict=False)
    other = prefilled_dynamic(model, seed=OTHER_PROMPT_SEED)
    assert_matches_eager(program.module(), DecodeStep(model), [(token, example, position), (token, other, position)])


@no_cache_probe(lambda model_type: check_export_without_cache(static_cache_family(model_type), strict=True))
@pytest.mark.parametrize("model_type", FAMILIES)
def test_family_wrapper_decodes_like_eager(model_type: str) -> None:
    only_once_per_cell("transformers' export wrapper (its cache lives inside the program)")
    program, build = export_by_route(first_route(), static_cache_model(static_cache_family(model_type)), strict=True)
    assert_decodes_like_wrapper(program, build)


@no_cache_probe(lambda model_type: check_compile_without_cache(family_model(model_type), TRACE_BACKEND))
@pytest.mark.parametrize("model_type", FAMILIES)
def test_family_static_cache_loop_compiles_like_eager(model_type: str, record_property) -> None:
    only_once_per_cell("torch.compile (dynamo traces the cache object)")
    model = static_cache_family(model_type)
    graphs = run_compiled_against_eager(model, "StaticCache", record_property, TRACE_BACKEND, steps=COMPILED_STEPS,
                                        empty=family_static_cache(model))
    assert graphs[-1] == graphs[0], f"recompiled after the first step: graphs per step {graphs}"
