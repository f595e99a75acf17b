"""The registration report states how compat's leaf order and key paths differ from transformers' own
flattening of the same cache (transformers#41901), in the list-based and the layer-based smoke cells."""

from __future__ import annotations

from dataclasses import asdict

from transformers import cache_utils

import compat
from compat.comparison import TRANSFORMERS_FLATTENINGS, sample_cache
from kvmatrix.run.process.recorder import registration_entry
from suites.support.models import kv_tensors, layout

EXPECTED_ORDER = {"layer": "leaf order differs", "list": "same leaf order", "list-module": "same leaf order"}
"""Layer-based compat flattens k0, v0, k1, v1; transformers' own flattening gives all keys, then all values.
List-based compat keeps transformers' own key_cache-then-value_cache order."""
COMPAT_FIRST_PATH = {"layer": ".layers[0].keys", "list": ".key_cache[0]", "list-module": ".key_cache[0]"}


def test_report_states_leaf_order_and_key_paths_against_transformers_own_flattening() -> None:
    report = {r.name: r for r in compat.register()}
    dynamic = report["DynamicCache"].leaf_order_vs_transformers
    assert dynamic is not None and dynamic.startswith("differs ("), dynamic
    assert EXPECTED_ORDER[layout()] in dynamic and "key paths differ" in dynamic, dynamic
    assert f"compat {COMPAT_FIRST_PATH[layout()]}," in dynamic and "['key_cache'][0]" in dynamic, dynamic
    assert registration_entry(asdict(report["DynamicCache"]))["leaf_order_vs_transformers"] == dynamic
    flattened_by_transformers = {entry.cls for entry in TRANSFORMERS_FLATTENINGS}
    for name, entry in report.items():
        if entry.status == "absent":
            assert entry.leaf_order_vs_transformers is None, entry
        elif name not in flattened_by_transformers:
            assert entry.leaf_order_vs_transformers == "no transformers flattening", entry


def test_the_compared_sample_cache_is_a_filled_cache_of_two_layers() -> None:
    cache = sample_cache(cache_utils.DynamicCache)
    tensors = kv_tensors(cache)
    assert len(tensors) == 4 and [float(t[0, 0, 0, 0]) for t in tensors] == [0.0, 1.0, 2.0, 3.0]
