"""The fork server of a cell environment (`python -m kvmatrix.run.process.fork_server serve SOCKET`; the host side, its
protocol and why: kvmatrix.run.process.fork_client): imports PRELOADED (kvmatrix.run.process.fork_client), and in a client's
environment what that client adds (kvmatrix.run.clients.Client.preload), once, then forks every pytest-xdist
worker of the environment's runs from that state.

What it imports changes nothing a test sees. A started worker imports all of PRELOADED too, before any test
and before `compat.register()` (compat imports transformers' cache classes to register them), so a forked
worker has the same modules and the same pytree registrations transformers makes at import, in the same
order. Nothing that registers a cache class, and no pytest plugin (pytest must import those itself to rewrite
their asserts), is preloaded. A client's additions are its compiler's modules, which its suite imports in
its first test anyway (ExecuTorch's `executorch.exir`, which each worker would otherwise import in its first lowering); TICO, whose
`tico.utils.pytree_utils` is a registration mode of its own, adds nothing. A server left with a second
thread after importing refuses to serve (a fork would copy whatever lock that thread holds), as does one
whose imports failed: the runs' workers then start as before.

Each child runs in a process group of its own, with the caller's stdio, environment and working directory,
its `__main__` and standard streams made anew as `python -u -c` makes them; the server reaps it and sends
its wait status, kills its group when the caller goes away first (its run was stopped), and kills every
child and exits when its own stdin closes.
"""

from __future__ import annotations

import builtins
import importlib
import io
import os
import selectors
import signal
import socket
import sys
import threading
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kvmatrix.run.process.fork_client import PRELOADED, receive, send

POLL_S = 0.2
"""How often the server reaps children while nothing else happens."""


@dataclass
class Child:
    """A forked worker: the connection of the caller waiting for it and the run it belongs to."""

    caller: socket.socket
    results: str | None


@dataclass
class Request:
    """What a child runs: the fork request and the stdio descriptors passed with it."""

    message: dict[str, Any]
    fds: list[int] = field(default_factory=list)


def threads() -> int:
    """The threads of this process as the kernel counts them (Python's count where /proc is missing)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Server:
    """The listening socket, the host's stdin and the children, served by one thread (no lock is held by
    another thread when it forks)."""

    def __init__(self, path: str, refusal: str | None = None) -> None:
        self.refusal = refusal
        """Why this server forks nothing (None: it forks): every fork request is answered with it."""
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(path)
        self.listener.listen(64)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(sys.stdin, selectors.EVENT_READ, "host")
        self.children: dict[int, Child] = {}

    def serve(self) -> Request | None:
        """Serve until the host closes stdin (None: the server is done) or, in a forked child, return the
        request that child runs."""
        while True:
            for key, _ in self.selector.select(POLL_S):
                if key.data == "host":
                    if not sys.stdin.readline():
                        self.shutdown()
                        return None
                elif key.data == "accept":
                    request = self.accept()
                    if request is not None:
                        return request
                else:
                    self.caller_gone(key.data)
            self.reap()

    def accept(self) -> Request | None:
        """Take one connection: fork for a fork request (in the child: its Request), end a run for an end
        request."""
        caller, _ = self.listener.accept()
        message, fds = receive(caller, 3)
        if message is None:
            caller.close()
            return None
        if message["kind"] == "end":
            self.end(caller, message["results"])
            return None
        if self.refusal is not None:
            for fd in fds:
                os.close(fd)
            with caller:
                send(caller, {"refused": self.refusal})
            return None
        pid = os.fork()
        if pid == 0:
            self.selector.close()
            self.listener.close()
            for child in self.children.values():
                child.caller.close()
            caller.close()
            return Request(message, fds)
        for fd in fds:
            os.close(fd)
        send(caller, {"forked": pid})
        self.children[pid] = Child(caller, message["env"].get("KVCC_RESULTS"))
        self.selector.register(caller, selectors.EVENT_READ, pid)
        return None

    def caller_gone(self, pid: int) -> None:
        """The caller of `pid` closed its connection (it was killed with its run): kill the child's group."""
        child = self.children.get(pid)
        if child is not None:
            self.selector.unregister(child.caller)
            _kill_group(pid)

    def reap(self, block_for: set[int] | None = None) -> None:
        """Collect every ended child and send its status to its caller; with `block_for`, wait until those
        children have ended."""
        waiting = set(block_for or ())
        while self.children:
            try:
                pid, status = os.waitpid(-1, 0 if waiting else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            waiting.discard(pid)
            child = self.children.pop(pid, None)
            if child is None:
                continue
            try:
                send(child.caller, {"status": status})
            except OSError:
                pass  # its caller is gone
            if child.caller.fileno() >= 0:
                try:
                    self.selector.unregister(child.caller)
                except (KeyError, ValueError):
                    pass
                child.caller.close()

    def end(self, caller: socket.socket, results: str) -> None:
        """Kill every child of the run writing `results`, wait for them, and say how many there were."""
        pids = {pid for pid, child in self.children.items() if child.results == results}
        for pid in pids:
            _kill_group(pid)
        self.reap(block_for=pids)
        with caller:
            send(caller, {"ended": len(pids)})

    def shutdown(self) -> None:
        """Kill every child and wait for them."""
        pids = set(self.children)
        for pid in pids:
            _kill_group(pid)
        self.reap(block_for=pids)


def run_child(request: Request) -> None:
    """In the forked child: become the process `python -u -c CODE ARGV` would be, on the caller's stdio, in
    its environment and folder, and run the code (it returns or raises SystemExit like that process)."""
    os.setpgid(0, 0)
    for target, fd in enumerate(request.fds):
        if fd != target:
            os.dup2(fd, target)
            os.close(fd)
    message = request.message
    os.chdir(message["cwd"])
    os.environ.clear()
    os.environ.update(message["env"])
    sys.dont_write_bytecode = bool(message["no_bytecode"])
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.open(0, "rb", closefd=False))
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.open(1, "wb", buffering=0, closefd=False), write_through=True)
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(io.open(2, "wb", buffering=0, closefd=False), write_through=True,
                                                   errors="backslashreplace")
    sys.argv = ["-c", *message["argv"]]
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    exec(compile(message["code"], "<string>", "exec"), main.__dict__)


def preload(modules: Sequence[str]) -> str | None:
    """Import `modules`; None when this process can fork workers after it, else why not (an import failed,
    or a second thread was left)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # any failure: the workers import it themselves and report it there
            return f"importing {name} failed: {type(exc).__name__}: {exc}"
    if threads() != 1:
        return f"{threads()} threads after importing {', '.join(modules)}: refusing to fork"
    return None


def serve(path: str, modules: Sequence[str] = PRELOADED) -> int | Request:
    """Import `modules`, listen at `path` and serve (refusing every fork when `preload` says why); the exit
    status of the server, or in a forked child the Request it runs."""
    refusal = preload(modules)
    print(f"fork server {os.getpid()}: " + (refusal or f"forking workers with {', '.join(modules)} imported"),
          flush=True)
    request = Server(path, refusal).serve()
    return 0 if request is None else request


def main(argv: list[str] | None = None) -> int | None:
    """`serve SOCKET [MODULE...]` (default: PRELOADED); in a forked child, runs its request and returns 0 when
    the code returns."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[0] != "serve":
        print("usage: python -m kvmatrix.run.process.fork_server serve SOCKET [MODULE...]", file=sys.stderr)
        return 2
    outcome = serve(args[1], args[2:] or PRELOADED)
    if isinstance(outcome, Request):
        run_child(outcome)
        return 0
    return outcome


if __name__ == "__main__":
    raise SystemExit(main())
