"""`torch.export.save` -> `torch.export.load` -> run, for programs whose inputs and outputs hold caches.

Saving needs every pytree node in the program's specs to have a `serialized_type_name` and a context that
JSON accepts; loading needs the classes registered under the same names. The loaded program must follow
the cache it is given (the example's and one filled from another prompt).
"""

from __future__ import annotations

import io

import pytest
import torch

from compat.tiny import OTHER_PROMPT_SEED, DecodeStep
from kvmatrix.run.process.attribution import no_cache_probe
from suites.support.exporting import (
    CACHE_KINDS,
    assert_matches_eager,
    check_export_without_cache,
    export_decode_step,
    new_tokens,
)
from suites.support.models import clone, prefilled


def save_and_load_without_cache(model) -> None:
    check_export_without_cache(model, strict=False, save_and_load=True)


@no_cache_probe(save_and_load_without_cache)
@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_saved_and_loaded_program_matches_eager(model, kind: str) -> None:
    cache = prefilled(model, kind)
    other = prefilled(model, kind, seed=OTHER_PROMPT_SEED)
    input_ids, cache_position = new_tokens(1, seed=2)
    program = export_decode_step(model, clone(cache), input_ids, cache_position, strict=False, dynamic=False)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    assert_matches_eager(loaded.module(), DecodeStep(model), [(input_ids, cache, cache_position), (input_ids, other, cache_position)])
