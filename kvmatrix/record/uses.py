"""The matrix answered per use: "I need to do X with cache Y: does it work in this (torch, transformers)
pair, and what must I call for it?"

A **use** is a question (export a StaticCache decode step non-strict; lower with ExecuTorch and run). A
**route** is one way to do it: a variant of the use's tests (strict or non-strict, the cache as an input or
held by transformers' wrapper, the default or the vmap-free mask, the cache or its tensors returned) taken
under one **registration** (transformers alone, `compat.register()`, TICO's own). Route keys are
`<variant>+<registration>` (`strict+transformers`, `vmap-free-mask+compat`) and stay stable: docs/uses.md
lists them.

A use's answer in a pair is its best working route with every requirement of it: `works` (transformers
alone), `works with compat` (`compat.register()`), `works with the vmap-free mask`
(`compat.use_export_mask(model)`, with compat where the route needs it too), each naming its route and
`requires`; when no route works, `flaky`, `known limitation` (every failing route is a documented limitation,
its upstream issue named), `setup fails` (the tests' own eager step), `broken` (with the cause and upstream
issue of the best route), `n/a` (the pair has no such feature), or the status of the cell or client that did
not run. Every route is listed with its verdict and cause, so a failing route never hides a working one.
A route under TICO's own registration answers `works with TICO's registration` only where no route of
transformers alone or compat works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# kvcc check (compat.check, shipped alone in the wheel, which cannot import kvmatrix) gives the same answers
# on the user's machine: the words and calls they share are defined there, once.
from compat.check import BROKEN, COMPAT_CALL, MASK_CALL, WITH_COMPAT, WITH_MASK, WORKS
from kvmatrix.record.verdicts import FLAKY, NA, PASS, RAN, SETUP, SEVERITY, TICO_MODE, XFAIL

FLAT_CALL = "return the key/value tensors, not the cache"
TICO_CALL = "tico.utils.pytree_utils register_*()"


@dataclass(frozen=True)
class Registration:
    """Who registers the cache classes on a route: `key` in route keys, the registration mode of the cell's
    runs (kvmatrix.record.verdicts), and the call a user makes for it (None: nothing to call)."""

    key: str
    mode: str
    title: str
    call: str | None


TRANSFORMERS = Registration("transformers", "without", "transformers alone", None)
COMPAT = Registration("compat", "with", COMPAT_CALL, COMPAT_CALL)
TICO = Registration("tico", TICO_MODE, "TICO's registration", TICO_CALL)
REGISTRATIONS = (TRANSFORMERS, COMPAT, TICO)
"""The registrations a route can take, best first. TICO's runs only where the cell ran the core suites under
it; a use answers with it only where neither transformers alone nor compat works (a TICO advantage, which CI's
smoke check refuses)."""


@dataclass(frozen=True)
class Variant:
    """One way to take a use apart from the registration: `key` (stable), what a reader calls it, the tests
    of the use's suite that take it (`tests`, a regular expression matched from the start of the test name;
    every one that ran must pass), and what the user's code does for it (`calls`)."""

    key: str
    title: str
    tests: str
    calls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Use:
    """One use: `key` (stable, for links and badges), what a reader calls it, its suite and its variants,
    best first (the default path before the ones that ask more of the user)."""

    key: str
    title: str
    suite: str
    variants: tuple[Variant, ...]


def _one(key: str, title: str, suite: str, tests: str) -> Use:
    """A use with one variant: every test of it is the one way to do it."""
    return Use(key, title, suite, (Variant("default", "its tests", tests),))


def _strict_variants(test: str, before: str = "", after: str = r"\]") -> tuple[Variant, ...]:
    """strict and non-strict variants of `test`'s parametrised ids `[<before><mode><after>`."""
    return tuple(Variant(mode, mode, rf"{test}\[{before}{mode}{after}", (f"strict={mode == 'strict'}",))
                 for mode in ("strict", "non-strict"))


WRAPPERS = ("TorchExportableModuleForDecoderOnlyLM", "convert_and_export_with_cache")
"""transformers' export routes (suites/support/wrapping.py), best first: the module users subclass, then the helper."""


