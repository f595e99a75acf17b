"""`kvcc check`: on your own machine, does what you need work with the torch and transformers you have
installed, and do you need `compat.register()`?

It reads the installed pair, looks it up in the matrix bundled with this package (`compat/verified.json`,
or `--matrix FILE`), then runs a fast check of the pair on a tiny random Llama (a few seconds to a minute
on a laptop CPU): the pytree round trip of DynamicCache and StaticCache, a decode step exported strict and
non-strict with each, and `torch.export.save`/`load` of it. Each exported program is run on a cache filled
from another prompt and compared with eager, so a program that baked its cache in cannot pass. Every check
runs with transformers alone first (what it registers at import plus its own export helpers, as in the
matrix: compat.transformers_own), and again inside `compat.registered()` when it failed. Per check it
prints works / works with compat.register() / broken here (the error), what the published matrix says for
this pair, and the nearest verified pair where that use works. `--json` prints the same as JSON. The exit
status is 0 when every check works (with or without registration), 1 otherwise, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any

WORKS, WITH_COMPAT, BROKEN = "works", "works with compat", "broken"
MATRIX_WORKING = (WORKS, WITH_COMPAT, "works with the vmap-free mask", "works with TICO's registration")
"""The answers of the published matrix (verified.json) that say a use works, each with its `requires`."""
VERIFIED_FORMAT = "kvcc-verified/2"
PROMPT, OTHER_PROMPT, MAX_CACHE_LEN = 1, 11, 16
TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 128, "max_position_embeddings": 64}


@dataclass
class Outcome:
    """One check's result: its answer and, when it did not work without registration, the errors seen."""

    key: str
    title: str
    answer: str
    errors: dict[str, str] = field(default_factory=dict)
    matrix: str | None = None
    nearest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The outcome as `--json` prints it."""
        return {"key": self.key, "title": self.title, "answer": self.answer, "errors": self.errors,
                "matrix_says": self.matrix, "nearest_verified": self.nearest}


# --- the tiny model and its caches ------------------------------------------------------------------------

def _model() -> Any:
    import torch
    import transformers

    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(**TINY)).eval()


def _step_class() -> type:
    import inspect

    import torch

    class DecodeStep(torch.nn.Module):
        """(input_ids, cache, cache_position) -> logits, one cached forward (5.x names the cache `cache`)."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model
            params = inspect.signature(model.forward).parameters
            self.cache_name = "past_key_values" if "past_key_values" in params else "cache"

        def forward(self, input_ids: Any, cache: Any, cache_position: Any) -> Any:
            kwargs = {self.cache_name: cache, "use_cache": True, "cache_position": cache_position}
            return self.model(input_ids=input_ids, **kwargs).logits

    return DecodeStep


def _empty_cache(kind: str, config: Any) -> Any:
    import torch
    from transformers import cache_utils

    if kind == "DynamicCache":
        return cache_utils.DynamicCache()
    shapes: list[Callable[[], Any]] = [
        lambda: cache_utils.StaticCache(config=config, max_cache_len=MAX_CACHE_LEN, batch_size=1, device="cpu",
                                        dtype=torch.float32),
        lambda: cache_utils.StaticCache(config=config, max_cache_len=MAX_CACHE_LEN, max_batch_size=1,
                                        device="cpu", dtype=torch.float32),
        lambda: cache_utils.StaticCache(config=config, max_cache_len=MAX_CACHE_LEN),
    ]
    for build in shapes:  # the constructor's keywords moved between releases
        try:
            return build()
        except TypeError:
            continue
    raise TypeError("no known StaticCache constructor call works with this transformers")


def _ids(seed: int, length: int) -> Any:
    import torch

    return torch.randint(0, TINY["vocab_size"], (1, length), generator=torch.Generator().manual_seed(seed))


def _prefilled(step: Any, kind: str, seed: int) -> Any:
    import torch

    cache = _empty_cache(kind, step.model.config)
    with torch.no_grad():
        step(_ids(seed, 4), cache, torch.arange(4))
    return cache


# --- the checks ---------------------------------------------------------------------------------------------

