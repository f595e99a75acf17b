"""Benchmark the harness against what a user would script by hand, and write `RESULTS.md` + `RESULTS.json`.

    python3 benchmarks/harness.py --out benchmarks/RESULTS.md [--matrix-log LOG] [--phases envs,nox-cell,...]

Phases (all by default), in this order:
- `envs`: one cell's environment, cold and warm, uv (the harness's path) vs `python -m venv` + pip;
- `link-floor`: the physical floor of a warm environment, hard-linking a finished one's files (`cp -al`);
- `nox-cell`: one real `nox -s "cell(ID)"`, its wall time split into the suites' time and the overhead;
- `modes`: a cell's two registration runs one after another vs at the same time (the default);
- `xdist`: the suites with one and with more pytest-xdist workers inside one cell environment;
- `scaling`: 1, 2, 4 cells one after another, 2 at once, and the first 2 cold, on a suite selection;
- `versus` (only with `--against REF`): whole cells by `nox -s "cell(ID)"` side by side, the previous harness
  (a git worktree of REF) and this checkout, with their wall times and every verdict (with its cause) that differs;
- `unchanged`: the whole default matrix again with nothing changed (`nox -s matrix` into an empty results folder
  and a copy of the committed reports): its wall time and which cells it reused;
- `later-day`: the same from a fresh clone of HEAD whose processes see a clock a day ahead (libfaketime): what a
  newcomer meets a day after the publish, the index having moved on.
The default matrix's own wall time is read from the log of a `time python3 -m nox -s matrix` run
(`--matrix-log`) and its cell results (`--matrix-cells`), which are only read. Everything this script runs
lives in a scratch directory that is removed at the end unless a step failed (then its logs are kept).
It measures and reports; it never judges a time by failing.

Measurements no phase takes are the results' `by_hand` entries (title, date, commit, command, conditions,
columns, rows, finding), rendered as RESULTS.md's last section: a run keeps those of the results file it
replaces. One is added to RESULTS.json by hand, then `--from-json benchmarks/RESULTS.json` renders it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.analysis import cell_breakdown, growth, real_time_s, totals, unrecorded_sessions
from benchmarks.cellbench import modes_effect, nox_cell, run_cells, versus, work_dir_results, xdist_effect
from benchmarks.envbench import link_floor, measure_envs, scoped_env
from benchmarks.report import render
from benchmarks.rerun import later_day_rerun, unchanged_rerun
from kvmatrix.files import write_text_atomic
from kvmatrix.plan.pins import Pins, load_pins, utc_now
from kvmatrix.run.cell import requirements

PHASES = ("envs", "link-floor", "nox-cell", "modes", "xdist", "scaling", "versus", "unchanged", "later-day")
"""Each phase's measurements are under the results key of its name with `_` for `-`."""
DEFAULT_SCALING_CELLS = "tf4.57.6-torch2.13.0,tf4.53.3-torch2.13.0,tf4.57.6-torch2.10.0,tf4.55.4-torch2.8.0"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md",
                        help="the Markdown results; the JSON goes next to it with a .json suffix")
    parser.add_argument("--phases", help=f"comma-separated subset of {PHASES} (default: all, `versus` only with "
                                         "--against); empty: measure nothing, only read --matrix-log")
    parser.add_argument("--cell", default="tf4.57.6-torch2.13.0", help="the cell of envs, nox-cell, modes and xdist")
    parser.add_argument("--warm-repeats", type=int, default=3, help="warm environments of each kind (median)")
    parser.add_argument("--matrix-log", type=Path, help="output of `time python3 -m nox -s matrix` (its real time)")
    parser.add_argument("--matrix-cells", type=Path, default=ROOT / "build" / "cells",
                        help="that matrix run's cell results (read only)")
    parser.add_argument("--scaling-cells", default=DEFAULT_SCALING_CELLS,
                        help="cells for scaling, in order; the first 2 also run at once and cold")
    parser.add_argument("--counts", default="1,2,4", help="numbers of cells run one after another")
    parser.add_argument("--selection", default="suites/test_export.py",
                        help="space-separated pytest targets of the scaling cells")
    parser.add_argument("--xdist-targets", default="suites",
                        help="space-separated pytest targets of the modes and xdist runs")
    parser.add_argument("--xdist-workers", type=int, default=2)
    parser.add_argument("--against", metavar="REF",
                        help="the previous harness for `versus`: a git commit, tag or branch of this repository")
    parser.add_argument("--versus-cells", default="tf4.57.6-torch2.13.0,tf4.53.3-torch2.13.0",
                        help="cells `versus` runs with both harnesses (each must be in both trees' pins.toml)")
    parser.add_argument("--max-cost", type=float, metavar="FACTOR",
                        help="judge `versus` as the cost of new tests instead of a speed-up: this checkout's cells "
                             "may take at most FACTOR times the previous tree's, the tests both ran keeping their "
                             "verdicts (issue 33: 1.3)")
    parser.add_argument("--scratch-parent", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--keep", type=Path, metavar="JSON",
                        help="carry the phases not measured now (and the matrix run, without --matrix-cells) from "
                             "a results JSON this script wrote, each marked with the run it came from")
    parser.add_argument("--from-json", type=Path,
                        help="measure nothing: render --out again from a results JSON this script wrote")
    args = parser.parse_args(argv)
    if args.phases is None:
        args.phases = ",".join(phase for phase in PHASES if phase != "versus" or args.against)
    unknown = {phase for phase in args.phases.split(",") if phase} - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}; known: {PHASES}")
    if "versus" in args.phases.split(",") and not args.against:
        parser.error("the versus phase compares with a previous harness: give it with --against REF")
    return args


