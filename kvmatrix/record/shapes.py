"""The JSON types of a cell's keys and of what lies below them that publish reads (docs/matrix-schema.md): a
cell record's runs and their tests, its metrics, and a matrix cell's `tests` table. Each check returns the first field that breaks
them, named by its path (`runs.with.tests[3].name is a number, not a string`), or None; the callers turn
that into one line naming the file, so a hostile or damaged file stops a publish without a traceback."""

from __future__ import annotations

from typing import Any

from kvmatrix.record.schema import CELL_KEYS
from kvmatrix.record.verdicts import TEST_VERDICTS

RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,), "pins": (dict,), "note": (str,), "tags": (list,), "status": (str,),
    "status_reason": (str, type(None)), "python": (str, type(None)), "resolved": (dict,), "freeze": (list,),
    "layout": (str, type(None)), "static_layer_init": (str, type(None)), "registration_report": (list,),
    "compat_regressions": (list,), "runs": (dict,), "suites": (dict,), "metrics": (dict,), "repro": (str,),
    "install_duration_s": (int, float), "duration_s": (int, float),
}
"""Each key of a full cell record (docs/matrix-schema.md, "Cell record") and the JSON types it may hold."""
OPTIONAL_RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "clients": (dict,), "tico_advantages": (list,), "compat_advantages": (int,),
}
"""Keys a record has only in some cases (kvmatrix.record.schema.OPTIONAL_CELL_KEYS) and their JSON types."""
MATRIX_CELL_TYPES: dict[str, tuple[type, ...]] = {
    **{key: RECORD_TYPES[key] for key in CELL_KEYS if key in RECORD_TYPES}, "tests": (dict,), "detail": (str,),
    **OPTIONAL_RECORD_TYPES, "latest_attempt": (dict,),
}
"""Each key of a cell of matrix.json and the JSON types it may hold (the optional ones where present)."""
NUMBER = (int, float)
TEXT_OR_NULL = (str, type(None))
SCALAR = (str, int, float, type(None))
TEST_TYPES: dict[str, tuple[type, ...]] = {
    "suite": (str,), "name": (str,), "verdict": (str,), "duration_s": NUMBER, "reason": TEXT_OR_NULL,
    "error": TEXT_OR_NULL, "metrics": (dict,), "cause": TEXT_OR_NULL, "cause_detail": TEXT_OR_NULL,
    "upstream": TEXT_OR_NULL, "reruns": (list,), "traceback": TEXT_OR_NULL,
}
"""A test record's keys and their JSON types (`suite`, `name` and `verdict` required, the others where present)."""
REQUIRED_TEST_KEYS = ("suite", "name", "verdict")
RUN_TYPES: dict[str, tuple[type, ...]] = {
    "exit_code": (int, str), "started_at": NUMBER, "duration_s": NUMBER, "log_tail": (str,),
    "log_reason": TEXT_OR_NULL, "tests": (list,), "meta": (dict,),
}
"""A run's keys and their JSON types, each where present (a crashed run has no tests)."""
KINDS = {dict: "an object", list: "an array", str: "a string", type(None): "null"}


