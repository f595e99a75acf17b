"""The attribution ladder: every failing suite test says why it failed (`cause` in docs/matrix-schema.md).

Rungs decided inside the cell, by this plugin:
- `setup`: the test's own eager step (a prefill, the eager reference) failed, raised through `eager()`, or a
  fixture failed: the tool under test was never the question. The recorder gives such a test the verdict
  `setup`.
- `not-cache` / `cache`: right after a test fails, its no-cache probe runs: the same tool on the same
  model with `use_cache=False` (the `no_cache_probe(fn)` marker). The probe failing the same way (the same
  exception type, raised by the same function: `Failure.same_way`) means the failure is not about the
  cache; passing, or failing some other way (its own failure, kept in the detail), means only the cache
  path fails this way. Tests about the cache object itself (pytree round trips) carry the `cache_only`
  marker instead. A known limitation (suites.known_limitations) is a failed call too: its xfail gets the
  same ladder. A probe runs once per process for its arguments, and once per environment where its
  arguments are plain values (a mode, a mask: it builds its model from them) and the harness names a
  folder for the environment's runs to share (KVCC_PROBE_OUTCOMES): the first of them to need it runs it,
  the others read its failure (OUTCOME_FORMAT). It builds no cache, so the registration mode of the run
  that ran it changes nothing it does.
The last rung, `compat` (passes with transformers alone, fails with `compat.register()`), compares the two
registration runs on the host (kvmatrix.run.cell). Every suite test must carry one of the two markers.

KVCC_LADDER=0 skips the probes (the host's fresh-process re-runs only need the verdict).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from kvmatrix.files import lock_within, write_json_atomic
from kvmatrix.record.paths import short_path
from kvmatrix.settings import setting

CAUSE = "kvcc_cause"
CAUSE_DETAIL = "kvcc_cause_detail"
UPSTREAM = "kvcc_upstream"
RECORD_FIELDS = {CAUSE: "cause", CAUSE_DETAIL: "cause_detail", UPSTREAM: "upstream"}
"""user_properties keys this plugin (and known_limitations) set, and the record fields they become."""
DETAIL_LENGTH = 300
PROBE_PASSES = "without a cache the same tool on the same model passes"
SAME_WAY = "fails without any cache too, the same way: "
DIFFERENTLY = "fails this way only with a cache: without a cache the same tool fails differently: "
"""The start of `cause_detail` where the probe passed, failed the same way, or failed otherwise (then the
probe's Failure); the host reads the last two back (kvmatrix.record.causes, which the suites do not import:
a cell's harness carries only the files it needs)."""
MESSAGE_LENGTH = 160
"""How much of a failure's message its description keeps, so the raising frame after it always fits."""


class SetupFailure(Exception):
    """The test's own eager step failed before (or apart from) the tool under test."""


@contextmanager
def eager(step: str) -> Iterator[None]:
    """Mark a block as the test's eager setup: any exception in it becomes a SetupFailure naming `step`."""
    try:
        yield
    except SetupFailure:
        raise
    except Exception as exc:
        raise SetupFailure(f"eager {step} failed: {type(exc).__name__}: {exc}") from exc


def no_cache_probe(probe: Callable[..., Any]) -> pytest.MarkDecorator:
    """Mark a test with its no-cache probe, called with the test's arguments that it names. (A bare
    `pytest.mark.x(fn)` would decorate `fn` itself, hence `with_args`.)"""
    return pytest.mark.no_cache_probe.with_args(probe)


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ladder's markers (the suites run with --strict-markers semantics in mind)."""
    config.addinivalue_line("markers", "no_cache_probe(fn): the same tool on the same model without a cache")
    config.addinivalue_line("markers", "cache_only: the test is about the cache object itself")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A suite test without a ladder marker could never be attributed: refuse it at collection."""
    missing = [
        item.nodeid for item in items
        if item.nodeid.startswith("suites/")
        and item.get_closest_marker("no_cache_probe") is None and item.get_closest_marker("cache_only") is None
    ]
    if missing:
        raise pytest.UsageError(f"suite tests without a no_cache_probe or cache_only marker: {missing}")


def _one_line(text: str, length: int = DETAIL_LENGTH) -> str:
    return " ".join(text.split())[:length]


@dataclass(frozen=True)
class Failure:
    """How a call failed: its exception's type (module-qualified), the start of its message on one line, and
    the innermost frame of its traceback, the function that raised it, as `<file>:<function>` (the file as
    kvmatrix.record.paths.short_path says it, so it reads the same on every machine)."""

    type: str
    message: str
    frame: str

    def same_way(self, other: Failure) -> bool:
        """Whether `other` is the same failure: the same exception type raised by the same function (the
        message is left out: it names the values, which differ with and without a cache)."""
        return (self.type, self.frame) == (other.type, other.frame)

    def __str__(self) -> str:
        return f"{self.type.rsplit('.', 1)[-1]}: {self.message} at {self.frame}"


def failure_of(exc: BaseException) -> Failure:
    """The Failure of a raised exception."""
    innermost = exc.__traceback__
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    code = innermost.tb_frame.f_code if innermost is not None else None
    frame = f"{short_path(code.co_filename)}:{code.co_name}" if code is not None else "unknown"
    kind = type(exc)
    return Failure(f"{kind.__module__}.{kind.__qualname__}", _one_line(str(exc), MESSAGE_LENGTH), frame)


_PROBE_OUTCOMES: dict[tuple[str, str], Failure | None] = {}
"""(probe, its arguments) -> the probe's failure (None: it passed): tests that share a probe and its
arguments (the DynamicCache and StaticCache variants of one export) run it once per process."""
PLAIN = (str, int, float, bool)
"""Argument values that say all there is to them: a probe taking only these gives the same outcome in every
run of an environment (a fixture's object, such as the session's model, is known by its identity instead)."""
PROBE_WAIT_S = 300.0
"""How long a run waits for another run of its environment to finish a probe before running it itself (the
other one is stuck)."""
PROBE_POLL_S = 0.05
OUTCOME_FORMAT = 2
"""A stored probe outcome is `{"format": 2, "failure": null | {"type", "message", "frame"}}` in
`<key digest>.failure.json`. Format 1 stored `[cause, detail]` in `<key digest>.outcome`: the new name keeps
a leftover of it from ever being read as a failure."""


def _probe_failure(probe: Callable[..., Any], arguments: dict[str, Any]) -> Failure | None:
    """Run `probe` with `arguments` between resets of dynamo and of leaked vmap levels: its failure, None
    when it passes."""
    import torch

    from kvmatrix.run.process.isolation import release_leaked_vmap_levels

    torch._dynamo.reset()
    release_leaked_vmap_levels()  # the failed test may have left one open (kvmatrix.run.process.isolation)
    try:
        probe(**arguments)
        return None
    except Exception as exc:
        return failure_of(exc)
    finally:
        torch._dynamo.reset()
        release_leaked_vmap_levels()


def probe_files(folder: Path, key: str) -> tuple[Path, Path]:
    """The stored outcome and the lock file of the probe `key` in the shared folder `folder`."""
    name = hashlib.sha256(key.encode()).hexdigest()[:32]
    return folder / f"{name}.failure.json", folder / f"{name}.lock"


def shared_outcome(folder: Path, key: str, compute: Callable[[], Failure | None],
                   wait_s: float = PROBE_WAIT_S) -> Failure | None:
    """The probe failure stored for `key` in `folder` (OUTCOME_FORMAT), else `compute()`'s, stored there for
    the environment's other runs. One run computes a key at a time (an exclusive lock per key, which the
    kernel drops with a process that dies); a run that waited `wait_s` for it computes it itself, storing
    nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    stored, lock_file = probe_files(folder, key)
    with lock_file.open("w") as lock:
        if not lock_within(lock.fileno(), wait_s, PROBE_POLL_S):
            return compute()
        if stored.exists():
            failure = json.loads(stored.read_text())["failure"]
            return Failure(**failure) if failure is not None else None
        outcome = compute()
        write_json_atomic(stored, {"format": OUTCOME_FORMAT, "failure": asdict(outcome) if outcome is not None else None})
        return outcome


