"""Render the benchmark's results (the dict `benchmarks/harness.py` writes as JSON) as `RESULTS.md`: the
issue's targets with what was measured against them (`benchmarks/targets.py`), then every measurement with
what exactly it timed, then the measurements taken by hand.

Pure: takes the results, returns text. A section whose measurement was not taken says so.
"""

from __future__ import annotations

import re
from typing import Any

from benchmarks.analysis import fmt_percent, fmt_ratio, fmt_seconds, ratio
from benchmarks.targets import targets, tests_floor, variant_median, verdict, verdict_differences

LISTED_CHANGES = 20
"""At most this many verdict differences of a cell are listed by name in the side-by-side section."""
PART_NAMES = {
    "nox_start_and_venv_s": "nox start-up and its `uv venv`",
    "install_s": "`uv pip install` of the pins",
    "freeze_and_record_s": "`uv pip freeze` and writing the cell JSON",
    "interpreter_imports_conftest_s": "pytest processes before their sessions: interpreter start, plugin imports "
                                      "and `pytest_configure` (the xdist controller imports neither torch nor "
                                      "transformers; its worker does, inside the session)",
    "collection_and_between_tests_s": "inside pytest's sessions but outside the tests: starting the xdist worker "
                                      "(its own interpreter, imports and conftest), collection, time between tests",
}


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [f"| {' | '.join(header)} |", f"| {' | '.join('---' for _ in header)} |",
            *(f"| {' | '.join(row)} |" for row in rows)]