def _roundtrip(step: Any, kind: str) -> None:
    import torch
    from torch.utils import _pytree

    cache = _prefilled(step, kind, PROMPT)
    leaves, spec = _pytree.tree_flatten(cache)
    if not leaves or not all(isinstance(leaf, torch.Tensor) for leaf in leaves):
        raise AssertionError(f"{kind} is not a pytree node: it flattens to itself")
    again = _pytree.tree_unflatten(leaves, spec)
    if type(again) is not type(cache) or not all(
            torch.equal(a, b) for a, b in zip(_pytree.tree_leaves(again), leaves, strict=True)):
        raise AssertionError(f"{kind} does not come back equal from tree_unflatten")


def _export(step: Any, kind: str, strict: bool) -> Any:
    import torch

    with torch.no_grad():
        return torch.export.export(step, (_ids(PROMPT + 1, 1), _prefilled(step, kind, PROMPT), torch.tensor([4])),
                                   strict=strict)


def _same_as_eager(step: Any, kind: str, run: Callable[..., Any]) -> None:
    """Run `run` on a cache filled from another prompt and compare with eager on a copy of that cache."""
    import copy

    import torch

    other = _prefilled(step, kind, OTHER_PROMPT)
    token, position = _ids(PROMPT + 1, 1), torch.tensor([4])
    with torch.no_grad():
        expected = step(token, copy.deepcopy(other), position)
        got = run(token, other, position)
    got = got[0] if isinstance(got, tuple | list) else got
    if not torch.allclose(got, expected, atol=1e-5):
        raise AssertionError("the program's answer differs from eager on another cache (its cache baked in?)")


def _export_check(step: Any, kind: str, strict: bool) -> None:
    _same_as_eager(step, kind, _export(step, kind, strict).module())


def _saveload_check(step: Any, kind: str) -> None:
    import torch

    buffer = io.BytesIO()
    torch.export.save(_export(step, kind, strict=False), buffer)
    buffer.seek(0)
    # torch 2.13's loader logs a malformed warning (a format string without its argument) on every load
    # of a program whose example inputs hold a cache; it says nothing about the load, so keep it quiet.
    serde_log = logging.getLogger("torch._export.serde.serialize")
    level = serde_log.level
    serde_log.setLevel(logging.ERROR)
    try:
        loaded = torch.export.load(buffer)
    finally:
        serde_log.setLevel(level)
    _same_as_eager(step, kind, loaded.module())


def checks() -> list[tuple[str, str, Callable[[Any], None]]]:
    """(key, title, check) of every fast check; a key that is also a use of the matrix shares its name."""
    found: list[tuple[str, str, Callable[[Any], None]]] = []
    for kind in ("DynamicCache", "StaticCache"):
        low = kind.lower()
        found.append((f"pytree-{low}", f"pytree flatten/unflatten, {kind}",
                      lambda step, kind=kind: _roundtrip(step, kind)))
        for strict in (True, False):
            mode = "strict" if strict else "non-strict"
            found.append((f"export-{low}-{mode}-static", f"torch.export {kind}, {mode}, static length",
                          lambda step, kind=kind, strict=strict: _export_check(step, kind, strict)))
        found.append((f"saveload-{low}", f"torch.export.save / load, {kind}",
                      lambda step, kind=kind: _saveload_check(step, kind)))
    return found


def _error_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__


def run_checks() -> list[Outcome]:
    """Every check with transformers alone (its own export helpers called first, as in the matrix), then
    inside compat.registered() for those that failed."""
    import compat
    from compat.transformers_own import register_transformers_own

    step = _step_class()(_model())
    register_transformers_own(step.model)
    outcomes = []
    for key, title, check in checks():
        try:
            check(step)
            outcomes.append(Outcome(key, title, WORKS))
            continue
        except Exception as exc:  # any failure of the tool under test is the answer, never a crash of kvcc
            errors = {"without": _error_line(exc)}
        try:
            with compat.registered():
                check(step)
            outcomes.append(Outcome(key, title, WITH_COMPAT, errors))
        except Exception as exc:
            outcomes.append(Outcome(key, title, BROKEN, {**errors, "with": _error_line(exc)}))
    return outcomes


# --- the published matrix -----------------------------------------------------------------------------------

