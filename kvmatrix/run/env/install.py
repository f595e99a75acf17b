"""Install one cell's pins with uv and tell apart why an install failed.

A pair whose pins cannot be resolved together is `not-installable` (with the resolver's reason); a network
or index failure is `infra` and is retried a bounded number of times with backoff; anything else is
`error`. None of them is ever a suite verdict.

Only a resolver that worked from proper index answers proves that pins cannot coexist: a project the index
did not find (it answered 404, 401 or 403), listed without any file (an HTML login page answering 200) or
answered with JSON that is not a project page is `infra`, however uv words it (kvmatrix.run.env.index_check).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from kvmatrix.record.cell_record import InstallOutcome
from kvmatrix.record.verdicts import ERROR, INFRA, NOT_INSTALLABLE
from kvmatrix.run.env.bytecode import forget_bytecode
from kvmatrix.run.env.index_check import unlisted_projects
from kvmatrix.run.env.snapshot import snapshot_args, undated_projects
from kvmatrix.run.env.torch_index import find_links_args, torch_backend_args

INDEX_PATTERNS = (
    r"was not found in the package registry",  # uv, for a project page answering 404, 401 or 403
    r"returned a \d{3} [\w ]+ error|lack of valid authentication credentials",
    # uv, for a page answering 200 with JSON that does not parse or is not a project page (a proxy's
    # `{"errors": [...]}` with an expired token, a page cut short)
    r"Received some unexpected JSON from",
    r"was not found in the cache|because the network was disabled",  # uv offline: the index was not asked
)
"""The index did not answer properly (or was not asked): the resolver's conclusion proves nothing."""
NOT_INSTALLABLE_PATTERNS = (
    r"No solution found when resolving",
    r"Because .* we can conclude",
    r"is not available in the package index",
    r"there is no version of",
    r"no matching distribution",
    r"requirements are unsatisfiable",
)
INFRA_PATTERNS = (
    r"Failed to fetch",
    r"Could not connect|Connection refused|Connection reset|connection closed",
    r"dns error|failed to lookup address|Name or service not known|Temporary failure in name resolution",
    r"timed out|operation timed out|Request failed after",
    r"error sending request",
    r"HTTP status server error|502 Bad Gateway|503 Service Unavailable|504 Gateway",
)


def classify(output: str) -> str:
    """`not-installable`, `infra` or `error` for a failed uv run's output: an index that did not answer
    properly first, then resolver reasons, then network failures."""
    if any(re.search(p, output, re.IGNORECASE) for p in INDEX_PATTERNS):
        return INFRA
    if any(re.search(p, output, re.IGNORECASE) for p in NOT_INSTALLABLE_PATTERNS):
        return NOT_INSTALLABLE
    if any(re.search(p, output, re.IGNORECASE) for p in INFRA_PATTERNS):
        return INFRA
    return ERROR


def diagnose(output: str) -> tuple[str, str]:
    """(status, reason) of a failed uv run: `classify`, except that a resolver failure about a project no
    index lists any file of is `infra`, with what the indexes answered as its reason, and one about a project
    whose files carry no upload time, which an index snapshot cannot date, is `error` (the pins may well
    coexist: kvmatrix.run.env.snapshot)."""
    status, reason = classify(output), reason_of(output)
    undated = undated_projects(output) if status == NOT_INSTALLABLE else None
    if undated:
        return ERROR, (f"the index gives no upload time for {undated}, so the index snapshot excludes it; "
                       f"exempt it by name (kvmatrix.run.env.snapshot.EXEMPT) (uv said: {reason})")[:600]
    if status == NOT_INSTALLABLE:
        unlisted = unlisted_projects(output)
        if unlisted is not None:
            return INFRA, f"{unlisted} (uv said: {reason})"[:600]
    return status, reason


def reason_of(output: str) -> str:
    """uv's explanation of a failure: from its first `error:` / `×` line on, whitespace collapsed and the
    tree drawing removed, at most 600 characters."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith(("error:", "×"))), 0)
    text = " ".join(lines[start:]).replace("╰─▶", "").replace("│", "")
    return " ".join(text.split())[:600]


def uv_install_command(python: str, requirements: list[str], torch_backend: tuple[str, ...] = (),
                       constraints: Path | None = None, snapshot: str | None = None) -> list[str]:
    """`uv pip install` into the cell's interpreter, PIP_FIND_LINKS passed on; `torch_backend` chooses torch's
    index (kvmatrix.run.env.torch_index); `constraints` pins every other package too (a replay); `snapshot`
    installs from the index as of that time (kvmatrix.run.env.snapshot)."""
    command = ["uv", "pip", "install", "--python", python, *torch_backend, *snapshot_args(snapshot),
               *find_links_args(os.environ)]
    if constraints is not None:
        command += ["--constraint", str(constraints)]
    return command + requirements


def install(python: str, requirements: list[str], retries: int = 3, backoff_s: float = 5.0,
            constraints: Path | None = None, snapshot: str | None = None) -> InstallOutcome:
    """Install `requirements` (with `constraints`, if given) into `python`'s environment, torch from the
    index kvmatrix.run.env.torch_index chooses, every package as the index was at `snapshot` (None: as it is);
    retry only `infra` failures. The environment's kept bytecode
    is forgotten first (kvmatrix.run.env.bytecode): the install may replace the sources it was compiled from."""
    start = time.monotonic()
    outcome = InstallOutcome(status="error")
    command = uv_install_command(python, requirements, torch_backend_args(), constraints, snapshot)
    forget_bytecode(python)
    for attempt in range(1, retries + 1):
        proc = subprocess.run(command, capture_output=True, text=True)
        output = proc.stdout + proc.stderr
        outcome.attempts = attempt
        outcome.log.append(output[-4000:])
        if proc.returncode == 0:
            outcome.status, outcome.reason = "ran", None
            break
        outcome.status, outcome.reason = diagnose(output)
        if outcome.status != INFRA or attempt == retries:
            break
        time.sleep(backoff_s * 2 ** (attempt - 1))
    outcome.duration_s = round(time.monotonic() - start, 2)
    return outcome


def freeze(python: str) -> list[str]:
    """The resolved environment, `name==version` per line, as uv sees it."""
    proc = subprocess.run(["uv", "pip", "freeze", "--python", python], capture_output=True, text=True, check=True)
    return sorted(line for line in proc.stdout.splitlines() if line.strip())
