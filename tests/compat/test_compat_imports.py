"""What compat's modules import, read from their sources with ast so it cannot drift: torch's pytree modules
only through the shim (compat.pytree_api), whose names are torch's own objects; and nothing of the matrix
(kvmatrix, suites), since compat ships alone as the kv-cache-compat wheel."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from torch.utils import _pytree

from compat import pytree_api

COMPAT = Path(__file__).resolve().parents[2] / "compat"
PRIVATE_PYTREES = {"torch.utils._pytree", "torch.fx._pytree"}
DOTTED = re.compile(r"[A-Za-z_]\w*(\.\w+)*")  # a string that could be a module's name


def _imported(path: Path) -> set[str]:
    """Every module `path` imports (`import a.b`, `from a import b` as `a` and `a.b`) or names as a string
    (importlib.import_module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and DOTTED.fullmatch(node.value):
            found.add(node.value)
    return found


IMPORTS = {path.name: _imported(path) for path in sorted(COMPAT.glob("*.py"))}


def test_only_the_shim_imports_torchs_pytree_modules() -> None:
    pytrees = {name: found & PRIVATE_PYTREES for name, found in IMPORTS.items()}
    assert pytrees.pop("pytree_api.py") == PRIVATE_PYTREES
    assert {name: found for name, found in pytrees.items() if found} == {}


def test_the_shim_hands_out_torchs_own_pytree_objects() -> None:
    for name in pytree_api.PUBLIC_NAMES:
        assert getattr(pytree_api, name) is getattr(_pytree, name), name


def test_compat_imports_nothing_of_the_matrix() -> None:
    matrix = {name: sorted(module for module in found if module.split(".")[0] in {"kvmatrix", "suites"})
              for name, found in IMPORTS.items()}
    assert "tiny.py" in matrix and {name: found for name, found in matrix.items() if found} == {}
