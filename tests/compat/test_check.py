"""`kvcc check` (compat.check) inside a cell: the installed pair checked for real in a fresh process, use by
use, its answers and what they require agreeing with the published matrix; how the matrix and the nearest
published pair are reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from compat.check import (
    BROKEN,
    COMPAT_CALL,
    MASK_CALL,
    MAX_CACHE_LEN,
    PROMPT,
    WITH_COMPAT,
    WORKS,
    Outcome,
    _export_check,
    _prefilled,
    _same_as_eager,
    _step,
    _tries,
    annotate,
    installed_pair,
    load_verified,
    report,
    tiny_config,
    uses,
)

ROOT = Path(__file__).resolve().parents[2]
FORMAT = "kvcc-verified/2"
LIBRARY_CALLS = {COMPAT_CALL, MASK_CALL}
SAME_ROUTES = ("default+", "vmap-free-mask+", "TorchExportableModuleForDecoderOnlyLM-")
"""The matrix's routes that kvcc takes too (the matrix also tries flat outputs and other wrappers)."""


def _verified(*cells: tuple[str, str, str]) -> dict:
    return {"format": FORMAT, "generated_at": "t", "working": [WORKS, WITH_COMPAT], "meanings": {}, "cells": [
        {"id": f"tf{tf}-torch{torch}", "transformers": tf, "torch": torch,
         "answers": {"export-x": {"answer": found, **({"requires": [COMPAT_CALL]} if found == WITH_COMPAT
                                                      else {})}}} for tf, torch, found in cells]}


def test_the_matrix_answer_and_for_a_broken_use_the_nearest_working_pair_are_added() -> None:
    data = _verified(("4.57.6", "2.10.0", "broken"), ("4.57.6", "2.13.0", WITH_COMPAT), ("4.57.6", "2.8.0", WORKS),
                     ("5.0.0", "2.13.0", WORKS))
    outcome = Outcome("export-x", "export X", BROKEN, errors={"default mask, transformers alone": "E"})
    annotate([outcome], data, ("4.57.6", "2.10.0"))
    assert outcome.matrix == "broken"
    # same release, newest torch first, with what its route requires
    assert outcome.nearest == "tf4.57.6-torch2.13.0: works with compat (compat.register())"
    elsewhere = Outcome("export-x", "export X", BROKEN)
    annotate([elsewhere], data, ("5.1.0", "2.13.0"))
    assert (elsewhere.matrix, elsewhere.nearest) == (None, "tf5.0.0-torch2.13.0: works")
    other_model = Outcome("export-x", "export X", BROKEN)
    annotate([other_model], _verified(("4.57.6", "2.10.0", WORKS), ("4.57.6", "2.8.0", WITH_COMPAT)),
             ("4.57.6", "2.10.0"), other_model=True)
    # the matrix's tiny Llama works on this very pair: for another model (--config) the nearest is another pair
    assert (other_model.matrix, other_model.nearest) == ("works", "tf4.57.6-torch2.8.0: works with compat "
                                                                  "(compat.register())")
    working_here = Outcome("export-x", "export X", WORKS, "default mask, transformers alone")
    annotate([working_here], data, ("5.1.0", "2.13.0"))
    assert working_here.nearest is None  # it works here: no other pair to send the user to


def test_the_report_says_each_answer_with_the_calls_that_make_it_work_here_first() -> None:
    outcome = Outcome("export-x", "export X", "works with the vmap-free mask", "vmap-free mask, compat.register()",
                      [COMPAT_CALL, "strict=False", MASK_CALL], {"default mask, transformers alone": "ValueError: a"},
                      "works with the vmap-free mask (compat.register() + compat.use_export_mask(model))")
    text = report([outcome, Outcome("p", "pytree", WORKS, "its own, transformers alone")], ("4.55.4", "2.8.0"),
                  listed=True, meanings={WORKS: "with transformers alone"})
    assert ("- export X: works with the vmap-free mask here: call compat.register(), strict=False, "
            "compat.use_export_mask(model)") in text
    assert "default mask, transformers alone: ValueError: a" in text and "the matrix says for this pair" in text
    assert "- pytree: works here\n    (with transformers alone; route: its own, transformers alone)" in text


