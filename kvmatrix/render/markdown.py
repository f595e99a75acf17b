"""Render a matrix and its detail files as Markdown (`reports/matrix.md`, the README table, the changes).

CLI: `python -m kvmatrix.render.markdown render reports/matrix.json reports/matrix.md` (the detail files are read
from the `cells/` folder beside the matrix).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from kvmatrix.files import write_text_atomic
from kvmatrix.record.answers import uses_document
from kvmatrix.record.causes import CAUSE_MEANINGS, passes_differ, tico_pairs
from kvmatrix.record.matrix import ReportError, load_published
from kvmatrix.record.verdicts import (
    ERROR,
    FAIL,
    FLAKY,
    LABELS,
    LISTED,
    MEANINGS,
    MODES,
    PASS,
    RAN,
    RECORDED_MODES,
    SEVERITY,
    TICO_MODE,
    error_signature,
)
from kvmatrix.render.by_model import by_model_markdown
from kvmatrix.render.by_use import by_use_markdown
from kvmatrix.render.metrics import render_metrics
from kvmatrix.render.text import markdown_text as _text
from kvmatrix.render.text import terminal_text
from kvmatrix.run.process.reruns import flaky_rate


def render_markdown(matrix: dict[str, Any], details: dict[str, dict[str, Any]], uses: dict[str, Any]) -> str:
    """The Markdown page of a matrix: the by-use and by-model views, compat regressions, legend, suite table, the client
    suites' outcomes, changes since the last run (when the matrix records them), what registration adds,
    compat vs TICO's registration, failures (from the `details` of its cells, by cell id), registration
    reports. The by-use and by-model views come from `uses` (the answers file, uses.json).
    Deterministic: the same matrix and details always give the same text."""
    sections = [
        _header(matrix),
        by_use_markdown(uses),
        by_model_markdown(uses),
        _compat_regressions(matrix),
        _legend(),
        _table(matrix) + _reused(details),
        _clients(matrix),
        *([_changes(matrix["changes"])] if "changes" in matrix else []),
        _registration_adds(matrix),
        _compat_vs_tico(matrix, details),
        render_metrics(matrix),
        _failures(matrix, details),
        _registration_reports(matrix),
    ]
    return "\n\n".join(sections) + "\n"


def _label(verdict: str | None) -> str:
    return "—" if verdict is None else LABELS.get(verdict, f"❓ {_text(verdict)}")


def _code(text: str) -> str:
    """`text` on one line as an inline code span, safe for backticks inside it."""
    text = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _table_text(value: Any) -> str:
    """A value for a Markdown table cell: `_text`, `—` for none."""
    return "—" if value in (None, "") else _text(value)


def _mode_summary(cell: dict[str, Any], suite: str, mode: str) -> dict[str, Any]:
    return cell["suites"].get(suite, {}).get(mode, {})


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{number} {_text(verdict)}" for verdict, number in counts.items() if number) or "no test"


def _header(matrix: dict[str, Any]) -> str:
    return (
        "# KV-cache compatibility matrix\n\n"
        f"Generated at {_text(matrix['generated_at'])}{index_as_of(matrix)} from {_code(matrix['pins_file'])} (schema version "
        f"{matrix['schema_version']}). Each suite column shows the verdict **with / without** "
        f"`compat.register()`.{_not_run(matrix)}"
    )


def index_as_of(matrix: dict[str, Any]) -> str:
    """`, package index as of <date>` (Markdown text) for a matrix with an index snapshot, to follow its
    "Generated at" stamp in matrix.md and the README; nothing for an older matrix."""
    snapshot = matrix.get("index_snapshot")
    return f", package index as of {_text(snapshot)}" if snapshot else ""


def _not_run(matrix: dict[str, Any]) -> str:
    """The sentence and list of the planned cells the matrix does not publish; empty when it publishes all."""
    not_run = matrix.get("not_run", [])
    if not not_run:
        return ""
    planned = len(not_run) + len(matrix["cells"])
    return (f"\n\n{len(matrix['cells'])} of the {planned} cells planned by {_code(matrix['pins_file'])} are "
            f"published; these {len(not_run)} have not run yet: " + ", ".join(_code(cell) for cell in not_run) + ".")


NO_COMPAT_REGRESSION = (
    "None: in every cell, every test that passes with transformers alone also passes with "
    "`compat.register()`."
)


def _compat_regressions(matrix: dict[str, Any]) -> str:
    """The tests that pass with transformers alone and fail after `compat.register()`, by cell."""
    lines = ["## compat regressions", ""]
    for cell in matrix["cells"]:
        regressions = cell["compat_regressions"]
        if regressions:
            noun = "test" if len(regressions) == 1 else "tests"
            lines.append(f"- {_code(cell['id'])} ({len(regressions)} {noun} passing with transformers alone):")
            lines += [f"  - {_text(entry['suite'])} · {_code(entry['name'])}: {_label(entry['verdict'])} with "
                      f"`compat.register()`: {_code(entry.get('error') or 'no message recorded')}"
                      for entry in regressions]
    if len(lines) == 2:
        lines.append(NO_COMPAT_REGRESSION)
    return "\n".join(lines)


CAUSES_INTRO = (
    "Why a test did not pass (its `cause`; the Failures section shows it with its detail and any known "
    "upstream issue):"
)


def _legend() -> str:
    lines = ["## Legend", "", "| verdict | meaning |", "| --- | --- |"]
    lines += [f"| {LABELS[verdict]} | {MEANINGS[verdict]} |" for verdict in LABELS]
    lines += ["", "### Causes", "", CAUSES_INTRO, "", "| cause | meaning |", "| --- | --- |"]
    lines += [f"| `{cause}` | {meaning} |" for cause, meaning in CAUSE_MEANINGS.items()]
    return "\n".join(lines)


def _table(matrix: dict[str, Any]) -> str:
    suites = matrix["suites"]
    lines = [
        "## Matrix",
        "",
        "| " + " | ".join(["transformers", "torch", "layout", "StaticLayer init", *suites]) + " |",
        "| " + " | ".join(["---"] * (4 + len(suites))) + " |",
    ]
    for cell in matrix["cells"]:
        columns = [_table_text(cell["pins"]["transformers"]), _table_text(cell["pins"]["torch"]), _table_text(cell["layout"]),
                   _table_text(cell["static_layer_init"])]
        for suite in suites:
            columns.append(" / ".join(_verdict_with_passes(_mode_summary(cell, suite, mode)) for mode in MODES))
        lines.append("| " + " | ".join(columns) + " |")
    lines += _stale_cells(matrix["cells"])
    if not matrix["cells"]:
        lines.append("")
        lines.append("No cell has run yet.")
    return "\n".join(lines)


def _reused(details: dict[str, dict[str, Any]]) -> str:
    """A note below the table naming the cells whose results this publish reused from an earlier run, whose
    inputs were unchanged (kvmatrix.run.reuse), with the time that run finished."""
    reused = [f"- ♻️ {_code(cell_id)}: reused from the run that finished at {_text(detail['reused_from'])} "
              "(its inputs have not changed since)" for cell_id, detail in details.items() if detail.get("reused_from")]
    return "\n\n" + "\n".join(reused) if reused else ""


def _stale_cells(cells: list[dict[str, Any]]) -> list[str]:
    """A note below the table for each cell whose latest run failed at install (`latest_attempt`): its row
    shows the verdicts of its previous run."""
    notes = [f"- ⚠️ {_code(cell['id'])}: its latest run could not be installed ({_label(attempt['status'])}: "
             f"{_text(attempt.get('reason') or 'no reason recorded')}); the verdicts shown are from its previous run."
             for cell in cells if (attempt := cell.get("latest_attempt"))]
    return ["", *notes] if notes else []


def _verdict_with_passes(summary: dict[str, Any]) -> str:
    """`❌ fail 7/8`: the suite verdict and how many of its tests passed."""
    counts = summary.get("counts") or {}
    total = sum(counts.values())
    return _label(summary.get("verdict")) + (f" {counts.get(PASS, 0)}/{total}" if total else "")


def render_table(matrix: dict[str, Any]) -> str:
    """The matrix table alone (for embedding in the README)."""
    return _table(matrix)


def _changes(changes: dict[str, Any]) -> str:
    return "## Changes since last run\n\n" + render_changes(changes)


def render_changes(changes: dict[str, Any]) -> str:
    """Markdown for the `changes` of a matrix (kvmatrix.publish.history.diff): new and removed cells, suites newly
    failing or passing, then tests newly failing (with their error) or passing, then the packages that changed
    in the cells whose verdicts moved."""
    since = changes["previous_generated_at"]
    lines = [f"Compared with the matrix generated at {_text(since)}." if since
             else "First published run: there is no previous matrix to compare with.", ""]
    lines += [f"- 🆕 new cell {_code(cell_id)}" for cell_id in changes["new_cells"]]
    lines += [f"- 🗑️ removed cell {_code(cell_id)}" for cell_id in changes["removed_cells"]]
    for key, title in (("newly_failing", "newly failing"), ("newly_passing", "newly passing")):
        lines += [f"- {title}: {_code(entry['cell'])} · {_text(entry['suite'])} ({_text(entry['mode'])}): "
                  f"{_label(entry['before'])} → {_label(entry['after'])}" for entry in changes[key]]
    for key, title in (("tests_newly_failing", "Tests newly failing"),
                       ("tests_newly_passing", "Tests newly passing")):
        if changes[key]:
            lines.append(f"- {title} ({len(changes[key])}):")
        for entry in changes[key]:
            error = f": {_code(entry['error'])}" if entry.get("error") else ""
            lines.append(f"  - {_code(entry['cell'])} · {_text(entry['suite'])} · {_code(entry['name'])} "
                         f"({_text(entry['mode'])}): "
                         f"{_label(entry['before'])} → {_label(entry['after'])}{error}")
    lines += [f"- packages that changed with the verdicts of {_code(entry['cell'])}: "
              + ", ".join(f"{_code(change['package'])} {_text(change['before'] or 'absent')} → "
                          f"{_text(change['after'] or 'absent')}" for change in entry["packages"])
              for entry in changes.get("packages_changed", [])]
    if len(lines) == 2:
        lines.append("No change.")
    return "\n".join(lines)


CLIENTS_INTRO = (
    "The client suites run an exported program in a consumer of it (ExecuTorch's runtime, TICO's Circle "
    "converter); a client that could not be installed or run gives its suite that status in the cell:"
)


def _clients(matrix: dict[str, Any]) -> str:
    """Per cell that recorded them, each client suite's outcome: the version installed, or why it did not
    run."""
    lines = ["## Clients", "", CLIENTS_INTRO, ""]
    for cell in matrix["cells"]:
        outcomes = [f"{_text(suite)} {_client_status(client.get('status'))}"
                    + (f" ({_code(client['installed'])})" if client.get("installed") else "")
                    + (f": {_text(client['reason'])}" if client.get("reason") else "")
                    for suite, client in sorted((cell.get("clients") or {}).items())]
        if outcomes:
            lines.append(f"- {_code(cell['id'])}: " + "; ".join(outcomes))
    if len(lines) == 4:
        lines[2:] = ["No cell has recorded its clients yet."]
    return "\n".join(lines)


def _client_status(status: str | None) -> str:
    """A client's status: `ran` as it is (it is no verdict), any other through the verdict labels."""
    return RAN if status == RAN else _label(status)


