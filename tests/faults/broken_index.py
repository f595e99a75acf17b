"""A package index on loopback that forwards PyPI's simple pages but answers 404 for the projects it is told
are missing, as a mirror that lacks a project does. Run it and point uv at it to show that a cell whose
install needs a missing project is recorded `infra` (the index did not answer properly), not
`not-installable`, while every cell that does not need it runs as usual (docs/fault-demo.md):

    python -m tests.faults.broken_index --port 8765 --missing exceptiongroup &
    UV_DEFAULT_INDEX=http://127.0.0.1:8765/simple python3 -m nox -s matrix ...

Files are not proxied: PyPI's simple pages link them on files.pythonhosted.org by absolute URL.
"""

from __future__ import annotations

import argparse
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = "https://pypi.org"


def serve(port: int, missing: set[str], upstream: str = UPSTREAM) -> None:
    """Serve until killed: `/simple/<project>/` of a `missing` project answers 404, every other request is
    fetched from `upstream` with the client's Accept header and answered with upstream's status and type."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            project = self.path.strip("/").split("/")[-1] if self.path.startswith("/simple/") else ""
            if project in missing:
                self._answer(404, "text/plain", b"Not Found")
                return
            request = urllib.request.Request(upstream + self.path,
                                             headers={"Accept": self.headers.get("Accept", "*/*")})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    self._answer(response.status, response.headers.get("Content-Type", ""), response.read())
            except urllib.error.HTTPError as error:
                self._answer(error.code, error.headers.get("Content-Type", "text/plain"), error.read())

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            print(f"broken_index: {format % args}", flush=True)

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main() -> None:
    """Command line: --port, --missing (repeatable project names)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--missing", action="append", default=[])
    args = parser.parse_args()
    serve(args.port, set(args.missing))


if __name__ == "__main__":
    main()