def test_routes_are_tried_fewest_library_calls_first_then_transformers_alone_first() -> None:
    use = next(use for use in uses() if use.key == "export-staticcache-non-strict-static")
    order = [(route.title, with_compat) for route, with_compat in _tries(use)]
    assert order == [("default mask", False), ("vmap-free mask", False), ("default mask", True),
                     ("vmap-free mask", True)]


def test_a_program_that_ignores_its_cache_input_fails_the_check() -> None:
    step = _step()
    baked = _prefilled(step, "DynamicCache", PROMPT)

    def ignores_its_cache(token, cache, position):  # answers from the prompt's cache whatever it is given
        return step(token, baked, position)

    with pytest.raises(AssertionError, match="differs from eager on another cache"):
        _same_as_eager(step, "DynamicCache", ignores_its_cache)
    with pytest.raises(AssertionError, match="differs from eager even on the cache it was exported with"):
        _same_as_eager(step, "DynamicCache", lambda token, cache, position: (step(token, cache, position)[0] + 1,))
    _same_as_eager(step, "DynamicCache", step)  # the honest program passes


def test_kvcc_check_in_a_fresh_process_agrees_with_the_published_matrix_for_this_pair() -> None:
    """Where the matrix answers a use by a route kvcc takes too, kvcc's answer and the library calls it names
    are the matrix's; on tf4.55.4-torch2.8.0 the fix it names for a StaticCache non-strict export is the
    vmap-free mask with compat.register()."""
    done = subprocess.run([sys.executable, "-m", "compat.check", "check", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800, check=False)
    result = json.loads(done.stdout)
    checks = {check["key"]: check for check in result["checks"]}
    assert done.returncode == (1 if any(check["answer"] == BROKEN for check in checks.values()) else 0)
    assert (result["transformers"], result["torch"]) == installed_pair()
    if installed_pair() == ("4.55.4", "2.8.0"):
        fix = checks["export-staticcache-non-strict-static"]
        assert set(fix["requires"]) & LIBRARY_CALLS == LIBRARY_CALLS, fix
    verified = load_verified(None)
    here = [cell for cell in verified["cells"] if (cell["transformers"], cell["torch"]) == installed_pair()]
    if not here:
        pytest.skip(f"n/a: {installed_pair()} is not a pair of the published matrix")
    assert result["in_matrix"] is True
    published = {key: found for key, found in here[0]["answers"].items()
                 if found.get("route", "").startswith(SAME_ROUTES)}

    def said(answer: str, requires: list[str]) -> tuple[str, set[str]]:
        """An answer and, where it works, the library calls its route needs (a broken answer's route only
        says which route spoke for the failure)."""
        return answer, set(requires) & LIBRARY_CALLS if answer != BROKEN else set()

    disagreements = {key: (check["answer"], check["requires"], published[key])
                     for key, check in checks.items() if key in published
                     and said(check["answer"], check["requires"])
                     != said(published[key]["answer"], published[key].get("requires", []))}
    assert disagreements == {}


def _kvcc_check_json(*words: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run([sys.executable, "-m", "compat.check", "check", "--json", *words], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800, check=False)
    return done, json.loads(done.stdout) if done.stdout.strip() else {}


def _answers_every_use_for_a_tiny_model_of(config_class: str, model_class: str, tmp_path: Path) -> dict:
    """`kvcc check --config` on a config.json of `config_class`'s defaults (written by transformers itself:
    nothing downloaded): the JSON names the model type and the tiny model of that architecture it built, and
    answers every use, as for the tiny Llama."""
    import transformers

    path = tmp_path / "config.json"
    getattr(transformers, config_class)().to_json_file(path)
    done, result = _kvcc_check_json("--config", str(path))
    assert done.returncode in (0, 1), done.stderr
    checks = {check["key"]: check for check in result["checks"]}
    assert set(checks) == {use.key for use in uses()}
    assert all(check["answer"] for check in checks.values())
    assert done.returncode == (1 if any(check["answer"] == BROKEN for check in checks.values()) else 0)
    model = result["model"]
    assert model["model_type"] == getattr(transformers, config_class).model_type
    assert model["class"] == model_class
    assert 0 < model["parameters"] < 100_000, model  # tiny: the defaults are billions
    assert model["config"] == str(path)
    return result


def test_kvcc_check_config_answers_every_use_for_a_tiny_qwen3(tmp_path: Path) -> None:
    result = _answers_every_use_for_a_tiny_model_of("Qwen3Config", "Qwen3ForCausalLM", tmp_path)
    assert result["model"]["scaled"]["num_hidden_layers"] == [32, 2]


def test_kvcc_check_config_answers_every_use_for_a_tiny_gemma3_that_stays_hybrid(tmp_path: Path) -> None:
    result = _answers_every_use_for_a_tiny_model_of("Gemma3TextConfig", "Gemma3ForCausalLM", tmp_path)
    assert {"sliding_attention", "full_attention"} <= set(result["model"]["layer_types"])


def test_a_gemma3_config_keeps_sliding_and_full_layers_and_a_window_inside_the_cache() -> None:
    from transformers import Gemma3TextConfig

    original = Gemma3TextConfig()
    small, scaled = tiny_config(original)
    assert type(small) is Gemma3TextConfig and original.num_hidden_layers == 26  # the user's config untouched
    assert small.num_hidden_layers == len(small.layer_types) < 10
    assert small.layer_types == original.layer_types[: small.num_hidden_layers]  # the family's own pattern
    assert {"sliding_attention", "full_attention"} <= set(small.layer_types)
    assert small.sliding_window < MAX_CACHE_LEN  # the sliding layers slide inside the checked cache
    # grouped-query attention kept: 8 heads for 4 KV heads becomes 4 for 2
    assert (small.num_attention_heads, small.num_key_value_heads) == (4, 2)
    assert small.head_dim * small.num_attention_heads <= 64 and small.vocab_size == 128
    assert scaled["num_hidden_layers"] == [26, small.num_hidden_layers]


def test_a_qwen3_config_keeps_multi_head_attention_and_all_full_layers() -> None:
    from transformers import Qwen3Config

    small, _ = tiny_config(Qwen3Config())
    assert small.num_hidden_layers == len(small.layer_types) == 2
    assert set(small.layer_types) == {"full_attention"}
    assert small.num_attention_heads == small.num_key_value_heads == 4  # 32 heads, 32 KV heads: no grouping


@pytest.mark.parametrize("words", [["--model-type", "lacking"], ["--model-type", "t5"]],
                         ids=["a family this transformers lacks", "not a causal LM"])
def test_kvcc_check_refuses_a_model_it_cannot_build_in_one_line(words: list[str]) -> None:
    from transformers import CONFIG_MAPPING

    if words[1] == "lacking":  # a family of later releases that the installed one does not know
        words = ["--model-type", next(name for name in ("qwen3_next", "olmo3", "kvcc-no-such-family")
                                      if name not in CONFIG_MAPPING)]
    done, _ = _kvcc_check_json(*words)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: model type {words[1]!r}") and done.stderr.count("\n") == 1, done.stderr
    assert done.stdout == ""


def test_the_vmap_free_mask_route_is_compared_with_eager_on_the_default_mask() -> None:
    """transformers 4.53-4.57's vmap-free mask is meant for export: run eagerly on a cache longer than the
    sliding window it skips the mask (it passes its window where `_ignore_causal_mask_sdpa` takes kv_offset)
    and attends past the window. The reference a program is compared with is eager on the default mask, so a
    correctly exported sliding-window model (Mistral: every layer slides) is not called broken for it."""
    from transformers import MistralConfig

    import compat

    step = _step(tiny_config(MistralConfig(sliding_window=4096))[0])
    if not compat.use_export_mask(step.model).available:
        pytest.skip("n/a: this transformers has no vmap-free mask to switch to")
    step.model.config._attn_implementation = "sdpa"  # as a fresh model: the check switches it itself
    with compat.registered():  # DynamicCache is an export input only where registered (transformers >= 4.56)
        _export_check(step, "DynamicCache", strict=False, mask=True)
