"""A fake bisection for the tests of kvmatrix.bisect: the releases of a range, the test and request bisected,
and a probe whose verdict flips at a chosen release."""

from __future__ import annotations

from kvmatrix.bisect.report import BisectRequest
from kvmatrix.bisect.search import Probe

# The transformers releases of >=4.46,<4.54 on PyPI (yanked 4.46.0 and 4.52.0 left out).
RELEASES = [
    "4.46.1", "4.46.2", "4.46.3", "4.47.0", "4.47.1", "4.48.0", "4.48.1", "4.48.2", "4.48.3", "4.49.0",
    "4.50.0", "4.50.1", "4.50.2", "4.50.3", "4.51.0", "4.51.1", "4.51.2", "4.51.3", "4.52.1", "4.52.2",
    "4.52.3", "4.52.4", "4.53.0", "4.53.1", "4.53.2", "4.53.3",
]
TEST = "suites/test_roundtrip.py::test_key_paths_name_the_cache_fields[DynamicCache]"
REQUEST = BisectRequest(TEST, "without", "torch", "2.6.0", "transformers", ">=4.46,<4.54")


class FakeProbe:
    """`fail` before `flip_at`, `pass` from it on; versions in `broken` cannot be installed. Counts calls."""

    def __init__(self, flip_at: str | None, broken: dict[str, str] | None = None) -> None:
        self.flip_at = flip_at
        self.broken = broken or {}
        self.calls: list[str] = []

    def __call__(self, version: str) -> Probe:
        self.calls.append(version)
        if version in self.broken:
            return Probe(version, self.broken[version], None, f"cannot install transformers=={version}")
        flipped = self.flip_at is not None and RELEASES.index(version) >= RELEASES.index(self.flip_at)
        return Probe(version, "ran", "pass" if flipped else "fail",
                     None if flipped else "AssertionError: DynamicCache is not a pytree node")
