"""The downstream clients of a cell (ExecuTorch, TICO, ONNX): each gets its own environment, the cell's exact
pins plus the client's packages, where its suite file runs in both registration modes (a test of a route no
registration can reach, ExecuTorch's and the ONNX wrapper route, is n/a outside one of them: suites.support.once);
TICO's environment also runs the core suites with TICO's own registration (the `tico` mode). The core runs never collect a client's
suite file: the cell's environment lacks its package (docs/clients.md).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from kvmatrix import REPO_ROOT
from kvmatrix.record.columns import SUITE_PREFIX, discover_suites, suite_of
from kvmatrix.record.log_errors import first_error
from kvmatrix.record.verdicts import ERROR, MODES, NOT_IN_TICO_MODE, RAN, SETUP, TICO_MODE
from kvmatrix.run.env.envs import VenvError, ensure_venv
from kvmatrix.run.env.install import freeze, install
from kvmatrix.run.process.pytest_run import preloaded, rerun_modes, run_environment, run_modes
from kvmatrix.run.process.slots import RunSlots

SUITES_DIR = "suites"
IMPORT_TIMEOUT_S = 600
"""The import check of a client's environment (import_failure): generous, since the first import
after an install also compiles the package's bytecode."""


@dataclass(frozen=True)
class Client:
    """A downstream client: its name (also its suite, `suites/test_<name>.py`), the packages installed for
    it (the first is the client itself, whose releases follow torch's: `older_torch` limits it), and the
    registration mode its environment runs the core suites in (None: none)."""

    name: str
    packages: tuple[str, ...]
    core_mode: str | None = None
    older_torch: tuple[str, str] | None = None
    """(torch version, specifier): on a torch below that version only the releases of the client's first
    package within the specifier are asked for, the ones whose metadata name the torch they were built for
    (None: any)."""
    preload: tuple[str, ...] = ()
    """Modules of the client that its environment's fork server imports after PRELOADED (kvmatrix.run.process.fork_server
    says which may be)."""
    undeclared: tuple[str, tuple[str, ...]] | None = None
    """(torch version, requirements): on a torch below that version the environment also asks for these,
    which the client's releases picked there import without declaring them (None: nothing)."""
    imports: tuple[str, ...] = ()
    """Modules of the client its suite needs: the host checks that they import in the environment before
    running the suite (import_failure)."""

    def requirements(self, torch_version: Version | None) -> tuple[str, ...]:
        """The client's packages as the environment of a cell with `torch_version` asks for them."""
        first, *others = self.packages
        if self.older_torch is not None and torch_version is not None:
            below, specifier = self.older_torch
            first = f"{first}{specifier}" if torch_version < Version(below) else first
        return (first, *others)

    def undeclared_requirements(self, torch_version: Version | None) -> tuple[str, ...]:
        """What the environment of a cell with `torch_version` asks for beside the package (Client.undeclared;
        none where the torch is unknown)."""
        if self.undeclared is None or torch_version is None:
            return ()
        below, wanted = self.undeclared
        return wanted if torch_version < Version(below) else ()

    @property
    def suite_file(self) -> str:
        """The client's suite file, relative to the checkout."""
        return f"{SUITES_DIR}/{SUITE_PREFIX}{self.name}.py"


CLIENTS = (
    # Each executorch release up to 1.4 names the torch it was built for (0.7: ==2.8.0; 1.1: >=2.10; 1.4:
    # >=2.13); 1.5 names none, so uv would give every torch 1.5.1, whose compiled parts need a newer one
    # (its runtime cannot run `x + 1` on torch 2.10; its torchao import fails on 2.8). Below 1.5's torch
    # (2.14, by the releases' one-minor steps) the environment asks for the releases that name theirs
    # (docs/clients.md).
    # Every worker of the environment paid the import of executorch.exir in its first lowering; the
    # server pays it once (kvmatrix.run.process.fork_server).
    # executorch up to 0.7 imports pkg_resources (exir/dialects/edge/_ops.py, the XNNPACK serializer) without
    # requiring setuptools, which dropped it in 82.0.0; 1.0 (torch 2.9 and newer) no longer imports it.
    Client("executorch", ("executorch",), older_torch=("2.14", "<1.5"), preload=("executorch.exir",),
           undeclared=("2.9", ("setuptools<82",)), imports=("executorch.exir", "executorch.runtime")),
    Client("tico", ("tico",), core_mode=TICO_MODE, imports=("tico",)),
    # torch.onnx.export(dynamo=True) converts with onnxscript and the suite runs the model in onnxruntime.
    # Neither names a torch: the newest onnxscript (0.7.2, 2026-12) converts the decode step on every pinned
    # torch from 2.5.1 to 2.15.0, and uv picks the newest onnxruntime with wheels for the cell's Python
    # (1.32.0 on 3.11; 1.23.2, the last with cp310 wheels, on 3.10), so nothing is limited (docs/clients.md).
    Client("onnx", ("onnxscript", "onnxruntime"), imports=("onnxscript", "onnxruntime")),
)
"""Every client a cell runs, in order."""


