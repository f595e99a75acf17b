"""The kv-cache-compat matrix: pins, cells, verdicts and reports.

The folders follow the flow: `plan/` (pins -> cells) -> `run/` (one cell: `run/env/` its environments,
`run/process/` its pytest processes and the plug-ins that run inside them) -> `record/` (its record and the
matrix schema) -> `render/` and `publish/` (reports/) -> `bisect/`; `settings.py` holds every KVCC_*
variable and `files.py` the atomic writes. Only `run/process/`'s in-cell modules import torch or pytest.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent  # the checkout whose suites/ and reports/ the tools use
