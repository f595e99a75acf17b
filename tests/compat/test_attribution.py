"""The attribution ladder and the baked-cache check, proven on injected failures inside a real cell.

Each ladder case is a real pytest run of a generated test file with the suites' attribution plugin and
verdict recorder, read back from the recorder's JSON, as the cell runner reads it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from compat.tiny import OTHER_PROMPT_SEED, DecodeStep, prompt_ids, tiny_llama
from suites.support.exporting import BAKED_IN, assert_matches_eager
from suites.support.models import clone, prefilled

ROOT = Path(__file__).resolve().parents[2]

LADDER_CASES = '''
import pytest
from kvmatrix.run.process.attribution import eager, no_cache_probe

def tool(use_cache):
    raise RuntimeError(f"the tool fails on this model (use_cache={use_cache})")

def another_tool():
    raise RuntimeError("the tool fails on this model (use_cache=False)")

def export_dynamic(use_cache):
    raise ValueError(f"Constraints violated (new_tokens)! use_cache={use_cache}")

def probe_passes():
    pass

def probe_fails_the_same_way():
    tool(use_cache=False)

def probe_fails_with_another_type():
    raise TypeError("the probe fails for a reason of its own")

def probe_fails_in_another_frame():
    another_tool()

def probe_dynamic():
    export_dynamic(use_cache=False)

def test_eager_setup_fails():
    with eager("prefill"):
        raise ValueError("size of tensor a (32) must match")

@no_cache_probe(probe_passes)
def test_only_the_cache_path_fails():
    raise AssertionError("export with a cache failed")

@no_cache_probe(probe_fails_the_same_way)
def test_fails_without_a_cache_the_same_way():
    tool(use_cache=True)

@no_cache_probe(probe_fails_with_another_type)
def test_fails_without_a_cache_with_another_type():
    tool(use_cache=True)

@no_cache_probe(probe_fails_in_another_frame)
def test_fails_without_a_cache_in_another_frame():
    tool(use_cache=True)

@no_cache_probe(probe_dynamic)
@pytest.mark.parametrize("variant", ["DynamicCache-dynamic"])
def test_known_limitation(variant):
    export_dynamic(use_cache=True)

@pytest.mark.cache_only
def test_about_the_cache_object():
    raise AssertionError("round trip changed the cache")

@no_cache_probe(probe_passes)
def test_passes():
    pass
'''


@pytest.fixture(scope="module")
def ladder(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("ladder")
    (folder / "test_ladder.py").write_text(textwrap.dedent(LADDER_CASES))
    results = folder / "results.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KVCC_RESULTS": str(results)}
    subprocess.run([sys.executable, "-m", "pytest", str(folder / "test_ladder.py"), "-p", "kvmatrix.run.process.attribution",
                    "-p", "suites.known_limitations", "-p", "kvmatrix.run.process.recorder", "-p", "no:cacheprovider", "-q"],
                   cwd=ROOT, env=env, check=False)
    return {test["name"]: test for test in json.loads(results.read_text())["tests"]}


@pytest.mark.parametrize(
    ("name", "verdict", "cause", "details"),
    [
        ("test_eager_setup_fails", "setup", "setup", ["eager prefill failed: ValueError: size of tensor a"]),
        ("test_only_the_cache_path_fails", "fail", "cache", ["without a cache the same tool"]),
        ("test_fails_without_a_cache_the_same_way", "fail", "not-cache",
         ["fails without any cache too, the same way: RuntimeError: the tool fails on this model (use_cache=False) "
          "at ", "test_ladder.py:tool"]),
        ("test_fails_without_a_cache_with_another_type", "fail", "cache",
         ["without a cache the same tool fails differently: TypeError: the probe fails for a reason of its own at ",
          "test_ladder.py:probe_fails_with_another_type"]),
        ("test_fails_without_a_cache_in_another_frame", "fail", "cache",
         ["without a cache the same tool fails differently: RuntimeError: the tool fails on this model "
          "(use_cache=False) at ", "test_ladder.py:another_tool"]),
        ("test_known_limitation[DynamicCache-dynamic]", "xfail", "not-cache",
         ["the same way: ValueError: Constraints violated (new_tokens)! use_cache=False at ",
          "test_ladder.py:export_dynamic"]),
        ("test_about_the_cache_object", "fail", "cache", ["checks the cache object itself"]),
        ("test_passes", "pass", None, []),
    ],
)
def test_each_failure_gets_its_rung_of_the_ladder(ladder, name, verdict, cause, details) -> None:
    record = ladder[name]
    assert (record["verdict"], record["cause"]) == (verdict, cause)
    assert (record["cause_detail"] is None) if not details else all(part in record["cause_detail"] for part in details)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return tiny_llama()


@pytest.mark.parametrize("kind", ["DynamicCache", "StaticCache"])
def test_a_program_that_baked_its_cache_in_fails_by_name(model, kind: str) -> None:
    example, other = prefilled(model, kind), prefilled(model, kind, seed=OTHER_PROMPT_SEED)
    step = DecodeStep(model)

    def baked(input_ids, cache, cache_position):  # ignores `cache`: runs on the example's contents
        return step(input_ids, clone(example), cache_position)

    calls = [(prompt_ids(1, seed=2), example, torch.tensor([4])), (prompt_ids(1, seed=2), other, torch.tensor([4]))]
    with pytest.raises(AssertionError, match=BAKED_IN):
        assert_matches_eager(baked, step, calls)
    assert_matches_eager(step, step, calls)  # the honest program passes the same check


SHARED_PROBE_CASES = '''
import os
import pytest
from kvmatrix.run.process.attribution import no_cache_probe

def _ran(name):
    with open(os.environ["PROBE_LOG"], "a") as log:
        log.write(name + "\\n")

def probe_by_mode(mode):
    _ran(f"mode {mode}")

def probe_by_object(thing):
    _ran("object")

@pytest.fixture
def thing():
    return object()

@no_cache_probe(probe_by_mode)
@pytest.mark.parametrize("mode", ["strict", "non-strict"])
def test_plain_arguments(mode):
    raise AssertionError("export with a cache failed")

@no_cache_probe(probe_by_object)
def test_fixture_argument(thing):
    raise AssertionError("export with a cache failed")
'''


def _shared_probe_runs(folder: Path, outcomes: Path | None) -> tuple[list[str], list[dict]]:
    """Two pytest runs of SHARED_PROBE_CASES at the same time, sharing `outcomes` (None: no folder): the
    probes each ran and both runs' records."""
    (folder / "test_shared.py").write_text(textwrap.dedent(SHARED_PROBE_CASES))
    log = folder / "probes.log"
    processes = []
    for run in ("a", "b"):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "KVCC_RESULTS": str(folder / f"{run}.json"),
               "PROBE_LOG": str(log)}
        env.pop("KVCC_PROBE_OUTCOMES", None)
        if outcomes is not None:
            env["KVCC_PROBE_OUTCOMES"] = str(outcomes)
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "pytest", str(folder / "test_shared.py"), "-p", "kvmatrix.run.process.attribution",
             "-p", "kvmatrix.run.process.recorder", "-p", "no:cacheprovider", "-q"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
    for process in processes:
        process.wait(timeout=300)
    records = [test for run in ("a", "b") for test in json.loads((folder / f"{run}.json").read_text())["tests"]]
    return sorted(log.read_text().splitlines()), records


def test_runs_sharing_a_folder_probe_plain_arguments_once_and_fixture_objects_each(tmp_path: Path) -> None:
    ran, records = _shared_probe_runs(tmp_path, tmp_path / "outcomes")
    assert ran == ["mode non-strict", "mode strict", "object", "object"]
    assert {(test["name"], test["cause"]) for test in records} == {
        ("test_plain_arguments[strict]", "cache"), ("test_plain_arguments[non-strict]", "cache"),
        ("test_fixture_argument", "cache")}
    assert len(records) == 6


def test_runs_without_a_shared_folder_probe_in_each_process(tmp_path: Path) -> None:
    ran, _ = _shared_probe_runs(tmp_path, None)
    assert ran == ["mode non-strict", "mode non-strict", "mode strict", "mode strict", "object", "object"]