def pinned_torch(cell_requirements: Sequence[str]) -> Version | None:
    """The torch version `cell_requirements` pin with `==` (None: no such pin)."""
    for line in cell_requirements:
        requirement = Requirement(line)
        pins = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if canonicalize_name(requirement.name) == "torch" and pins:
            return Version(pins[0])
    return None


def client_requirements(cell_requirements: Sequence[str], client: Client) -> list[str]:
    """The cell's exact requirements (kvmatrix.run.cell.requirements: torch and transformers pinned with
    `==`, so the client cannot move them), what the client's releases for that torch import undeclared
    (Client.undeclared_requirements), then the client's packages (Client.requirements for that torch)."""
    torch_version = pinned_torch(cell_requirements)
    return [*cell_requirements, *client.undeclared_requirements(torch_version), *client.requirements(torch_version)]


def every_client_requirements(cell_requirements: Sequence[str]) -> dict[str, list[str]]:
    """Client name -> its environment's requirements (client_requirements), for every client of CLIENTS."""
    return {client.name: client_requirements(cell_requirements, client) for client in CLIENTS}


def core_targets() -> list[str]:
    """The suite files of the checkout that are not a client's, relative to it, sorted: what the cell's own
    environment runs."""
    clients = {client.name for client in CLIENTS}
    return [f"{SUITES_DIR}/{SUITE_PREFIX}{name}.py" for name in discover_suites() if name not in clients]


def split_selection(selection: Sequence[str], client: Client) -> list[str]:
    """The node ids (or files) of `selection` that belong to `client`'s suite file."""
    return [node for node in selection if node.split("::")[0] == client.suite_file]


def core_selection(selection: Sequence[str] | None) -> list[str]:
    """What the cell's own environment runs: the core suite files, or the part of `selection` that is no
    client's."""
    if selection is None:
        return core_targets()
    clients = {client.suite_file for client in CLIENTS}
    return [node for node in selection if node.split("::")[0] not in clients]


def installed_versions(frozen: Sequence[str], packages: Sequence[str]) -> str | None:
    """`package==version` of each of `packages` the freeze `frozen` has, in their order, joined with `, `
    (the record's `installed`); None when it has none of them."""
    found = [line for package in packages if (line := installed_version(frozen, package)) is not None]
    return ", ".join(found) or None


def installed_version(frozen: Sequence[str], package: str) -> str | None:
    """`package==version` as the freeze `frozen` has it (names compared canonicalised, as pip does)."""
    wanted = canonicalize_name(package)
    return next((line for line in frozen if canonicalize_name(line.partition("==")[0]) == wanted), None)


def entry(status: str, reason: str | None = None, installed: str | None = None) -> dict[str, Any]:
    """A client's entry in the record's `clients`."""
    return {"status": status, "reason": reason, "installed": installed}


