"""Unregistering hands back what transformers alone would have registered (issue 28 item 6).

transformers' on-demand helpers (`integrations.executorch.register_dynamic_cache_export_support`, 4.56+;
`exporters.exporter_dynamo.register_cache_pytrees_for_model`, 5.2x) swallow "already registered", so while
compat holds DynamicCache a call of theirs does nothing. Once compat lets go, their registration must be
in force as if compat had never been there, and without such a call DynamicCache must stay unregistered, as
transformers alone leaves it. Each case runs in a fresh interpreter: pytree registrations are process-global.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fresh_interpreter import run_fresh

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """
    import json, torch, compat
    import transformers
    from torch.utils import _pytree as pytree
    from transformers import cache_utils
    from compat.pytree_api import why_nodes_cannot_be_removed
    from compat.transformers_own import HELPERS, register_transformers_own
    from suites.support.exporting import export_decode_step, new_tokens
    from compat.tiny import tiny_llama
    from suites.support.models import prefilled

    def owner():
        node = pytree.SUPPORTED_NODES.get(cache_utils.DynamicCache)
        return None if node is None else node.flatten_fn.__module__

    def helper_attributes():
        import importlib
        found = {{}}
        for module_name, function_name, _ in HELPERS:
            try:
                found[function_name] = getattr(importlib.import_module(module_name), function_name, None)
            except ImportError:
                pass
        return found

    model = tiny_llama()
    before, helpers_before = owner(), helper_attributes()
    if why_nodes_cannot_be_removed() or before is not None:
        print(json.dumps({{"n/a": why_nodes_cannot_be_removed() or
                           f"transformers {{transformers.__version__}} registers DynamicCache at import ({{before}})"}}))
        raise SystemExit
{steps}
    try:
        ids, position = new_tokens(1, seed=3)
        export_decode_step(model, prefilled(model, "DynamicCache"), ids, position, strict=False, dynamic=False)
        exported = "ok"
    except Exception as exc:
        exported = f"{{type(exc).__name__}}: {{exc}}"[:500]
    print(json.dumps({{"called": called, "during": during, "owner": owner(), "exported": exported,
                       "helpers_restored": helper_attributes() == helpers_before,
                       "version": transformers.__version__}}))
"""

CALL_BETWEEN_REGISTER_AND_UNREGISTER = """
    compat.register()
    called = register_transformers_own(model)
    during = owner()
    compat.unregister()
"""
CALL_INSIDE_REGISTERED_BLOCK = """
    with compat.registered():
        called = register_transformers_own(model)
        during = owner()
"""
CALL_INSIDE_BLOCK_NESTED_IN_REGISTER = """
    compat.register()
    with compat.registered():
        called = register_transformers_own(model)
    during = owner()  # compat registered before the block: still compat's after it
    compat.unregister()
"""
NO_CALL = """
    with compat.registered():
        during = owner()
    compat.register()
    compat.unregister()
    called = []
"""


def scenario(steps: str) -> dict:
    """Run SCENARIO with `steps` in a fresh interpreter; skip where it does not apply to this release."""
    result = run_fresh(SCENARIO.format(steps=steps))
    if "n/a" in result:
        pytest.skip(f"n/a: {result['n/a']}")
    return result


@pytest.mark.parametrize("steps", [CALL_BETWEEN_REGISTER_AND_UNREGISTER, CALL_INSIDE_REGISTERED_BLOCK,
                                   CALL_INSIDE_BLOCK_NESTED_IN_REGISTER],
                         ids=["register-unregister", "registered-block", "block-inside-register"])
def test_a_helper_call_compat_made_a_no_op_is_in_force_once_compat_lets_go(steps: str) -> None:
    result = scenario(steps)
    if not result["called"]:
        pytest.skip(f"n/a: transformers {result['version']} has no on-demand pytree registration helper")
    assert result["during"].startswith("compat."), result
    assert result["owner"].startswith("transformers."), result
    assert result["exported"] == "ok", result
    assert result["helpers_restored"], result


def test_without_a_helper_call_unregistering_leaves_dynamic_cache_unregistered_as_transformers_alone_does() -> None:
    result = scenario(NO_CALL)
    assert result["during"].startswith("compat."), result
    assert result["owner"] is None, result
    assert result["exported"] != "ok", result
    assert result["helpers_restored"], result


def test_a_vendored_copy_hands_back_transformers_registration_too(tmp_path: Path) -> None:
    vendor = tmp_path / "mypkg" / "_vendor"
    vendor.mkdir(parents=True)
    for package in (tmp_path / "mypkg", vendor):
        (package / "__init__.py").write_text("")
    shutil.copytree(ROOT / "compat", vendor / "compat")
    result = scenario(f"""
    import sys
    sys.path.insert(0, {str(tmp_path)!r})
    from mypkg._vendor import compat as vendored
    vendored.register()
    compat.register()  # finds every class the vendored copy's: holds nothing, watches nothing
    called = register_transformers_own(model)
    during = owner()
    compat.unregister()
    vendored.unregister()
""")
    if not result["called"]:
        pytest.skip(f"n/a: transformers {result['version']} has no on-demand pytree registration helper")
    assert result["during"].startswith("mypkg._vendor.compat."), result
    assert result["owner"].startswith("transformers."), result
    assert result["exported"] == "ok", result
    assert result["helpers_restored"], result


def test_two_copies_watching_one_helper_leave_the_original_whichever_stops_first() -> None:
    result = run_fresh("""
        import json, threading
        from compat.helper_calls import HelperCalls
        from compat.transformers_own import HELPERS
        import importlib
        module_name, function_name, _ = HELPERS[0]
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
        if getattr(module, function_name, None) is None:
            print(json.dumps({"n/a": f"no {module_name}.{function_name}"}))
            raise SystemExit
        original = getattr(module, function_name)
        first, second = (HelperCalls(threading.RLock(), lambda: True) for _ in range(2))
        first.watch(); second.watch()
        stacked = getattr(module, function_name).__wrapped__.__wrapped__ is original
        first.stop()
        second_still_watching = getattr(module, function_name) is not original
        second.stop()
        print(json.dumps({"stacked": stacked, "second_still_watching": second_still_watching,
                          "restored": getattr(module, function_name) is original}))
    """)
    if "n/a" in result:
        pytest.skip(f"n/a: {result['n/a']}")
    assert result == {"stacked": True, "second_still_watching": True, "restored": True}
