"""`uses.json`: every use's answer in every pair of one published matrix (kvmatrix.record.uses), and per use a
**since** summary read from every published matrix together (the default one, reports/latest, reports/full:
each (transformers, torch) pair once, its newest record). Everything that shows an answer (matrix.md, the
page, the README table, badges, `compat/verified.json`, `kvcc check`) reads this document; nothing
recomputes an answer. docs/uses.md describes the format (`kvcc-uses/1`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

from kvmatrix.files import json_lines
from kvmatrix.record.uses import (
    ANSWERS,
    BROKEN,
    COMPAT_CALL,
    FAMILIES,
    KNOWN_LIMITATION,
    MASK_CALL,
    REGISTRATIONS,
    USES,
    WITH_COMPAT,
    WITH_MASK,
    WITH_TICO,
    WORKING,
    WORKS,
    Use,
    answer,
)
from kvmatrix.record.verdicts import NA

FORMAT = "kvcc-uses/1"
USES_FILE = "uses.json"
PICTURES = "uses"
"""The folder, beside uses.json, of each use's picture (`<key>.svg`, kvmatrix.render.use_picture)."""
DATASETS = ("default", "latest", "full")
"""The published matrices, by name: reports/, reports/latest/, reports/full/ (kvmatrix.publish.datasets)."""
UNTESTED = "untested"
NOT_RUN = "not run"
GROUPS = (WORKS, WITH_COMPAT, WITH_MASK, WITH_TICO, KNOWN_LIMITATION, BROKEN, NA, NOT_RUN, UNTESTED)
"""What a pair's picture square says, best first: the working answers, a documented limitation, any
other answer of a use that does not work (broken, flaky, setup fails), no such feature, the cell or client
did not run, and no record of the pair at all."""


def group(found: str) -> str:
    """The picture group of an answer word (GROUPS)."""
    if found in (*WORKING, KNOWN_LIMITATION, NA):
        return found
    if found in ANSWERS:  # broken, flaky, setup fails: any other answer of a use that does not work
        return BROKEN
    return NOT_RUN


@dataclass(frozen=True)
class PairRecord:
    """One pair's answer to one use in one published matrix, and when that record was made."""

    transformers: str
    torch: str
    answer: str
    requires: tuple[str, ...]
    dataset: str
    cell: str
    finished_at: str


def version(text: str) -> Version:
    """A release's version for ordering; an unparsable one sorts first."""
    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


def pair_order(transformers: str, torch: str) -> tuple[Version, Version]:
    """How (transformers, torch) pairs sort: by transformers version, then torch (`4.57.6` before `5.0.0`,
    `2.9.1` before `2.13.0`)."""
    return version(transformers), version(torch)


def minor(text: str) -> str:
    """`4.57` for `4.57.6`."""
    parsed = version(text)
    return f"{parsed.major}.{parsed.minor}"


def cell_records(use: Use, matrix: dict[str, Any], dataset: str,
                 finished: dict[str, str]) -> list[PairRecord]:
    """`use`'s answer in every cell of `matrix` (published as `dataset`), dated by `finished` (cell id ->
    its detail's `finished_at`; the matrix's `generated_at` where a cell has none)."""
    records = []
    for cell in matrix["cells"]:
        found = answer(use, cell)
        records.append(PairRecord(cell["pins"]["transformers"], cell["pins"]["torch"], found.answer,
                                  found.requires, dataset, cell["id"],
                                  finished.get(cell["id"]) or matrix.get("generated_at") or ""))
    return records


def newest_per_pair(records: list[PairRecord]) -> list[PairRecord]:
    """Each (transformers, torch) pair once: its newest record (the earlier dataset of DATASETS on a tie),
    ordered by transformers then torch."""
    best: dict[tuple[str, str], PairRecord] = {}
    for record in records:
        key = (record.transformers, record.torch)
        held = best.get(key)
        if held is None or (record.finished_at, -_rank(record.dataset)) > (held.finished_at, -_rank(held.dataset)):
            best[key] = record
    return sorted(best.values(), key=lambda r: pair_order(r.transformers, r.torch))


def _rank(dataset: str) -> int:
    return DATASETS.index(dataset) if dataset in DATASETS else len(DATASETS)


