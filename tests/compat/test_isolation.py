"""A vmap level left open by a failed export is popped before the next test, which then runs as alone."""

from __future__ import annotations

import pytest
import torch

from kvmatrix.run.process.isolation import release_leaked_vmap_levels


def test_a_leaked_vmap_level_breaks_random_calls_until_it_is_released() -> None:
    torch._C._functorch._vmap_increment_nesting(1, "error")  # what a raising export inside vmap leaves
    with pytest.raises(RuntimeError, match="randomness error mode"):
        torch.randint(0, 5, (2,))
    assert release_leaked_vmap_levels() == 1
    assert torch.randint(0, 5, (2,)).shape == (2,)
    assert release_leaked_vmap_levels() == 0


def test_a_vmap_that_returned_leaves_no_level_to_release() -> None:
    """Inside a vmapped function a level is open; once it returns, none is, and the release pops nothing."""
    seen = []
    torch.vmap(lambda x: seen.append(torch._C._functorch.maybe_current_level()) or x)(torch.ones(2))
    assert seen == [1] and release_leaked_vmap_levels() == 0


def test_a_failed_tests_leaked_vmap_level_does_not_fail_its_no_cache_probe() -> None:
    from kvmatrix.run.process.attribution import _run_probe

    def probe_drawing_random_numbers() -> None:
        torch.randint(0, 5, (2,))

    torch._C._functorch._vmap_increment_nesting(1, "error")  # left by the failed test's export
    assert _run_probe(probe_drawing_random_numbers, {}) is None  # the probe passed: no failure of its own
