"""The one deep comparison of two cache (or layer) objects, shared by the round-trip checks."""

from __future__ import annotations

from typing import Any

import torch

MODULE_INTERNALS = frozenset(vars(torch.nn.Module())) - {"_buffers"}


def assert_same_state(a: Any, b: Any, where: str = "obj") -> None:
    """Same classes, attributes, tensor values/dtypes/shapes, all the way down."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{tuple(a.shape)} != {b.dtype}{tuple(b.shape)}"
        assert torch.equal(a, b), f"{where}: tensor values differ"
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(map(str, a))} != {sorted(map(str, b))}"
        for key in a:
            assert_same_state(a[key], b[key], f"{where}[{key!r}]")
    elif hasattr(a, "__dict__") and not isinstance(a, type):
        va = {k: v for k, v in vars(a).items() if k not in MODULE_INTERNALS}
        vb = {k: v for k, v in vars(b).items() if k not in MODULE_INTERNALS}
        assert va.keys() == vb.keys(), f"{where}: attributes {sorted(va)} != {sorted(vb)}"
        for key in va:
            assert_same_state(va[key], vb[key], f"{where}.{key}")
    elif where.endswith(".device") and {type(a), type(b)} <= {str, torch.device}:
        # compat keeps a device in one canonical form (compat.catalog.NORMALIZED_ATTRIBUTES)
        assert torch.device(a) == torch.device(b), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"
