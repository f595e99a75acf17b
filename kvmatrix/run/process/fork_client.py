"""Fork each pytest-xdist worker of an environment from one interpreter that has imported torch and
transformers already (the server, kvmatrix.run.process.fork_server), instead of starting a new one that imports them again
in each of a cell's worker processes.

This module is the torch-free side: `serving` starts an environment's server and stops it, `end_run` makes
sure no worker of a finished run outlives it, and `python -m kvmatrix.run.process.fork_client connect SOCKET -u -c
CODE` is what execnet starts as a worker's Python when the run's controller has the `kvmatrix.run.process.forked_workers`
plugin: it hands its stdin, stdout and stderr, environment, working directory and code to the server, which
forks a child that runs the code as `python -u -c CODE` would, and exits with that child's status. The child
alone then holds the worker's pipes, so a worker that crashes or hangs ends, and is reported and replaced by
xdist, exactly as a started one. Registration stays per worker: the server imports, never registers
(kvmatrix.run.process.fork_server lists what it imports and why that changes nothing a test sees).

The server imports while the runs' controllers start; a worker's client waits for its socket. A server that
cannot import, or is left with a second thread, refuses every fork, and a client refused, or whose server is
gone, becomes the worker itself (it execs `python -u -c CODE`): the run goes on with started workers.

Messages are JSON over a UNIX SOCK_SEQPACKET socket (one message per send, the stdio descriptors passed with
the fork request): `{"kind": "fork", "env", "cwd", "code", "argv", "no_bytecode"}` is answered `{"forked":
pid}` (or `{"refused": why}`), then `{"status": <wait status>}` when the child ends; `{"kind": "end",
"results": <KVCC_RESULTS of a run>}` kills every child of that run and is answered `{"ended": <how many>}`
once they are gone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NoReturn

from kvmatrix.settings import setting

PRELOADED = (
    "torch", "torch._dynamo", "torch.export", "transformers", "transformers.cache_utils",
    "transformers.modeling_utils",
)
"""What every worker imports before its first test, in that order: what every server imports (kvmatrix.run.process.fork_server
says why that changes nothing a test sees)."""
SOCKET_VARIABLE = "KVCC_FORKSERVER"
"""Set for a run whose workers are forked: the server's socket."""
SERVER_MODULE = "kvmatrix.run.process.fork_server"
MESSAGE_BYTES = 1 << 20
"""The largest message (a fork request carries the whole environment)."""
PID_FILE = "pid"
"""Beside the socket: the server's process id, so that a waiting client can tell that it is gone."""
START_TIMEOUT_S = 300
"""How long a client waits for its server to listen (it imports torch and transformers, maybe from cold
bytecode, with every core busy) before it starts its worker itself."""
END_TIMEOUT_S = 60


def send(channel: socket.socket, message: Mapping[str, Any], fds: list[int] | None = None) -> None:
    """Send one message, with `fds` (file descriptors) passed along."""
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(channel, [data], fds)
    else:
        channel.send(data)


def receive(channel: socket.socket, fds: int = 0) -> tuple[dict[str, Any] | None, list[int]]:
    """One message and the descriptors passed with it (at most `fds`); (None, []) when the peer is gone."""
    data, passed, _, _ = socket.recv_fds(channel, MESSAGE_BYTES, fds) if fds else (channel.recv(MESSAGE_BYTES), [], 0, None)
    return (json.loads(data) if data else None), list(passed)


def connected(path: str) -> socket.socket:
    """A connection to the server listening at `path`."""
    channel = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    channel.connect(path)
    return channel


def fork_request(argv: list[str]) -> dict[str, Any]:
    """The fork request for a worker started as `python ARGV` (execnet's `-u -c CODE`, maybe `-B`)."""
    where = argv.index("-c")
    return {"kind": "fork", "env": dict(os.environ), "cwd": os.getcwd(), "code": argv[where + 1],
            "argv": argv[where + 2:], "no_bytecode": "-B" in argv[:where]}


