"""Encode the non-tensor attributes of a cache object as JSON-native values, and back.

The pytree context must be hashable, comparable and JSON-dumpable so that `torch.export.save` / `load`
work (the anchors note that contexts holding `torch.dtype` or `torch.device` break saving). Values that
are not JSON-native are tagged: {"__dtype__": "float32"}, {"__device__": "cpu"},
{"__class__": "module:QualName"}, {"__dict__": [[key, value], ...]} (keys may be ints),
{"__tuple__": [...]}.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

CONTEXT_FORMAT = "kv-cache-compat/1"
"""The name and version of compat's context format: part of every serialized type name compat registers
and of every dumped context, so a program saved under another registration (transformers' own, TICO's) is
never decoded by compat's functions, nor compat's by theirs."""


class UnsupportedState(TypeError):
    """An attribute holds a value that cannot be carried in a JSON pytree context."""


def encode(value: Any, where: str) -> Any:
    """Return a JSON-native encoding of `value`; `where` names the attribute for error messages."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.dtype):
        return {"__dtype__": str(value).removeprefix("torch.")}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, type):
        return {"__class__": f"{value.__module__}:{value.__qualname__}"}
    if isinstance(value, list):
        return [encode(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(item, f"{where}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, where), encode(v, f"{where}[{k!r}]")] for k, v in value.items()]}
    raise UnsupportedState(f"attribute {where} holds a {type(value).__name__}, which has no JSON form")


def decode(value: Any) -> Any:
    """Invert `encode`."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "__dtype__" in value:
        return getattr(torch, value["__dtype__"])
    if "__device__" in value:
        return torch.device(value["__device__"])
    if "__class__" in value:
        module_name, _, qualname = value["__class__"].partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    if "__tuple__" in value:
        return tuple(decode(item) for item in value["__tuple__"])
    if "__dict__" in value:
        return {decode(k): decode(v) for k, v in value["__dict__"]}
    raise ValueError(f"unknown tagged value in pytree context: {sorted(value)}")
