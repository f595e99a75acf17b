"""Save a decode-step program under one pytree registration of the caches and load it under another.

Three registrations may exist in a cell: compat's, transformers' own (at import in 4.51-4.55, via
`transformers.integrations.executorch.register_dynamic_cache_export_support` later) and TICO's
(`tico.utils.pytree_utils`). Each saver runs in a fresh interpreter: it sets up its registration, exports
`DecodeStep` over a prefilled cache, `torch.export.save`s it, and stores the eager results for two caches
(the example one and one from another prompt, so a program that baked its cache in cannot pass). Each
loader runs in another fresh interpreter: it sets up its registration, `torch.export.load`s every saved
program and runs it on both caches. Run as `python tests/compat/interop.py` (PYTHONPATH = repository root)
to print the table for the installed cell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

KINDS = ("DynamicCache", "StaticCache")
COMPAT_FORMAT = "kv-cache-compat/1"


@dataclass(frozen=True)
class Registration:
    """One way of registering the cache classes: how to set it up, and how to recognise it in torch."""

    name: str
    setup: str  # Python run in a fresh interpreter before saving or loading
    owner_prefix: str  # the module of its flatten functions starts with this
    format_token: str  # what names its serialized format in an error message ({kind} is the class)


REGISTRATIONS: tuple[Registration, ...] = (
    Registration("compat", "import compat\ncompat.register()", "compat.", f"{COMPAT_FORMAT}:"),
    Registration(
        "transformers",
        "from suites.baseline import register_transformers_own\nfrom compat.tiny import tiny_llama\n"
        "register_transformers_own(tiny_llama())",
        "transformers.", "transformers.cache_utils.{kind}",
    ),
    Registration(
        "tico",
        "import tico.utils.pytree_utils as tico_pytree\n"
        "for helper in ('register_dynamic_layer', 'register_static_layer', 'register_dynamic_cache',"
        " 'register_static_cache'):\n    getattr(tico_pytree, helper)()",
        "tico.", "transformers.cache_utils.{kind}",
    ),
)

_COMMON = """
import json, sys, traceback
from pathlib import Path
import torch
from torch.utils import _pytree as pytree
from transformers import cache_utils
KINDS = {kinds!r}
OWNER_PREFIX = {owner_prefix!r}
OUT = Path({out!r})
try:
{setup}
except Exception as exc:
    print(json.dumps({{"unavailable": f"{{type(exc).__name__}}: {{exc}}"[:300]}}))
    sys.exit(0)

def absent(kind):
    cls = getattr(cache_utils, kind, None)
    node = pytree.SUPPORTED_NODES.get(cls) if cls is not None else None
    if node is None:
        return f"{{kind}} is not registered by it here"
    owner = getattr(node.flatten_fn, "__module__", "?")
    if not owner.startswith(OWNER_PREFIX):
        return f"{{kind}} is registered by {{owner}}, not by it"
    return None
"""

_SAVE = """
from suites.support.exporting import export_decode_step, new_tokens
from compat.tiny import OTHER_PROMPT_SEED, DecodeStep, tiny_llama
from suites.support.models import clone, kv_tensors, prefilled
torch.manual_seed(0)
model = tiny_llama()
result = {{}}
for kind in KINDS:
    reason = absent(kind)
    if reason:
        result[kind] = "skipped: " + reason
        continue
    try:
        caches = [prefilled(model, kind), prefilled(model, kind, seed=OTHER_PROMPT_SEED)]
        ids, position = new_tokens(1, seed=2)
        program = export_decode_step(model, clone(caches[0]), ids, position, strict=False, dynamic=False)
        torch.export.save(program, OUT / f"{{kind}}.pt2")
        with torch.no_grad():
            expected = []
            for cache in caches:
                logits, out = DecodeStep(model)(ids, clone(cache), position)
                expected.append([logits, *kv_tensors(out)])
        torch.save({{"calls": [(ids, cache, position) for cache in caches], "expected": expected}},
                   OUT / f"{{kind}}.inputs.pt")
        result[kind] = "saved"
    except Exception as exc:
        result[kind] = "save failed: " + f"{{type(exc).__name__}}: {{exc}}"[:300]
print(json.dumps(result))
"""

_LOAD = """
import logging
from suites.support.models import kv_tensors
SAVED = {saved!r}
CAUSES = []  # torch.export.load logs the cause of a failed load and raises a generic RuntimeError


class KeepCause(logging.Handler):
    def emit(self, record):
        if record.exc_info:
            CAUSES.append(f"{{type(record.exc_info[1]).__name__}}: {{record.exc_info[1]}}")