def since(records: list[PairRecord]) -> dict[str, Any]:
    """The since summary of one use over `records` (newest_per_pair): per transformers minor the group of each
    torch minor tested anywhere (`untested` where that pair has no record: a gap, never guessed), the same per
    torch minor, the one-line summary, the recommended pair, and the pairs it rests on."""
    pairs = newest_per_pair(records)
    at_minor: dict[tuple[str, str], PairRecord] = {}
    for record in pairs:  # ordered oldest first: the newest patch of each minor pair wins
        at_minor[(minor(record.transformers), minor(record.torch))] = record
    tf_minors = sorted({key[0] for key in at_minor}, key=version)
    torch_minors = sorted({key[1] for key in at_minor}, key=version)

    def cell_group(tf: str, torch: str) -> str:
        record = at_minor.get((tf, torch))
        return group(record.answer) if record is not None else UNTESTED

    return {
        "by_transformers": {tf: {torch: cell_group(tf, torch) for torch in torch_minors} for tf in tf_minors},
        "by_torch": {torch: {tf: cell_group(tf, torch) for tf in tf_minors} for torch in torch_minors},
        "line": since_line(at_minor),
        "recommended": recommended(pairs),
        "pairs": [{"transformers": r.transformers, "torch": r.torch, "answer": r.answer,
                   "requires": list(r.requires), "dataset": r.dataset, "cell": r.cell} for r in pairs],
    }


def recommended(pairs: list[PairRecord]) -> dict[str, Any] | None:
    """The newest pair (by transformers, then torch) where the use works, with what it requires, and the
    newest where it works with transformers alone when that is another pair; None where it works nowhere."""
    working = [record for record in pairs if record.answer in WORKING]
    if not working:
        return None
    newest = max(working, key=lambda r: pair_order(r.transformers, r.torch))
    plain = [record for record in working if record.answer == WORKS]
    newest_plain = max(plain, key=lambda r: pair_order(r.transformers, r.torch), default=None)
    return {"pair": _pair(newest), "requires": list(newest.requires), "dataset": newest.dataset,
            "plain": _pair(newest_plain) if newest_plain is not None and newest_plain is not newest else None}


def _pair(record: PairRecord) -> str:
    return f"tf{record.transformers}-torch{record.torch}"


def since_line(at_minor: dict[tuple[str, str], PairRecord]) -> str:
    """One sentence over the answered pairs (those that ran and have the feature): where the use works, as the
    threshold on torch, on transformers or on both that the records fit best (its exceptions named when
    there are at most MAX_EXCEPTIONS), else the shorter list of where it works or where it does not."""
    answered = {key: record for key, record in at_minor.items() if group(record.answer) not in (NA, NOT_RUN)}
    if not answered:
        return "no pair answered: not run or n/a in every pair with a record"
    works = {key for key, record in answered.items() if record.answer in WORKING}
    needs = _needs(answered[key] for key in works)
    count = f"{len(answered)} pair{'s' if len(answered) != 1 else ''} tested"
    if not works:
        limited = all(record.answer == KNOWN_LIMITATION for record in answered.values())
        return f"{'a known limitation' if limited else 'works'} in none of the {count}"
    if works == set(answered):
        return f"works in every pair tested ({len(answered)}){needs}"
    # A threshold at the oldest release tested says no more than "every pair tested".
    lowest_tf, lowest_torch = (min((key[i] for key in answered), key=version) for i in (0, 1))
    rules: list[tuple[str, Any]] = [("in every pair tested", lambda key: True)]
    rules += [(f"on torch >= {torch} with every transformers tested", lambda key, t=torch: version(key[1]) >= version(t))
             for torch in sorted({key[1] for key in works}, key=version) if torch != lowest_torch]
    rules += [(f"from transformers {tf} on with every torch tested", lambda key, s=tf: version(key[0]) >= version(s))
              for tf in sorted({key[0] for key in works}, key=version) if tf != lowest_tf]
    rules += [(f"with transformers >= {tf} on torch >= {torch}",
               lambda key, s=tf, t=torch: version(key[0]) >= version(s) and version(key[1]) >= version(t))
              for tf in sorted({key[0] for key in works}, key=version)
              for torch in sorted({key[1] for key in works}, key=version)]
    scored = [(sorted(key for key in answered if (key in works) != rule(key)), text) for text, rule in rules]
    exceptions, text = min(scored, key=lambda pair: len(pair[0]))
    if len(exceptions) <= MAX_EXCEPTIONS:
        also = [_name(key) for key in exceptions if key in works]
        but = [_name(key) for key in exceptions if key not in works]
        return (f"works {text}" + (f", and also on {', '.join(also)}" if also else "")
                + (f", except {', '.join(but)}" if but else "") + needs)
    failing = sorted(set(answered) - works, key=lambda key: pair_order(*key))
    if len(failing) <= len(works):
        return f"works in {len(works)} of the {count}, all but {', '.join(map(_name, failing))}{needs}"
    listed = ", ".join(_name(key) for key in sorted(works, key=lambda key: pair_order(*key)))
    return f"works in {len(works)} of the {count}: {listed}{needs}"