def _wrapper_variants(test: str) -> tuple[Variant, ...]:
    """One variant per transformers export route and strictness, strict first (the routes' default)."""
    return tuple(Variant(f"{wrapper}-{mode}", f"{mode}, {wrapper}", rf"{test}\[{wrapper}-{mode}\]",
                         (f"strict={mode == 'strict'}",))
                 for mode in ("strict", "non-strict") for wrapper in WRAPPERS)


def _export(cache: str, strict: str, length: str) -> Use:
    """The decode step exported with `cache` as an input; a static length also on the export path variants
    of suites/test_export.py (the vmap-free mask; the key/value tensors returned flat)."""
    mode = "strict" if strict == "strict" else "non-strict"
    variants = [Variant("default", "default mask, cache returned",
                        rf"test_decode_step_exports_and_matches_eager\[{cache}-{mode}-{length}\]")]
    if length == "static":
        path = rf"test_decode_step_export_path_matches_eager\[{cache}-{mode}-"
        variants += [Variant("vmap-free-mask", "vmap-free mask", rf"{path}vmap-free-cache\]", (MASK_CALL,)),
                     Variant("flat-outputs", "key/value tensors returned", rf"{path}default-flat\]", (FLAT_CALL,))]
    return Use(f"export-{cache.lower()}-{mode}-{length}", f"torch.export {cache}, {mode}, {length} length",
               "export", tuple(variants))


