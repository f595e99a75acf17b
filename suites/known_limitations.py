"""Known limitations: a failure whose error matches an entry here becomes `xfail` with the entry's reason
and the real error line. Anything that does not match stays `fail`. Each entry names the public issue
that documents the limitation; no entry may match on test name alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from suites.attribution import UPSTREAM


@dataclass(frozen=True)
class KnownLimitation:
    """Tests whose id matches `test` and whose error matches `error` fail for the documented `reason`;
    `layouts`, when given, limits the entry to those cache layouts (see suites.models.layout)."""

    test: str
    error: str
    reason: str
    upstream: str
    layouts: tuple[str, ...] = ()


KNOWN_LIMITATIONS: tuple[KnownLimitation, ...] = (
    KnownLimitation(
        test=r"-dynamic\]$",
        error=r"Constraints violated \(new_tokens\)",
        reason="dynamic sequence length specializes inside transformers' mask/cache code "
        "(pytorch/pytorch#152465, #155862)",
        upstream="pytorch/pytorch#152465",
    ),
    KnownLimitation(
        test=r"export",
        error=r"UnspecializedNNModuleVariable|duplicated inputs that are mutated",
        reason="torch.export fails when an input is an nn.Module, which Cache is in this release "
        "(pytorch/pytorch#147326)",
        upstream="pytorch/pytorch#147326",
        layouts=("list-module",),
    ),
)


def match(nodeid: str, error: str, layout: str) -> KnownLimitation | None:
    """The known limitation explaining this failure, if any."""
    return next(
        (
            k for k in KNOWN_LIMITATIONS
            if re.search(k.test, nodeid) and re.search(k.error, error) and (not k.layouts or layout in k.layouts)
        ),
        None,
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Turn a matching call failure into an xfail that quotes the real error."""
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or not report.failed or call.excinfo is None:
        return
    error = f"{call.excinfo.typename}: {call.excinfo.value}"
    from suites.models import layout

    known = match(item.nodeid, error, layout())
    if known is not None:
        first_line = error.strip().splitlines()[0][:300]
        report.outcome = "skipped"
        report.wasxfail = f"known limitation: {known.reason}; error: {first_line}"
        report.user_properties.append((UPSTREAM, known.upstream))