TICO_INTRO = (
    "The core suites run a third time with TICO's own cache registration (`tico.utils.pytree_utils`) instead of "
    "`compat.register()`. compat must do at least as well as TICO on every test: a test that passes only with "
    "TICO's registration is a bug or a stated design choice."
)


def _compat_vs_tico(matrix: dict[str, Any], details: dict[str, dict[str, Any]]) -> str:
    """Per cell with a TICO run: how many tests both registrations ran, how many pass only with one of them,
    and every such test with the error of the registration it does not pass with."""
    lines = ["## compat vs TICO registration", "", TICO_INTRO, ""]
    for cell in matrix["cells"]:
        runs = details[cell["id"]]["runs"]
        if TICO_MODE not in runs:
            continue
        pairs = tico_pairs(runs)
        differing = [pair for pair in pairs if passes_differ(pair)]
        tico_only = sum(tico.get("verdict") == PASS for tico, _ in differing)
        lines.append(f"- {_code(cell['id'])}: {len(pairs)} tests compared; {tico_only} pass only with TICO's "
                     f"registration, {len(differing) - tico_only} only with `compat.register()`")
        for tico, compat in differing:
            loser, verdict_of = (("compat", compat) if tico.get("verdict") == PASS else ("TICO", tico))
            lines.append(f"  - {_text(tico.get('suite', '?'))} · {_code(tico.get('name', '?'))}: "
                         f"{_label(verdict_of.get('verdict'))} with {loser}: {_code(_problem(verdict_of))}")
    if len(lines) == 4:
        lines.append("No cell has run the suites under TICO's registration yet.")
    return "\n".join(lines)