USES: tuple[Use, ...] = (
    *(_export(cache, strict, length) for cache in ("DynamicCache", "StaticCache")
      for strict in ("strict", "non-strict") for length in ("static", "dynamic")),
    Use("export-staticcache-fresh", "torch.export a fresh StaticCache's prefill, then decode", "export",
        _strict_variants("test_fresh_static_cache_prefill_exports_then_decode_steps_follow_it")),
    Use("wrapper", "transformers' export wrapper, decoding like eager", "wrapper",
        _wrapper_variants("test_transformers_export_route_decodes_like_eager")),
    _one("saveload-dynamiccache", "torch.export.save / load, DynamicCache", "saveload",
         r"test_saved_and_loaded_program_matches_eager\[DynamicCache\]"),
    _one("saveload-staticcache", "torch.export.save / load, StaticCache", "saveload",
         r"test_saved_and_loaded_program_matches_eager\[StaticCache\]"),
    Use("unflatten", "torch.export.unflatten of a program with a cache", "roundtrip",
        tuple(Variant(cache, cache, rf"test_unflattened_exported_program_matches_eager\[{cache}\]")
              for cache in ("DynamicCache", "StaticCache"))),
    _one("dynamic-sizes", "an exported DynamicCache program at other batch and cache sizes", "dynamic", r"test_"),
    _one("compile-staticcache", "torch.compile a StaticCache decode loop without recompiles", "compile",
         r"test_static_cache_decode_loop_compiles_once"),
    Use("compile-dynamiccache", "torch.compile a DynamicCache decode loop", "compile",
        (Variant("plain", "plain", r"test_dynamic_cache_decode_loop_matches_eager\[plain\]"),
         Variant("mark_dynamic", "mark_dynamic", r"test_dynamic_cache_decode_loop_matches_eager\[mark_dynamic\]",
                 ("torch._dynamo.mark_dynamic",)),
         Variant("mark_dynamic+torch._check", "mark_dynamic and torch._check",
                 r"test_dynamic_cache_decode_loop_matches_eager\[mark_dynamic\+torch\._check\]",
                 ("torch._dynamo.mark_dynamic", "torch._check")))),
    Use("cond", "torch.cond cross-attention reuse-or-compute, exported", "cond", _strict_variants("test_cond_cross_attention_exports_and_matches_eager_in_both_branches")),
    Use("encdec-export", "encoder-decoder (EncoderDecoderCache) step, exported", "encdec",
        _strict_variants("test_encoder_decoder_step_exports_and_matches_eager")),
    Use("sliding-export", "sliding-window model decoding past its window, exported", "sliding",
        tuple(Variant(f"{cache}-{mode}", f"{mode}, {title}",
                      rf"test_exported_sliding_step_decodes_past_the_window_like_eager\[\w+-{re.escape(cache)}-{mode}\]",
                      (f"strict={mode == 'strict'}",))
              for cache, title in (("StaticCache(config)", "StaticCache from the config"),
                                   ("dedicated", "the release's sliding-window cache class"))
              for mode in ("strict", "non-strict"))),
    *(Use(f"decompose-{cache.lower()}", f"run_decompositions on an exported {cache} decode step", "decompose",
          tuple(Variant(f"{table}-{mode}-{program}", f"{title}, {mode}, {program_title}",
                        rf"test_exported_decode_step_decomposes_and_matches_eager\[{cache}-{mode}-{program}-{table}\]",
                        (f"strict={mode == 'strict'}", *calls))
                for table, title in (("core-aten", "core ATen"), ("none", "no decomposition table"))
                for program, program_title, calls in (("static", "static length", ()),
                                                      ("vmap-free-cache", "vmap-free mask", (MASK_CALL,)),
                                                      ("dynamic", "dynamic length", ()))
                for mode in ("strict", "non-strict")))
      for cache in ("DynamicCache", "StaticCache")),
    Use("executorch", "lower with ExecuTorch and run in its runtime", "executorch",
        _wrapper_variants("test_lowered_decode_step_runs_on_executorch_like_eager")),
    Use("tico", "convert to Circle with TICO", "tico",
        tuple(Variant(f"{cache}-{mask}", f"{cache}, {'vmap-free' if mask == 'vmap-free' else 'default'} mask",
                      rf"test_decode_step_converts_to_circle_and_runs_like_eager\[{cache}-{mask}\]",
                      (MASK_CALL,) if mask == "vmap-free" else ())
              for cache in ("StaticCache", "DynamicCache") for mask in ("default", "vmap-free"))),
    Use("onnx", "export to ONNX (dynamo) and run in onnxruntime", "onnx",
        (*(Variant(cache, f"{cache} as an input",
                   rf"test_decode_step_exports_to_onnx_and_runs_in_onnxruntime_like_eager\[{cache}\]")
           for cache in ("DynamicCache", "StaticCache")),
         *(Variant(wrapper, f"{wrapper} (StaticCache inside)",
                   rf"test_wrapper_route_converts_to_onnx_and_decodes_like_eager\[{wrapper}\]")
           for wrapper in WRAPPERS))),
)
BY_KEY = {use.key: use for use in USES}
"""Each use by its key."""

FAMILY_SUITE = "families"
"""The suite of the per-model-family tests (suites/test_families.py)."""
FAMILY_ROUTES = (
    ("wrapper-strict", "transformers' export wrapper, strict", "test_family_wrapper_decodes_like_eager",
     ("strict=True",)),
    ("dynamic-cache-step-non-strict", "decode step with a DynamicCache input, non-strict",
     "test_family_dynamic_cache_step_exports_like_eager", ("strict=False",)),
    ("static-cache-loop-compiled", "compiled static-cache decode loop", "test_family_static_cache_loop_compiles_like_eager",
     ()),
)
"""A family's variants, best first: (key, title, test of suites/test_families.py parametrised by the family's
model_type, calls)."""
FAMILY_TITLES = {
    "llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2", "qwen3": "Qwen3", "gemma": "Gemma", "gemma2": "Gemma 2",
    "gemma3_text": "Gemma 3 (text)", "phi3": "Phi-3", "smollm3": "SmolLM3", "olmo2": "OLMo 2", "granite": "Granite",
}
"""The model families that suites/test_families.py runs, by transformers' model_type, as a reader calls them."""


def family_use(model_type: str) -> Use:
    """A model family asked as a use ("does this model's cache export and compile here?"): its routes are
    FAMILY_ROUTES' tests for `model_type`, so its answer follows every rule of a use's answer."""
    return Use(model_type, FAMILY_TITLES[model_type], FAMILY_SUITE,
               tuple(Variant(key, title, rf"{test}\[{re.escape(model_type)}\]", calls)
                     for key, title, test, calls in FAMILY_ROUTES))


