"""Programs saved under one cache registration and loaded under another (issue #14 item 1), in the
list-based and the layer-based smoke cells; the whole saver x loader table runs in fresh interpreters."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from interop import REGISTRATIONS, cell_name, interop_table, markdown
from torch.utils import _pytree as pytree

import compat
from compat.state import CONTEXT_FORMAT, UnsupportedState

ROOT = Path(__file__).resolve().parents[2]
COMPAT_PAIR_OUTCOMES = {"equal", "clear error", "skipped"}
ANY_OUTCOME = COMPAT_PAIR_OUTCOMES | {"unclear error", "wrong"}


def foreign_spec(kind: str, context: object) -> str:
    """A saved tree spec as transformers' own registration (or TICO's) writes it: the class's plain name."""
    return json.dumps([1, {"type": f"transformers.cache_utils.{kind}", "context": context, "children_spec": []}])


@pytest.mark.parametrize("context", ['["key_cache", "value_cache"]', {"offloading": False}],
                         ids=["transformers-context", "tico-context"])
def test_compat_refuses_a_spec_saved_under_the_plain_class_name_naming_both_formats(context: object) -> None:
    compat.register()
    ours = [r.name for r in compat.registration_report() if r.status == "registered" and r.name in
            {"DynamicCache", "StaticCache"}]
    if not ours:
        pytest.skip("compat registers neither DynamicCache nor StaticCache here")
    kind = ours[0]
    with pytest.raises(UnsupportedState) as refused:
        pytree.treespec_loads(foreign_spec(kind, context))
    message = str(refused.value)
    assert f"transformers.cache_utils.{kind}" in message and f"{CONTEXT_FORMAT}:" in message, message


def test_every_saver_loader_combination_loads_equal_to_eager_or_fails_naming_both_formats(tmp_path) -> None:
    outcomes = interop_table(tmp_path, ROOT)
    table = markdown(outcomes, cell_name())
    (ROOT / "build" / "interop").mkdir(parents=True, exist_ok=True)
    (ROOT / "build" / "interop" / f"{cell_name()}.md").write_text(table)
    (ROOT / "build" / "interop" / f"{cell_name()}.json").write_text(json.dumps([asdict(o) for o in outcomes]))
    assert len(outcomes) == len(REGISTRATIONS) ** 2 * 2
    for o in outcomes:
        allowed = COMPAT_PAIR_OUTCOMES if "compat" in {o.saver, o.loader} else ANY_OUTCOME
        assert o.outcome in allowed, (o, table)
        assert o.outcome != "skipped" or o.detail, o
    same = [o for o in outcomes if o.saver == o.loader and o.outcome != "skipped"]
    assert all(o.outcome == "equal" for o in same), table
    assert any(o.outcome == "equal" for o in same), table
