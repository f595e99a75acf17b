"""Registration tests, run inside real cell environments (a list-based and a layer-based transformers).

Each ordering test runs in a fresh interpreter, because pytree registrations are process-global.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from fresh_interpreter import run_fresh
from torch.utils import _pytree as pytree
from transformers import cache_utils

import compat
from compat.catalog import CACHE_CLASSES
from compat.node import from_dumpable_context, to_dumpable_context
from compat.state import UnsupportedState, encode
from kvmatrix.run.process.recorder import registration_entry

STATUSES = {"registered", "already-registered", "absent", "unsupported"}  # after register(): never "unregistered"


OWNERS = """
    import json, compat
    from torch.utils import _pytree as pytree
    from transformers import cache_utils
    print(json.dumps({r.name: [r.status, r.owner] for r in compat.registration_report()}))
"""
TRANSFORMERS_FIRST = """
    import transformers, torch
    from compat.transformers_own import register_transformers_own
    from compat.tiny import tiny_llama
    register_transformers_own(tiny_llama())
    import compat
    compat.register(); compat.register()
""" + OWNERS
COMPAT_FIRST = """
    import compat
    compat.register()
    from compat.transformers_own import register_transformers_own
    from compat.tiny import tiny_llama
    register_transformers_own(tiny_llama())
    compat.register()
""" + OWNERS


def test_register_twice_changes_nothing() -> None:
    first = [asdict(r) for r in compat.register()]
    assert [asdict(r) for r in compat.register()] == first


def test_a_recorded_report_entry_keeps_the_published_fields_in_their_order() -> None:
    published = json.loads((Path(__file__).resolve().parents[2] / "reports" / "matrix.json").read_text())
    recorded = next(entry for cell in published["cells"] for entry in cell["registration_report"])
    for report in compat.registration_report():
        assert list(registration_entry(asdict(report))) == list(recorded)
        assert registration_entry(asdict(report))["class"] == report.name


def test_report_covers_every_catalogued_class_with_a_known_status() -> None:
    report = {r.name: r for r in compat.register()}
    assert set(report) == {entry.name for entry in CACHE_CLASSES}
    for name, entry in report.items():
        assert entry.status in STATUSES, (name, entry)
        assert (entry.status == "absent") == (not hasattr(cache_utils, name)), (name, entry)
        if entry.status == "already-registered":
            assert entry.owner and not entry.owner.startswith("compat"), entry
        if entry.status == "registered":
            assert cache_utils.__dict__[name] in pytree.SUPPORTED_NODES


@pytest.mark.parametrize("order", ["transformers-first", "compat-first"])
def test_either_import_order_registers_every_present_class_without_raising(order: str) -> None:
    owners = run_fresh(TRANSFORMERS_FIRST if order == "transformers-first" else COMPAT_FIRST)
    for name, (status, owner) in owners.items():
        assert status in STATUSES, (name, status)
        if hasattr(cache_utils, name):
            assert status in {"registered", "already-registered"}, (order, name, status, owner)


def test_static_cache_rebuilt_from_leaves_is_a_usable_cache() -> None:
    from compat.tiny import tiny_llama
    from suites.support.models import prefilled

    compat.register()
    cache = prefilled(tiny_llama(), "StaticCache")
    leaves, spec = pytree.tree_flatten(cache)
    assert leaves and all(isinstance(leaf, torch.Tensor) for leaf in leaves)
    rebuilt = pytree.tree_unflatten([leaf.clone() for leaf in leaves], spec)
    assert type(rebuilt) is type(cache) and rebuilt is not cache
    k = torch.ones(1, 2, 1, 8)
    keys, values = rebuilt.update(k, 2 * k, 0, {"cache_position": torch.tensor([5])})
    assert torch.equal(keys[0, :, 5], k[0, :, 0]) and torch.equal(values[0, :, 5], 2 * k[0, :, 0])


def test_contexts_are_json_dumpable_and_come_back_equal() -> None:
    from compat.tiny import tiny_llama
    from suites.support.models import prefilled

    compat.register()
    cache = prefilled(tiny_llama(), "StaticCache")
    spec = pytree.tree_structure(cache)
    children = spec.children() if callable(getattr(spec, "children", None)) else spec.children_specs
    for node in [spec, *children]:
        if node.type in compat.registry._OURS:
            dumped = json.loads(json.dumps(to_dumpable_context(node.context)))
            assert from_dumpable_context(dumped) == node.context
    assert pytree.treespec_loads(pytree.treespec_dumps(spec)) == spec


def test_a_value_without_json_form_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedState, match="StaticCache.lock"):
        encode(object(), "StaticCache.lock")
    assert encode(torch.float16, "x") == {"__dtype__": "float16"}


def test_only_dynamo_tracing_counts_as_tracing_for_flatten() -> None:
    """Non-strict export runs real Python with `torch.compiler.is_compiling()` set: compat must then read the
    object's fields (a module-held cache may never have been flattened before), and keep its recorded field
    names for dynamo's symbolic tracing only (finding 1 of issue 11)."""
    from compat.node import _dynamo_tracing

    seen: list[bool] = []

    class Probe(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(_dynamo_tracing())
            return x + 1

    torch.export.export(Probe(), (torch.ones(2),), strict=False)
    assert seen == [False]
    seen.clear()
    torch.compile(Probe(), backend="eager", fullgraph=True)(torch.ones(2))
    assert seen == [True]


def test_a_device_spelled_as_a_string_or_a_device_gives_one_context() -> None:
    """transformers 4.55's StaticLayer holds device="cpu" until its first update sets a torch.device: the
    tree spec must not change, or non-strict export of a module-held cache fails its attribute check."""
    from compat.node import split

    class Layer:
        pass

    before, after = Layer(), Layer()
    for layer, device in ((before, "cpu"), (after, torch.device("cpu"))):
        layer.keys, layer.values, layer.device = torch.zeros(1), torch.zeros(1), device
    assert split(before)[2] == split(after)[2]
    assert split(before)[2]["state"]["device"] == torch.device("cpu")