MAX_EXCEPTIONS = 2
"""The most pairs a since line names as exceptions to its threshold before it lists pairs instead."""


def _name(key: tuple[str, str]) -> str:
    """`tf4.57+torch2.13` for a (transformers minor, torch minor) pair."""
    return f"tf{key[0]}+torch{key[1]}"


def _needs(records: Any) -> str:
    """What the working pairs of a since line need: ", with compat.register()" when every one does, else how
    many need compat or the mask."""
    found = list(records)
    compat = sum(COMPAT_CALL in record.requires for record in found)
    mask = sum(MASK_CALL in record.requires for record in found)
    parts = []
    for calls, name in ((compat, COMPAT_CALL), (mask, MASK_CALL)):
        if calls and calls == len(found):
            parts.append(f"with {name}")
        elif calls:
            parts.append(f"{calls} of them with {name}")
    return f" ({'; '.join(parts)})" if parts else ""


def uses_document(matrix: dict[str, Any], dataset: str = DATASETS[0],
                  published: dict[str, tuple[dict[str, Any], dict[str, str]]] | None = None,
                  finished: dict[str, str] | None = None) -> dict[str, Any]:
    """The `uses.json` of `matrix`, published as `dataset` with its cells' `finished` dates: every use's
    variants, its answer in each cell, and its since summary over `matrix` and the other `published`
    matrices (dataset -> (matrix, cell id -> finished_at); `dataset` itself is taken from `matrix`; none:
    the since summary reads `matrix` alone)."""
    finished = finished or {}
    sources = {**{name: pair for name, pair in (published or {}).items() if name != dataset},
               dataset: (matrix, finished)}
    uses = []
    for use in USES:
        records = [record for name, (other, dates) in sources.items()
                   for record in cell_records(use, other, name, dates)]
        uses.append({
            "key": use.key, "title": use.title, "suite": use.suite,
            "variants": [{"key": v.key, "title": v.title, "calls": list(v.calls)} for v in use.variants],
            "answers": {cell["id"]: answer(use, cell).to_json() for cell in matrix["cells"]},
            "since": since(records),
        })
    return {"format": FORMAT, "dataset": dataset, "generated_at": matrix["generated_at"],
            "pairs": [cell["id"] for cell in matrix["cells"]],
            "registrations": [{"key": r.key, "mode": r.mode, "title": r.title, "call": r.call} for r in REGISTRATIONS],
            "sources": sorted(sources, key=_rank), "uses": uses,
            "families": [_family(family, matrix) for family in FAMILIES]}


def _family(family: Use, matrix: dict[str, Any]) -> dict[str, Any]:
    """A model family's entry in uses.json: a use's shape without the since summary (its model_type as its
    key), its answer in each cell of `matrix` read by the same rules (kvmatrix.record.uses.answer)."""
    return {"key": family.key, "title": family.title, "suite": family.suite,
            "variants": [{"key": v.key, "title": v.title, "calls": list(v.calls)} for v in family.variants],
            "answers": {cell["id"]: answer(family, cell).to_json() for cell in matrix["cells"]}}


def uses_text(document: dict[str, Any]) -> str:
    """The text of uses.json: compact JSON with one line per top-level field, one per use and one per model
    family."""
    return json_lines(document, "uses", "families")