def _normalized(requirement: str) -> str:
    """`Jinja2==3.1.6` -> `jinja2==3.1.6`, `typing_extensions` -> `typing-extensions` (PEP 503 names)."""
    name, _, version = requirement.partition("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def _envs_section(envs: dict[str, Any]) -> list[str]:
    if not envs:
        return ["Not measured in this run."]
    labels = [
        ("uv_cold", "uv, cold: empty `UV_CACHE_DIR` of its own"),
        ("uv_warm", "uv, warm: uv's normal cache"),
        ("uv_warm_offline", "uv, warm and `UV_OFFLINE=1`"),
        ("pip_cold", "venv + pip, cold: `--no-cache-dir`"),
        ("pip_filling_cache", "venv + pip, first run into an empty pip cache"),
        ("pip_warm", "venv + pip, warm: that pip cache"),
    ]
    rows = []
    for key, label in labels:
        if key in envs:
            runs = envs[key]
            rows.append([label, fmt_seconds(runs["total_s"]["median"]), fmt_seconds(runs["venv_s"]["median"]),
                         fmt_seconds(runs["install_s"]["median"]), str(runs["total_s"]["n"]),
                         ", ".join(f"{v:.2f}" for v in runs["total_s"]["samples"])])
    uv_w, uv_c, pip_w, pip_c = (variant_median(envs, k) for k in ("uv_warm", "uv_cold", "pip_warm", "pip_cold"))
    lines = [
        f"Requirements (the cell's, from `kvmatrix.run.cell.requirements`): `{' '.join(envs['requirements'])}`.",
        "",
        *_table(["variant", "total (median)", "venv", "install", "runs", "every run's total, s"], rows),
        "",
        (f"- pip warm / uv warm: **{fmt_ratio(ratio(pip_w, uv_w))}**; pip cold / uv cold: **{fmt_ratio(ratio(pip_c, uv_c))}**; "
        f"pip cold / uv warm: {fmt_ratio(ratio(pip_c, uv_w))}."),
    ]
    uv_set, pip_set = ({_normalized(line) for line in envs.get(key, {}).get("freeze", [])}
                       for key in ("uv_warm", "pip_warm"))
    if uv_set and pip_set:
        lines.append(f"- Installed sets (`uv pip freeze` / `pip freeze --all`): only in uv's "
                     f"`{', '.join(sorted(uv_set - pip_set)) or 'nothing'}`; only in pip's "
                     f"`{', '.join(sorted(pip_set - uv_set)) or 'nothing'}`; {len(uv_set & pip_set)} identical.")
    for key, name in (("uv_warm", "uv"), ("pip_warm", "pip")):
        size = envs.get(key, {}).get("env")
        if size:
            links = "; its files are hard links into uv's cache" if name == "uv" else ""
            lines.append(f"- A finished {name} environment: {size['files']} files ({size['pyc']} of them `.pyc`), "
                         f"{size['bytes'] / 2**20:.0f} MiB (apparent size{links}).")
    cache = envs.get("uv_cold", {}).get("cache_after")
    if cache:
        lines.append(f"- The cold uv run left {cache['files']} files, {cache['bytes'] / 2**20:.0f} MiB in its "
                     "formerly empty cache: what it downloaded and unpacked (the torch wheel included).")
    lines += [
        (f"- Tools: {envs.get('uv_version', '?')}; {envs.get('pip_warm', {}).get('pip_version', '?')} (the pip that "
         "`python -m venv` seeds)."),
        ("- How each variant is made, from the same sources (PyPI plus `PIP_FIND_LINKS`), each in a fresh "
         "directory deleted once timed: `benchmarks/envbench.py`."),
    ]
    return lines


def _breakdown_rows(cells: list[dict[str, Any]]) -> list[list[str]]:
    return [[c["id"], fmt_seconds(c["total_s"]), fmt_seconds(c["parts"]["install_s"]),
             fmt_seconds(c["pytest_process_s"]), fmt_seconds(c["pytest_session_s"]), fmt_seconds(c["tests_s"]),
             f"{fmt_seconds(c['overhead_s'])} ({fmt_percent(c['overhead_pct'])})",
             f"{fmt_seconds(c['outside_pytest_s'])} ({fmt_percent(c['outside_pytest_pct'])})"] for c in cells]


BREAKDOWN_HEADER = ["cell", "total", "install", "pytest processes", "pytest sessions", "tests",
                    "overhead = total − sessions", "outside pytest processes"]


def _overhead_section(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    cell = results.get("nox_cell")
    if cell:
        lines += [
            (f"One real cell, `{cell['command']}` (its venv and results in a scratch directory), timed from outside "
            "as one process:"),
            "",
            *_table(BREAKDOWN_HEADER, _breakdown_rows([cell])),
            "",
            *(f"- {PART_NAMES[k]}: {fmt_seconds(v)}" for k, v in cell["parts"].items() if v is not None),
            "",
        ]
    else:
        lines += ["The real nox cell was not run in this run.", ""]
    run = results.get("matrix_run")
    if run and run["cells"]:
        lines += [
            (f"Every cell of the default matrix run whose results are in `{run['cells_dir']}` (that run, not this "
            "one; total = the record's `duration_s`, i.e. `run_cell` without nox's start-up and venv):"),
            "",
            *_table(BREAKDOWN_HEADER, _breakdown_rows(run["cells"])),
            (f"| **all {run['totals']['cells']}** | {fmt_seconds(run['totals']['total_s'])} | | "
            f"{fmt_seconds(run['totals']['pytest_process_s'])} | | {fmt_seconds(run['totals']['tests_s'])} | "
            f"{fmt_seconds(run['totals']['overhead_s'])} ({fmt_percent(run['totals']['overhead_pct'])}) | "
            f"{fmt_seconds(run['totals']['outside_pytest_s'])} ({fmt_percent(run['totals']['outside_pytest_pct'])}) |"),
            "",
        ]
    lines += [
        ("Definitions: *tests* = sum of every test's setup + call + teardown as the in-cell recorder saw them "
        "(`runs.*.tests[*].duration_s`; the two registration runs overlap, so this sum can exceed the wall time); "
        "*pytest sessions* = wall time inside at least one pytest session (each session from its start, so the "
        "xdist worker's start-up with its torch and transformers imports, collection and the tests, to its end, "
        "as the recorder stamps them in `meta.session_started_at`/`session_finished_at`); *pytest processes* = "
        "wall time inside at least one pytest process (`runs.*.started_at` + `duration_s`); *overhead* = total − "
        "pytest sessions, the issue's \"total cell wall time minus the time spent inside the suites\"."),
    ]
    return lines


def _group_rows(groups: list[dict[str, Any]]) -> list[list[str]]:
    return [[str(len(g["cells"])), str(g["at_once"]), fmt_seconds(g["wall_s"]), fmt_seconds(g["wall_s"] / len(g["cells"])),
             ", ".join(g["cells"])] for g in groups]


def _matrix_section(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    run = results.get("matrix_run")
    if run and run.get("wall_s"):
        lines += [
            (f"- **Default matrix, warm: {fmt_seconds(run['wall_s'])}** for {run['totals']['cells']} cells: the `real` "
            f"time of `time python3 -m nox -s matrix` in `{run['log']}` (every cell's uv environment created fresh "
            "from uv's warm cache, all suites, then publish). Not re-run by this script, which would take as long."),
        ]
    else:
        lines.append("- Default matrix, warm: no matrix log given (`--matrix-log`), not reported.")
    lines.append("- Default matrix, cold: not run. An empty uv cache downloads every torch: the network's time, not "
                 "the harness's.")
    scaling = results.get("scaling")
    if not scaling:
        return [*lines, "", "Scaling, concurrency and cold/warm subsets were not measured in this run."]
    selection = " ".join(scaling["selection"])
    lines += [
        "",
        (f"Cells run by `benchmarks.cellbench.run_selected_cell` (run_cell's steps after a fresh `uv venv`, both "
        f"registration modes) on the suite selection `{selection}`; wall time of the whole group, warm uv cache "
        "unless marked cold:"),
        "",
        *_table(["cells", "at once", "wall", "per cell", "which"],
                _group_rows(scaling.get("sequential", []) + scaling.get("concurrent", []))),
    ]
    cold = scaling.get("cold")
    if cold:
        warm = next((g for g in scaling.get("sequential", []) if g["cells"] == cold["cells"]), None)
        cold_row = _group_rows([cold])[0]
        cold_row[0] += " (cold)"
        lines += [
            f"| {' | '.join(cold_row)} |",
            "",
            "Cold = an empty `UV_CACHE_DIR` and an empty `TORCHINDUCTOR_CACHE_DIR` of our own for the group"
            + (f"; cold / warm = {fmt_ratio(ratio(cold['wall_s'], warm['wall_s']))}." if warm else "."),
        ]
    growth_rows = scaling.get("growth", [])
    if growth_rows:
        lines += ["", "Growth with the number of cells (one at a time): " + "; ".join(
            f"{g['cells']} → {fmt_seconds(g['wall_s'])} ({g['relative_to_one_cell']:.2f}× one cell)" for g in growth_rows)
            + "."]
    together = next((g for g in scaling.get("concurrent", []) if len(g["cells"]) == 2), None)
    alone = next((g for g in scaling.get("sequential", []) if len(g["cells"]) == 2), None)
    if together and alone:
        lines += ["", (f"2 cells at once vs one after another: {fmt_seconds(together['wall_s'])} vs "
                      f"{fmt_seconds(alone['wall_s'])}, speed-up {fmt_ratio(ratio(alone['wall_s'], together['wall_s']))}.")]
    return lines


def _modes_section(modes: dict[str, Any] | None) -> list[str]:
    if not modes:
        return ["The registration runs one after another vs at once were not measured in this run."]
    rows = [[str(r["at_once"]), fmt_seconds(r["wall_s"]),
             ", ".join(f"{mode} {fmt_seconds(s)}" for mode, s in r["process_s"].items()), fmt_seconds(r["tests_s"]),
             str(r["tests"])] for r in modes["rows"]]
    one, both = (next(r for r in modes["rows"] if r["at_once"] == n) for n in (1, 2))
    differing = modes["verdicts_differing"]
    return [
        ("A cell runs the suites twice, without and with `compat.register()`, as two pytest processes (a "
         "registration cannot be undone inside a process); `kvmatrix.run.process.pytest_run.run_modes` runs them at the same time "
         "(`KVCC_MODES_AT_ONCE`, default 2). Both rows run "
         f"`{' '.join(modes['targets'])}` in one fresh {modes['cell']} environment:"),
        "",
        *_table(["runs at once", "wall", "each pytest process", "tests (sum)", "tests"], rows),
        "",
        (f"Speed-up: **{fmt_ratio(ratio(one['wall_s'], both['wall_s']))}**; tests whose verdict differs between the "
         f"two: {len(differing)}" + (f" ({', '.join(differing[:5])}{', …' if len(differing) > 5 else ''})."
                                     if differing else ".")),
    ]


def _xdist_section(xdist: dict[str, Any] | None) -> list[str]:
    if not xdist:
        return ["More pytest-xdist workers were not measured in this run."]
    default, parallel = xdist["default"], xdist["parallel"]
    rows = [[f"`KVCC_WORKERS={r['workers']}` (`-n {r['workers']}`)", fmt_seconds(r["wall_s"]),
             fmt_seconds(r["pytest_session_s"]), fmt_seconds(r["tests_s"]), str(r["exit_code"]),
             str(len(r["verdicts"]))] for r in (default, parallel)]
    differing = xdist["verdicts_differing"]
    return [
        (f"`kvmatrix.run.process.pytest_run.run_suites` runs every suite under pytest-xdist with `-n {default['workers']}` by default "
         "(one worker: crash isolation); `KVCC_WORKERS` changes that. Both rows are `run_suites` with registration "
         f"over `{' '.join(xdist['targets'])}` in one fresh {xdist['cell']} environment ({xdist['xdist']}):"),
        "",
        *_table(["workers", "process wall", "pytest session", "tests (sum)", "exit", "tests"], rows),
        "",
        (f"Speed-up of the process wall: **{fmt_ratio(ratio(default['wall_s'], parallel['wall_s']))}**; tests whose "
         f"verdict differs between the two: {len(differing)}"
         + (f" ({', '.join(differing[:5])}{', …' if len(differing) > 5 else ''})." if differing else ".")),
    ]


def _versus_section(run: dict[str, Any] | None, cores: int | None) -> list[str]:
    if not run or not run.get("cells"):
        return ["Not measured in this run (`--phases versus --against REF`)."]
    rows = []
    for row in run["cells"]:
        floor_s = tests_floor(row["this"]["tests_s"], cores)[0]
        rows.append([row["cell"], " then ".join(row["order"]), fmt_seconds(row["previous"]["total_s"]),
                     fmt_seconds(row["this"]["total_s"]), fmt_ratio(row["speedup"]),
                     f"{fmt_seconds(row['previous']['tests_s'])} → {fmt_seconds(row['this']['tests_s'])}",
                     f"{fmt_seconds(floor_s)} ({fmt_ratio(ratio(row['previous']['total_s'], floor_s))})",
                     str(verdict_differences(row))])
    lines = [
        (f"Each cell run whole, twice, in this one benchmark run: by a git worktree of `{run['against']}` "
         f"({run['previous_commit'][:10]}, the previous harness) and by this checkout ({run['this_commit'][:10]}"
         f"{', with uncommitted changes' if run['this_uncommitted'] else ''}), the second right after the first; "
         "the order alternates from cell to cell because the second run finds the uv and inductor caches the "
         "first filled. Wall = the whole `nox -s \"cell(ID)\"` process. *This run's floor*: the tests' own "
         f"time in this checkout's run ÷ {max(cores or 1, 1)} cores, and in brackets the speed-up a harness "
         "costing nothing above it would reach."),
        "",
        *_table(["cell", "order", "previous", "this", "speed-up", "tests' own time", "this run's floor",
                 "verdicts differing"], rows),
        *_room_left(run, cores),
    ]
    for row in run["cells"]:
        for kind in ("tests", "suites"):
            for change, names in row[kind].items():
                if names:
                    shown = "; ".join(names[:LISTED_CHANGES])
                    more = f" (and {len(names) - LISTED_CHANGES} more)" if len(names) > LISTED_CHANGES else ""
                    label = {"changed": "changed (previous → this)", "only_before": "only in the previous run",
                             "only_after": "only in this run"}[change]
                    lines += ["", f"- {row['cell']}, {kind} {label}: {shown}{more}"]
    return lines


def _room_left(run: dict[str, Any], cores: int | None) -> list[str]:
    """With `--max-cost`, how much of the wall the factor allows above the previous tree the added tests' own
    time takes by itself (their growth shared by the cores: what no harness could run them in), so a missed
    factor is told apart from one no harness could meet; nothing without `--max-cost`."""
    limit = run.get("max_cost")
    if limit is None:
        return []
    rows, share = run["cells"], max(cores or 1, 1)
    previous_s = sum(row["previous"]["total_s"] for row in rows)
    grown_s = sum(row["this"]["tests_s"] - row["previous"]["tests_s"] for row in rows)
    allowed_s = (limit - 1) * previous_s
    room = f"Room for the new work: at most {limit:.1f}× the previous tree's wall leaves {fmt_seconds(allowed_s)} above it"
    if grown_s <= 0:
        return ["", f"{room}; the tests' own time did not grow."]
    grown_wall_s = tests_floor(grown_s, cores)[0]
    used = f"{fmt_percent(100 * grown_wall_s / allowed_s)} of" if allowed_s > 0 else "beyond"
    return ["", (f"{room}; the tests' own time grew by {fmt_seconds(grown_s)}, which on {share} cores is "
                 f"{fmt_seconds(grown_wall_s)} of wall by itself, {used} that room before any new environment, "
                 "process or re-run is paid for.")]


def _later_day_section(run: dict[str, Any] | None) -> list[str]:
    if not run:
        return ["Not measured in this run (`--phases later-day`)."]
    return [
        (f"`{run['command']}` in a fresh `git clone` of HEAD, each of its processes (nox, uv, the interpreters) "
         f"reading a clock {run['days']} day(s) ahead through libfaketime ({run['clock']}), timed from outside: "
         f"**{fmt_seconds(run['wall_s'])}**. The published matrix is of {run['generated_at']}, its index as of "
         f"{run['index_snapshot']}: every cell resolves as of that date, whatever the index published since, so "
         "a cell is reused when its resolved set is the one its published record holds."),
        "",
        f"- Reused ({len(run['reused'])}): {', '.join(run['reused']) or 'none'}.",
        f"- Run ({len(run['run'])}): {'; '.join(run['run']) or 'none'}.",
    ]


def _unchanged_section(run: dict[str, Any] | None) -> list[str]:
    if not run:
        return ["Not measured in this run (`--phases unchanged`)."]
    lines = [
        (f"`{run['command']}`, timed from outside as one process: **{fmt_seconds(run['wall_s'])}**. Its results "
         "folder started empty and its reports folder was a copy of the committed `reports/`, so every result it "
         "could reuse came from the published matrix, and nothing committed was touched. Each cell's inputs "
         "(resolved installed set, Python, the digest of the code that runs in a cell, the torch build) were "
         "computed again: a `uv pip compile` against the index and an interpreter start per cell."),
        "",
        f"- Reused ({len(run['reused'])}): {', '.join(run['reused']) or 'none'}.",
        f"- Run ({len(run['run'])}): {'; '.join(run['run']) or 'none'}.",
        f"- Publish: {'nothing new to publish' if run['published_nothing_new'] else 'wrote a new matrix'}.",
    ]
    if run["reused"] and not run["run"] and not run["published_nothing_new"]:
        lines.append("- A new matrix although every cell was reused: the committed records came from a run, so "
                     "this first re-run marks each one with the run it came from (`reused_from`), and the "
                     "matrix differs by those marks and its date; a re-run after it finds nothing new.")
    return lines


def _by_hand_section(entries: list[dict[str, Any]]) -> list[str]:
    """The measurements no phase takes (RESULTS.json's `by_hand`), each with its date, commit, command and
    conditions, a table and what it showed."""
    if not entries:
        return ["None."]
    lines = ["Taken by hand, not by this script, each at the commit named; single runs unless a row says otherwise. "
             "The machine's speed moved from day to day, so only the figures within one table compare."]
    for entry in entries:
        lines += ["", f"### {entry['title']}", "",
                  f"Measured {entry['date']} at {entry['commit']} by `{entry['command']}`: {entry['conditions']}", "",
                  *_table(entry["columns"], entry["rows"]), "", entry["finding"]]
    return lines


def _carried(results: dict[str, Any]) -> list[str]:
    """A note naming the phases this run did not measure but carried from an earlier run's results."""
    carried = results.get("carried", {})
    if not carried:
        return []
    listed = "; ".join(f"`{phase}` from the run started {started}" for phase, started in sorted(carried.items()))
    return ["", f"Not re-measured by this run, carried from an earlier one (`--keep`): {listed}."]


def render(results: dict[str, Any]) -> str:
    """The whole `RESULTS.md`."""
    machine = results["machine"]
    rows = [[t["name"], t["target"], t["measured"], t["floor"], t["above"], verdict(t)] for t in targets(results)]
    lines = [
        "# Harness benchmark",
        "",
        (f"Produced by `{results['command']}` (also `python3 -m nox -s bench`), started {results['started_at']}; "
        f"the whole benchmark took {fmt_seconds(results['bench_wall_s'])}. Raw numbers: "
        f"[`{results['json_name']}`]({results['json_name']}). Measurements only: nothing here is asserted."),
        "",
        (f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']:.0f} GiB RAM, GPU: "
         f"{machine['gpu']}; {machine['os']}; Python {machine['python']}; {machine['nox']}. 1-minute load average "
         f"{machine['load_average_at_start'][0]:.2f} at the start, {machine['load_average_at_end'][0]:.2f} at the "
         "end. All times are wall-clock seconds (`time.monotonic`), single runs unless a count is given (then the "
         "median)."),
        "",
        "## Targets (issue 7)",
        "",
        *_table(["what", "target", "measured", "physical floor", "above the floor", "verdict"], rows),
        "",
        ("*Physical floor*: what no harness could go below on the machine above: for an environment, hard-linking its "
         "files (`cp -al`); for a cell or the matrix, the tests' own durations shared by the cores. *Above the "
         "floor* is the rest: imports, tracing outside tests, installs, waiting, the harness."),
        *_carried(results),
        "",
        "## 1. One cell's environment: uv (the harness) vs python -m venv + pip",
        "",
        *_envs_section(results.get("envs", {})),
        "",
        "## 2. Harness overhead per cell",
        "",
        *_overhead_section(results),
        "",
        "## 3. Matrix wall time, concurrency and growth",
        "",
        *_matrix_section(results),
        "",
        "## 4. Parallelism inside a cell",
        "",
        "### The two registration runs at once",
        "",
        *_modes_section(results.get("modes")),
        "",
        "### More pytest-xdist workers in one run",
        "",
        *_xdist_section(results.get("xdist")),
        "",
        "## 5. Side by side with the previous harness",
        "",
        *_versus_section(results.get("versus"), results.get("machine", {}).get("cores")),
        "",
        "## 6. The default matrix re-run with nothing changed",
        "",
        *_unchanged_section(results.get("unchanged")),
        "",
        "## 7. A fresh clone on a later day",
        "",
        *_later_day_section(results.get("later_day")),
        "",
        "## 8. Measured by hand",
        "",
        *_by_hand_section(results.get("by_hand", [])),
    ]
    if results.get("errors"):
        lines += ["", "## Steps that failed in this run", "",
                  *(f"- {phase}: {message}" for phase, message in results["errors"].items())]
    return "\n".join(lines) + "\n"
