"""TICO as a client: `tico.convert` of the decode step to a Circle model, the cache passed as an input.

The cache crosses the program's inputs (unlike the wrapper route), so how it is registered matters: the test
runs in every registration mode. Parametrized by cache kind and by the attention mask (the release's
`default`, or the `vmap-free` one of `compat.use_export_mask`, docs/mask.md). The Circle model must be
produced (non-empty) and, run on TICO's own reference runtime, give eager's logits and updated cache on the
example's cache and on one filled from another prompt. Runs only in the cell's TICO environment
(kvmatrix.run.clients).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import torch

from compat.tiny import OTHER_PROMPT_SEED, PROMPT_LEN, DecodeStep, prompt_ids
from kvmatrix.run.process.attribution import eager, no_cache_probe
from suites.support.exporting import CACHE_KINDS, VMAP_FREE, model_with_mask, new_tokens
from suites.support.models import NoCacheStep, clone, kv_tensors, prefilled

TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
"""TICO's reference runtime against eager."""


UNSUPPORTED_OPERATOR = re.compile(r"NOT SUPPORTED OPERATOR\s+\(op\) (\S+)")
"""How TICO logs each operator it cannot convert (the error it raises then names none)."""


class _Messages(logging.Handler):
    """Keeps the messages of the error records it is given."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def convert(module: torch.nn.Module, example: tuple[Any, ...]) -> Any:
    """`tico.convert(module, example)`: the Circle model (its bytes in `circle_binary`). A conversion that
    fails on operators TICO does not support has their names added to its error (TICO only logs them)."""
    import tico

    handler, logger = _Messages(), logging.getLogger("tico")
    logger.addHandler(handler)
    try:
        with torch.no_grad():
            return tico.convert(module.eval(), example)
    except Exception as exc:
        operators = sorted({found.group(1) for message in handler.messages
                            if (found := UNSUPPORTED_OPERATOR.search(message))})
        if operators:
            exc.args = (f"{exc}: {', '.join(operators)}",)
        raise
    finally:
        logger.removeHandler(handler)


def flat_outputs(outputs: Any) -> list[torch.Tensor]:
    """A Circle run's outputs (one tensor or a sequence of them) as a list of tensors."""
    items = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [torch.as_tensor(item) for item in items]


def convert_without_cache(mask: str) -> None:
    """The no-cache probe: the same model and mask with no cache, converted and run on TICO's runtime."""
    model = model_with_mask(mask)
    circle = convert(NoCacheStep(model), (prompt_ids(PROMPT_LEN + 1, seed=2),))
    other = prompt_ids(PROMPT_LEN + 1, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(flat_outputs(circle(other))[0], NoCacheStep(model)(other), **TOLERANCE)


@no_cache_probe(convert_without_cache)
@pytest.mark.parametrize("mask", ["default", VMAP_FREE])
@pytest.mark.parametrize("kind", CACHE_KINDS)
def test_decode_step_converts_to_circle_and_runs_like_eager(kind: str, mask: str, record_property) -> None:
    model = model_with_mask(mask)
    cache, other = prefilled(model, kind), prefilled(model, kind, seed=OTHER_PROMPT_SEED)
    input_ids, cache_position = new_tokens(1, seed=2)
    circle = convert(DecodeStep(model), (input_ids, clone(cache), cache_position))
    record_property("circle_bytes", len(circle.circle_binary))
    assert len(circle.circle_binary) > 0, "tico.convert produced an empty Circle model"
    for filled in (cache, other):
        with torch.no_grad(), eager("decode step (the reference)"):
            logits, updated = DecodeStep(model)(input_ids, clone(filled), cache_position)
        outputs = flat_outputs(circle(input_ids, clone(filled), cache_position))
        expected = [logits, *kv_tensors(updated)]
        assert len(outputs) == len(expected), f"the Circle model returned {len(outputs)} outputs"
        for got, want in zip(outputs, expected, strict=True):
            torch.testing.assert_close(got, want, **TOLERANCE)
