"""compat as a library: ownership by identity (a vendored copy), scoped and reversible registration, a
report without transformers, and a context format that says it is ours. Each case runs in a fresh
interpreter, because pytree registrations are process-global."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fresh_interpreter import run_fresh

ROOT = Path(__file__).resolve().parents[2]


def test_a_vendored_copy_owns_its_registrations_and_not_anothers(tmp_path: Path) -> None:
    vendor = tmp_path / "mypkg" / "_vendor"
    vendor.mkdir(parents=True)
    for package in (tmp_path / "mypkg", vendor):
        (package / "__init__.py").write_text("")
    shutil.copytree(ROOT / "compat", vendor / "compat")
    result = run_fresh(f"""
        import sys, json
        sys.path.insert(0, {str(tmp_path)!r})
        from mypkg._vendor import compat as vendored
        import compat
        vendored.register()
        print(json.dumps({{
            "vendored": {{r.name: [r.status, r.owner] for r in vendored.registration_report()}},
            "ours": {{r.name: [r.status, r.owner] for r in compat.registration_report()}},
        }}))
    """)
    mine = {name: entry for name, entry in result["vendored"].items() if entry[0] == "registered"}
    assert mine and all(owner == "compat" for _, owner in mine.values())
    for name in mine:
        status, owner = result["ours"][name]
        assert status == "already-registered" and owner.startswith("mypkg._vendor.compat"), (name, status, owner)


def test_registered_block_leaves_the_process_as_it_found_it() -> None:
    result = run_fresh("""
        import json, compat
        from torch.utils import _pytree as pytree
        from compat.pytree_api import why_nodes_cannot_be_removed
        from transformers import cache_utils
        before = {r.name: r.status for r in compat.registration_report()}
        if why_nodes_cannot_be_removed():
            print(json.dumps({"unsupported": why_nodes_cannot_be_removed()}))
            raise SystemExit
        with compat.registered() as report:
            inside = {r.name: r.status for r in report}
            dynamic_is_node = cache_utils.DynamicCache in pytree.SUPPORTED_NODES
        after = {r.name: r.status for r in compat.registration_report()}
        print(json.dumps({"before": before, "inside": inside, "after": after, "node": dynamic_is_node}))
    """)
    if "unsupported" in result:
        pytest.skip(f"n/a: {result['unsupported']}")
    assert result["node"] and "registered" in result["inside"].values()
    assert result["after"] == result["before"]


def test_unregister_removes_only_our_registrations() -> None:
    result = run_fresh("""
        import json, compat
        from compat.pytree_api import why_nodes_cannot_be_removed
        from compat.transformers_own import register_transformers_own
        from compat.tiny import tiny_llama
        register_transformers_own(tiny_llama())
        theirs = {r.name: r.owner for r in compat.registration_report() if r.status == "already-registered"}
        compat.register()
        report = {r.name: [r.status, r.owner, r.reason] for r in compat.unregister()}
        print(json.dumps({"theirs": theirs, "report": report, "removable": why_nodes_cannot_be_removed() is None}))
    """)
    for name, owner in result["theirs"].items():
        assert result["report"][name][:2] == ["already-registered", owner]
    statuses = {status for status, _, _ in result["report"].values()}
    if result["removable"]:
        assert "registered" not in statuses and "unregistered" in statuses
    else:
        assert all(reason.startswith("cannot unregister") for status, _, reason in result["report"].values()
                   if status == "unsupported")


def test_report_without_transformers_says_so_instead_of_raising() -> None:
    result = run_fresh("""
        import json, sys
        sys.modules["transformers"] = None  # makes `import transformers` raise ImportError
        import compat
        print(json.dumps([[r.name, r.status, r.reason] for r in compat.register()]))
    """)
    assert result and all(status == "absent" and "transformers is not importable" in reason
                          for _, status, reason in result)


def test_a_context_in_another_format_is_refused_naming_both() -> None:
    from compat.node import from_dumpable_context
    from compat.state import CONTEXT_FORMAT, UnsupportedState

    with pytest.raises(UnsupportedState, match=f"only {CONTEXT_FORMAT}"):
        from_dumpable_context({"key_cache": [0], "value_cache": [1]})  # transformers' own context shape


def test_the_package_says_whose_it_is() -> None:
    import compat

    assert compat.__distribution__ == "kv-cache-compat" and compat.__version__
    assert (Path(compat.__file__).parent / "py.typed").exists()
