"""kvmatrix.bisect.report: the Markdown report of a bisection names both releases, their verdicts and the
commands that reproduce each."""

from __future__ import annotations

from pathlib import Path

from kvmatrix.bisect.report import bisect_markdown, build_report
from kvmatrix.bisect.search import bisect
from tests.support.bisections import RELEASES, REQUEST, TEST, FakeProbe


def test_the_markdown_report_names_both_releases_verdicts_and_repro(tmp_path: Path) -> None:
    result = bisect(RELEASES, FakeProbe("4.50.0", {"4.50.2": "not-installable"}))
    report = build_report(REQUEST, RELEASES, result, "https://pypi.org/simple", Path("build/bisect"), "3.11")
    markdown = bisect_markdown(report)
    assert "The verdict changes at transformers 4.50.0: ❌ fail up to 4.49.0, ✅ pass from 4.50.0" in markdown
    row = "| last good (old verdict) | 4.49.0 | ❌ fail | AssertionError: DynamicCache is not a pytree node |"
    assert row in markdown
    assert "- 4.50.2: not-installable: cannot install transformers==4.50.2" in markdown
    first_bad, last_good = report["repro"]["first_bad"], report["repro"]["last_good"]
    assert first_bad.startswith("uv venv --python 3.11 build/bisect/tf4.50.0-torch2.6.0/venv && ")
    assert "KVCC_REGISTRATION=without" in last_good and "transformers==4.49.0" in last_good
    assert report["repro"]["bisect"] == (f"nox -s bisect -- --test '{TEST}' --mode without "
                                         "--fixed torch==2.6.0 --range 'transformers>=4.46,<4.54'")
