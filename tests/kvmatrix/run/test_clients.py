"""The client environments of a cell (kvmatrix.run.clients): the core runs leave the client suites out, a
client gets the cell's exact pins plus its package, its tests join the cell's runs, and a client that cannot
be installed is recorded with uv's reason and no run."""

from __future__ import annotations

import shutil
import threading
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from kvmatrix import REPO_ROOT
from kvmatrix.plan.pins import Cell
from kvmatrix.record.cell_record import InstallOutcome
from kvmatrix.record.verdicts import MODES, RAN, SETUP, TICO_MODE
from kvmatrix.run import clients as clients_module
from kvmatrix.run.cell import requirements
from kvmatrix.run.clients import (
    CLIENTS,
    Client,
    client_requirements,
    client_selections,
    core_selection,
    core_targets,
    entry,
    installed_version,
    installed_versions,
    merge_runs,
    pinned_torch,
    run_client,
    run_clients,
    silent_run_reason,
    split_selection,
)
from kvmatrix.run.process.slots import RunSlots

needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is installed by the nox session")


def test_every_client_has_a_suite_file_and_the_core_runs_leave_them_out() -> None:
    core = core_targets()
    for client in CLIENTS:
        assert (REPO_ROOT / client.suite_file).is_file()
        assert client.suite_file not in core
    assert "suites/test_export.py" in core
    assert len(core) + len(CLIENTS) == len(list((REPO_ROOT / "suites").glob("test_*.py")))


def test_a_client_keeps_the_cell_s_exact_torch_and_transformers() -> None:
    wanted = requirements(Cell.from_id("tf4.57.6-torch2.13.0"))
    for client in CLIENTS:
        needs = client_requirements(wanted, client)
        assert needs[: len(wanted)] == wanted
        assert [line.removesuffix("<1.5") for line in needs[-len(client.packages):]] == list(client.packages)
        assert "torch==2.13.0" in needs and "transformers==4.57.6" in needs


def test_executorch_below_torch_2_14_is_limited_to_the_releases_that_name_their_torch() -> None:
    executorch = next(client for client in CLIENTS if client.name == "executorch")
    for torch, expected in {"2.5.1": "executorch<1.5", "2.10.0": "executorch<1.5", "2.13.0": "executorch<1.5",
                            "2.14.0": "executorch", "2.15.0": "executorch"}.items():
        wanted = requirements(Cell.from_id(f"tf4.57.6-torch{torch}"))
        assert pinned_torch(wanted) == Version(torch)
        assert client_requirements(wanted, executorch)[-1] == expected
    assert pinned_torch(["transformers==4.57.6", "torch>=2.5"]) is None


def test_executorch_below_torch_2_9_gets_a_setuptools_that_still_has_pkg_resources() -> None:
    """executorch 0.5 and 0.7 (torch 2.6, 2.8) import pkg_resources without requiring setuptools, which
    dropped it in 82.0.0; from 1.0 (torch 2.9) on they no longer import it, and their environment is left
    as installing executorch gives it."""
    executorch = next(client for client in CLIENTS if client.name == "executorch")
    for torch, extra in {"2.6.0": ["setuptools<82"], "2.8.0": ["setuptools<82"], "2.9.1": [], "2.13.0": []}.items():
        wanted = requirements(Cell.from_id(f"tf4.55.4-torch{torch}"))
        assert client_requirements(wanted, executorch) == [*wanted, *extra, *executorch.requirements(Version(torch))]
    tico = next(client for client in CLIENTS if client.name == "tico")
    assert client_requirements(requirements(Cell.from_id("tf4.55.4-torch2.8.0")), tico)[-1] == "tico"


def test_onnx_asks_for_onnxscript_and_onnxruntime_unlimited_on_every_pinned_torch() -> None:
    """Neither package names a torch and the newest onnxscript converts on every pinned torch (2.5.1 on):
    the environment asks for both as they are, after the cell's pins; limiting the first package
    (Client.older_torch) applies to it alone."""
    onnx = next(client for client in CLIENTS if client.name == "onnx")
    for torch in ("2.5.1", "2.8.0", "2.15.0"):
        wanted = requirements(Cell.from_id(f"tf4.57.6-torch{torch}"))
        assert client_requirements(wanted, onnx) == [*wanted, "onnxscript", "onnxruntime"]
    limited = Client("onnx", ("onnxscript", "onnxruntime"), older_torch=("2.6", "<0.2"))
    assert limited.requirements(Version("2.5.1")) == ("onnxscript<0.2", "onnxruntime")
    assert limited.requirements(Version("2.6.0")) == ("onnxscript", "onnxruntime")
    assert limited.requirements(None) == ("onnxscript", "onnxruntime")


