"""tox and nox run a cell the same way: the same pins resolve to the same environment and give the same
verdicts. Slow (installs torch and runs every suite twice, once per tool), so not part of `nox -t tests`:
run it with `nox -s parity`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from kvmatrix.plan.pins import load_pins

REPO = Path(__file__).resolve().parents[2]


def volatile(key: str) -> bool:
    """Wall-clock numbers (`duration_s`, `compile_s`, `export_s`, `eager_tokens_per_s`...) and log text
    differ from run to run; everything else must not."""
    return key == "log_tail" or key.endswith("_s")


def comparable(value: Any) -> Any:
    """`value` without its volatile keys, at any depth."""
    if isinstance(value, dict):
        return {key: comparable(item) for key, item in value.items() if not volatile(key)}
    if isinstance(value, list):
        return [comparable(item) for item in value]
    return value


def differences(left: Any, right: Any, where: str = "") -> list[str]:
    """Where `left` and `right` differ, as `path: left != right` lines (tests are matched by suite and name)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return [
            line
            for key in {**left, **right}
            for line in differences(left.get(key), right.get(key), f"{where}.{key}")
        ]
    if (
        isinstance(left, list)
        and isinstance(right, list)
        and all(isinstance(i, dict) and "name" in i for i in left + right)
    ):
        by_name = {f"[{i.get('suite')}::{i['name']}]": i for i in left}
        other = {f"[{i.get('suite')}::{i['name']}]": i for i in right}
        return [
            line
            for key in {**by_name, **other}
            for line in differences(by_name.get(key), other.get(key), where + key)
        ]
    return [] if left == right else [f"{where}: {left!r} != {right!r}"]


def test_tox_and_nox_give_the_same_cell_result(tmp_path: Path) -> None:
    cell = load_pins(REPO / "pins.toml").tagged("smoke")[-1]
    by_nox, by_tox = tmp_path / "nox", tmp_path / "tox"
    # Fresh environments of their own (uv's cache keeps the installs quick), never the repo's .nox/.tox.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "nox",
            "--envdir",
            str(tmp_path / "nox-envs"),
            "-s",
            f"cell({cell.id})",
            "--",
            "--results",
            str(by_nox),
        ],
        cwd=REPO,
        check=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tox",
            "--workdir",
            str(tmp_path / "tox-envs"),
            "-e",
            cell.id,
            "--",
            "--results",
            str(by_tox),
        ],
        cwd=REPO,
        check=True,
    )
    nox_record = json.loads((by_nox / f"{cell.id}.json").read_text())
    tox_record = json.loads((by_tox / f"{cell.id}.json").read_text())
    assert nox_record["status"] == "ran", nox_record["status_reason"]
    assert tox_record["freeze"] == nox_record["freeze"]
    assert differences(comparable(nox_record), comparable(tox_record)) == []
