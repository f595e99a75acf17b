"""Flatten a cache or layer object into pytree children plus a context, and rebuild it.

One generic node handles every class in `compat.catalog`: tensors, lists of tensors or layers and nested
caches become children (named, so key paths read `layers[0].keys`); every other attribute goes into the
context. Rebuilding uses `cls.__new__` and restores the attributes, so it works whatever the constructor
of the installed release looks like, and the rebuilt object is a real, usable cache.

The in-memory context holds plain Python values (dtypes, classes included) because strict
`torch.export` traces unflatten with dynamo, which cannot trace a JSON parser; `to_dumpable_context` /
`from_dumpable_context` turn it into JSON for `torch.export.save` / `load`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any, NamedTuple

import torch

from .catalog import CHILD_ATTRIBUTES, DERIVED_ATTRIBUTES, NORMALIZED_ATTRIBUTES
from .pytree_api import GetAttrKey
from .state import CONTEXT_FORMAT, UnsupportedState, decode, encode

# Attributes every nn.Module instance has; caches that are modules (transformers 4.4x) get them from
# nn.Module.__init__ on rebuild instead of from the context.
_MODULE_INTERNALS = frozenset(vars(torch.nn.Module()))


def _first_key_length(obj: Any) -> int:
    keys = getattr(obj, "key_cache", None)
    if keys and isinstance(keys[0], torch.Tensor):
        return int(keys[0].shape[-2])
    return 0


DERIVATIONS: dict[str, Callable[[Any], Any]] = {"first_key_length": _first_key_length}


def _as_device(value: Any) -> Any:
    """A device given as a string becomes a torch.device; anything else (a torch.device, None) is kept."""
    return torch.device(value) if isinstance(value, str) else value


NORMALIZERS: dict[str, Callable[[Any], Any]] = {"device": _as_device}


def _is_child(name: str, value: Any, node_types: Iterable[type]) -> bool:
    if name in CHILD_ATTRIBUTES or isinstance(value, torch.Tensor) or isinstance(value, tuple(node_types)):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, torch.Tensor) for v in value)


def _ordered(children: Iterable[str]) -> list[str]:
    """Known child attributes in CHILD_ATTRIBUTES order, then any others by name."""
    names = list(children)
    return [n for n in CHILD_ATTRIBUTES if n in names] + sorted(n for n in names if n not in CHILD_ATTRIBUTES)


def _dynamo_tracing() -> bool:
    """True only while dynamo symbolically traces this code (torch.compile, strict export).

    `torch.compiler.is_compiling()` is the wrong question: non-strict export sets it while running real
    Python (torch 2.8 at least), where `vars()` works and a module-held cache may never have been flattened
    before. `is_dynamo_compiling()` (torch >= 2.3, so every pinned torch) is False in real execution and
    constant-folded to True by dynamo."""
    is_dynamo_compiling = getattr(torch.compiler, "is_dynamo_compiling", None) or torch._dynamo.is_compiling
    return bool(is_dynamo_compiling())


# Instance attribute names seen per class, in first-seen order. Dynamo (strict export traces the flatten
# of the returned cache) cannot iterate an object's __dict__ on some torches (2.10: "Dynamo does not know
# how to trace method `items`"), so under tracing the names come from here and are read one by one. The
# inputs of any export are flattened eagerly first, which records every class that can come back out.
_SEEN_ATTRIBUTES: dict[type, list[str]] = {}


def _attribute_names(obj: Any, is_module: bool) -> list[str]:
    """The instance attribute names of `obj` (a module cache's nested caches live in `_modules`)."""
    cls = type(obj)
    if _dynamo_tracing():
        if cls not in _SEEN_ATTRIBUTES:
            raise UnsupportedState(f"{cls.__name__} was never flattened outside tracing; its fields are unknown")
        return [name for name in _SEEN_ATTRIBUTES[cls] if hasattr(obj, name)]
    names = list(vars(obj)) + (list(obj._modules) if is_module else [])
    seen = _SEEN_ATTRIBUTES.setdefault(cls, [])
    seen.extend(name for name in names if name not in seen)
    return names


def _buffer_aliases(obj: torch.nn.Module, children: dict[str, Any]) -> list[list[Any]]:
    """Map each module buffer to the child list entry it aliases (4.4x StaticCache registers its tensors)."""
    aliases = []
    for buffer_name, buffer in obj._buffers.items():
        for attr, child in children.items():
            items = child if isinstance(child, (list, tuple)) else [child]
            index = next((i for i, item in enumerate(items) if item is buffer), None)
            if index is not None:
                aliases.append([buffer_name, attr, index if child is not buffer else None])
                break
        else:
            raise UnsupportedState(f"module buffer {buffer_name!r} is not one of the cache's tensors")
    return aliases


def split(obj: Any, node_types: Iterable[type] = ()) -> tuple[list[str], list[Any], dict[str, Any]]:
    """Split `obj` into child names, child values and a context dict.

    `node_types` are the classes registered by this package, stored as children when nested.
    """
    node_types = tuple(node_types)
    is_module = isinstance(obj, torch.nn.Module)
    children: dict[str, Any] = {}
    state: dict[str, Any] = {}
    derived = []
    for name in _attribute_names(obj, is_module):
        if is_module and name in _MODULE_INTERNALS:
            continue
        value = getattr(obj, name)
        if name in DERIVED_ATTRIBUTES:
            derived.append(name)
        elif _is_child(name, value, node_types):
            children[name] = value
        elif name in NORMALIZED_ATTRIBUTES:
            state[name] = NORMALIZERS[NORMALIZED_ATTRIBUTES[name]](value)
        else:
            state[name] = value
    names = _ordered(children)
    context: dict[str, Any] = {
        "children": names,
        "state": state,
        "derived": sorted(derived),
        "buffers": _buffer_aliases(obj, children) if is_module else [],
    }
    return names, [children[n] for n in names], context


def _fresh(value: Any) -> Any:
    """A container from the context is copied so rebuilt objects never share it with the context."""
    return type(value)(value) if isinstance(value, (list, dict)) else value


def rebuild(cls: type, values: Iterable[Any], context: dict[str, Any]) -> Any:
    """Rebuild an instance of `cls` from its children and the context made by `split`."""
    spec = context
    obj = cls.__new__(cls)
    if issubclass(cls, torch.nn.Module):
        torch.nn.Module.__init__(obj)
    for name, value in spec["state"].items():
        setattr(obj, name, _fresh(value))
    for name, value in zip(spec["children"], values, strict=True):
        setattr(obj, name, value)
    for name in spec["derived"]:
        setattr(obj, name, DERIVATIONS[DERIVED_ATTRIBUTES[name]](obj))
    for buffer_name, attr, index in spec["buffers"]:
        child = getattr(obj, attr)
        obj.register_buffer(buffer_name, child if index is None else child[index])
    return obj


def to_dumpable_context(context: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a context (for `torch.export.save`), tagged with CONTEXT_FORMAT; raises
    `UnsupportedState` naming the field."""
    state = {name: encode(value, name) for name, value in context["state"].items()}
    return {"format": CONTEXT_FORMAT, **context, "state": state}


def from_dumpable_context(dumped: Any, cls: type | None = None) -> dict[str, Any]:
    """Invert `to_dumpable_context`; a context in any other format (a program saved under transformers' own
    or TICO's registration of `cls`) is refused naming both formats."""
    found = dumped.get("format") if isinstance(dumped, dict) else None
    if found != CONTEXT_FORMAT:
        name = f"{cls.__module__}.{cls.__qualname__}" if cls is not None else "this class"
        shown = repr(dumped) if len(repr(dumped)) <= 80 else repr(dumped)[:77] + "..."
        raise UnsupportedState(
            f"this program's {name} was saved in another registration's format ({name!r}, e.g. transformers' "
            f"own or TICO's, context {'format ' + str(found) if found else shown}); compat reads only "
            f"{CONTEXT_FORMAT} ('{CONTEXT_FORMAT}:{name}'): load the program with the registration that saved it"
        )
    context = {key: value for key, value in dumped.items() if key != "format"}
    return {**context, "state": {name: decode(value) for name, value in context["state"].items()}}


def keyed_split(obj: Any, node_types: Iterable[type]) -> tuple[list[tuple[Any, Any]], dict[str, Any]]:
    """`split` with each child paired with its key (`GetAttrKey` of its attribute), as key paths read."""
    names, children, context = split(obj, node_types)
    return [(GetAttrKey(n), c) for n, c in zip(names, children, strict=True)], context


class NodeFunctions(NamedTuple):
    """The functions compat registers a class with (`make_node_functions`); `unflatten_for(cls)` gives
    the unflatten of one class."""

    flatten: Callable[[Any], tuple[list[Any], dict[str, Any]]]
    flatten_with_keys: Callable[[Any], tuple[list[tuple[Any, Any]], dict[str, Any]]]
    unflatten_for: Callable[[type], Callable[[Iterable[Any], dict[str, Any]], Any]]
    fx_flatten_spec: Callable[[Any, Any], list[Any]]


def make_node_functions(node_types: Collection[type]) -> NodeFunctions:
    """Return the flatten / unflatten / flatten-with-keys / fx-spec functions for one class.

    `node_types` is the live set of classes this package registered, read at flatten time so nested
    classes registered later are seen. Flatten runs under dynamo in strict export, so it must stay
    plain attribute access (no imports, no I/O).
    """

    def flatten(obj: Any) -> tuple[list[Any], dict[str, Any]]:
        _, children, context = split(obj, node_types)
        return children, context

    def flatten_with_keys(obj: Any) -> tuple[list[tuple[Any, Any]], dict[str, Any]]:
        return keyed_split(obj, node_types)

    def unflatten_for(cls: type) -> Callable[[Iterable[Any], dict[str, Any]], Any]:
        return lambda values, context: rebuild(cls, values, context)

    def fx_flatten_spec(obj: Any, spec: Any) -> list[Any]:
        return flatten(obj)[0]

    return NodeFunctions(flatten, flatten_with_keys, unflatten_for, fx_flatten_spec)