def _registration_adds(matrix: dict[str, Any]) -> str:
    """Suites that pass only with registration, and per suite how many more tests pass with it."""
    lines = ["## What registration adds", ""]
    for cell in matrix["cells"]:
        for suite in matrix["suites"]:
            with_, without = (_mode_summary(cell, suite, mode) for mode in MODES)
            gained = with_.get("counts", {}).get(PASS, 0) - without.get("counts", {}).get(PASS, 0)
            if with_.get("verdict") == PASS and without.get("verdict") in (FAIL, ERROR):
                lines.append(
                    f"- {_code(cell['id'])} · {_text(suite)}: {_label(PASS)} with registration "
                    f"({_counts_text(with_.get('counts', {}))}), {_label(without['verdict'])} without "
                    f"({_counts_text(without.get('counts', {}))})"
                )
            elif gained > 0:
                lines.append(f"- {_code(cell['id'])} · {_text(suite)}: {gained} more passing tests with registration "
                             f"({_counts_text(with_['counts'])} vs {_counts_text(without['counts'])})")
    if len(lines) == 2:
        lines.append("No suite passes only with registration.")
    return "\n".join(lines)


def _failures(matrix: dict[str, Any], details: dict[str, dict[str, Any]]) -> str:
    blocks = [_cell_failures(cell, details[cell["id"]]["runs"], matrix["suites"]) for cell in matrix["cells"]]
    blocks = [block for block in blocks if block]
    return "\n\n".join(["## Failures", *(blocks or ["No failing, erroring, flaky, setup or xfail test."])])