def test_a_selection_is_split_between_the_core_runs_and_each_client() -> None:
    selection = ["suites/test_export.py::test_a[x]", "suites/test_tico.py::test_b[y]", "suites/test_executorch.py"]
    tico = next(client for client in CLIENTS if client.name == "tico")
    assert split_selection(selection, tico) == ["suites/test_tico.py::test_b[y]"]
    assert core_selection(selection) == ["suites/test_export.py::test_a[x]"]
    assert core_selection(None) == core_targets()


def test_tico_alone_runs_the_core_suites_in_a_mode_of_its_own() -> None:
    modes = {client.name: client.core_mode for client in CLIENTS}
    assert modes == {"executorch": None, "tico": TICO_MODE, "onnx": None}
    assert TICO_MODE not in MODES


def test_tico_s_environment_runs_the_core_suites_in_its_mode_beside_its_own_suite_in_both_modes() -> None:
    """The TICO run leaves out the decomposition and the model families (NOT_IN_TICO_MODE), asked or not."""
    tico, executorch = (next(client for client in CLIENTS if client.name == name) for name in ("tico", "executorch"))
    in_tico_mode = [target for target in core_targets()
                    if target not in ("suites/test_decompose.py", "suites/test_families.py")]
    assert "suites/test_export.py" in in_tico_mode and len(in_tico_mode) == len(core_targets()) - 2
    assert client_selections(tico, None) == {
        TICO_MODE: in_tico_mode, "with": [tico.suite_file], "without": [tico.suite_file]}
    families = ["suites/test_families.py::test_family_wrapper_decodes_like_eager[llama]"]
    assert client_selections(tico, families) == {}
    assert client_selections(executorch, None) == dict.fromkeys(MODES, [executorch.suite_file])
    only_core = ["suites/test_export.py::test_a[x]"]
    assert client_selections(tico, only_core) == {TICO_MODE: only_core}
    assert client_selections(executorch, only_core) == {}
    assert client_selections(tico, ["suites/test_tico.py::t"]) == dict.fromkeys(
        MODES, ["suites/test_tico.py::t"])


def test_a_client_run_that_reported_no_test_is_explained_by_the_reason_its_log_gave() -> None:
    client = Client("executorch", ("executorch",))
    runs = {"with": {"exit_code": 3, "tests": [],
                     "log_reason": "AttributeError: module 'torch' has no attribute 'int1'"},
            "without": {"exit_code": 1, "tests": [{"suite": "executorch", "name": "t"}]}}
    assert silent_run_reason(client, runs) == (
        "the with run reported no test (pytest exit 3): AttributeError: module 'torch' has no attribute 'int1'")
    runs["with"]["tests"] = [{"suite": "executorch", "name": "t"}]
    assert silent_run_reason(client, runs) is None
    runs["without"] = {"exit_code": 4, "tests": [], "log_reason": None}
    assert silent_run_reason(client, runs) == (
        "the without run reported no test (pytest exit 4): no error line in its log")


def test_a_client_s_tests_join_the_cell_s_runs_and_its_own_mode_is_a_run_of_its_own() -> None:
    runs = {mode: {"exit_code": 0, "tests": [{"suite": "export", "name": f"t-{mode}"}]} for mode in MODES}
    tico_run = {"exit_code": 1, "tests": [{"suite": "export", "name": "t-tico"}]}
    merge_runs(runs, {"with": {"exit_code": 1, "tests": [{"suite": "tico", "name": "c"}]}, TICO_MODE: tico_run})
    assert [test["name"] for test in runs["with"]["tests"]] == ["t-with", "c"]
    assert runs["with"]["exit_code"] == 0 and [test["name"] for test in runs["without"]["tests"]] == ["t-without"]
    assert runs[TICO_MODE] is tico_run


def test_the_installed_version_is_read_from_the_freeze_by_normalised_name() -> None:
    frozen = ["executorch==1.5.1", "some_package==2.0", "tico==0.3.0"]
    assert installed_version(frozen, "tico") == "tico==0.3.0"
    assert installed_version(frozen, "Some-Package") == "some_package==2.0"
    assert installed_version(frozen, "absent") is None


