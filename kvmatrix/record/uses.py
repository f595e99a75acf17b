"""The matrix answered per use: "I need to do X with cache Y: does it work in this (torch, transformers)
pair, and do I need `compat.register()`?" A use is a set of suite tests (a table below); its answer in a
cell comes from those tests' verdicts in both registration modes of matrix.json's compact `tests` table.

Answers, best first: `works` (every test of the use passes with transformers alone), `works with compat`
(passes only after `compat.register()`), `works with the vmap-free mask` (an export on the default path that
does not work while its twin on the vmap-free mask of `compat.use_export_mask` does), `flaky`, `setup
fails` (the test's own eager step failed), `broken` (a test fails in both modes; the answer carries the
cause and upstream issue of the first such test), `n/a` (the pair has no such feature or class), or the
cell's status when it did not run (a client's use: the client's status when it could not be installed or
run). Where the cell also ran the suites under TICO's own registration, `tico_answer` says whether the use
works that way, to show beside compat's answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

from kvmatrix.record.verdicts import FLAKY, MODES, NA, PASS, RAN, SETUP, TICO_MODE


@dataclass(frozen=True)
class Use:
    """One use: `key` (stable, for links and badges), what a reader calls it, and the tests it covers: those
    of `suite` whose name matches `tests` (a regular expression, matched from the start)."""

    key: str
    title: str
    suite: str
    tests: str
    switch: str | None = None
    """The key of the use that differs from this one only by the vmap-free mask, where there is one."""


def _export(cache: str, strict: str, length: str) -> Use:
    mode = "strict" if strict == "strict" else "non-strict"
    key = f"export-{cache.lower()}-{mode}-{length}"
    return Use(key, f"torch.export {cache}, {mode}, {length} length",
               "export", rf"test_decode_step_exports_and_matches_eager\[{cache}-{mode}-{length}\]",
               switch=f"{key}-{EXPORT_PATHS[VMAP_FREE_PATH][0]}" if length == "static" else None)


EXPORT_PATHS = {"vmap-free-cache": ("vmap-free-mask", "vmap-free mask (compat.use_export_mask)"),
                "default-flat": ("flat-outputs", "key/value tensors returned flat")}
"""The export path variants of suites/test_export.py (`<mask>-<outputs>` test id -> use key suffix, title
suffix): each changes one choice away from the default path of the `export-*-static` uses, so the two rows
side by side show what that choice changes."""
VMAP_FREE_PATH = "vmap-free-cache"
"""The export path variant on the vmap-free mask (and the default cache outputs)."""


def _export_path(cache: str, mode: str, variant: str) -> Use:
    key, title = EXPORT_PATHS[variant]
    return Use(f"export-{cache.lower()}-{mode}-static-{key}", f"torch.export {cache}, {mode}, static length, {title}",
               "export", rf"test_decode_step_export_path_matches_eager\[{cache}-{mode}-{variant}\]")


USES: tuple[Use, ...] = (
    *(_export(cache, strict, length) for cache in ("DynamicCache", "StaticCache")
      for strict in ("strict", "non-strict") for length in ("static", "dynamic")),
    *(_export_path(cache, mode, variant) for variant in EXPORT_PATHS for cache in ("DynamicCache", "StaticCache")
      for mode in ("strict", "non-strict")),
    Use("export-staticcache-fresh", "torch.export a fresh StaticCache's prefill, then decode", "export",
        r"test_fresh_static_cache_prefill_exports_then_decode_steps_follow_it\["),
    Use("wrapper-strict", "transformers' export wrapper, strict", "wrapper", r"test_transformers_export_route_.*-strict\]"),
    Use("wrapper-non-strict", "transformers' export wrapper, non-strict", "wrapper",
        r"test_transformers_export_route_.*-non-strict\]"),
    Use("saveload-dynamiccache", "torch.export.save / load, DynamicCache", "saveload",
        r"test_saved_and_loaded_program_matches_eager\[DynamicCache\]"),
    Use("saveload-staticcache", "torch.export.save / load, StaticCache", "saveload",
        r"test_saved_and_loaded_program_matches_eager\[StaticCache\]"),
    Use("unflatten", "torch.export.unflatten of a program with a cache", "roundtrip",
        r"test_unflattened_exported_program_matches_eager\["),
    Use("dynamic-sizes", "an exported DynamicCache program at other batch and cache sizes", "dynamic", r"test_"),
    Use("compile-staticcache", "torch.compile a StaticCache decode loop without recompiles", "compile",
        r"test_static_cache_decode_loop_compiles_once"),
    Use("compile-dynamiccache", "torch.compile a DynamicCache decode loop", "compile",
        r"test_dynamic_cache_decode_loop_matches_eager\["),
    Use("cond", "torch.cond cross-attention reuse-or-compute, exported", "cond", r"test_cond_"),
    Use("encdec-export", "encoder-decoder (EncoderDecoderCache) step, exported", "encdec",
        r"test_encoder_decoder_step_exports_and_matches_eager\["),
    Use("sliding-export", "sliding-window model decoding past its window, exported", "sliding",
        r"test_exported_sliding_step_decodes_past_the_window_like_eager\["),
    Use("executorch", "lower with ExecuTorch and run in its runtime", "executorch", r"test_"),
    Use("tico", "convert to Circle with TICO", "tico", r"test_"),
)
BY_KEY = {use.key: use for use in USES}
"""Each use by its key."""

WORKS, WITH_COMPAT, BROKEN = "works", "works with compat", "broken"
WITH_MASK = "works with the vmap-free mask"
SETUP_FAILS = "setup fails"
ANSWERS = (WORKS, WITH_COMPAT, WITH_MASK, FLAKY, SETUP_FAILS, BROKEN, NA)
"""The answers of a cell that ran, best first."""
WORKING = (WORKS, WITH_COMPAT, WITH_MASK)


@dataclass(frozen=True)
class Answer:
    """A use's answer in one cell; `cause` and `upstream` of a broken (or flaky/setup) use's first test."""

    answer: str
    cause: str | None = None
    upstream: str | None = None
    tests: int = 0


def covered_tests(use: Use, cell: dict[str, Any]) -> dict[str, dict[str, list[str | None]]]:
    """The entries of `cell`'s compact `tests` table that belong to `use` (key `<suite>::<name>`)."""
    pattern = re.compile(use.tests)
    prefix = f"{use.suite}::"
    return {key: modes for key, modes in cell.get("tests", {}).items()
            if key.startswith(prefix) and pattern.match(key[len(prefix):])}


