"""Dynamic shapes: export a DynamicCache decode step with dynamic batch / past length / new-token dims,
then run the exported program at sizes other than the traced ones (so on caches other than the example)
and compare with eager."""

from __future__ import annotations

import pytest
import torch

from compat.tiny import DecodeStep, prompt_ids
from kvmatrix.run.process.attribution import no_cache_probe
from suites.support.exporting import assert_matches_eager, check_export_without_cache, shapes_for
from suites.support.models import clone, prefilled

TRACED = {"batch": 2, "past": 4, "new": 2}
OTHERS = [{"batch": 3, "past": 5, "new": 3}, {"batch": 2, "past": 6, "new": 2}]


def inputs(model, sizes: dict[str, int], batch_dynamic: bool):
    batch = sizes["batch"] if batch_dynamic else 1
    cache = prefilled(model, "DynamicCache", length=sizes["past"], batch=batch)
    ids = prompt_ids(sizes["new"], seed=2, batch=batch)
    return ids, cache, torch.arange(sizes["past"], sizes["past"] + sizes["new"])


def dynamic_export_without_cache(model) -> None:
    check_export_without_cache(model, strict=None, dynamic=True)


@no_cache_probe(dynamic_export_without_cache)
@pytest.mark.parametrize("dims", ["past+new", "batch+past+new"])
def test_dynamic_cache_program_runs_at_other_sizes_like_eager(model, dims: str, record_property) -> None:
    batch_dynamic = dims.startswith("batch")
    batch = torch.export.Dim("batch", min=2, max=8) if batch_dynamic else None
    past = torch.export.Dim("past", min=2, max=16)
    new = torch.export.Dim("new", min=2, max=8)
    ids, cache, position = inputs(model, TRACED, batch_dynamic)
    dynamic_shapes = {
        "input_ids": {0: batch, 1: new} if batch_dynamic else {1: new},
        "cache": shapes_for(cache, lambda t: {0: batch, 2: past} if batch_dynamic else {2: past}),
        "cache_position": {0: new},
    }
    with torch.no_grad():
        program = torch.export.export(DecodeStep(model), (ids, clone(cache), position), dynamic_shapes=dynamic_shapes)
    for sizes in [TRACED, *OTHERS]:
        ids, cache, position = inputs(model, sizes, batch_dynamic)
        assert_matches_eager(program.module(), DecodeStep(model), [(ids, cache, position)])
