"""transformers' own export route: the cache lives inside the exported program, as ExecuTorch runs it.

`TorchExportableModuleForDecoderOnlyLM(...).export()` and `convert_and_export_with_cache()` (from
`transformers.integrations.executorch`, whichever the release has; `n/a` where it has neither) wrap a
StaticCache in a module, strict and non-strict. The exported program decodes two different prompts token by
token (each from fresh program state), and every step's logits must equal the same wrapper run eagerly: the
cache written at one step is read at the next, so a program that drops or bakes its cache fails.
"""

from __future__ import annotations

import pytest

from kvmatrix.run.process.attribution import no_cache_probe
from suites.support.exporting import check_export_without_cache
from suites.support.wrapping import ROUTES, assert_decodes_like_wrapper, export_by_route, static_cache_model


def export_without_cache(mode: str) -> None:
    check_export_without_cache(static_cache_model(), strict=mode == "strict")


@no_cache_probe(export_without_cache)
@pytest.mark.parametrize("mode", ["strict", "non-strict"])
@pytest.mark.parametrize("route", ROUTES)
def test_transformers_export_route_decodes_like_eager(route: str, mode: str, record_property) -> None:
    program, build = export_by_route(route, static_cache_model(), strict=mode == "strict")
    assert_decodes_like_wrapper(program, build)