def _cell_failures(cell: dict[str, Any], runs: dict[str, Any], suites: list[str]) -> str:
    """One cell's failures: why it did not run, or its missing runs/tests and its grouped failing tests."""
    if cell["status"] != RAN:
        lines = [f"**{_label(cell['status'])}**: {_code(cell['status_reason'] or 'no reason recorded')}"]
    else:
        lines = _missing_results(cell, runs, suites) + _grouped_tests(runs)
    if not lines:
        return ""
    return "\n".join([f"### {_text(cell['id'])}", "", f"Repro: {_code(cell['repro'])}", "", *lines])


def _missing_results(cell: dict[str, Any], runs: dict[str, Any], suites: list[str]) -> list[str]:
    """An error line for each mode of MODES without a run, and for each suite without a test in a mode's run
    (the `tico` run's where it exists); a client suite whose client did not run is in the Clients section."""
    lines = []
    for mode in (*MODES, *([TICO_MODE] if TICO_MODE in runs else [])):
        run = runs.get(mode)
        if run is None:
            lines.append(f"- {_label(ERROR)}: no {_code(mode)} run recorded")
            continue
        for suite in suites:
            summary = _mode_summary(cell, suite, mode)
            if _ran_no_test(summary):
                lines.append(
                    f"- {_label(ERROR)}: {_text(suite)} reported no test in the {_code(mode)} run "
                    f"(pytest exit: {_text(run.get('exit_code'))})"
                )
    return lines


def _ran_no_test(summary: dict[str, Any]) -> bool:
    """Whether a suite's summary in one mode says its run reported no test: an `error` without counts or a
    client's reason (a mode the suite has no summary in, `tico` of a client suite, did not run it)."""
    return bool(summary) and summary.get("verdict") == ERROR and not any(summary.get("counts", {}).values()) \
        and "reason" not in summary


