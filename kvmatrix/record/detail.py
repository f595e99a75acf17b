"""A cell's two published halves: its summary in matrix.json and its detail file `cells/<cell id>.json`.

A cell run writes one full record (docs/matrix-schema.md, "Cell record"); `split` cuts it into the summary
a client downloads (suite verdicts, a compact table of every test's verdict and cause in each mode, a link
to the detail) and the detail (every test record of every run with errors, reasons, metrics, durations and
re-runs, the log tails, the in-cell description, the resolved environment); `join` puts them back.
"""

from __future__ import annotations

from typing import Any

from kvmatrix.record.schema import CELL_KEYS, OPTIONAL_CELL_KEYS, SCHEMA_VERSION
from kvmatrix.record.verdicts import RECORDED_MODES

DETAIL_FOLDER = "cells"
"""Where the detail files lie, relative to matrix.json."""
KEY_SEPARATOR = "::"
SUMMARY_ONLY = ("tests", "detail")
"""Summary keys derived by `split`, not part of a full record."""
DETAIL_ONLY = ("freeze", "torch_build", "runs", "inputs", "finished_at", "index_snapshot", "reused_from")
"""The record's keys that go to the detail file only; `torch_build`, `inputs`, `finished_at`, `index_snapshot`
and `reused_from` are absent from records (and details) written before they existed."""


def detail_link(cell_id: str) -> str:
    """The detail file of a cell, relative to matrix.json: `cells/<cell id>.json`."""
    return f"{DETAIL_FOLDER}/{cell_id}.json"


def table_key(test: dict[str, Any]) -> str:
    """A test record's key in the compact table: `<suite>::<name>`."""
    return f"{test.get('suite', '?')}{KEY_SEPARATOR}{test.get('name', '?')}"


def parse_key(key: str) -> tuple[str, str]:
    """(suite, name) of a compact-table key."""
    suite, _, name = key.partition(KEY_SEPARATOR)
    return suite, name


def compact_table(runs: dict[str, Any]) -> dict[str, dict[str, list[str | None]]]:
    """The compact table of `runs`, sorted by key: `{"<suite>::<name>": {mode: [verdict, cause, upstream]}}`
    with trailing nulls left out (`["pass"]`, `["fail", "cache"]`), the modes in RECORDED_MODES order (`tico`
    where the cell ran it); a mode that did not run the test has no entry."""
    table: dict[str, dict[str, list[str | None]]] = {}
    for mode in RECORDED_MODES:
        for test in runs.get(mode, {}).get("tests", []):
            entry = [test.get("verdict"), test.get("cause"), test.get("upstream")]
            while len(entry) > 1 and entry[-1] is None:
                entry.pop()
            table.setdefault(table_key(test), {})[mode] = entry
    return dict(sorted(table.items()))


def records_by_key(detail: dict[str, Any], mode: str) -> dict[str, dict[str, Any]]:
    """The test records of `mode` in a detail, by compact-table key."""
    return {table_key(test): test for test in detail["runs"].get(mode, {}).get("tests", [])}


def split(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary, detail) of a full cell record. The summary has CELL_KEYS in order (a key the record lacks
    stays absent, for the schema check to report), then the OPTIONAL_CELL_KEYS the record has; the detail
    is `{"schema_version", "id"}` and the record's DETAIL_ONLY keys (those it has)."""
    derived = {**record, "tests": compact_table(record["runs"]), "detail": detail_link(record["id"])}
    summary = {key: derived[key] for key in (*CELL_KEYS, *OPTIONAL_CELL_KEYS) if key in derived}
    detail = {"schema_version": SCHEMA_VERSION, "id": record["id"],
              **{key: record[key] for key in DETAIL_ONLY if key in record}}
    return summary, detail


def join(summary: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
    """The full cell record of a summary and its detail (the inverse of `split`)."""
    record = {key: value for key, value in summary.items() if key not in SUMMARY_ONLY}
    return {**record, **{key: detail[key] for key in DETAIL_ONLY if key in detail}}