FAMILIES: tuple[Use, ...] = tuple(family_use(model_type) for model_type in FAMILY_TITLES)
"""Every model family as a use, in FAMILY_TITLES' order."""

WITH_TICO = "works with TICO's registration"
KNOWN_LIMITATION, SETUP_FAILS = "known limitation", "setup fails"
ANSWERS = (WORKS, WITH_COMPAT, WITH_MASK, WITH_TICO, FLAKY, KNOWN_LIMITATION, SETUP_FAILS, BROKEN, NA)
"""The answers of a cell that ran, best first."""
WORKING = (WORKS, WITH_COMPAT, WITH_MASK, WITH_TICO)


@dataclass(frozen=True)
class RouteResult:
    """One route in one cell: its key (`<variant>+<registration>`), verdict over its tests (the most severe;
    n/a when none of them exists in the pair), the cause and upstream issue of its first test with that
    verdict, and the calls it needs."""

    route: str
    verdict: str
    cause: str | None
    upstream: str | None
    requires: tuple[str, ...]

    def to_json(self) -> list[str | None]:
        """The route's entry in uses.json: [route, verdict, cause, upstream] (its title, requirements and
        tests follow from the use's variants and the answer's `tests`)."""
        return [self.route, self.verdict, self.cause, self.upstream]


@dataclass(frozen=True)
class Answer:
    """A use's answer in one cell: the answer, the route it rests on (the best working one, else the best
    route that exists), that route's requirements, cause and upstream issue (of a use that does not work),
    `reason` (why a cell or client did not run), and every route."""

    answer: str
    route: str | None = None
    requires: tuple[str, ...] = ()
    cause: str | None = None
    upstream: str | None = None
    reason: str | None = None
    routes: tuple[RouteResult, ...] = ()
    tests: dict[str, dict[str, list[str | None]]] | None = None
    """The use's tests in the cell, as matrix.json's compact `tests` table has them (name -> mode -> [verdict,
    cause, upstream])."""

    def to_json(self) -> dict[str, Any]:
        """The answer's entry in uses.json."""
        return {"answer": self.answer, "route": self.route, "requires": list(self.requires), "cause": self.cause,
                "upstream": self.upstream, "reason": self.reason,
                "routes": [route.to_json() for route in self.routes if route.verdict != NA],
                "tests": self.tests or {}}


def _suite_tests(suite: str, patterns: list[re.Pattern[str]], cell: dict[str, Any]) -> dict[str, Any]:
    """Name (without `<suite>::`) -> modes, for the entries of `cell`'s compact `tests` table in `suite` whose
    name one of `patterns` matches from its start."""
    prefix = f"{suite}::"
    return {key[len(prefix):]: modes for key, modes in cell.get("tests", {}).items()
            if key.startswith(prefix) and any(pattern.match(key[len(prefix):]) for pattern in patterns)}


def covered_tests(use: Use, cell: dict[str, Any]) -> dict[str, dict[str, list[str | None]]]:
    """The entries of `cell`'s compact `tests` table that belong to `use`'s variants (key `<suite>::<name>`)."""
    found = _suite_tests(use.suite, [re.compile(variant.tests) for variant in use.variants], cell)
    return {f"{use.suite}::{name}": modes for name, modes in found.items()}


