"""torch.export of a tiny Llama decode step that takes and returns a KV cache.

The export paths exporters really take are named variants of the static-shape export: `mask` (`default`,
or the `vmap-free` sdpa mask transformers' export wrappers switch to, via `compat.use_export_mask`; `n/a`
where the release has no such switch) and `outputs` (the `cache` object returned, or its key and value
tensors returned `flat`, as export wrappers return them), one choice at a time away from the default.

Every test exports for real, runs the exported program and compares it with eager, the returned cache
included, on the export example's cache and on a cache filled from another prompt (a program that baked
its cache in fails by name): an export that succeeds and then crashes or drifts at inference is a failure
(optimum-executorch#235).
"""

from __future__ import annotations

import pytest
import torch

from compat.tiny import OTHER_PROMPT_SEED, PROMPT_LEN, DecodeStep, prompt_ids, static_cache
from kvmatrix.run.process.attribution import eager, no_cache_probe
from suites.support.exporting import (
    CACHE_KINDS,
    VMAP_FREE,
    check_export_without_cache,
    export_without_cache,
    model_with_mask,
    new_tokens,
)
from suites.support.models import clone, kv_tensors
from suites.support.programs import ProgramSpec, assert_program_matches_eager, export_program


@no_cache_probe(export_without_cache)
@pytest.mark.parametrize("shapes", ["static", "dynamic"])
@pytest.mark.parametrize("mode", ["strict", "non-strict"])
@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_decode_step_exports_and_matches_eager(model, kind: str, mode: str, shapes: str, record_property) -> None:
    exported = export_program(ProgramSpec(kind, mode, shapes), model, record=record_property)
    assert_program_matches_eager(exported.program, exported)


PATH_VARIANTS = [(VMAP_FREE, "cache"), ("default", "flat")]
"""(mask, outputs) of the export paths tested besides the default ("default", "cache") that
test_decode_step_exports_and_matches_eager covers: one choice changed at a time, so a failure names it."""


def export_path_without_cache(mode: str, mask: str) -> None:
    """The no-cache probe of an export path: the same mask, no cache (there are no cache outputs to vary)."""
    check_export_without_cache(model_with_mask(mask), strict=mode == "strict")


@no_cache_probe(export_path_without_cache)
@pytest.mark.parametrize(("mask", "outputs"), PATH_VARIANTS, ids=[f"{m}-{o}" for m, o in PATH_VARIANTS])
@pytest.mark.parametrize("mode", ["strict", "non-strict"])
@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_decode_step_export_path_matches_eager(kind: str, mode: str, mask: str, outputs: str,
                                               record_property) -> None:
    """A static-shape decode step exported on the path (mask, outputs) matches eager on the same path; the
    vmap-free mask leaves no vmap call in the program (the switch reached it)."""
    exported = export_program(ProgramSpec(kind, mode, mask=mask, outputs=outputs), record=record_property)
    assert_program_matches_eager(exported.program, exported)


@no_cache_probe(export_without_cache)
@pytest.mark.parametrize("mode", ["strict", "non-strict"])
def test_fresh_static_cache_prefill_exports_then_decode_steps_follow_it(model, mode: str) -> None:
    """A StaticCache straight from its constructor (lazy layers not yet allocated, where the release has
    them): the exported prefill step, run on another prompt, matches eager, returned cache included; then a
    decode step exported with a prefilled cache is fed its own returned cache for several steps."""
    strict = mode == "strict"
    fresh, positions = static_cache(model.config), torch.arange(PROMPT_LEN)
    with torch.no_grad():
        prefill = torch.export.export(DecodeStep(model), (prompt_ids(), clone(fresh), positions), strict=strict)
    prompt = prompt_ids(seed=OTHER_PROMPT_SEED)
    with torch.no_grad():
        with eager("prefill of a fresh StaticCache"):
            eager_logits, eager_cache = DecodeStep(model)(prompt, clone(fresh), positions)
        logits, cache = prefill.module()(prompt, clone(fresh), positions)
    torch.testing.assert_close(logits, eager_logits)
    for got, want in zip(kv_tensors(cache), kv_tensors(eager_cache), strict=True):
        torch.testing.assert_close(got, want)

    token, position = new_tokens(1, seed=2)
    with torch.no_grad():
        step = torch.export.export(DecodeStep(model), (token, clone(eager_cache), position), strict=strict)
    for offset in range(3):  # each step is fed the cache the previous one returned
        position = torch.tensor([PROMPT_LEN + offset])
        with torch.no_grad():
            with eager("decode step (the reference)"):
                eager_logits, eager_cache = DecodeStep(model)(token, eager_cache, position)
            logits, cache = step.module()(token, cache, position)
        torch.testing.assert_close(logits, eager_logits, msg=lambda m, s=offset: f"decode step {s}: {m}")
        token = eager_logits[:, -1:].argmax(-1)