def machine() -> dict[str, Any]:
    """What the numbers were measured on, and how busy it was when the run started."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
               platform.processor() or "unknown CPU")
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else "MemTotal: 0 kB"
    mem_kib = int(next(line.split()[1] for line in meminfo.splitlines() if line.startswith("MemTotal")))
    nox = subprocess.run([sys.executable, "-m", "nox", "--version"], check=False, capture_output=True, text=True)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
            "gpu": "nvidia-smi present" if shutil.which("nvidia-smi") else "none",
            "os": platform.platform(), "python": platform.python_version(),
            "nox": f"nox {(nox.stdout or nox.stderr).strip()}", "load_average_at_start": os.getloadavg()}


def matrix_run(log: Path | None, cells_dir: Path) -> dict[str, Any]:
    """The default matrix run's wall time (from `log`) and its cells' breakdowns (from the cell records in
    `cells_dir`, the matrix's run plan left out, with the sessions of the runs the records do not stamp, from
    each cell's work dir)."""
    found = [json.loads(path.read_text()) for path in sorted(cells_dir.glob("*.json"))]
    records = [record for record in found if isinstance(record, dict) and "id" in record and "runs" in record]
    breakdowns = [cell_breakdown(record, extra_sessions=unrecorded_sessions(work_dir_results(cells_dir / record["id"])))
                  for record in records]
    return {"log": str(log) if log else None, "wall_s": real_time_s(log.read_text()) if log else None,
            "cells_dir": str(cells_dir), "cells": breakdowns, "totals": totals(breakdowns),
            "cells_with_clients": sum(1 for record in records if record.get("clients"))}


def scaling(pins: Pins, ids: list[str], counts: list[int], selection: list[str], scratch: Path) -> dict[str, Any]:
    """The first n of `ids` one after another for each n in `counts`; the first 2 at once; the first 2 cold (so
    those two should have a torch that needs no big download, or the cold time is the network's)."""
    by_id = {cell.id: cell for cell in pins.select(ids)}  # select keeps pins order; ours matters
    cells = [by_id[cell_id] for cell_id in ids]
    result: dict[str, Any] = {"selection": selection, "sequential": [], "concurrent": []}
    for n in counts:
        result["sequential"].append(run_cells(pins.python, cells[:n], scratch / f"seq-{n}", selection, 1))
    result["growth"] = growth({len(g["cells"]): g["wall_s"] for g in result["sequential"]})
    result["concurrent"].append(run_cells(pins.python, cells[:2], scratch / "at-once-2", selection, 2))
    cold = scratch / "cold"
    with scoped_env(UV_CACHE_DIR=str(cold / "uv-cache"), TORCHINDUCTOR_CACHE_DIR=str(cold / "inductor-cache")):
        result["cold"] = run_cells(pins.python, cells[:2], cold / "cells", selection, 1)
    return result


def by_hand(json_path: Path) -> list[dict[str, Any]]:
    """The measurements taken by hand in the results file at `json_path` (none when there is no such file): no
    phase takes them, so a run keeps them from the file it replaces."""
    return json.loads(json_path.read_text()).get("by_hand", []) if json_path.exists() else []


def dumps(results: dict[str, Any]) -> str:
    """`results` as JSON, one key per line, with each list of plain values (samples, a table's row, cell ids)
    on one line of its own."""
    def encode(value: Any, depth: int) -> str:
        inner, outer = " " * (depth + 1), " " * depth
        if isinstance(value, dict) and value:
            items = (f"{inner}{json.dumps(key)}: {encode(item, depth + 1)}" for key, item in value.items())
        elif isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
            items = (f"{inner}{encode(item, depth + 1)}" for item in value)
        else:
            return json.dumps(value)
        opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
        return f"{opening}\n" + ",\n".join(items) + f"\n{outer}{closing}"
    return encode(results, 0) + "\n"


def carry(results: dict[str, Any], kept: dict[str, Any], keys: list[str]) -> None:
    """Copy the measurements under `keys` that `kept` (an earlier results dict) has into `results`, in place,
    and note in `results["carried"]` when the run that measured each started (its own origin when `kept` had
    carried it too)."""
    for key in keys:
        if key in kept and key not in results:
            results[key] = kept[key]
            results.setdefault("carried", {})[key] = kept.get("carried", {}).get(key, kept["started_at"])


def _phase(results: dict[str, Any], name: str, step: Callable[[], Any]) -> None:
    """Run one phase into `results[name]`; a failed step is recorded under `errors` and the rest goes on."""
    print(f"[bench] {name} ...", flush=True)
    start = time.monotonic()
    try:
        results[name] = step()
    except Exception as exc:  # noqa: BLE001 - one broken phase must not cost the others' measurements
        traceback.print_exc()
        results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"[:2000]
    print(f"[bench] {name} done in {time.monotonic() - start:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Measure the chosen phases, write the Markdown and the JSON; 1 when a step failed (files still written)."""
    args = parse_args(argv)
    if args.from_json:
        write_text_atomic(args.out, render(json.loads(args.from_json.read_text())))
        return 0
    phases = [phase for phase in args.phases.split(",") if phase]
    pins = load_pins(ROOT / "pins.toml")
    (cell,) = pins.select([args.cell])
    scratch = Path(tempfile.mkdtemp(prefix="bench-", dir=args.scratch_parent))
    started = time.monotonic()
    results: dict[str, Any] = {
        "schema": "kvcc-bench/1", "started_at": utc_now(),
        "command": "python3 benchmarks/harness.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(), "cell": cell.id, "phases": phases, "json_name": args.out.with_suffix(".json").name,
    }
    print(f"[bench] scratch directory {scratch}", flush=True)
    if "envs" in phases:
        _phase(results, "envs", lambda: measure_envs(pins.python, requirements(cell), scratch, args.warm_repeats))
    if "link-floor" in phases:
        _phase(results, "link_floor", lambda: link_floor(pins.python, requirements(cell), scratch, args.warm_repeats))
    if "nox-cell" in phases:
        _phase(results, "nox_cell", lambda: nox_cell(ROOT, cell, scratch / "nox-cell"))
    if "modes" in phases:
        _phase(results, "modes", lambda: modes_effect(ROOT, pins.python, cell, scratch / "modes",
                                                      args.xdist_targets.split()))
    if "xdist" in phases:
        _phase(results, "xdist", lambda: xdist_effect(ROOT, pins.python, cell, scratch / "xdist",
                                                      args.xdist_targets.split(), args.xdist_workers))
    if "scaling" in phases:
        _phase(results, "scaling", lambda: scaling(pins, args.scaling_cells.split(","),
                                                   [int(n) for n in args.counts.split(",")],
                                                   args.selection.split(), scratch / "scaling"))
    if "versus" in phases:
        _phase(results, "versus", lambda: {**versus(ROOT, args.against, pins.select(args.versus_cells.split(",")),
                                                    scratch / "versus"), "max_cost": args.max_cost})
    if "unchanged" in phases:
        _phase(results, "unchanged", lambda: unchanged_rerun(ROOT, scratch / "unchanged"))
    if "later-day" in phases:
        _phase(results, "later_day", lambda: later_day_rerun(ROOT, scratch / "later-day"))
    if args.matrix_cells.is_dir():
        results["matrix_run"] = matrix_run(args.matrix_log, args.matrix_cells)
    if args.keep:
        carry(results, json.loads(args.keep.read_text()),
              [phase.replace("-", "_") for phase in PHASES if phase not in phases] + ["matrix_run"])
    results["by_hand"] = by_hand(args.out.with_suffix(".json"))
    results["bench_wall_s"] = round(time.monotonic() - started, 1)
    results["finished_at"] = utc_now()
    results["machine"]["load_average_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out.with_suffix(".json"), dumps(results))
    write_text_atomic(args.out, render(results))
    if results.get("errors"):
        print(f"[bench] failed steps {sorted(results['errors'])}; their logs are kept in {scratch}", flush=True)
        return 1
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"[bench] wrote {args.out} and {args.out.with_suffix('.json').name} in {results['bench_wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