logging.getLogger("torch.export").addHandler(KeepCause())
result = {{}}
for saver, kind in SAVED:
    folder = OUT.parent / saver
    reason = absent(kind)
    if reason:
        result[f"{{saver}}|{{kind}}"] = ["skipped", reason]
        continue
    stored = torch.load(folder / f"{{kind}}.inputs.pt", weights_only=False)
    CAUSES.clear()
    try:
        program = torch.export.load(folder / f"{{kind}}.pt2").module()
        with torch.no_grad():
            got = []
            for ids, cache, position in stored["calls"]:
                logits, out = program(ids, cache, position)
                got.append([logits, *kv_tensors(out)])
    except Exception as exc:
        logged = f" (logged cause: {{CAUSES[-1]}})" if CAUSES else ""
        result[f"{{saver}}|{{kind}}"] = ["error", f"{{type(exc).__name__}}: {{exc}}{{logged}}"]
        continue
    equal = all(len(g) == len(e) and all(torch.allclose(a, b, atol=1e-5) for a, b in zip(g, e))
                for g, e in zip(got, stored["expected"]))
    result[f"{{saver}}|{{kind}}"] = ["equal" if equal else "wrong", "" if equal else "results differ from eager"]
print(json.dumps(result))
"""


def _run(code: str, root: Path) -> dict:
    """Run `code` in a fresh interpreter with the repository on sys.path; it prints JSON last."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"interop process failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _script(template: str, registration: Registration, out: Path, **extra: object) -> str:
    setup = "\n".join("    " + line for line in registration.setup.splitlines())
    common = _COMMON.format(kinds=KINDS, owner_prefix=registration.owner_prefix, out=str(out), setup=setup)
    return common + template.format(**extra)


@dataclass(frozen=True)
class Outcome:
    """What happened to one (saver, loader, class) combination."""

    saver: str
    loader: str
    kind: str
    outcome: str  # equal | clear error | unclear error | wrong | skipped
    detail: str


def classify(saver: Registration, loader: Registration, kind: str, status: str, detail: str) -> str:
    """`equal`, `wrong`, `skipped`, or for an error: `clear error` when the message names the saved format
    and the loader's, else `unclear error`."""
    if status != "error":
        return status
    tokens = {saver.format_token.format(kind=kind), loader.format_token.format(kind=kind)}
    return "clear error" if all(token in detail for token in tokens) else "unclear error"


def interop_table(workdir: Path, root: Path) -> list[Outcome]:
    """Save under every registration, load under every registration; one Outcome per combination."""
    saved: dict[str, dict[str, str]] = {}
    for saver in REGISTRATIONS:
        folder = workdir / saver.name
        folder.mkdir(parents=True, exist_ok=True)
        result = _run(_script(_SAVE, saver, folder), root)
        saved[saver.name] = ({kind: f"skipped: unavailable here ({result['unavailable']})" for kind in KINDS}
                             if "unavailable" in result else result)
    programs = [(s, k) for s, kinds in saved.items() for k, status in kinds.items() if status == "saved"]
    outcomes = []
    for loader in REGISTRATIONS:
        loaded = _run(_script(_LOAD, loader, workdir / f"load-{loader.name}", saved=programs), root)
        for saver in REGISTRATIONS:
            for kind in KINDS:
                if "unavailable" in loaded and saved[saver.name][kind] == "saved":
                    loaded[f"{saver.name}|{kind}"] = ["skipped", f"unavailable here ({loaded['unavailable']})"]
                if saved[saver.name][kind] != "saved":
                    outcomes.append(Outcome(saver.name, loader.name, kind, "skipped",
                                            f"saver: {saved[saver.name][kind].removeprefix('skipped: ')}"))
                    continue
                status, detail = loaded[f"{saver.name}|{kind}"]
                if status == "skipped":
                    detail = f"loader: {detail}"
                outcomes.append(Outcome(saver.name, loader.name, kind,
                                        classify(saver, loader, kind, status, detail), detail))
    return outcomes


LOGGED_CAUSE = " (logged cause: "
SHOWN_DETAIL = 240  # characters of an error or skip reason shown per table cell


def shown(outcome: Outcome) -> str:
    """One table cell: the outcome and, for errors and skips, the start of the reason. Where
    torch.export.load raised its generic RuntimeError, the cause it logged just above is what is shown."""
    if outcome.outcome in {"equal", "wrong"}:
        return outcome.outcome
    detail = outcome.detail
    if LOGGED_CAUSE in detail:
        detail = "torch.export.load's generic RuntimeError; the logged cause: " + detail.split(LOGGED_CAUSE, 1)[1].removesuffix(")")
    detail = detail if len(detail) <= SHOWN_DETAIL else detail[:SHOWN_DETAIL - 3] + "..."
    return f"**{outcome.outcome}**: {detail}".replace("|", "\\|").replace("\n", " ")


def markdown(outcomes: list[Outcome], cell: str) -> str:
    """The table saver x loader -> outcome, one row per class and saver."""
    loaders = [r.name for r in REGISTRATIONS]
    lines = [f"#### {cell}", "", "| class | saved under | " + " | ".join(f"loaded under {n}" for n in loaders) + " |",
             "|---|---|" + "---|" * len(loaders)]
    for kind in KINDS:
        for saver in loaders:
            cells = [shown(next(o for o in outcomes if (o.saver, o.loader, o.kind) == (saver, loader, kind)))
                     for loader in loaders]
            lines.append(f"| {kind} | {saver} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def cell_name() -> str:
    """`tf<transformers>-torch<torch>` of the running interpreter."""
    import torch
    import transformers

    return f"tf{transformers.__version__}-torch{torch.__version__.split('+')[0]}"


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(markdown(interop_table(Path(tmp), Path(__file__).resolve().parents[2]), cell_name()))
