"""The issue's targets (issue 7, issue 15): each figure of the benchmark's results judged against its target
and set beside its physical floor, the least any harness could take on the machine measured.

Pure: takes the results dict `benchmarks/harness.py` writes, returns rows; `benchmarks/report.py` renders them.
"""

from __future__ import annotations

from typing import Any

from benchmarks.analysis import fmt_percent, fmt_ratio, fmt_seconds, percent, ratio

# Issue 7's targets: a warm cell environment, uv against venv + pip, the harness's overhead per cell and the
# default matrix warm.
WARM_ENV_TARGET_S = 1.5
SPEEDUP_TARGET = 50.0
OVERHEAD_TARGET_PCT = 5.0
MATRIX_TARGET_S = 15 * 60
CELL_SPEEDUP_TARGET = 2.0
"""Issue 15 item 4: cells twice as fast as the harness before it, side by side."""
# Issue 33 item 7 gives `versus` another question when run with `--max-cost`: what the new tests cost a warm cell
# (this checkout's wall ÷ the previous tree's, at most that factor), the tests both trees ran keeping their verdicts.
UNCHANGED_TARGET_S = 60.0
"""Issue 15 item 3: the default matrix with nothing changed, in under a minute (every cell reused)."""


def variant_median(envs: dict[str, Any], variant: str, part: str = "total_s") -> float | None:
    """The median of `part` over the runs of one environment variant of the envs phase (None if not measured)."""
    return envs.get(variant, {}).get(part, {}).get("median")


def _gap(measured: float, target: float, unit: str, higher_is_better: bool = False) -> str:
    """`misses by 0.40 s (27 % over)` style text; empty when the target is met."""
    short = target - measured if higher_is_better else measured - target
    if short <= 0:
        return ""
    if unit == "x":
        return f"misses by {short:.1f}× ({percent(short, target):.0f} % short)"
    if unit == "pct":
        return f"misses by {short:.1f} percentage points"
    return f"misses by {fmt_seconds(short)} ({percent(short, target):.0f} % over)"


def floor_columns(measured_s: float | None, floor_s: float | None, how: str) -> dict[str, str]:
    """A target row's `floor` (the physical floor the figure is compared with, and how it was found) and
    `above` (what the figure spends beyond it, in seconds and as a multiple); dashes where either is unknown."""
    if measured_s is None or floor_s is None:
        return {"floor": "—", "above": "—"}
    multiple = f", {fmt_ratio(ratio(measured_s, floor_s))} the floor" if floor_s > 0 else ""
    return {"floor": f"{fmt_seconds(floor_s)} ({how})",
            "above": f"{fmt_seconds(max(measured_s - floor_s, 0.0))}{multiple}"}


def tests_floor(tests_s: float, cores: int | None) -> tuple[float, str]:
    """The floor of a run of tests: their own durations summed and shared by the machine's cores (no harness
    could run them in less wall time), with how it was found."""
    share = max(cores or 1, 1)
    return tests_s / share, f"the tests' own times, {fmt_seconds(tests_s)}, ÷ {share} cores"


def _env_targets(envs: dict[str, Any], link: dict[str, Any]) -> list[dict[str, Any]]:
    uv_warm, pip_warm = variant_median(envs, "uv_warm"), variant_median(envs, "pip_warm")
    if uv_warm is None:
        return []
    speedup = ratio(pip_warm, uv_warm)
    floor = floor_columns(uv_warm, link.get("total_s", {}).get("median"),
                          f"`cp -al` of a finished environment's {link.get('files')} files")
    return [
        {"name": "warm cell environment", "target": f"≤ {WARM_ENV_TARGET_S} s", "measured": fmt_seconds(uv_warm),
         "met": uv_warm <= WARM_ENV_TARGET_S, "gap": _gap(uv_warm, WARM_ENV_TARGET_S, "s"), **floor},
        {"name": "warm uv vs warm pip + venv", "target": f"≥ {SPEEDUP_TARGET:.0f}× faster",
         "measured": fmt_ratio(speedup), "met": None if speedup is None else speedup >= SPEEDUP_TARGET,
         "gap": "" if speedup is None else _gap(speedup, SPEEDUP_TARGET, "x", higher_is_better=True),
         **floor_columns(None, None, "")},
    ]


def _overhead_target(cell: dict[str, Any], cores: int | None) -> dict[str, Any]:
    return {"name": "harness overhead per cell", "target": f"≤ {OVERHEAD_TARGET_PCT:.0f} % of the cell",
            "measured": fmt_percent(cell["overhead_pct"]),
            "met": cell["overhead_pct"] is not None and cell["overhead_pct"] <= OVERHEAD_TARGET_PCT,
            "gap": "" if cell["overhead_pct"] is None else _gap(cell["overhead_pct"], OVERHEAD_TARGET_PCT, "pct"),
            **floor_columns(cell["total_s"], *tests_floor(cell["tests_s"], cores))}


def _matrix_target(run: dict[str, Any], cores: int | None) -> dict[str, Any]:
    wall = run["wall_s"]
    return {"name": "default matrix, warm", "target": f"≤ {fmt_seconds(MATRIX_TARGET_S)}",
            "measured": fmt_seconds(wall), "met": wall <= MATRIX_TARGET_S, "gap": _gap(wall, MATRIX_TARGET_S, "s"),
            **floor_columns(wall, *tests_floor(run["totals"]["tests_s"], cores))}


