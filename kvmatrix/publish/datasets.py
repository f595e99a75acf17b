"""The published matrices read together: the default one in a reports folder, and `latest/` and `full/`
inside it. A use's since summary (kvmatrix.record.answers) reads all three, whichever of them is published."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kvmatrix.record.answers import DATASETS
from kvmatrix.record.detail import DETAIL_FOLDER
from kvmatrix.record.matrix import ReportError, load_matrix

NESTED = ("latest", "full")
"""The datasets published in a folder of the default one's folder, by name."""


def dataset_of(reports_dir: Path) -> tuple[str, Path]:
    """(the dataset `reports_dir` holds, the folder of the default dataset beside it): `reports/latest` is
    `latest` in `reports`; any other folder is the default dataset of its own."""
    if reports_dir.name in NESTED:
        return reports_dir.name, reports_dir.parent
    return DATASETS[0], reports_dir


def folder_of(dataset: str, root: Path) -> Path:
    """Where `dataset` is published in the default dataset's folder `root`."""
    return root if dataset == DATASETS[0] else root / dataset


def finished_of(details: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Cell id -> `finished_at` of its detail record (a detail without one is left out: it is dated by the
    matrix)."""
    return {cell_id: detail["finished_at"] for cell_id, detail in details.items()
            if isinstance(detail, dict) and isinstance(detail.get("finished_at"), str)}


def finished_dates(reports_dir: Path, matrix: dict[str, Any]) -> dict[str, str]:
    """`finished_of` the published detail files in `reports_dir` of `matrix`'s cells (one that is missing or
    unreadable is left out)."""
    details = {}
    for cell in matrix["cells"]:
        try:
            details[cell["id"]] = json.loads((reports_dir / DETAIL_FOLDER / f"{cell['id']}.json").read_text(
                encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return finished_of(details)


def published_datasets(reports_dir: Path, but: str | None = None) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """Every dataset published beside `reports_dir` (itself included, as it stands before this publish) but
    the dataset `but`: name -> (its matrix, its cells' finished dates). One that is missing or unreadable is
    left out."""
    _, root = dataset_of(reports_dir)
    found = {}
    for name in DATASETS:
        if name == but:
            continue
        folder = folder_of(name, root)
        try:
            matrix = load_matrix(folder / "matrix.json")
        except (OSError, ReportError):
            continue
        found[name] = (matrix, finished_dates(folder, matrix))
    return found