def import_failure(client: Client, python: str) -> str | None:
    """Why the modules of `client` (Client.imports) do not import in the environment of `python`, tried in
    a process set up as its suites' are (kvmatrix.run.process.pytest_run.run_environment): the first error line of
    the attempt; None when they import."""
    if not client.imports:
        return None
    code = "".join(f"import {module}\n" for module in client.imports)
    try:
        tried = subprocess.run([python, "-c", code], cwd=REPO_ROOT, env=run_environment(python, REPO_ROOT),
                               capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"importing it took over {IMPORT_TIMEOUT_S} s"
    if tried.returncode == 0:
        return None
    return first_error(tried.stderr.splitlines()) or f"the import exited with status {tried.returncode}"


def run_client(client: Client, requirements: Sequence[str], python_minor: str, work_dir: Path,
               selection: Sequence[str] | None = None, constraints: Path | None = None,
               slots: RunSlots | None = None, snapshot: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Make `client`'s environment under `work_dir/client-<name>` on CPython `python_minor`, install
    `client_requirements` as of the cell's index `snapshot`, run its suite file in every mode of MODES (only the selected tests of it when
    `selection` is given) and, for a client with a `core_mode`, the core suites in that mode; re-run what
    failed. Its pytest processes hold `slots` (kvmatrix.run.process.slots) like the cell's own. Returns (the
    client's entry, its runs by mode); a client that could not be installed has no run, nor one whose
    modules do not import there (import_failure): its status is then `setup` (our environment, not a
    verdict on the client), with the import's error as reason."""
    where = work_dir / f"client-{client.name}"
    try:
        python = ensure_venv(where / "venv", python_minor)
    except VenvError as exc:
        return entry(ERROR, str(exc)), {}
    outcome = install(python, client_requirements(requirements, client), constraints=constraints, snapshot=snapshot)
    if outcome.status != RAN:
        return entry(outcome.status, outcome.reason), {}
    installed = installed_versions(freeze(python), client.packages)
    failure = import_failure(client, python)
    if failure is not None:
        return entry(SETUP, f"our environment could not import {', '.join(client.imports)}: {failure}",
                     installed), {}
    with preloaded(python, where, also=client.preload) as forked:
        runs = run_modes(python, REPO_ROOT, where, selections=client_selections(client, selection),
                         slots=slots, env=forked)
        rerun_modes(python, runs, where, slots=slots, env=forked)
    return entry(RAN, silent_run_reason(client, runs), installed), runs


def client_selections(client: Client, selection: Sequence[str] | None) -> dict[str, list[str]]:
    """Mode -> what the client's environment runs in it: the core suites in the client's `core_mode` (but
    NOT_IN_TICO_MODE's), then
    its suite file in every mode of MODES; only what `selection` names of each, and no mode with nothing to
    run."""
    own = [client.suite_file] if selection is None else split_selection(selection, client)
    core = [node for node in core_selection(selection) if suite_of(node) not in NOT_IN_TICO_MODE] \
        if client.core_mode is not None else []
    chosen = {client.core_mode: core} if client.core_mode is not None and core else {}
    return {**chosen, **(dict.fromkeys(MODES, own) if own else {})}


def silent_run_reason(client: Client, runs: dict[str, Any]) -> str | None:
    """Why the client's suite has no test in a mode where it ran (its pytest session ended before collecting
    it, e.g. an import failing in pytest_configure): the exit status and the reason the run's log gives
    (`log_reason`, kvmatrix.run.process.pytest_run.run_suites); None when every mode reported its tests."""
    for mode in MODES:
        run = runs.get(mode)
        if run is None or any(test.get("suite") == client.name for test in run.get("tests", [])):
            continue
        first = run.get("log_reason") or "no error line in its log"
        return f"the {mode} run reported no test (pytest exit {run.get('exit_code')}): {first}"
    return None


def merge_runs(runs: dict[str, Any], client_runs: dict[str, Any]) -> dict[str, Any]:
    """Fold a client's runs into the cell's `runs`, in place: its tests in MODES join the cell's run of that
    mode; any other mode (`tico`) becomes a run of its own. Returns `runs`."""
    for mode, run in client_runs.items():
        if mode in MODES and mode in runs:
            runs[mode]["tests"] = [*runs[mode].get("tests", []), *run.get("tests", [])]
        else:
            runs[mode] = run
    return runs


def run_clients(requirements: Sequence[str], python_minor: str, work_dir: Path,
                selection: Sequence[str] | None = None, constraints: Path | None = None,
                slots: RunSlots | None = None, snapshot: str | None = None
                ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Run every client of CLIENTS (run_client), all at the same time, as of the cell's index `snapshot`,
    their pytest processes sharing `slots` (default: slots of their own, kvmatrix.run.process.slots). Returns the record's `clients` section and
    each client's runs in CLIENTS order, for merge_runs. With a `selection` naming none of a client's tests
    and no core test either, that client is not run and has neither."""
    chosen = [client for client in CLIENTS if selection is None or split_selection(selection, client) or (
        client.core_mode and core_selection(selection))]
    shared = slots if slots is not None else RunSlots.from_settings()
    with ThreadPoolExecutor(max_workers=max(1, len(chosen))) as pool:
        finished = list(pool.map(lambda client: run_client(client, requirements, python_minor, work_dir,
                                                           selection, constraints, shared, snapshot), chosen))
    section = {client.name: entry_of for client, (entry_of, _) in zip(chosen, finished, strict=True)}
    return section, [runs for _, runs in finished]