UPSTREAM_ISSUE = re.compile(r"(?P<repo>[\w.-]+/[\w.-]+)#(?P<number>\d+)")


def _problem(test: dict[str, Any]) -> str:
    return test.get("error") or test.get("reason") or "no message recorded"


def _upstream(reference: str) -> str:
    """`owner/repo#123` as a link to that GitHub issue; any other reference as code."""
    match = UPSTREAM_ISSUE.fullmatch(reference)
    if match is None:
        return _code(reference)
    return f"[{reference}](https://github.com/{match['repo']}/issues/{match['number']})"


def _group_head(test: dict[str, Any]) -> str:
    """`❌ fail · cause: not-cache (`detail`) · upstream [pytorch/pytorch#1](...)`: what a group shares."""
    parts = [_label(test.get("verdict"))]
    if test.get("cause"):
        detail = f" ({_code(test['cause_detail'])})" if test.get("cause_detail") else ""
        parts.append(f"cause: {_text(test['cause'])}{detail}")
    if test.get("upstream"):
        parts.append(f"upstream {_upstream(test['upstream'])}")
    return " · ".join(parts)


def _grouped_tests(runs: dict[str, Any]) -> list[str]:
    """Tests that did not pass (error, fail, flaky, setup, xfail) grouped by verdict, cause, upstream and
    the signatures of the cause detail and the error, most severe first; a flaky test shows its rate."""
    groups: dict[tuple[str, ...], dict[tuple[str, str], list[str]]] = {}
    firsts: dict[tuple[str, ...], dict[str, Any]] = {}
    for mode in RECORDED_MODES:
        for test in runs.get(mode, {}).get("tests", []):
            verdict = test.get("verdict")
            if verdict not in LISTED:
                continue
            key = (verdict, test.get("cause") or "", test.get("upstream") or "",
                   error_signature(test.get("cause_detail") or ""), error_signature(_problem(test)))
            firsts.setdefault(key, test)
            where = f"{mode}: {flaky_rate(test)}" if verdict == FLAKY else mode
            member = (test.get("suite", "?"), test.get("name", "?"))
            groups.setdefault(key, {}).setdefault(member, []).append(where)
    lines = []
    for key in sorted(groups, key=lambda key: (SEVERITY.index(key[0]), key[1:])):
        members = groups[key]
        noun = "test" if len(members) == 1 else "tests"
        lines.append(f"- {_group_head(firsts[key])} ({len(members)} {noun}): {_code(_problem(firsts[key]))}")
        lines += [f"  - {_text(suite)} · {_code(name)} ({_text(', '.join(modes))})" for (suite, name), modes in members.items()]
    return lines


def _registration_reports(matrix: dict[str, Any]) -> str:
    blocks = ["## Registration report"]
    for cell in matrix["cells"]:
        lines = [f"### {_text(cell['id'])}", ""]
        if cell["registration_report"]:
            lines += ["| class | status | owner | reason |", "| --- | --- | --- | --- |"]
            lines += [
                f"| {_table_text(entry['class'])} | {_table_text(entry['status'])} | {_table_text(entry.get('owner'))} "
                f"| {_table_text(entry.get('reason'))} |"
                for entry in cell["registration_report"]
            ]
        else:
            lines.append("No registration report (the cell did not run)." if cell["status"] != RAN
                         else "Empty registration report.")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def main(argv: list[str] | None = None) -> int:
    """`render MATRIX_JSON MARKDOWN`: render a matrix file to Markdown; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m kvmatrix.render.markdown", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="render matrix.json to Markdown")
    render.add_argument("matrix", type=Path, help="the matrix JSON file to read")
    render.add_argument("markdown", type=Path, help="the Markdown file to write")
    args = parser.parse_args(argv)
    try:
        matrix, details = load_published(args.matrix)
        write_text_atomic(args.markdown, render_markdown(matrix, details, uses_document(matrix)))
    except ReportError as exc:
        print(terminal_text(f"error: {exc}"), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