def kind(value: Any) -> str:
    """What a JSON value is: an object, an array, a string, a boolean, a number or null."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return KINDS.get(type(value), type(value).__name__)


def type_problem(where: str, value: Any, types: tuple[type, ...]) -> str | None:
    """`<where> is <kind>, not <types>` when `value` is none of `types` (a boolean is never a number)."""
    if isinstance(value, types) and not (isinstance(value, bool) and bool not in types):
        return None
    return f"{where} is {kind(value)}, not {' or '.join('null' if t is type(None) else t.__name__ for t in types)}"


def _fields_problem(where: str, value: dict[str, Any], types: dict[str, tuple[type, ...]]) -> str | None:
    """The first key of `types` that `value` holds with another type."""
    return next((problem for key, allowed in types.items() if key in value
                 if (problem := type_problem(f"{where}.{key}", value[key], allowed))), None)


def _verdict_problem(where: str, verdict: Any) -> str | None:
    if verdict in TEST_VERDICTS:
        return None
    return f"{where} {verdict!r} is not one of {', '.join(TEST_VERDICTS)}"


def test_problem(where: str, test: Any) -> str | None:
    """Why `test` is not a test record: not an object, a required key missing, a key of another type, a
    verdict (or re-run verdict) outside the alphabet, metrics that are not plain values."""
    if not isinstance(test, dict):
        return type_problem(where, test, (dict,))
    missing = [key for key in REQUIRED_TEST_KEYS if key not in test]
    if missing:
        return f"{where} lacks {', '.join(missing)}"
    problem = _fields_problem(where, test, TEST_TYPES) or _verdict_problem(f"{where}.verdict", test["verdict"])
    if problem:
        return problem
    for number, rerun in enumerate(test.get("reruns", [])):
        if problem := _verdict_problem(f"{where}.reruns[{number}]", rerun):
            return problem
    return _values_problem(f"{where}.metrics", test.get("metrics", {}))


def runs_problem(runs: dict[str, Any]) -> str | None:
    """Why a record's `runs` (mode -> run) are not runs of test records; None when they are."""
    for mode, run in runs.items():
        where = f"runs.{mode}"
        if problem := type_problem(where, run, (dict,)) or _fields_problem(where, run, RUN_TYPES):
            return problem
        for number, test in enumerate(run.get("tests", [])):
            if problem := test_problem(f"{where}.tests[{number}]", test):
                return problem
    return None


def metrics_problem(metrics: dict[str, Any]) -> str | None:
    """Why a cell's `metrics` are not `{"export_s": {"median", "max": numbers, "n": int}, "compile": {test
    name: {field: plain value}}}` (kvmatrix.record.metrics.cell_metrics); None when they are."""
    if "export_s" in metrics:
        export = metrics["export_s"]
        if problem := type_problem("metrics.export_s", export, (dict,)):
            return problem
        for key, types in (("median", NUMBER), ("max", NUMBER), ("n", (int,))):
            if problem := type_problem(f"metrics.export_s.{key}", export.get(key), types):
                return problem
    loops = metrics.get("compile", {})
    if problem := type_problem("metrics.compile", loops, (dict,)):
        return problem
    for name, values in loops.items():
        if problem := _values_problem(f"metrics.compile.{name}", values):
            return problem
    return None


def _values_problem(where: str, values: Any) -> str | None:
    """Why `values` is not an object of plain values (strings, numbers, null)."""
    if problem := type_problem(where, values, (dict,)):
        return problem
    return next((problem for key, value in values.items()
                 if (problem := type_problem(f"{where}.{key}", value, SCALAR))), None)


def table_problem(table: Any) -> str | None:
    """Why a matrix cell's `tests` table is not `{"<suite>::<name>": {mode: [verdict, cause, upstream]}}`."""
    if problem := type_problem("tests", table, (dict,)):
        return problem
    for key, modes in table.items():
        if problem := type_problem(f"tests[{key!r}]", modes, (dict,)):
            return problem
        for mode, entry in modes.items():
            where = f"tests[{key!r}].{mode}"
            if not isinstance(entry, list) or not entry or not all(isinstance(item, TEXT_OR_NULL) for item in entry):
                return f"{where} is not an array of a verdict and texts"
            if problem := _verdict_problem(f"{where}[0]", entry[0]):
                return problem
    return None


def matrix_cell_problem(cell: dict[str, Any]) -> str | None:
    """Why a cell of matrix.json (its keys already present) breaks MATRIX_CELL_TYPES, its `tests` table or its
    `metrics`; None when it does not."""
    return (_fields_problem("cell", cell, MATRIX_CELL_TYPES) or table_problem(cell["tests"])
            or metrics_problem(cell["metrics"]))
