"""A cell's index snapshot as uv applies it: every resolution and install of the cell sees the package index
as it was at its pins file's `snapshot` (uv's `--exclude-newer`: a file uploaded at or after that time does
not exist for the resolver), so the same set resolves on any machine on any later day (docs/incremental.md).

torch is exempt by name: every cell pins it exactly, and the PyTorch CPU wheel index, where a machine without a
GPU takes it from (kvmatrix.run.env.torch_index), publishes no upload times, which uv would take as "too new".
A project whose files carry no upload time is otherwise excluded by uv; `undated_projects` finds it in uv's
output, so that such a failure is never read as pins that cannot coexist.
"""

from __future__ import annotations

import re

EXEMPT = ("torch",)
"""Projects resolved without the snapshot: pinned exactly in every cell, and served by an index without upload
times on some machines."""
_UNDATED = re.compile(r"warning: `?([^\s`]+?)-\d[^\s`]*\.(?:whl|tar\.gz|zip)`? is missing an upload date")


def snapshot_args(snapshot: str | None) -> list[str]:
    """The uv arguments (`uv pip install` and `uv pip compile` alike) that resolve as of `snapshot`
    (kvmatrix.plan.pins.UTC_FORMAT); none for None (the index as it is)."""
    if snapshot is None:
        return []
    return ["--exclude-newer", snapshot, *(arg for name in EXEMPT for arg in ("--exclude-newer-package", f"{name}=false"))]


def undated_projects(output: str) -> str | None:
    """The projects (comma-separated) whose files uv left out for having no upload time, in its output;
    None when it left out none."""
    found = sorted({match.group(1) for match in _UNDATED.finditer(output)})
    return ", ".join(found) or None