def server_alive(path: str) -> bool:
    """Whether the server of the socket `path` (its PID_FILE) still runs."""
    try:
        os.kill(int(Path(path).with_name(PID_FILE).read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def wait_for_server(path: str, timeout_s: float = START_TIMEOUT_S) -> socket.socket | None:
    """A connection to the server at `path` once it listens; None when it is gone or the time ran out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return connected(path)
        except (FileNotFoundError, ConnectionRefusedError):
            if not server_alive(path):
                return None
            time.sleep(0.05)
    return None


def start_worker_itself(argv: list[str], why: str) -> NoReturn:
    """Become the worker `python ARGV` (exec: same process, same stdio), saying why on stderr."""
    print(f"kvmatrix.run.process.fork_client: this worker starts on its own: {why}", file=sys.stderr, flush=True)
    os.execv(sys.executable, [sys.executable, *argv])


def connect(path: str, argv: list[str]) -> int:
    """Be a worker's Python: have the server at `path` fork one running `argv`'s code on this process's stdio,
    and return what `python` would have exited with (128 + the signal for a killed child); become that
    worker itself when the server refuses or is gone."""
    channel = wait_for_server(path)
    if channel is None:
        start_worker_itself(argv, f"no fork server listens at {path}")
    send(channel, fork_request(argv), [0, 1, 2])
    forked, _ = receive(channel)
    if forked is None or "forked" not in forked:
        start_worker_itself(argv, (forked or {}).get("refused", "the fork server went away"))
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):  # the child alone holds the worker's pipes: they close when it ends
        os.dup2(null, fd)
    reply, _ = receive(channel)
    if reply is None:
        print(f"kvmatrix.run.process.fork_client: the fork server at {path} went away", file=sys.stderr)
        return 1
    code = os.waitstatus_to_exitcode(reply["status"])
    return 128 - code if code < 0 else code


def end_run(path: str, results: str) -> int:
    """Kill every worker the server at `path` forked for the run writing `results` (its KVCC_RESULTS) and
    return how many were still alive; 0 when the server is gone."""
    try:
        channel = connected(path)
    except OSError:
        return 0
    with channel:
        channel.settimeout(END_TIMEOUT_S)
        send(channel, {"kind": "end", "results": results})
        reply, _ = receive(channel)
    return int(reply["ended"]) if reply else 0


@contextmanager
def serving(python: str, env: Mapping[str, str], cwd: Path, log: IO[str],
            modules: Sequence[str] = ()) -> Iterator[dict[str, str]]:
    """Start the fork server of `python`'s environment with `env` (the environment every run of it gets,
    less what each run sets itself), its output going to `log`, and yield what a run adds to its environment
    to have its workers forked there ({SOCKET_VARIABLE: socket}; {} when KVCC_PRELOAD is 0); stop it and
    every child it has at the end. `modules`: what the server imports (default: PRELOADED)."""
    if setting("KVCC_PRELOAD", env) == "0":
        yield {}
        return
    folder = tempfile.mkdtemp(prefix="kvcc-fs-")
    path = os.path.join(folder, "socket")
    process = subprocess.Popen([python, "-m", SERVER_MODULE, "serve", path, *modules], cwd=cwd, env=dict(env),
                               stdin=subprocess.PIPE, stdout=log, stderr=log, start_new_session=True)
    Path(folder, PID_FILE).write_text(str(process.pid))
    try:
        yield {SOCKET_VARIABLE: path}
    finally:
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Close the server's stdin (it kills its children and exits) and wait; kill its group if it lingers."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=END_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main(argv: list[str] | None = None) -> int:
    """`connect SOCKET [python options] -c CODE [args]`: see the module docstring."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 4 or args[0] != "connect" or "-c" not in args[2:]:
        print("usage: python -m kvmatrix.run.process.fork_client connect SOCKET [-u] [-B] -c CODE [ARG...]", file=sys.stderr)
        return 2
    return connect(args[1], args[2:])


if __name__ == "__main__":
    raise SystemExit(main())
