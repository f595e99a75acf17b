"""kvmatrix.plan.actions: the CI plan of pins.toml is unchanged; selectors are resolved from the package index with
the chosen versions and their selectors in each entry; an index failure is `infra` with its own status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kvmatrix.plan import releases
from kvmatrix.plan.actions import (
    EXIT_BAD_PINS,
    EXIT_INFRA,
    MAX_JOBS,
    TooManyCells,
    actions_matrix,
    github_outputs,
    main,
    shards,
)
from kvmatrix.plan.pins import load_pins
from kvmatrix.plan.resolved import load_resolved
from tests.support.index_server import refused_url, serve_index

SELECTORS = """\
schema_version = 1
python = "3.11"

[[cell]]
transformers = "4.57.6"
torch = "2.13.0"
tags = ["smoke"]

[[cell]]
transformers = "latest"
torch = "2.13.0"
note = "newest transformers"

[[cell]]
transformers = { newest_patch_of_each_minor = ">=4.46,<4.53" }
torch = "latest"
"""


@pytest.fixture
def selectors_file(tmp_path: Path) -> Path:
    path = tmp_path / "pins-latest.toml"
    path.write_text(SELECTORS)
    return path


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch):
    """The loopback index (tests/support/data) as the index uv, and so list_releases, would use."""
    with serve_index() as running:
        monkeypatch.setenv("UV_DEFAULT_INDEX", running.url)
        yield running


def test_the_plan_of_an_exact_pins_file_is_byte_for_byte_what_it_was(pins_file: Path, capsys) -> None:
    assert main(["--pins", str(pins_file)]) == 0
    assert capsys.readouterr().out == (
        'matrix={"include":['
        '{"cell":"tf4.46.3-torch2.5.1","transformers":"4.46.3","torch":"2.5.1","python":"3.11"},'
        '{"cell":"tf4.57.6-torch2.13.0","transformers":"4.57.6","torch":"2.13.0","python":"3.11"},'
        '{"cell":"tf5.24.0-torch2.13.0","transformers":"5.24.0","torch":"2.13.0","python":"3.11"}]}\n'
        "cells=tf4.46.3-torch2.5.1,tf4.57.6-torch2.13.0,tf5.24.0-torch2.13.0\n"
    )


def test_selectors_are_resolved_from_the_index_with_what_requested_them(
    selectors_file: Path, tmp_path: Path, index, capsys
) -> None:
    resolved_out = tmp_path / "plan" / "pins-latest.json"
    assert main(["--pins", str(selectors_file), "--resolved-out", str(resolved_out)]) == 0
    out = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    by_range = {"transformers": "newest_patch_of_each_minor(>=4.46,<4.53)", "torch": "latest"}
    assert json.loads(out["matrix"])["include"] == [  # the exact cell keeps the entry it always had
        {"cell": "tf4.57.6-torch2.13.0", "transformers": "4.57.6", "torch": "2.13.0", "python": "3.11"},
        {"cell": "tf5.24.0-torch2.13.0", "transformers": "5.24.0", "torch": "2.13.0", "python": "3.11",
         "requested": {"transformers": "latest"}},
        # the newest patch of 4.46 and of 4.52 on the index (4.46.0 and 4.52.0 are yanked there anyway)
        {"cell": "tf4.46.3-torch2.15.0", "transformers": "4.46.3", "torch": "2.15.0", "python": "3.11",
         "requested": by_range},
        {"cell": "tf4.52.4-torch2.15.0", "transformers": "4.52.4", "torch": "2.15.0", "python": "3.11",
         "requested": by_range},
    ]
    assert out["cells"].split(",") == [
        "tf4.57.6-torch2.13.0", "tf5.24.0-torch2.13.0", "tf4.46.3-torch2.15.0", "tf4.52.4-torch2.15.0"]
    written = load_resolved(resolved_out)
    assert written.path == str(selectors_file) and written.python == "3.11"
    assert [cell.id for cell in written.cells] == out["cells"].split(",")
    assert written.cells[1].note == "newest transformers"
    assert written.cells[1].requested == (("transformers", "latest"),)


def test_a_tag_narrows_the_plan_but_the_resolved_file_keeps_every_cell(
    selectors_file: Path, tmp_path: Path, index, capsys
) -> None:
    resolved_out = tmp_path / "resolved.json"
    assert main(["--pins", str(selectors_file), "--tag", "smoke", "--resolved-out", str(resolved_out)]) == 0
    assert capsys.readouterr().out.endswith("\ncells=tf4.57.6-torch2.13.0\n")
    assert len(load_resolved(resolved_out).cells) == 4  # publish keeps the cells that did not run


def test_an_unreachable_index_is_infra_and_plans_nothing(
    selectors_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("UV_DEFAULT_INDEX", refused_url())
    monkeypatch.setattr(releases.time, "sleep", lambda seconds: None)  # the retries, without their backoff
    resolved_out = tmp_path / "resolved.json"
    status = main(["--pins", str(selectors_file), "--resolved-out", str(resolved_out)])
    assert status == EXIT_INFRA != EXIT_BAD_PINS
    captured = capsys.readouterr()
    assert captured.out == "" and not resolved_out.exists()
    assert captured.err.startswith(f"infra: cannot resolve the selectors of {selectors_file}: ")
    assert "package index unavailable after 3 attempt(s)" in captured.err


def test_a_selector_matching_no_release_is_a_bad_pins_file(tmp_path: Path, index, capsys) -> None:
    path = tmp_path / "pins-latest.toml"
    path.write_text(SELECTORS.replace(">=4.46,<4.53", ">=9"))
    assert main(["--pins", str(path)]) == EXIT_BAD_PINS
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {path}: cell #3: transformers = newest_patch_of_each_minor(>=9) "
                                   "matches no release")


def test_unresolved_selectors_are_never_silently_dropped(selectors_file: Path) -> None:
    with pytest.raises(ValueError, match="2 cell\\(s\\) still have selectors; resolve them first"):
        actions_matrix(load_pins(selectors_file))


def _entries(count: int) -> dict:
    return {"include": [{"cell": f"tf4.{n}.0-torch2.5.1"} for n in range(count)]}


def test_shards_cut_the_plan_in_order_into_matrices_actions_accepts_losing_no_cell() -> None:
    cut = shards(_entries(407), 4)
    assert [len(shard["include"]) for shard in cut] == [102, 102, 102, 101]
    assert [entry for shard in cut for entry in shard["include"]] == _entries(407)["include"]
    assert all(len(shard["include"]) <= MAX_JOBS for shard in shards(_entries(2 * MAX_JOBS), 2))
    assert [len(shard["include"]) for shard in shards(_entries(1), 3)] == [1, 0, 0]


def test_a_plan_larger_than_its_shards_is_refused() -> None:
    with pytest.raises(TooManyCells, match="513 cells do not fit 2 shard"):
        shards(_entries(2 * MAX_JOBS + 1), 2)


def test_sharded_outputs_name_each_shard_and_its_size() -> None:
    lines = github_outputs(_entries(3), 2).splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["matrix", "cells", "shard-1", "shard-1-size",
                                                          "shard-2", "shard-2-size"]
    assert lines[3] == "shard-1-size=2" and lines[5] == "shard-2-size=1"


def test_the_full_grid_pins_cover_every_transformers_and_torch_minor_with_selectors() -> None:
    pins = load_pins(Path(__file__).resolve().parents[3] / "pins-full.toml")
    assert pins.cells == () and len(pins.pending) == 1
    (grid,) = pins.pending
    assert (grid.transformers.specifier, grid.torch.specifier) == (">=4.46", ">=2.5")
