"""benchmarks.targets: the targets say what was missed and by how much."""

from __future__ import annotations

from benchmarks.targets import targets
from tests.support.benchmarks import RESULTS


def test_targets_say_what_was_missed_and_by_how_much() -> None:
    rows = {t["name"]: t for t in targets(RESULTS)}
    assert rows["warm cell environment"]["met"] is False
    assert rows["warm cell environment"]["gap"] == "misses by 0.50 s (33 % over)"
    assert rows["warm uv vs warm pip + venv"]["measured"] == "30.0×"
    assert rows["warm uv vs warm pip + venv"]["gap"] == "misses by 20.0× (40 % short)"
    assert rows["harness overhead per cell"]["gap"] == "misses by 17.3 percentage points"
    assert rows["default matrix, warm"]["gap"] == "misses by 15 min 00 s (100 % over)"
    assert targets({}) == []