def test_the_installed_entry_names_every_package_of_the_client_found_in_the_freeze_in_its_order() -> None:
    frozen = ["numpy==2.2.6", "onnxruntime==1.23.2", "onnxscript==0.7.2"]
    assert installed_versions(frozen, ("onnxscript", "onnxruntime")) == "onnxscript==0.7.2, onnxruntime==1.23.2"
    assert installed_versions(frozen, ("onnxscript", "absent")) == "onnxscript==0.7.2"
    assert installed_versions(frozen, ("absent",)) is None


def test_the_clients_run_at_the_same_time_on_the_cell_s_slots_and_snapshot_and_report_in_their_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cell_slots = RunSlots(2)
    all_started = threading.Barrier(len(CLIENTS), timeout=10)

    def fake_run_client(client: Client, *args: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        assert args[-2:] == (cell_slots, "2026-12-01T00:00:00Z")
        all_started.wait()  # BrokenBarrierError when the clients run one after another
        return entry(RAN, installed=f"{client.packages[0]}==1"), {"with": {"tests": [{"suite": client.name}]}}

    monkeypatch.setattr(clients_module, "run_client", fake_run_client)
    section, runs = run_clients(["torch==2.13.0"], "3.11", tmp_path, slots=cell_slots,
                                snapshot="2026-12-01T00:00:00Z")
    names = [client.name for client in CLIENTS]
    assert list(section) == names
    assert all(section[name]["status"] == RAN for name in names)
    assert [run["with"]["tests"][0]["suite"] for run in runs] == names


def fake_environment(where: Path, modules: dict[str, str]) -> str:
    """A real environment without pip whose site-packages holds `modules` (dotted name -> source), standing
    in for an installed client; its python."""
    venv.create(where, with_pip=False)
    (site,) = where.glob("lib/python*/site-packages")
    for name, source in modules.items():
        package = site.joinpath(*name.split("."))
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text(source)
    return str(where / "bin" / "python")


def run_installed_client(client: Client, python: str, work_dir: Path,
                         monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """run_client for `client` with `python`'s environment as its installed one (no uv, no fork server);
    returns its entry, its runs and the modes its suite ran in."""
    ran: list[str] = []

    @contextmanager
    def no_server(*args: Any, **kwargs: Any) -> Iterator[dict[str, str]]:
        yield {}

    def fake_run_modes(*args: Any, selections: dict[str, list[str]], **kwargs: Any) -> dict[str, Any]:
        ran.extend(selections)
        return {mode: {"exit_code": 0, "tests": [{"suite": client.name}]} for mode in selections}

    monkeypatch.setattr(clients_module, "ensure_venv", lambda *args: python)
    monkeypatch.setattr(clients_module, "install", lambda *args, **kwargs: InstallOutcome(RAN))
    monkeypatch.setattr(clients_module, "freeze", lambda _: [f"{package}==0.7.0" for package in client.packages])
    monkeypatch.setattr(clients_module, "preloaded", no_server)
    monkeypatch.setattr(clients_module, "run_modes", fake_run_modes)
    monkeypatch.setattr(clients_module, "rerun_modes", lambda *args, **kwargs: None)
    client_entry, runs = run_client(client, ["torch==2.8.0"], "3.11", work_dir)
    return client_entry, runs, ran


def test_a_client_that_does_not_import_in_its_environment_is_setup_and_its_suite_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """executorch 0.7's import of pkg_resources failing in our environment is no verdict on ExecuTorch: its
    suite is not run (every test would `fail`), the client's status says why."""
    executorch = next(client for client in CLIENTS if client.name == "executorch")
    python = fake_environment(tmp_path / "venv", {"executorch": "", "executorch.exir": "import pkg_resources\n",
                                                  "executorch.runtime": ""})
    client_entry, runs, ran = run_installed_client(executorch, python, tmp_path / "cell", monkeypatch)
    assert client_entry["status"] == SETUP and client_entry["installed"] == "executorch==0.7.0"
    assert "No module named 'pkg_resources'" in client_entry["reason"]
    assert "executorch.exir" in client_entry["reason"]
    assert runs == {} and ran == []


def test_a_client_that_imports_in_its_environment_runs_its_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executorch = next(client for client in CLIENTS if client.name == "executorch")
    python = fake_environment(tmp_path / "venv", {"executorch": "", "executorch.exir": "", "executorch.runtime": ""})
    client_entry, runs, ran = run_installed_client(executorch, python, tmp_path / "cell", monkeypatch)
    assert client_entry == entry(RAN, installed="executorch==0.7.0")
    assert ran == list(MODES) and set(runs) == set(MODES)
