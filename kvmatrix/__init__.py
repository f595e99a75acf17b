"""Host side of the kv-cache-compat matrix: pins, verdicts and reports. Never imports torch.

The folders follow the flow: `plan/` (pins -> cells) -> `run/` (one cell) -> `record/` (its record and
the matrix schema) -> `render/` and `publish/` (reports/) -> `bisect/`; `settings.py` holds every
KVCC_* variable and `files.py` the atomic writes.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent  # the checkout whose suites/ and reports/ the tools use