def probe_key(probe: Callable[..., Any], arguments: dict[str, Any]) -> tuple[str, str]:
    """What names one probe call among a run's: the probe (module, qualified name and first line: the lambdas
    of one module share the name `<lambda>`) and its arguments (by value where plain, else by object)."""
    identity = sorted((k, v if isinstance(v, PLAIN) else id(v)) for k, v in arguments.items())
    return f"{probe.__module__}.{probe.__qualname__}:{probe.__code__.co_firstlineno}", repr(identity)


def _run_probe(probe: Callable[..., Any], funcargs: dict[str, Any]) -> Failure | None:
    wanted = inspect.signature(probe).parameters
    arguments = {name: value for name, value in funcargs.items() if name in wanted}
    plain = all(isinstance(value, PLAIN) for value in arguments.values())
    key = probe_key(probe, arguments)
    if key not in _PROBE_OUTCOMES:
        folder = setting("KVCC_PROBE_OUTCOMES")
        if plain and folder:
            _PROBE_OUTCOMES[key] = shared_outcome(Path(folder), repr(key), lambda: _probe_failure(probe, arguments))
        else:
            _PROBE_OUTCOMES[key] = _probe_failure(probe, arguments)
    return _PROBE_OUTCOMES[key]


def compare_with_probe(failure: Failure, probe: Failure | None) -> tuple[str, str]:
    """(cause, detail) of a test that failed with `failure` whose no-cache probe failed with `probe` (None:
    it passed): `not-cache` only for a probe that failed the same way."""
    if probe is None:
        return "cache", PROBE_PASSES
    if probe.same_way(failure):
        return "not-cache", f"{SAME_WAY}{probe}"
    return "cache", f"{DIFFERENTLY}{probe}"


def attribute(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException]) -> tuple[str, str]:
    """(cause, detail) for a failed call of `item`."""
    if excinfo.errisinstance(SetupFailure):
        return "setup", _one_line(str(excinfo.value))
    if item.get_closest_marker("cache_only") is not None:
        return "cache", "the test checks the cache object itself (no cache-free form exists)"
    if setting("KVCC_LADDER") == "0":
        return "unattributed", "the no-cache probe was not run (KVCC_LADDER=0)"
    probe = _run_probe(item.get_closest_marker("no_cache_probe").args[0], getattr(item, "funcargs", {}))
    return compare_with_probe(failure_of(excinfo.value), probe)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]):
    """Attach the cause of a failed phase to the report's user properties (the recorder reads them)."""
    outcome = yield
    report = outcome.get_result()
    excinfo = call.excinfo
    if excinfo is None or excinfo.errisinstance((pytest.skip.Exception, pytest.xfail.Exception)):
        return
    if call.when == "setup":
        cause, detail = "setup", _one_line(f"a fixture failed: {excinfo.typename}: {excinfo.value}")
    elif call.when == "call":
        cause, detail = attribute(item, excinfo)
    else:
        return
    report.user_properties += [(CAUSE, cause), (CAUSE_DETAIL, detail)]
