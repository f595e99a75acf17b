"""Where a file is, said the same way on every machine: from its package on for installed code, relative
to the working directory (the repository) otherwise."""

from __future__ import annotations

import os


def short_path(path: str) -> str:
    """`torch/export/_trace.py` for `/…/site-packages/torch/export/_trace.py`; `suites/test_x.py` for a file
    under the working directory; any other path unchanged."""
    installed = path.rsplit("site-packages/", 1)
    return installed[1] if len(installed) == 2 else path.removeprefix(f"{os.getcwd()}/")
