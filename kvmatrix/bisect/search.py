"""Find the first release where one test's verdict changes: the search alone, with no knowledge of how a
version is run (`kvmatrix.bisect.run` runs them; tests drive this with a fake probe).

The search assumes one change in the range (verdicts before it equal the first testable version's, after
it differ). Versions that cannot be installed are skipped: the nearest testable neighbour inside the
current interval is probed instead, and the skipped versions are named in the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kvmatrix.record.verdicts import RAN


@dataclass(frozen=True)
class Probe:
    """What running the test at one version gave."""

    version: str
    status: str  # the cell status: ran | not-installable | infra | error (installing failed otherwise)
    verdict: str | None = None  # the test's verdict (pass, fail, xfail, n/a, error) when status is ran
    summary: str | None = None  # the one-line error, xfail/n-a reason, or why the install failed

    @property
    def testable(self) -> bool:
        """Whether the version was installed and gave the test a verdict."""
        return self.status == RAN

    @property
    def outcome(self) -> str:
        """The verdict when testable, otherwise the reason it is not (`not-installable`, `infra`, ...)."""
        return self.verdict if self.testable and self.verdict else self.status


@dataclass(frozen=True)
class Bisection:
    """The result of a search over `versions`.

    `last_good` is the last version with the range's starting verdict and `first_bad` the first one after
    it with another verdict (None when no version differs). `between` are the untestable versions between
    the two: the change happened at one of them or at `first_bad`. `probes` are in the order they ran.
    """

    versions: tuple[str, ...]
    probes: tuple[Probe, ...]
    last_good: Probe | None
    first_bad: Probe | None
    between: tuple[Probe, ...] = ()

    @property
    def skipped(self) -> tuple[Probe, ...]:
        """Every probed version that could not be tested, in probe order."""
        return tuple(probe for probe in self.probes if not probe.testable)

    @property
    def outcome(self) -> str:
        """`flip` (a change was found), `no-flip` (all testable versions agree) or `untestable` (no version
        could be tested)."""
        if self.first_bad is not None:
            return "flip"
        return "no-flip" if self.last_good is not None else "untestable"


def bisect(versions: Sequence[str], probe: Callable[[str], Probe]) -> Bisection:
    """Binary-search `versions` (ascending) for the first version whose verdict differs from the first
    testable version's; `probe` runs one version and is called at most once per version."""
    probed: dict[int, Probe] = {}
    order: list[Probe] = []

    def at(index: int) -> Probe:
        if index not in probed:
            probed[index] = probe(versions[index])
            order.append(probed[index])
        return probed[index]

    def result(last_good: int | None, first_bad: int | None = None) -> Bisection:
        between = tuple(probed[i] for i in range(last_good + 1, first_bad)) if first_bad is not None else ()
        return Bisection(tuple(versions), tuple(order), None if last_good is None else probed[last_good],
                         None if first_bad is None else probed[first_bad], between)

    low = next((i for i in range(len(versions)) if at(i).testable), None)
    if low is None:
        return result(None)
    high = next((i for i in range(len(versions) - 1, low, -1) if at(i).testable), None)
    if high is None or at(high).verdict == at(low).verdict:
        return result(low if high is None else high)
    start = at(low).verdict
    while high - low > 1:
        middle = _nearest_testable(low, high, at)
        if middle is None:
            break
        if at(middle).verdict == start:
            low = middle
        else:
            high = middle
    return result(low, high)


def _nearest_testable(low: int, high: int, at: Callable[[int], Probe]) -> int | None:
    """The testable index strictly between `low` and `high` nearest to their middle (probing outward
    from the middle, upper side first); None when none of them can be tested."""
    middle = (low + high) // 2
    candidates = [middle]
    for step in range(1, high - low):
        candidates += [middle + step, middle - step]
    return next((i for i in candidates if low < i < high and at(i).testable), None)
