"""A real PEP 691 simple index on loopback, serving the project pages in tests/support/data (trimmed copies
of PyPI's answers), for tests of release listing and of everything that resolves versions."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
JSON_SIMPLE = "application/vnd.pypi.simple.v1+json"


Answer = tuple[int, str, bytes]
"""(status, content type, body) of one HTTP answer."""
NOT_FOUND: Answer = (404, "text/plain", b"Not Found")
FORBIDDEN: Answer = (403, "text/plain", b"Forbidden")
UNAUTHORIZED: Answer = (401, "text/plain", b"Unauthorized")
LOGIN_PAGE: Answer = (200, "text/html", b"<html><body><form action='/login'>Sign in</form>"
                                       b"<a href='/forgot-password'>Forgot?</a></body></html>")
"""What a proxy that wants a login answers for every page: 200, HTML, no distribution file."""
ERROR_JSON: Answer = (200, JSON_SIMPLE, b'{"errors":[{"status":401,"title":"Unauthorized",'
                                      b'"detail":"the access token has expired"}]}')
"""What a proxy with an expired token answers: 200 and the simple API's content type, but an error object."""
CORRUPT_JSON: Answer = (200, JSON_SIMPLE, b'{"meta": {"api-version": "1.1"}, "name": "torch", "files": [')
"""A project page cut short: 200, the simple API's content type, JSON that does not parse."""


@dataclass
class SimpleIndex:
    """The running index: its URL, and every request it answered as (path, Accept header)."""

    url: str
    requests: list[tuple[str, str]] = field(default_factory=list)


def _pages() -> dict[str, Answer]:
    """path -> (status, content type, body)."""
    pages = {f"/simple/{path.stem.removeprefix('simple-')}/": (200, JSON_SIMPLE, path.read_bytes())
             for path in DATA.glob("simple-*.json")}
    pages["/simple/broken/"] = (503, "text/plain", b"Service Unavailable")
    pages["/simple/htmlonly/"] = (200, "text/html", b"<html><body><a href='x-1.0.tar.gz'>x</a></body></html>")
    return pages


@dataclass(frozen=True)
class Release:
    """One wheel the index serves: a pure-Python project's version, its PEP 700 upload time (None: the index
    gives none, as the PyTorch CPU index) and its `Requires-Dist` lines."""

    project: str
    version: str
    uploaded: str | None
    requires: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return f"{self.project.replace('-', '_')}-{self.version}-py3-none-any.whl"

    def wheel(self) -> bytes:
        """A minimal installable wheel: an empty module and its dist-info."""
        name = self.project.replace("-", "_")
        info = f"{name}-{self.version}.dist-info"
        metadata = "".join([f"Metadata-Version: 2.1\nName: {self.project}\nVersion: {self.version}\n",
                            *(f"Requires-Dist: {line}\n" for line in self.requires)])
        files = {f"{name}/__init__.py": "", f"{info}/METADATA": metadata,
                 f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
        record = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path, text in {**files, f"{info}/RECORD": record}.items():
                archive.writestr(path, text)
        return buffer.getvalue()


def _release_pages(releases: Sequence[Release]) -> dict[str, Answer]:
    """The project pages and wheel files of `releases` (paths under /simple/ and /files/)."""
    pages: dict[str, Answer] = {}
    projects: dict[str, list[dict[str, object]]] = {}
    for release in releases:
        pages[f"/files/{release.filename}"] = (200, "application/octet-stream", release.wheel())
        entry: dict[str, object] = {"filename": release.filename, "url": f"../../files/{release.filename}",
                                    "hashes": {}}
        if release.uploaded is not None:
            entry["upload-time"] = release.uploaded
        projects.setdefault(release.project, []).append(entry)
    for project, files in projects.items():
        body = json.dumps({"meta": {"api-version": "1.1"}, "name": project, "files": files}).encode()
        pages[f"/simple/{project}/"] = (200, JSON_SIMPLE, body)
    return pages


@contextmanager
def serve_index(everything: Answer | None = None, releases: Sequence[Release] = ()) -> Iterator[SimpleIndex]:
    """Serve the index on 127.0.0.1 (a free port) for the duration of the `with` block, with the wheels of
    `releases` besides the recorded pages; with `everything`, a broken index that gives that answer to every
    request instead."""
    pages = {**_pages(), **_release_pages(releases)}
    index = SimpleIndex(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.wfile.write(self._head())

        def do_HEAD(self) -> None:
            """uv asks for a wheel's headers first (whether it may read the metadata by range)."""
            self._head()

        def _head(self) -> bytes:
            """Send the status and headers of this request's answer; its body."""
            index.requests.append((self.path, self.headers.get("Accept", "")))
            status, content_type, body = everything or pages.get(self.path, NOT_FOUND)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return body

        def log_message(self, *args: object) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    index.url = f"http://127.0.0.1:{server.server_address[1]}/simple"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


OTHER_SOURCES = ("UV_INDEX_URL", "UV_INDEX", "UV_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "UV_EXCLUDE_NEWER")
"""Variables that would make uv read another index or local wheels, or cut the index by date on its own."""


def only_index_env(index_url: str) -> dict[str, str]:
    """This process's environment with uv (and the index check) reading `index_url` alone: no cache, no local
    wheels, no PyTorch CPU index (kvmatrix.run.env.torch_index), nothing from OTHER_SOURCES."""
    kept = {name: value for name, value in os.environ.items() if name not in OTHER_SOURCES}
    return {**kept, "UV_DEFAULT_INDEX": index_url, "KVCC_CPU_WHEELS": "0", "UV_NO_CACHE": "1"}


def use_only(monkeypatch: Any, index_url: str) -> dict[str, str]:
    """Make this process's environment `only_index_env(index_url)` for the test (a pytest MonkeyPatch); it."""
    env = only_index_env(index_url)
    for name in OTHER_SOURCES:
        monkeypatch.delenv(name, raising=False)
    for name in ("UV_DEFAULT_INDEX", "KVCC_CPU_WHEELS", "UV_NO_CACHE"):
        monkeypatch.setenv(name, env[name])
    return env


def refused_url() -> str:
    """An index URL on loopback where nothing listens (a port bound and released again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple"
