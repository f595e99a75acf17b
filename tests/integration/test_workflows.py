"""The GitHub workflows: linted (actionlint, zizmor offline), hardened, and running the project's own code.

The plan and publish steps are executed here exactly as written in matrix.yml (their `run:` scripts,
their `env:` with the `${{ }}` expressions filled in), against fixture cell results, so what CI publishes
is what these tests see; the latest plan resolves pins-latest.toml against a loopback package index.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from kvmatrix.plan.latest import resolve_latest
from kvmatrix.plan.pins import Cell, load_pins
from kvmatrix.plan.resolved import load_resolved
from kvmatrix.record.columns import discover_suites
from tests.support.index_server import refused_url, serve_index
from tests.support.records import build_cell, mode_runs, record

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
SUITES = discover_suites(REPO)
DEFAULT_PINS = load_pins(REPO / "pins.toml")
"""The default matrix's pins, as the workflows plan them."""
PINNED_USE = re.compile(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
LOCAL_WORKFLOW = re.compile(r"uses: \$/\.github/workflows/(?P<name>[\w-]+\.yml)$")  # this repository's own
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(flow: dict[str, Any]) -> dict[str, Any]:
    return flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` key as true


def step(flow: dict[str, Any], job: str, key: str, value: str) -> dict[str, Any]:
    """The step of `job` whose `key` (id, name, run, uses) contains `value`."""
    return next(s for s in flow["jobs"][job]["steps"] if value in str(s.get(key, "")))


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed; `nox -s host_tests` installs it (see its install line)"
    return path


def test_actionlint_finds_nothing() -> None:
    result = subprocess.run(
        [tool("actionlint"), *map(str, FILES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_finds_nothing() -> None:
    result = subprocess.run(
        [tool("zizmor"), "--offline", str(WORKFLOWS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_auditor_persona_finds_nothing() -> None:
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--persona", "auditor", str(WORKFLOWS)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def jobs() -> list[tuple[str, str, dict[str, Any]]]:
    """(file name, job name, job) of every job of every workflow."""
    return [(path.name, name, job) for path in FILES for name, job in yaml.safe_load(path.read_text())["jobs"].items()]


def test_no_package_is_resolved_across_the_torch_index_and_pypi() -> None:
    """The dependency-confusion pattern: an extra index with `unsafe-best-match` lets every dependency come
    from whichever index offers the best version. Only torch may come from the PyTorch index, chosen by
    uv's torch backend."""
    for file, name, job in jobs():
        steps = job.get("steps", [])  # a job calling a reusable workflow has none: that file is checked itself
        settings = {**job.get("env", {}), **{k: v for s in steps for k, v in s.get("env", {}).items()}}
        assert not {"UV_INDEX_STRATEGY", "UV_EXTRA_INDEX_URL", "PIP_EXTRA_INDEX_URL"} & settings.keys(), (file, name)
        assert "index-strategy" not in str(steps) and "extra-index-url" not in str(steps), (file, name)
    torch_jobs = [("matrix.yml", "cell"), ("matrix.yml", "cell-latest"), ("pr.yml", "tests"), ("run-cells.yml", "cell")]
    for file, name, job in jobs():
        if (file, name) in torch_jobs:
            assert job["env"]["UV_TORCH_BACKEND"] == "cpu", (file, name)


PUBLISHES = {("matrix.yml", "publish"), ("full.yml", "publish-full")}
"""The jobs that commit reports (and upload them for GitHub Pages), by workflow file."""
DEPLOYS = {("matrix.yml", "deploy-pages"), ("full.yml", "deploy-pages")}
PAGES_PERMISSIONS = {"pages": "write", "id-token": "write"}


CI_REQUIREMENTS = ".github/requirements/ci.txt"
HASHED_INSTALL = f"python -m pip install --require-hashes --no-deps -r {CI_REQUIREMENTS}"


def test_matrix_jobs_install_their_tools_from_hash_pinned_requirements() -> None:
    installs = [s["run"] for _, _, job in jobs() for s in job.get("steps", []) if "pip install" in s.get("run", "")]
    matrix_installs = [s["run"] for name in ("matrix.yml", "full.yml", "run-cells.yml")
                       for job in workflow(name)["jobs"].values() for s in job.get("steps", [])
                       if "pip install" in s.get("run", "")]
    assert matrix_installs and set(matrix_installs) == {HASHED_INSTALL}, installs
    requirements = [line for line in (REPO / CI_REQUIREMENTS).read_text().splitlines()
                    if line.strip() and not line.lstrip().startswith(("#", "--hash"))]
    pinned = [line.split(" ")[0] for line in requirements]
    assert {"nox", "packaging"} <= {line.split("==")[0] for line in pinned}
    assert all("==" in line and line.rstrip().endswith("\\") for line in requirements), requirements


@pytest.mark.parametrize(("name", "job"), sorted(PUBLISHES))
def test_the_publish_token_is_only_in_the_step_that_pushes(name: str, job: str) -> None:
    publish = workflow(name)["jobs"][job]
    checkout = step(workflow(name), job, "uses", "actions/checkout")
    assert checkout["with"]["persist-credentials"] is False
    holders = [s.get("name") for s in publish["steps"] if "github.token" in str(s) or "secrets." in str(s)]
    assert holders == ["commit the reports"]
    commit = step(workflow(name), job, "name", "commit the reports")
    assert commit["env"] == {"GITHUB_TOKEN": "${{ github.token }}"}
    assert "pip install" not in commit["run"] and "nox" not in commit["run"]
    # a publish killed after its commit point is completed before anything is committed
    assert commit["run"].index("kvmatrix.publish.report_set recover") < commit["run"].index("git add")


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version() -> None:
    uses = [
        line.strip().lstrip("- ")
        for path in FILES
        for line in path.read_text().splitlines()
        if "uses:" in line
    ]
    assert uses, "no action used at all?"
    local = [found["name"] for line in uses if (found := LOCAL_WORKFLOW.fullmatch(line))]
    assert all((WORKFLOWS / name).exists() for name in local)
    assert [line for line in uses if not PINNED_USE.fullmatch(line) and not LOCAL_WORKFLOW.fullmatch(line)] == []


def test_no_expression_is_expanded_inside_a_run_script() -> None:
    for path in FILES:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            assert [s["run"] for s in job.get("steps", []) if "${{" in s.get("run", "")] == [], path.name


def test_permissions_are_read_only_except_where_publish_commits_and_pages_deploys() -> None:
    for path in FILES:
        flow = yaml.safe_load(path.read_text())
        assert flow["permissions"] == {"contents": "read"}, path.name
        for name, job in flow["jobs"].items():
            expected = ({"contents": "write"} if (path.name, name) in PUBLISHES
                        else PAGES_PERMISSIONS if (path.name, name) in DEPLOYS else None)
            assert job.get("permissions") == expected, f"{path.name}: {name}"


@pytest.mark.parametrize(("name", "publish"), sorted(PUBLISHES))
def test_each_publishing_workflow_deploys_reports_to_pages_from_a_job_of_its_own(name: str, publish: str) -> None:
    """The publish job uploads reports/ once its commit step succeeded (not after a failed push: the page
    shows what the branch holds); a separate job, the only one with pages and id-token write, deploys it
    to the github-pages environment, and only when there is an artifact."""
    flow = workflow(name)
    steps = flow["jobs"][publish]["steps"]
    upload = step(flow, publish, "uses", "actions/upload-pages-artifact")
    assert upload["with"] == {"path": "reports/"}
    assert steps.index(upload) > steps.index(step(flow, publish, "name", "commit the reports"))
    assert upload["if"] == "${{ !cancelled() && steps.commit.outcome == 'success' }}"
    assert step(flow, publish, "name", "commit the reports")["id"] == "commit"
    assert flow["jobs"][publish]["outputs"] == {"pages-artifact": f"${{{{ steps.{upload['id']}.outputs.artifact_id }}}}"}
    deploy = flow["jobs"]["deploy-pages"]
    assert deploy["needs"] == publish
    assert deploy["if"] == f"${{{{ !cancelled() && needs.{publish}.outputs.pages-artifact != '' }}}}"
    assert deploy["permissions"] == PAGES_PERMISSIONS
    assert deploy["environment"] == {"name": "github-pages", "url": "${{ steps.deployment.outputs.page_url }}"}
    assert deploy["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/configure-pages", "actions/deploy-pages"]
    assert deploy["steps"][-1]["id"] == "deployment"


def test_matrix_workflow_runs_each_planned_cell_with_cpu_wheels_and_the_uv_cache() -> None:
    flow = workflow("matrix.yml")
    assert set(triggers(flow)) == {"schedule", "workflow_dispatch"}
    cell = flow["jobs"]["cell"]
    assert cell["needs"] == "plan"
    assert cell["strategy"] == {"fail-fast": False, "matrix": "${{ fromJSON(needs.plan.outputs.matrix) }}"}
    assert cell["env"] == {"UV_TORCH_BACKEND": "cpu"}
    assert step(flow, "cell", "uses", "astral-sh/setup-uv")["with"]["enable-cache"] is True
    assert step(flow, "cell", "run", "nox -s")["run"] == 'nox -s "cell(${CELL})" -- --results build/cells'
    upload = step(flow, "cell", "uses", "actions/upload-artifact")["with"]
    assert upload["path"] == "build/cells/${{ matrix.cell }}.json" and upload["name"] == "cell-${{ matrix.cell }}"
    download = step(flow, "publish", "uses", "actions/download-artifact")["with"]
    assert download == {"pattern": "cell-*", "path": "build/artifacts/cells"}


def test_a_matrix_cell_with_unchanged_inputs_is_reused_from_a_cache_only_the_cell_job_touches() -> None:
    flow = workflow("matrix.yml")
    steps = flow["jobs"]["cell"]["steps"]
    key = "cell-${{ matrix.cell }}-${{ steps.inputs.outputs.key }}"
    record = "build/cells/${{ matrix.cell }}.json"
    restore = step(flow, "cell", "uses", "actions/cache/restore")
    save = step(flow, "cell", "uses", "actions/cache/save")
    assert restore["with"] == save["with"] == {"path": record, "key": key}
    assert "inputs_cli key" in step(flow, "cell", "id", "inputs")["run"]
    assert "inputs_cli reuse" in step(flow, "cell", "id", "reuse")["run"]
    assert step(flow, "cell", "run", "nox -s")["if"] == "${{ steps.reuse.outputs.reused != 'true' }}"
    assert save["if"] == "${{ steps.cacheable.outputs.save == 'true' }}"
    order = [s.get("id") or s.get("uses", "").split("@")[0] or s.get("run") for s in steps]
    assert order.index("inputs") < order.index("actions/cache/restore") < order.index("reuse")
    assert order.index("reuse") < order.index("cacheable") < order.index("actions/cache/save")
    for path in FILES:  # no job that may write (publish) restores or saves a cache of its own
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            uses = [s.get("uses", "") for s in job.get("steps", [])]
            if job.get("permissions"):
                assert not [u for u in uses if u.startswith("actions/cache")], f"{path.name}: {name}"


def test_a_full_grid_cell_with_unchanged_inputs_is_reused_from_its_cache_or_reports_full() -> None:
    flow = workflow("run-cells.yml")
    key = "${{ inputs.artifact-prefix }}-${{ matrix.cell }}-${{ steps.inputs.outputs.key }}"
    record = "${{ inputs.results }}/${{ matrix.cell }}.json"
    restore = step(flow, "cell", "uses", "actions/cache/restore")
    save = step(flow, "cell", "uses", "actions/cache/save")
    assert restore["with"] == save["with"] == {"path": record, "key": key}
    assert 'inputs_cli --resolved "$RESOLVED" key' in step(flow, "cell", "id", "inputs")["run"]
    reuse = step(flow, "cell", "id", "reuse")
    assert '--reports "$REPORTS"' in reuse["run"] and reuse["env"]["REPORTS"] == "${{ inputs.reports }}"
    assert step(flow, "cell", "run", "cell_cli")["if"] == "${{ steps.reuse.outputs.reused != 'true' }}"
    assert save["if"] == "${{ steps.cacheable.outputs.save == 'true' }}"
    steps = flow["jobs"]["cell"]["steps"]
    order = [s.get("id") or s.get("uses", "").split("@")[0] or s.get("name") for s in steps]
    assert order.index("inputs") < order.index("actions/cache/restore") < order.index("reuse")
    assert order.index("reuse") < order.index("run the cell") < order.index("cacheable") < order.index("actions/cache/save")
    for name in ("shard-1", "shard-2"):
        assert workflow("full.yml")["jobs"][name]["with"]["reports"] == "reports/full"


def test_the_schedule_runs_both_matrices_and_dispatch_picks_one() -> None:
    flow = workflow("matrix.yml")
    choice = triggers(flow)["workflow_dispatch"]["inputs"]["pins"]
    assert choice["options"] == ["both", "pins.toml", "pins-latest.toml"] and choice["default"] == "both"
    # On the schedule `inputs.pins` is empty, so neither plan job is skipped.
    assert flow["jobs"]["plan"]["if"] == "${{ inputs.pins != 'pins-latest.toml' }}"
    assert flow["jobs"]["plan-latest"]["if"] == "${{ inputs.pins != 'pins.toml' }}"
    assert flow["jobs"]["publish"]["needs"] == ["plan", "cell", "plan-latest", "cell-latest"]


def test_the_schedule_refreshes_the_snapshot_and_every_later_job_reads_the_plan_s_pins() -> None:
    """The plan job moves pins.toml's index snapshot (`nox -s refresh -- --plan`) on the schedule only (or a
    dispatch asking for it over every cell); each cell job and the publish read the plan's pins.toml, and the
    commit carries it with the refresh's message, which names the packages that moved."""
    flow = workflow("matrix.yml")
    refresh = step(flow, "plan", "run", "nox -s refresh")
    assert refresh["run"] == "nox -s refresh -- --plan --message build/plan/refresh.txt"
    assert refresh["if"] == "${{ github.event_name == 'schedule' || (inputs.refresh && inputs.tag == '') }}"
    assert triggers(flow)["workflow_dispatch"]["inputs"]["refresh"]["default"] is False
    steps = flow["jobs"]["plan"]["steps"]
    assert steps.index(refresh) < steps.index(step(flow, "plan", "id", "plan")), "the plan reads the moved file"
    upload = step(flow, "plan", "uses", "actions/upload-artifact")["with"]
    assert upload["name"] == "cell-plan" and upload["path"].splitlines() == ["pins.toml", "build/plan/refresh.txt"]
    download = step(flow, "cell", "uses", "actions/download-artifact")
    cell_steps = flow["jobs"]["cell"]["steps"]
    assert download["with"] == {"name": "cell-plan", "path": "."}
    assert cell_steps.index(download) < cell_steps.index(step(flow, "cell", "id", "inputs"))
    publish = step(flow, "publish", "name", "publish")["run"]
    assert publish.splitlines()[0] == "cp build/artifacts/cells/cell-plan/pins.toml pins.toml"
    commit = step(flow, "publish", "id", "commit")["run"]
    assert "git add reports README.md compat/verified.json pins.toml" in commit
    assert 'git commit -F "$message"' in commit and "cell-plan/build/plan/refresh.txt" in commit


def test_latest_cells_run_from_the_resolved_pins_in_their_own_jobs() -> None:
    flow = workflow("matrix.yml")
    upload = step(flow, "plan-latest", "uses", "actions/upload-artifact")["with"]
    assert upload["name"] == "resolved-pins" and upload["path"] == "build/plan/pins-latest.json"
    cell = flow["jobs"]["cell-latest"]
    assert cell["needs"] == "plan-latest"
    assert cell["strategy"] == {
        "fail-fast": False, "matrix": "${{ fromJSON(needs.plan-latest.outputs.matrix) }}"}
    assert cell["env"] == flow["jobs"]["cell"]["env"]
    assert step(flow, "cell-latest", "uses", "actions/download-artifact")["with"] == {
        "name": "resolved-pins", "path": "build/plan"}
    assert step(flow, "cell-latest", "name", "run the cell")["run"] == (
        "python -m kvmatrix.run.cell_cli --resolved build/plan/pins-latest.json "
        '--results build/latest/cells "$CELL"')
    upload = step(flow, "cell-latest", "uses", "actions/upload-artifact")["with"]
    assert upload["path"] == "build/latest/cells/${{ matrix.cell }}.json"
    assert upload["name"] == "latest-cell-${{ matrix.cell }}"
    publish = flow["jobs"]["publish"]["steps"]
    downloads = [s["with"] for s in publish if "download-artifact" in s.get("uses", "")]
    assert {"name": "resolved-pins", "path": "build/plan"} in downloads
    assert {"pattern": "latest-cell-*", "path": "build/artifacts/latest"} in downloads


def test_pr_workflow_runs_the_readme_test_command_and_the_smoke_matrix() -> None:
    readme_command = "python3 -m pip install nox uv && python3 -m nox -t tests"
    assert readme_command in (REPO / "README.md").read_text()
    flow = workflow("pr.yml")
    assert set(triggers(flow)) == {"pull_request"}
    runs = [s.get("run") for s in flow["jobs"]["tests"]["steps"]]
    assert readme_command in runs and "python3 -m nox -s smoke" in runs


def run_step(
    flow_step: dict[str, Any], cwd: Path, values: dict[str, str], output: Path
) -> subprocess.CompletedProcess:
    """Run a workflow step's `run:` script as GitHub's bash does, with its `env:` expressions replaced by
    `values` (an expression missing from `values` fails the test)."""
    env = {
        key: EXPRESSION.sub(lambda match: values[match.group(1)], str(value))
        for key, value in flow_step.get("env", {}).items()
    }
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", flow_step["run"]],
        cwd=cwd,
        env={**os.environ, **env, "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        check=False,
    )


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_plan_step_emits_exactly_the_cells_of_pins_toml(tmp_path: Path) -> None:
    plan = step(workflow("matrix.yml"), "plan", "id", "plan")
    everything, smoke = tmp_path / "all", tmp_path / "smoke"
    assert run_step(plan, REPO, {"inputs.tag": ""}, everything).returncode == 0
    assert run_step(plan, REPO, {"inputs.tag": "smoke"}, smoke).returncode == 0
    planned = json.loads(outputs(everything)["matrix"])
    assert planned["include"] == [
        {"cell": c.id, "transformers": c.transformers, "torch": c.torch, "python": DEFAULT_PINS.python_for(c)}
        for c in DEFAULT_PINS.cells
    ]
    assert outputs(everything)["cells"] == ",".join(c.id for c in DEFAULT_PINS.cells)
    assert [entry["cell"] for entry in json.loads(outputs(smoke)["matrix"])["include"]] == [
        c.id for c in DEFAULT_PINS.tagged("smoke")
    ]


def test_every_planned_cell_is_a_nox_session() -> None:
    listed = subprocess.run(
        ["nox", "--json", "-l", "-t", "cells"], cwd=REPO, capture_output=True, text=True, check=True
    )
    sessions = [entry["session"] for entry in json.loads(listed.stdout)]
    assert sessions == [f"cell({cell.id})" for cell in DEFAULT_PINS.cells]


def cell_result(cell: Cell, verdict: str) -> dict[str, Any]:
    """A result file as a cell job leaves it, run on the Python pins.toml gives the cell: every suite of the
    checkout has one test with `verdict` in both modes."""
    error = None if verdict == "pass" else "AssertionError: differs from eager"
    tests = [{**record(suite, f"test_{suite}", verdict, error=error, duration_s=0.1), "metrics": {}}
             for suite in SUITES]
    return build_cell(cell.transformers, cell.torch, mode_runs(tests), suites=SUITES, **cell.to_json(),
                      python=f"{DEFAULT_PINS.python_for(cell)}.7", freeze=[f"torch=={cell.torch}+cpu"],
                      metrics={"compile": {}}, install_duration_s=0.5, duration_s=2.0)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """What the publish job checks out: the host code, the suites (the matrix's columns), the library (whose
    answer words kvmatrix.record.uses reads from compat.check), the noxfile and the pyproject.toml whose
    dependency groups it reads, the pins and the README."""
    root = tmp_path / "repo"
    for folder in ("kvmatrix", "suites", "compat"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("noxfile.py", "pyproject.toml", "pins.toml", "pins-latest.toml", "README.md"):
        shutil.copy(REPO / name, root / name)
    return root


def test_plan_then_cell_results_then_publish_as_ci_runs_them(checkout: Path, tmp_path: Path) -> None:
    flow = workflow("matrix.yml")
    plan_out = tmp_path / "plan-output"
    assert run_step(step(flow, "plan", "id", "plan"), checkout, {"inputs.tag": ""}, plan_out).returncode == 0
    planned = outputs(plan_out)
    values = {"needs.plan.outputs.cells": planned["cells"]}
    publish_step = step(flow, "publish", "name", "publish")
    cells = {cell.id: cell for cell in load_pins(checkout / "pins.toml").cells}
    results = Path("build/artifacts/cells")  # where download-artifact puts the cell artifacts, each in its folder
    ids = [entry["cell"] for entry in json.loads(planned["matrix"])["include"]]

    def write(cell_id: str, verdict: str) -> None:
        folder = checkout / results / f"cell-{cell_id}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{cell_id}.json").write_text(json.dumps(cell_result(cells[cell_id], verdict)))

    for cell_id in ids:
        write(cell_id, "pass")
    (checkout / results / "cell-plan").mkdir()  # the plan's pins.toml, which the publish step takes
    shutil.copy(checkout / "pins.toml", checkout / results / "cell-plan" / "pins.toml")
    first = run_step(publish_step, checkout, values, tmp_path / "out")
    assert first.returncode == 0, first.stdout + first.stderr
    reports = checkout / "reports"
    matrix = json.loads((reports / "matrix.json").read_text())
    assert [cell["id"] for cell in matrix["cells"]] == ids
    assert {cell["suites"]["export"]["with"]["verdict"] for cell in matrix["cells"]} == {"pass"}
    assert json.loads((reports / "badges" / "suite-export.json").read_text())["message"] == f"{len(ids)} pass"
    assert f'<tr id="cell-{ids[0]}"' in (reports / "index.html").read_text()
    assert f"Generated at {matrix['generated_at']}" in (checkout / "README.md").read_text()
    assert "First published run" in first.stdout

    write(ids[-1], "fail")
    second = run_step(publish_step, checkout, values, tmp_path / "out")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"newly failing: `{ids[-1]}` · export (with): ✅ pass → ❌ fail" in second.stdout
    assert len((reports / "history.jsonl").read_text().splitlines()) == 2
    assert f"newly failing: `{ids[-1]}` · export (with)" in (reports / "matrix.md").read_text()

    published = {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()}
    (checkout / results / f"cell-{ids[0]}" / f"{ids[0]}.json").unlink()  # a job that crashed before writing
    partial = run_step(publish_step, checkout, values, tmp_path / "out")
    assert partial.returncode != 0
    assert f"refusing to publish a partial matrix: no result file in {results} for {ids[0]}" in (
        partial.stdout + partial.stderr
    )
    assert {path: path.read_bytes() for path in reports.rglob("*") if path.is_file()} == published


def files(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_latest_plan_resolves_then_publish_records_the_selectors(
    checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = workflow("matrix.yml")
    plan_out = tmp_path / "plan-output"
    with serve_index() as index:
        monkeypatch.setenv("UV_DEFAULT_INDEX", index.url)
        planned = run_step(step(flow, "plan-latest", "id", "plan"), checkout, {}, plan_out)
        expected = resolve_latest(checkout / "pins-latest.toml")
    assert planned.returncode == 0, planned.stderr
    entries = json.loads(outputs(plan_out)["matrix"])["include"]
    # The fixture index's newest releases: transformers 5.24.0 (and 5.20.2, the newest 5.20), torch 2.15.0.
    assert entries[0] == {"cell": "tf5.24.0-torch2.15.0", "transformers": "5.24.0", "torch": "2.15.0",
                          "python": "3.11", "requested": {"transformers": "latest", "torch": "latest"}}
    assert {"cell": "tf5.20.2-torch2.15.0", "transformers": "5.20.2", "torch": "2.15.0", "python": "3.11",
            "requested": {"transformers": "newest_patch_of_each_minor(>=5.20)", "torch": "latest"}} in entries
    assert entries == [
        {"cell": c.id, "transformers": c.transformers, "torch": c.torch, "python": "3.11",
         "requested": dict(c.requested)}
        for c in expected.cells
    ]
    assert outputs(plan_out)["cells"] == ",".join(entry["cell"] for entry in entries)
    resolved = load_resolved(checkout / "build" / "plan" / "pins-latest.json")  # the resolved-pins artifact
    assert (resolved.path, resolved.python) == ("pins-latest.toml", "3.11")
    # pins-latest.toml names no snapshot: each resolution is as of the second it ran, so the plan's (taken first)
    # may be a second before this test's own; every cell of the plan installs as of that one time.
    planned_at = {cell.snapshot for cell in resolved.cells}
    assert len(planned_at) == 1 and planned_at.pop() <= expected.cells[0].snapshot
    assert [replace(cell, snapshot=None) for cell in resolved.cells] == \
        [replace(cell, snapshot=None) for cell in expected.cells]

    results = checkout / "build" / "artifacts" / "latest"  # download-artifact: one folder per artifact
    for cell in resolved.cells:  # as cell_cli --resolved leaves them: the identity comes from that file
        (results / f"latest-cell-{cell.id}").mkdir(parents=True)
        (results / f"latest-cell-{cell.id}" / f"{cell.id}.json").write_text(json.dumps(cell_result(cell, "pass")))
    readme = (checkout / "README.md").read_bytes()
    publish_step = step(flow, "publish", "name", "publish latest")
    values = {"needs.plan-latest.outputs.cells": outputs(plan_out)["cells"]}
    published = run_step(publish_step, checkout, values, tmp_path / "out")
    assert published.returncode == 0, published.stdout + published.stderr
    matrix = json.loads((checkout / "reports" / "latest" / "matrix.json").read_text())
    assert matrix["pins_file"] == "pins-latest.toml"
    assert [(c["id"], c["pins"]["requested"]) for c in matrix["cells"]] == [
        (entry["cell"], entry["requested"]) for entry in entries
    ]
    assert (checkout / "README.md").read_bytes() == readme
    assert not (checkout / "reports" / "matrix.json").exists()

    before = files(checkout / "reports")
    cell_id = entries[0]["cell"]
    (results / f"latest-cell-{cell_id}" / f"{cell_id}.json").unlink()  # a latest cell job that crashed
    partial = run_step(publish_step, checkout, values, tmp_path / "out")
    assert partial.returncode != 0
    refusal = "refusing to publish a partial matrix: no result file in build/artifacts/latest for "
    assert refusal + entries[0]["cell"] in partial.stdout + partial.stderr
    assert files(checkout / "reports") == before


def test_latest_plan_without_an_index_fails_as_infra_and_plans_nothing(
    checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UV_DEFAULT_INDEX", refused_url())
    plan_out = tmp_path / "plan-output"
    failed = run_step(step(workflow("matrix.yml"), "plan-latest", "id", "plan"), checkout, {}, plan_out)
    assert failed.returncode == 3
    assert failed.stderr.startswith("infra: cannot resolve the selectors of pins-latest.toml: ")
    assert plan_out.read_text() == "" and not (checkout / "build" / "plan").exists()


def test_publish_of_resolved_pins_defaults_to_reports_latest(checkout: Path, tmp_path: Path) -> None:
    cell = Cell("5.24.0", "2.15.0", requested=(("transformers", "latest"), ("torch", "latest")))
    resolved = tmp_path / "pins-latest.json"
    resolved.write_text(json.dumps({"schema_version": 1, "pins_file": "pins-latest.toml", "python": "3.11",
                                    "snapshot": "2026-12-07T02:00:00Z", "cells": [cell.to_json()]}))
    results = tmp_path / "cells"
    results.mkdir()
    (results / f"{cell.id}.json").write_text(json.dumps(cell_result(cell, "pass")))
    readme = (checkout / "README.md").read_bytes()
    proc = subprocess.run(
        ["nox", "-s", "publish", "--", "--resolved", str(resolved), "--results", str(results)],
        cwd=checkout, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(path.name for path in (checkout / "reports").iterdir()) == ["latest"]
    matrix = json.loads((checkout / "reports" / "latest" / "matrix.json").read_text())
    assert [published["id"] for published in matrix["cells"]] == [cell.id]
    assert (checkout / "README.md").read_bytes() == readme


def test_the_full_grid_runs_every_shard_the_plan_writes_through_the_cell_workflow() -> None:
    flow = workflow("full.yml")
    plan_run = step(flow, "plan-full", "id", "plan")["run"]
    shard_count = int(re.search(r"--shards (\d+)", plan_run)[1])
    assert "--pins pins-full.toml" in plan_run and "--resolved-out build/plan/pins-full.json" in plan_run
    shard_jobs = [name for name in flow["jobs"] if name.startswith("shard-")]
    assert shard_jobs == [f"shard-{k}" for k in range(1, shard_count + 1)]
    for name in shard_jobs:
        job = flow["jobs"][name]
        assert job["uses"] == "$/.github/workflows/run-cells.yml"
        assert job["with"]["matrix"] == f"${{{{ needs.plan-full.outputs.{name} }}}}"
        assert flow["jobs"]["plan-full"]["outputs"][f"{name}-size"] == f"${{{{ steps.plan.outputs.{name}-size }}}}"
    publish = flow["jobs"]["publish-full"]
    assert set(publish["needs"]) == {"plan-full", *shard_jobs}
    command = step(flow, "publish-full", "name", "publish the full grid")["run"]
    assert "--reports reports/full" in command and '--cells "$CELLS"' in command
    cells = workflow("run-cells.yml")["jobs"]["cell"]
    assert cells["strategy"]["matrix"] == "${{ fromJSON(inputs.matrix) }}"
    assert cells["env"] == {"UV_TORCH_BACKEND": "cpu"}



CELL_ARTIFACTS = [  # (workflow, job uploading a cell's result, its matrix values, publish job, publish step name)
    ("matrix.yml", "cell", {}, "publish", "publish"),
    ("matrix.yml", "cell-latest", {}, "publish", "publish latest"),
    ("run-cells.yml", "cell", {"inputs.artifact-prefix": "full-cell", "inputs.results": "build/full/cells"},
     "publish-full", "publish the full grid"),
]


def expand(text: str, values: dict[str, str]) -> str:
    """`text` with its `${{ }}` expressions replaced by `values`."""
    return EXPRESSION.sub(lambda match: values[match.group(1)], text)


def artifact(upload: dict[str, Any], values: dict[str, str], workspace: Path) -> tuple[str, dict[str, bytes]]:
    """(name, files) of the artifact an upload-artifact step makes in `workspace`: a file path uploads that
    file alone, a folder every file below it (paths relative to the folder); several paths (one a line) upload
    the files that exist, relative to their least common ancestor folder."""
    name = expand(upload["with"]["name"], values)
    paths = [workspace / expand(line.strip(), values) for line in upload["with"]["path"].splitlines() if line.strip()]
    if len(paths) > 1:
        found = [path for path in paths if path.is_file()]
        root = Path(os.path.commonpath([path.parent for path in found]))
        return name, {str(path.relative_to(root)): path.read_bytes() for path in found}
    (path,) = paths
    if path.is_file():
        return name, {path.name: path.read_bytes()}
    return name, {str(found.relative_to(path)): found.read_bytes() for found in path.rglob("*") if found.is_file()}


def download(step_: dict[str, Any], artifacts: dict[str, dict[str, bytes]], workspace: Path) -> None:
    """What actions/download-artifact v8 does with `pattern`: every matching artifact into a folder of its
    name below `path`, except with merge-multiple or a lone match, which are extracted into `path` itself
    (src/download-artifact.ts: `isSingleArtifactDownload || inputs.mergeMultiple || artifacts.length === 1`)."""
    matched = {name: files for name, files in artifacts.items() if fnmatch.fnmatchcase(name, step_["with"]["pattern"])}
    flat = step_["with"].get("merge-multiple") is True or len(matched) == 1
    for name, files in matched.items():
        for relative, data in files.items():
            target = workspace / step_["with"]["path"] / ("" if flat else name) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def uploads(flow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return [s for s in flow["jobs"][job].get("steps", []) if "actions/upload-artifact" in s.get("uses", "")]


@pytest.mark.parametrize(("name", "job", "values", "publish", "publish_step"), CELL_ARTIFACTS)
def test_each_cell_job_uploads_its_result_alone_and_the_publish_reads_it_only_from_that_artifact(
    name: str, job: str, values: dict[str, str], publish: str, publish_step: str
) -> None:
    (upload,) = uploads(workflow(name), job)
    values = {**values, "matrix.cell": "tf4.57.6-torch2.13.0"}
    results = expand(upload["with"]["path"], values)
    assert results.endswith("/tf4.57.6-torch2.13.0.json"), results  # the cell's own result, not its folder
    prefix = expand(upload["with"]["name"], {**values, "matrix.cell": ""})
    caller = "full.yml" if name == "run-cells.yml" else name
    downloads = [s for s in workflow(caller)["jobs"][publish]["steps"]
                 if s.get("with", {}).get("pattern") == f"{prefix}*"]
    assert len(downloads) == 1 and "merge-multiple" not in downloads[0]["with"]
    command = step(workflow(caller), publish, "name", publish_step)["run"]
    assert f"--results {downloads[0]['with']['path']} --artifact-prefix {prefix} " in command
    # a trusted artifact the pattern always matches too, so download-artifact never extracts a lone one flat
    planned = [upload for plan in ("plan", "plan-latest", "plan-full") if plan in workflow(caller)["jobs"]
               for upload in uploads(workflow(caller), plan) if upload["with"]["name"] == f"{prefix}plan"]
    assert len(planned) == 1


def test_a_cell_job_cannot_supply_another_cells_result_even_when_that_cell_left_none(
    checkout: Path, tmp_path: Path
) -> None:
    """Cell A's job (third-party code) writes an all-pass result for cell B, whose own job died before
    uploading: published as CI runs it, B has no result, and --require-complete refuses the run."""
    flow = workflow("matrix.yml")
    plan_out = tmp_path / "plan-output"
    assert run_step(step(flow, "plan", "id", "plan"), checkout, {"inputs.tag": ""}, plan_out).returncode == 0
    planned = outputs(plan_out)
    cells = {cell.id: cell for cell in load_pins(checkout / "pins.toml").cells}
    ids = planned["cells"].split(",")
    forger, victim = ids[0], ids[1]
    artifacts = dict(artifact(upload, {}, checkout) for upload in uploads(flow, "plan"))
    (upload,) = uploads(flow, "cell")
    for cell_id in [forger, *ids[2:]]:
        workspace = tmp_path / "jobs" / cell_id
        (workspace / "build" / "cells").mkdir(parents=True)
        (workspace / "build" / "cells" / f"{cell_id}.json").write_text(json.dumps(cell_result(cells[cell_id], "fail")))
        if cell_id == forger:
            forged = cell_result(cells[victim], "pass")
            (workspace / "build" / "cells" / f"{victim}.json").write_text(json.dumps(forged))
        name, files = artifact(upload, {"matrix.cell": cell_id}, workspace)
        artifacts[name] = files
    download(next(s for s in flow["jobs"]["publish"]["steps"] if s.get("with", {}).get("pattern") == "cell-*"),
             artifacts, checkout)
    published = run_step(step(flow, "publish", "name", "publish"), checkout,
                         {"needs.plan.outputs.cells": planned["cells"]}, tmp_path / "out")
    assert published.returncode != 0
    assert f"refusing to publish a partial matrix: no result file in build/artifacts/cells for {victim}" in (
        published.stdout + published.stderr)
    assert not (checkout / "reports" / "matrix.json").exists()
