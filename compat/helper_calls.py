"""Calls of transformers' own pytree registration helpers that compat's registrations turned into no-ops,
noted while compat holds registrations and made again once it removes them.

transformers' on-demand helpers (`compat.transformers_own.HELPERS`) register a class only where it is not
registered yet and swallow torch's "already registered as pytree node". While compat holds DynamicCache a
call of theirs therefore does nothing, and after `compat.unregister()` DynamicCache would be left with no
registration although transformers alone would have one. Replaying the helper itself (rather than copying
whatever it registered) gives exactly transformers' registration: its flatten functions, serialized name
and torch.fx flatten spec, in every release, with no knowledge of their internals.

Calls are seen by replacing the helper attribute of its module while compat holds registrations:
transformers calls its helpers through module globals (`export_with_dynamic_cache` ->
`register_dynamic_cache_export_support()`, `DynamoExporter.export` -> `register_cache_pytrees_for_model`),
and so does code that reaches them as `module.helper` or imports them after `compat.register()`. A name
imported from the module before `compat.register()` still holds the original and is not seen.
"""

from __future__ import annotations

import functools
import importlib
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from .transformers_own import HELPERS

WATCHING = "__kvcc_watching__"
"""Attribute of every wrapper compat installs (this copy's or a vendored copy's, so copies recognise each
other's): a callable saying whether the wrapper still notes calls. One that no longer does is a plain
pass-through that any copy may peel off the module attribute."""

_GONE = object()  # what a weakly held argument reads as once it has been garbage-collected


def _held(value: Any) -> Callable[[], Any]:
    """A getter for `value` that does not keep it alive where it can be referenced weakly: a noted call must
    not keep a model (gigabytes) alive for as long as compat holds its registrations."""
    try:
        ref = weakref.ref(value)
    except TypeError:  # None, numbers, strings: nothing to free
        return lambda: value
    return lambda: _GONE if (alive := ref()) is None else alive


class _Call:
    """One noted call of a helper (the original function), its arguments held weakly where they can be."""

    def __init__(self, helper: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.helper = helper
        self._args = tuple(_held(value) for value in args)
        self._kwargs = {name: _held(value) for name, value in kwargs.items()}

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        """The call's arguments, or None when one of them has been garbage-collected since."""
        args = tuple(get() for get in self._args)
        kwargs = {name: get() for name, get in self._kwargs.items()}
        if any(value is _GONE for value in (*args, *kwargs.values())):
            return None
        return args, kwargs

    def same_as(self, other: _Call) -> bool:
        """Whether both calls are of one helper with the same (identical) arguments, both still alive."""
        mine, theirs = self.arguments(), other.arguments()
        if self.helper is not other.helper or mine is None or theirs is None:
            return False
        return _identities(*mine) == _identities(*theirs)  # both calls' arguments are alive: ids are stable


def _identities(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(map(id, args)), tuple(sorted((name, id(value)) for name, value in kwargs.items()))


class HelperCalls:
    """The helpers compat watches and the calls it noted, for one copy of compat.

    `lock` is the registry's lock: a wrapper holds it around the original call and its note, so that a
    concurrent `unregister()` cannot remove a node between the helper finding it taken and the note.
    `holding` says whether compat holds any registration (only then can a call have been made a no-op)."""

    def __init__(self, lock: AbstractContextManager[Any], holding: Callable[[], bool]) -> None:
        self._lock = lock
        self._holding = holding
        self._wrappers: dict[tuple[str, str], tuple[Any, Callable[..., Any]]] = {}  # -> (module, wrapper)
        self._calls: list[_Call] = []

    def watch(self) -> None:
        """Replace each helper the installed transformers has by a wrapper that notes its calls (once)."""
        for module_name, function_name, _ in HELPERS:
            if (module_name, function_name) in self._wrappers:
                continue
            try:
                module = importlib.import_module(module_name)
            except Exception:  # noqa: BLE001 - a helper module that cannot be imported has no helper to call
                continue
            original = getattr(module, function_name, None)
            if callable(original):
                wrapper = self._wrap(original, (module_name, function_name))
                setattr(module, function_name, wrapper)
                self._wrappers[(module_name, function_name)] = (module, wrapper)

    def _wrap(self, original: Callable[..., Any], key: tuple[str, str]) -> Callable[..., Any]:
        @functools.wraps(original)
        def helper(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                result = original(*args, **kwargs)
                if watching() and self._holding():
                    self._note(_Call(original, args, kwargs))
                return result

        def watching() -> bool:
            return self._wrappers.get(key, (None, None))[1] is helper

        setattr(helper, WATCHING, watching)
        return helper

    def _note(self, call: _Call) -> None:
        self._calls = [noted for noted in self._calls if noted.arguments() is not None]
        if not any(noted.same_as(call) for noted in self._calls):
            self._calls.append(call)

    def replay(self) -> None:
        """Make every noted call again, in order, through the original helpers; call after removing nodes.

        A call whose argument (a model) has been garbage-collected since is not replayed: there is nothing to
        pass. Classes compat still holds stay compat's (the helpers skip them again), so the calls stay noted
        until `stop()`."""
        for call in list(self._calls):
            arguments = call.arguments()
            if arguments is not None:
                call.helper(*arguments[0], **arguments[1])

    def stop(self) -> None:
        """Forget the noted calls and put each helper attribute back as it was before `watch()`.

        Only compat's own wrappers are removed: one installed over ours by someone else stays (ours inside it
        then passes calls through and notes nothing), and inactive wrappers of other compat copies found on
        top are peeled off too, so that no copy leaves a wrapper behind."""
        wrappers, self._wrappers, self._calls = self._wrappers, {}, []
        for (_, function_name), (module, _) in wrappers.items():
            current = getattr(module, function_name, None)
            unwrapped = current
            while callable(getattr(unwrapped, WATCHING, None)) and not getattr(unwrapped, WATCHING)():
                unwrapped = unwrapped.__wrapped__
            if unwrapped is not current:
                setattr(module, function_name, unwrapped)