def route_result(use: Use, variant: Variant, registration: Registration, cell: dict[str, Any]) -> RouteResult:
    """`variant` of `use` under `registration` in `cell`: the most severe verdict of its tests that exist in
    the pair (SEVERITY), with the cause and upstream issue of the first test that has it."""
    entries = {name: modes.get(registration.mode) or [None]
               for name, modes in _suite_tests(use.suite, [re.compile(variant.tests)], cell).items()}
    # A test the TICO run did not report has no TICO route; one missing from a registration run is an error.
    present = {name: entry for name, entry in entries.items()
               if entry[0] != NA and (entry[0] is not None or registration is not TICO)}
    verdicts = {name: entry[0] if entry[0] in SEVERITY else "error" for name, entry in present.items()}
    verdict = next((v for v in SEVERITY if v in verdicts.values()), NA)
    first = next((present[name] for name, v in verdicts.items() if v == verdict), [None])
    requires = (*((registration.call,) if registration.call else ()), *variant.calls)
    return RouteResult(f"{variant.key}+{registration.key}", verdict,
                       first[1] if len(first) > 1 and verdict != PASS else None,
                       first[2] if len(first) > 2 and verdict != PASS else None, requires)


PREDATES_SUITE = "not run: the cell's record was written before the {suite} column existed"
"""Why a use has no answer in a cell whose summary has no column for its suite (a record of an older publish)."""


def _did_not_run(use: Use, cell: dict[str, Any]) -> Answer | None:
    """The answer of a cell, or of the use's client, that did not run (its status and reason), or of a cell
    recorded before the use's suite existed (`n/a`, PREDATES_SUITE: nothing was asked of it, so nothing about
    the pair follows); None when it ran."""
    if cell["status"] != RAN:
        return Answer(cell["status"], reason=cell.get("status_reason"))
    if "suites" in cell and use.suite not in cell["suites"]:
        return Answer(NA, reason=PREDATES_SUITE.format(suite=use.suite))
    client = (cell.get("clients") or {}).get(use.suite) or {}
    if client.get("status", RAN) != RAN:
        return Answer(client["status"], reason=client.get("reason"))
    return None


def _word(route: RouteResult) -> str:
    """The answer a working route gives: TICO's registration, else the mask, else compat, else transformers
    alone."""
    if TICO_CALL in route.requires:
        return WITH_TICO
    if MASK_CALL in route.requires:
        return WITH_MASK
    return WITH_COMPAT if COMPAT_CALL in route.requires else WORKS


def answer(use: Use, cell: dict[str, Any]) -> Answer:
    """`use`'s answer in `cell` (a matrix.json cell summary): its best working route (TICO's last; then fewest
    of this project's calls, then transformers alone before compat, then the use's variant order), else why
    none works."""
    stopped = _did_not_run(use, cell)
    if stopped is not None:
        return stopped
    routes = tuple(route_result(use, variant, registration, cell)
                   for variant in use.variants for registration in REGISTRATIONS)
    existing = [route for route in routes if route.verdict != NA]
    tests = _suite_tests(use.suite, [re.compile(variant.tests) for variant in use.variants], cell)
    if not existing:
        return Answer(NA, routes=routes, tests=tests)
    working = [route for route in existing if route.verdict == PASS]
    if working:
        best = min(working, key=lambda route: (TICO_CALL in route.requires, _library_calls(route),
                                               existing.index(route)))
        return Answer(_word(best), best.route, best.requires, routes=routes, tests=tests)
    # No route works: transformers' and compat's routes say why (TICO's only where the pair has no other),
    # the compat route of the first variant first (the most help this project offers).
    ours = [route for route in existing if TICO_CALL not in route.requires] or existing
    failing = sorted(ours, key=lambda route: (COMPAT_CALL not in route.requires, ours.index(route)))
    verdicts = {route.verdict for route in ours}
    if FLAKY in verdicts:
        word, best = FLAKY, next(route for route in failing if route.verdict == FLAKY)
    elif verdicts == {XFAIL}:
        word, best = KNOWN_LIMITATION, failing[0]
    elif verdicts == {SETUP}:
        word, best = SETUP_FAILS, failing[0]
    else:
        word, best = BROKEN, next(route for route in failing if route.verdict not in (SETUP, XFAIL))
    return Answer(word, best.route, best.requires, best.cause, best.upstream, routes=routes, tests=tests)


def _library_calls(route: RouteResult) -> int:
    """How many of this project's calls a route needs (compat.register(), the vmap-free mask): a route that
    needs fewer is the better answer."""
    return sum(call in (COMPAT_CALL, MASK_CALL) for call in route.requires)
