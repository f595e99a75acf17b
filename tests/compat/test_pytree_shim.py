"""compat reaches torch's pytree modules through its shim only (compat.pytree_api), so what differs between
torch releases is handled in one place; the names the shim hands out are torch's own objects."""

from __future__ import annotations

import ast
from pathlib import Path

from torch.utils import _pytree

from compat import pytree_api

COMPAT = Path(__file__).resolve().parents[2] / "compat"
PRIVATE_PYTREES = {"torch.utils._pytree", "torch.fx._pytree"}


def _pytree_modules_named(path: Path) -> set[str]:
    """The torch pytree modules that `path` imports (`import torch.utils._pytree`, `from torch.utils import
    _pytree`, `from torch.fx._pytree import ...`) or names as a string (importlib.import_module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        else:
            continue
        found.update(name for name in names if name in PRIVATE_PYTREES)
    return found


def test_only_the_shim_imports_torchs_pytree_modules() -> None:
    importing = {path.name: _pytree_modules_named(path) for path in sorted(COMPAT.glob("*.py"))}
    assert importing.pop("pytree_api.py") == PRIVATE_PYTREES
    assert {name: found for name, found in importing.items() if found} == {}


def test_the_shim_hands_out_torchs_own_pytree_objects() -> None:
    for name in pytree_api.PUBLIC_NAMES:
        assert getattr(pytree_api, name) is getattr(_pytree, name), name
