"""torch.export of a tiny Llama decode step that takes and returns a KV cache.

Every test exports for real, runs the exported program and compares it with eager, the returned cache
included: an export that succeeds and then crashes or drifts at inference is a failure
(optimum-executorch#235).
"""

from __future__ import annotations

import pytest

from suites.exporting import CACHE_KINDS, assert_matches_eager, export_decode_step, new_tokens
from suites.models import clone, prefilled


@pytest.mark.parametrize("shapes", ["static", "dynamic"])
@pytest.mark.parametrize("mode", ["strict", "non-strict"])
@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_decode_step_exports_and_matches_eager(model, kind: str, mode: str, shapes: str, record_property) -> None:
    cache = prefilled(model, kind)
    input_ids, cache_position = new_tokens(2 if shapes == "dynamic" else 1, seed=2)
    program = export_decode_step(
        model, clone(cache), input_ids, cache_position, strict=mode == "strict", dynamic=shapes == "dynamic",
        record=record_property,
    )
    assert_matches_eager(program.module(), model, cache, input_ids, cache_position)
    if shapes == "dynamic":
        other_ids, other_position = new_tokens(3, seed=3)
        assert_matches_eager(program.module(), model, cache, other_ids, other_position)