def answer(use: Use, cell: dict[str, Any]) -> Answer:
    """`use`'s answer in `cell` (a matrix.json cell summary); a use with a `switch` that does not work on
    its own path but works on the vmap-free mask's answers `works with the vmap-free mask`."""
    found = _own_answer(use, cell)
    if found.answer not in WORKING and use.switch is not None:
        switched = _own_answer(BY_KEY[use.switch], cell)
        if switched.answer in (WORKS, WITH_COMPAT):
            return Answer(WITH_MASK, tests=switched.tests)
    return found


def _own_answer(use: Use, cell: dict[str, Any]) -> Answer:
    """`use`'s answer from its own tests alone."""
    if cell["status"] != RAN:
        return Answer(cell["status"])
    client = (cell.get("clients") or {}).get(use.suite) or {}
    if client.get("status", RAN) != RAN:
        return Answer(client["status"])
    entries = [modes for modes in covered_tests(use, cell).values()
               if any((modes.get(mode) or [NA])[0] != NA for mode in MODES)]
    if not entries:
        return Answer(NA)

    def verdicts(mode: str) -> list[str]:
        return [(modes.get(mode) or [None])[0] or "error" for modes in entries]

    if all(v == PASS for v in verdicts("without")):
        return Answer(WORKS, tests=len(entries))
    if all(v == PASS for v in verdicts("with")):
        return Answer(WITH_COMPAT, tests=len(entries))
    for verdict, name in ((FLAKY, FLAKY), (SETUP, SETUP_FAILS)):
        flagged = [modes["with"] for modes in entries if (modes.get("with") or [None])[0] == verdict]
        if flagged and all(v in (PASS, verdict) for v in verdicts("with")):
            return _with_cause(name, flagged[0], len(entries))
    failing = next(modes["with"] for modes in entries if (modes.get("with") or [None])[0] != PASS)
    return _with_cause(BROKEN, failing, len(entries))


def tico_answer(use: Use, cell: dict[str, Any]) -> str | None:
    """`use`'s answer under TICO's own registration in `cell`: `works` when every one of its tests the TICO
    run reported (n/a ones aside) passes, `broken` when one does not; None when the TICO run reported none
    (or the cell has no TICO run)."""
    verdicts = [modes[TICO_MODE][0] for modes in covered_tests(use, cell).values()
                if modes.get(TICO_MODE) and modes[TICO_MODE][0] != NA]
    if not verdicts:
        return None
    return WORKS if all(verdict == PASS for verdict in verdicts) else BROKEN


def _with_cause(name: str, entry: list[str | None], count: int) -> Answer:
    return Answer(name, entry[1] if len(entry) > 1 else None, entry[2] if len(entry) > 2 else None, count)


def _pair_key(cell: dict[str, Any]) -> tuple[Version, Version]:
    """(transformers, torch) versions of a cell, for "newest"; an unparsable one sorts first."""
    def version(text: str) -> Version:
        try:
            return Version(text)
        except InvalidVersion:
            return Version("0")
    return version(cell["pins"]["transformers"]), version(cell["pins"]["torch"])


def recommended(use: Use, cells: list[dict[str, Any]]) -> dict[str, Any]:
    """The recommended pins for `use`: `plain`, the newest pair (by transformers, then torch) where it
    works with transformers alone; `with_compat`, the newest where it works only after
    `compat.register()` and is newer than `plain` (None when none is); `by_transformers`, for each
    transformers release the torch versions where it works in any of the ways of WORKING, with whether
    compat or the vmap-free mask is needed."""
    answers = [(cell, answer(use, cell)) for cell in cells]
    plain = [cell for cell, found in answers if found.answer == WORKS]
    compat = [cell for cell, found in answers if found.answer == WITH_COMPAT]
    newest_plain = max(plain, key=_pair_key, default=None)
    newest_compat = max(compat, key=_pair_key, default=None)
    if newest_plain is not None and newest_compat is not None and _pair_key(newest_compat) < _pair_key(newest_plain):
        newest_compat = None
    by_transformers: dict[str, list[dict[str, Any]]] = {}
    for cell, found in sorted(answers, key=lambda pair: _pair_key(pair[0])):
        if found.answer in WORKING:
            by_transformers.setdefault(cell["pins"]["transformers"], []).append(
                {"torch": cell["pins"]["torch"], "needs_compat": found.answer == WITH_COMPAT,
                 "needs_mask": found.answer == WITH_MASK})
    return {"plain": newest_plain["id"] if newest_plain else None,
            "with_compat": newest_compat["id"] if newest_compat else None,
            "by_transformers": by_transformers}


def working_uses(cell: dict[str, Any]) -> int:
    """How many uses work in `cell` (with or without compat), for its badge."""
    return sum(answer(use, cell).answer in WORKING for use in USES)