def installed_pair() -> tuple[str, str]:
    """(transformers, torch) versions installed here (torch's local tag, such as +cpu, dropped)."""
    return metadata.version("transformers"), metadata.version("torch").split("+")[0]


def load_verified(path: Path | None) -> dict[str, Any]:
    """The bundled verified pins (or the file `path`): the `kvcc-verified/2` JSON of kvmatrix.render.verified."""
    text = path.read_text(encoding="utf-8") if path else \
        resources.files("compat").joinpath("verified.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if data.get("format") != VERIFIED_FORMAT:
        raise ValueError(f"not a {VERIFIED_FORMAT} file: format {data.get('format')!r}")
    return data


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in text.split("."))


def _said(found: dict[str, Any]) -> str:
    """An answer of verified.json in words: the answer, what its route requires, or why it does not work."""
    text = found["answer"]
    if found.get("requires"):
        text += " (" + " + ".join(found["requires"]) + ")"
    if found.get("cause") and found["answer"] not in MATRIX_WORKING:
        text += f" ({found['cause']})"
    return text


def annotate(outcomes: list[Outcome], verified: dict[str, Any], pair: tuple[str, str]) -> None:
    """Add what the matrix says for this pair and the nearest verified pair where each use works (same
    transformers release first, then the closest release, newest torch first), with what it requires."""
    transformers = pair[0]
    cells = verified["cells"]
    here = next((cell for cell in cells if (cell["transformers"], cell["torch"]) == pair), None)
    for outcome in outcomes:
        if here is not None and outcome.key in here["answers"]:
            outcome.matrix = _said(here["answers"][outcome.key])
        working = [cell for cell in cells
                   if cell["answers"].get(outcome.key, {}).get("answer") in MATRIX_WORKING]
        if working:
            def distance(cell: dict[str, Any]) -> tuple[Any, ...]:
                gap = [abs(a - b) for a, b in zip(_version_key(cell["transformers"]), _version_key(transformers),
                                                  strict=False)]
                return (cell["transformers"] != transformers, gap, [-n for n in _version_key(cell["torch"])])
            best = min(working, key=distance)
            outcome.nearest = f"{best['id']}: {_said(best['answers'][outcome.key])}"


LABELS = {WORKS: "works", WITH_COMPAT: "works with compat.register()", BROKEN: "broken here"}


def report(outcomes: list[Outcome], pair: tuple[str, str], listed: bool) -> str:
    """The human-readable report."""
    head = f"transformers {pair[0]}, torch {pair[1]}: " + (
        "a pair of the published matrix" if listed else "not in the published matrix; nearest verified pairs below")
    lines = [head]
    for outcome in outcomes:
        lines.append(f"- {outcome.title}: {LABELS[outcome.answer]}")
        for mode, error in outcome.errors.items():
            if outcome.answer == BROKEN or mode == "without":
                lines.append(f"    {mode} registration: {error}")
        if outcome.matrix:
            lines.append(f"    the matrix says: {outcome.matrix}")
        if outcome.answer != WORKS and outcome.nearest:
            lines.append(f"    nearest verified pair where it works: {outcome.nearest}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`kvcc check [--json] [--matrix FILE]`; returns the exit status."""
    parser = argparse.ArgumentParser(prog="kvcc", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check the installed torch/transformers pair")
    check.add_argument("--json", action="store_true", help="print JSON instead of text")
    check.add_argument("--matrix", type=Path, help="a verified.json other than the bundled one")
    args = parser.parse_args(argv)
    try:
        pair = installed_pair()
        verified = load_verified(args.matrix)
    except (metadata.PackageNotFoundError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    outcomes = run_checks()
    annotate(outcomes, verified, pair)
    listed = any((cell["transformers"], cell["torch"]) == pair for cell in verified["cells"])
    if args.json:
        print(json.dumps({"transformers": pair[0], "torch": pair[1], "in_matrix": listed,
                          "matrix_generated_at": verified["generated_at"],
                          "checks": [outcome.to_json() for outcome in outcomes]}, indent=2))
    else:
        print(report(outcomes, pair, listed))
    return 0 if all(outcome.answer != BROKEN for outcome in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