def verdict_differences(row: dict[str, Any]) -> int:
    """How many tests and suite verdicts of a side-by-side cell differ (changed, or present in one run only)."""
    return sum(len(names) for key in ("tests", "suites") for names in row[key].values())


def _cost_target(run: dict[str, Any], cores: int | None) -> dict[str, Any]:
    """The side-by-side cells judged as the cost of new tests (`--max-cost`): met when this checkout's cells take at
    most `max_cost` times the previous tree's and no test both ran changed its verdict (tests only this checkout
    ran are the new work; one only the previous ran is a difference)."""
    rows, limit = run["cells"], run["max_cost"]
    previous = sum(row["previous"]["total_s"] for row in rows)
    cost = sum(row["this"]["total_s"] for row in rows) / previous if previous else None
    moved = sum(len(row[key][change]) for row in rows for key in ("tests", "suites")
                for change in ("changed", "only_before"))
    met = None if cost is None else cost <= limit and not moved
    gap = "" if cost is None or cost <= limit else f"misses by {cost - limit:.2f}× ({percent(cost - limit, limit):.0f} % over)"
    if moved:
        gap = "; ".join(part for part in (gap, f"{moved} verdicts of tests both ran differ (section 5 lists them)") if part)
    return {"name": "cells with the new tests vs without, side by side", "target": f"≤ {limit:.1f}× the previous "
            "tree's wall, shared tests' verdicts kept", "measured": "n/a" if cost is None else f"{cost:.2f}×", "met": met, "gap": gap,
            **floor_columns(sum(row["this"]["total_s"] for row in rows),
                            *tests_floor(sum(row["this"]["tests_s"] for row in rows), cores))}


def _versus_target(run: dict[str, Any], cores: int | None) -> dict[str, Any]:
    """Met when the cells are fast enough and no verdict moved; unknown when they are fast enough but verdicts
    moved (intended changes or not, they need reading). With `max_cost`, the cost of new tests instead
    (`_cost_target`)."""
    if run.get("max_cost") is not None:
        return _cost_target(run, cores)
    rows = run["cells"]
    previous = sum(row["previous"]["total_s"] for row in rows)
    this = sum(row["this"]["total_s"] for row in rows)
    speedup = ratio(previous, this)
    differing = sum(verdict_differences(row) for row in rows)
    met = None if speedup is None else (speedup >= CELL_SPEEDUP_TARGET and (None if differing else True))
    gap = "" if speedup is None else _gap(speedup, CELL_SPEEDUP_TARGET, "x", higher_is_better=True)
    if met is None and differing:
        gap = f"{differing} verdicts differ (section 5 lists them)"
    return {"name": "cells vs the previous harness, side by side", "target": f"≥ {CELL_SPEEDUP_TARGET:.0f}× faster, "
            "same verdicts", "measured": fmt_ratio(speedup), "met": met, "gap": gap,
            **floor_columns(this, *tests_floor(sum(row["this"]["tests_s"] for row in rows), cores))}


def _rerun_target(name: str, run: dict[str, Any], section: int, ran_misses: bool) -> dict[str, Any]:
    """A whole-matrix re-run that should reuse every cell. One in which a cell ran is no such re-run, whatever
    its time: missed when `ran_misses` (a later day's clone resolves as of the published snapshot, so nothing
    should run), else unknown (the checkout's code may have changed since the publish)."""
    ran, wall = len(run["run"]), run["wall_s"]
    met = wall <= UNCHANGED_TARGET_S if not ran else (False if ran_misses else None)
    return {"name": name, "target": f"≤ {fmt_seconds(UNCHANGED_TARGET_S)}, every cell reused",
            "measured": fmt_seconds(wall), "met": met,
            "gap": f"{ran} ran instead of being reused (section {section})" if ran else _gap(wall, UNCHANGED_TARGET_S, "s"),
            **floor_columns(None, None, "")}


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets that this run measured: name, target, measured, met (None = unknown), gap (how far
    a missed target is, or why one is unknown), floor and above (`floor_columns`)."""
    cores = results.get("machine", {}).get("cores")
    rows = _env_targets(results.get("envs", {}), results.get("link_floor", {}))
    if results.get("nox_cell"):
        rows.append(_overhead_target(results["nox_cell"], cores))
    if results.get("matrix_run", {}).get("wall_s"):
        rows.append(_matrix_target(results["matrix_run"], cores))
    if results.get("versus", {}).get("cells"):
        rows.append(_versus_target(results["versus"], cores))
    if results.get("unchanged"):
        rows.append(_rerun_target("default matrix re-run, nothing changed", results["unchanged"], 6, False))
    if results.get("later_day"):
        rows.append(_rerun_target("fresh clone a day later, default matrix", results["later_day"], 7, True))
    return rows


def verdict(target: dict[str, Any]) -> str:
    """A target's verdict cell: `met`, `unknown` or `**missed**`, with the gap or reason when there is one."""
    if target["met"]:
        return "met"
    label = "unknown" if target["met"] is None else "**missed**"
    return f"{label}: {target['gap']}" if target["gap"] else label
