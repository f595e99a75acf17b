"""The id of the cell a fault plugin runs in, read from the installed torch and transformers, so a plugin
can act in one chosen cell of a whole matrix run and nowhere else."""

from __future__ import annotations

import importlib.metadata


def cell_id() -> str:
    """`tf<transformers>-torch<torch>` of this environment, local version tags (`+cpu`) left out."""
    def version(name: str) -> str:
        return importlib.metadata.version(name).split("+")[0]

    return f"tf{version('transformers')}-torch{version('torch')}"
