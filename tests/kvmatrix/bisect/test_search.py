"""kvmatrix.bisect.search: the search for the first release with the new verdict, driven by a fake verdict per
version, in logarithmic probes, around releases that cannot be tested."""

from __future__ import annotations

import math

import pytest

from kvmatrix.bisect.search import Bisection, bisect
from tests.support.bisections import RELEASES, FakeProbe


def ends(result: Bisection) -> tuple[str | None, str | None]:
    return (result.last_good and result.last_good.version, result.first_bad and result.first_bad.version)


def test_finds_the_first_release_with_the_new_verdict_in_logarithmic_probes() -> None:
    probe = FakeProbe("4.50.0")
    result = bisect(RELEASES, probe)
    assert result.outcome == "flip"
    assert ends(result) == ("4.49.0", "4.50.0")
    assert (result.last_good.verdict, result.first_bad.verdict) == ("fail", "pass")
    assert result.between == () and result.skipped == ()
    assert len(probe.calls) <= math.ceil(math.log2(len(RELEASES))) + 2
    assert [p.version for p in result.probes] == probe.calls


def test_every_version_is_probed_at_most_once() -> None:
    probe = FakeProbe("4.51.2", broken={v: "not-installable" for v in ("4.50.1", "4.50.2", "4.50.3")})
    bisect(RELEASES, probe)
    assert len(probe.calls) == len(set(probe.calls))


def test_uninstallable_versions_inside_the_range_are_skipped_and_named() -> None:
    broken = {"4.50.2": "not-installable", "4.50.1": "infra", "4.48.1": "error"}
    probe = FakeProbe("4.49.0", broken)
    result = bisect(RELEASES, probe)
    assert ends(result) == ("4.48.3", "4.49.0")
    assert {p.version: p.status for p in result.skipped} == {
        v: s for v, s in broken.items() if v in probe.calls}
    assert result.skipped, "the middle of the range was untestable and had to be skipped"
    assert all(p.summary.startswith("cannot install") for p in result.skipped)


def test_a_flip_hidden_behind_untestable_versions_names_them_all() -> None:
    broken = {"4.49.0": "not-installable", "4.50.0": "not-installable"}
    result = bisect(RELEASES, FakeProbe("4.50.0", broken))
    assert result.outcome == "flip"
    assert ends(result) == ("4.48.3", "4.50.1")
    assert [p.version for p in result.between] == ["4.49.0", "4.50.0"]


def test_a_range_without_a_flip_probes_only_its_ends() -> None:
    probe = FakeProbe(flip_at=None)
    result = bisect(RELEASES, probe)
    assert result.outcome == "no-flip"
    assert ends(result) == ("4.53.3", None)
    assert probe.calls == ["4.46.1", "4.53.3"]


@pytest.mark.parametrize(("flip_at", "expected"), [
    ("4.46.2", ("4.46.1", "4.46.2")),  # right after the first release
    ("4.53.3", ("4.53.2", "4.53.3")),  # at the last release
])
def test_a_flip_at_either_end_of_the_range(flip_at: str, expected: tuple[str, str]) -> None:
    assert ends(bisect(RELEASES, FakeProbe(flip_at))) == expected


def test_untestable_ends_move_inward_to_the_nearest_testable_release() -> None:
    broken = {"4.46.1": "not-installable", "4.46.2": "infra", "4.53.3": "not-installable"}
    probe = FakeProbe("4.53.2", broken)
    result = bisect(RELEASES, probe)
    assert ends(result) == ("4.53.1", "4.53.2")
    assert probe.calls[:4] == ["4.46.1", "4.46.2", "4.46.3", "4.53.3"]


def test_nothing_testable_is_untestable() -> None:
    versions = RELEASES[:3]
    result = bisect(versions, FakeProbe("4.46.2", {v: "not-installable" for v in versions}))
    assert result.outcome == "untestable"
    assert ends(result) == (None, None)
    assert [p.version for p in result.skipped] == versions


def test_a_single_testable_release_has_no_flip() -> None:
    result = bisect(RELEASES[:2], FakeProbe(None, {"4.46.2": "not-installable"}))
    assert result.outcome == "no-flip" and ends(result) == ("4.46.1", None)
