"""A real PEP 691 simple index on loopback, serving the project pages in tests/host/data (trimmed copies
of PyPI's answers), for tests of release listing and of everything that resolves versions."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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


@contextmanager
def serve_index(everything: Answer | None = None) -> Iterator[SimpleIndex]:
    """Serve the index on 127.0.0.1 (a free port) for the duration of the `with` block; with `everything`,
    a broken index that gives that answer to every request instead."""
    pages = _pages()
    index = SimpleIndex(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            index.requests.append((self.path, self.headers.get("Accept", "")))
            status, content_type, body = everything or pages.get(self.path, NOT_FOUND)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

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


def refused_url() -> str:
    """An index URL on loopback where nothing listens (a port bound and released again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple"
