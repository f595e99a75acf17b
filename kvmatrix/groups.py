"""What each part of the project installs: pyproject.toml's PEP 735 `[dependency-groups]`, read here for the
cells (kvmatrix.run.cell.requirements) and the nox sessions alike. Not in kvmatrix/__init__.py: the cells'
pytest processes import that, on Pythons (3.10) that have no tomllib."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from kvmatrix import REPO_ROOT


@functools.cache
def dependency_group(name: str, root: Path = REPO_ROOT) -> tuple[str, ...]:
    """The requirement strings of dependency group `name` in `root`'s pyproject.toml, in their order, with
    each `{include-group = ...}` replaced by that group's."""
    entries = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["dependency-groups"][name]
    return tuple(requirement for entry in entries for requirement in
                 ((entry,) if isinstance(entry, str) else dependency_group(entry["include-group"], root)))
