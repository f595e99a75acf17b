"""kvmatrix.bisect.run: the bisect runner's argument and result handling, and its reports end to end against a
loopback index. (The search itself: test_search.py; the report's Markdown: test_report.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from packaging.version import Version

from kvmatrix import REPO_ROOT
from kvmatrix.bisect.report import BisectRequest, bisect_markdown
from kvmatrix.bisect.run import UsageError, parse_request, probe_from_run, run_bisect
from kvmatrix.bisect.search import Probe
from kvmatrix.plan.releases import list_releases
from tests.support.bisections import REQUEST, TEST
from tests.support.index_server import NOT_FOUND, refused_url, serve_index


@pytest.mark.parametrize(("args", "message"), [
    (("suites/test_roundtrip.py", "without", "torch==2.6.0", "transformers>=4.46"),
     "expected a suite node id"),
    ((TEST, "maybe", "torch==2.6.0", "transformers>=4.46"), "--mode 'maybe'"),
    ((TEST, "with", "torch>=2.6", "transformers>=4.46"), "expected one exact pin"),
    ((TEST, "with", "torch==2.6.0", "torch>=2.4"), "name the same package"),
    ((TEST, "with", "torch==2.6.0", "transformers"), "give a version range"),
    ((TEST, "with", "numpy==2.0.0", "transformers>=4.46"), "must be one of transformers, torch"),
    ((TEST, "with", "torch==2.6.0", "transformers>>4.46"), "--range 'transformers>>4.46'"),
])
def test_bad_bisect_arguments_name_the_argument(args: tuple[str, str, str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        parse_request(*args)


def test_parse_request_keeps_the_range_as_written() -> None:
    request = parse_request(TEST, "without", "torch==2.6.0", "transformers >=4.46, <4.54")
    assert request == REQUEST
    assert request.cell("4.50.0").id == "tf4.50.0-torch2.6.0"
    assert request.name == ("test_key_paths_name_the_cache_fields-DynamicCache--without--torch2.6.0"
                            "--transformers-4.46-4.54")


def run_with(*tests: dict, exit_code: int = 1, log_tail: str = "") -> dict:
    return {"exit_code": exit_code, "duration_s": 1.0, "log_tail": log_tail, "tests": list(tests)}


def test_the_probe_of_a_run_is_the_selected_tests_verdict() -> None:
    record = {"suite": "roundtrip", "name": "test_key_paths_name_the_cache_fields[DynamicCache]",
              "verdict": "fail", "error": "AssertionError: not a pytree node", "reason": None}
    assert probe_from_run("4.49.0", TEST, run_with(record)) == Probe(
        "4.49.0", "ran", "fail", "AssertionError: not a pytree node")


def test_a_run_without_the_tests_record_is_an_error_with_the_cause() -> None:
    collect = {"suite": "roundtrip", "name": "collect suites/test_roundtrip.py", "verdict": "error",
               "error": "ImportError: cannot import name 'DynamicLayer'"}
    collected = probe_from_run("4.40.0", TEST, run_with(collect))
    assert collected.verdict == "error"
    assert collected.summary == "ImportError: cannot import name 'DynamicLayer'"
    crashed = run_with(exit_code=-11, log_tail="collecting ...\nFatal Python error\n")
    assert probe_from_run("4.40.0", TEST, crashed) == Probe(
        "4.40.0", "ran", "error", "no verdict for the test (pytest exit -11): Fatal Python error")


def test_run_bisect_lists_the_range_from_the_index_and_writes_both_reports(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logged: list[str] = []
    request = BisectRequest(TEST, "without", "torch", "2.6.0", "transformers", ">=4.46,<5")
    with serve_index() as index:
        monkeypatch.setenv("UV_DEFAULT_INDEX", index.url)
        def probe(version: str) -> Probe:
            return Probe(version, "ran", "pass" if Version(version) >= Version("4.52") else "fail")

        report = run_bisect(request, tmp_path / "work", tmp_path / "reports", "3.11", probe, logged.append)
    assert report["range"]["versions"] == ["4.46.1", "4.46.3", "4.52.4", "4.53.3"]
    assert (report["outcome"], report["last_good"]["version"], report["first_bad"]["version"]) == (
        "flip", "4.46.3", "4.52.4")
    saved = json.loads((tmp_path / "reports" / f"{request.name}.json").read_text())
    assert saved == report
    assert (tmp_path / "reports" / f"{request.name}.md").read_text() == bisect_markdown(report)
    assert any(line.startswith("The verdict changes at transformers 4.52.4") for line in logged)


def test_an_unreachable_index_gives_an_infra_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_DEFAULT_INDEX", refused_url())

    def never(version: str) -> Probe:
        raise AssertionError("nothing may be probed without a list of releases")

    report = run_bisect(REQUEST, tmp_path / "work", tmp_path / "reports", "3.11", never, lambda line: None,
                        partial(list_releases, retries=1))
    assert report["outcome"] == "infra"
    assert "package index unavailable" in report["reason"]
    assert "🌐 infra: the releases could not be listed" in bisect_markdown(report)


def nox_bisect(tmp_path: Path, index_url: str, test: str = TEST) -> subprocess.CompletedProcess:
    """`nox -s bisect` of `test` against the index at `index_url`, its work and reports under `tmp_path`."""
    return subprocess.run([sys.executable, "-m", "nox", "-s", "bisect", "--", "--test", test, "--mode", "without",
                           "--fixed", "torch==2.6.0", "--range", "transformers>=4.46,<4.54", "--work",
                           str(tmp_path / "work"), "--reports", str(tmp_path / "reports")],
                          cwd=REPO_ROOT, env={**os.environ, "UV_DEFAULT_INDEX": index_url},
                          capture_output=True, text=True, timeout=300)


def test_bisect_against_an_index_answering_404_is_an_infra_report_without_a_traceback(tmp_path: Path) -> None:
    with serve_index(NOT_FOUND) as index:
        proc = nox_bisect(tmp_path, index.url)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in output, output
    assert "bisect ended with status 1" in output
    (report,) = (tmp_path / "reports").glob("*.json")
    assert json.loads(report.read_text())["outcome"] == "infra"


def test_bisect_of_a_test_id_too_long_for_a_file_name_writes_its_report(tmp_path: Path) -> None:
    long_test = f"suites/test_roundtrip.py::test_{'x' * 300}[DynamicCache]"
    with serve_index(NOT_FOUND) as index:
        proc = nox_bisect(tmp_path, index.url, long_test)
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output and "File name too long" not in output, output
    (report,) = (tmp_path / "reports").glob("*.json")
    assert json.loads(report.read_text())["test"] == long_test
    assert len(report.name) <= 255 - len(".json.12345678.tmp") - 1
