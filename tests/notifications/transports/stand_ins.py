"""Local stand-ins for chat services: an HTTP server on 127.0.0.1 that records what it receives.

Test files make their own fixture from `serve()` (no conftest here: other
kinds' tests share the folder).
"""

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from pytest_httpserver import HTTPServer

# A path shaped like the secret part of a webhook URL, to check it never leaks.
SECRET_PATH = "/hooks/T000/B000/SECRETTOKEN"


@contextmanager
def serve() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def url(server: HTTPServer, path: str = SECRET_PATH) -> str:
    return server.url_for(path)


def answer(server, status=200, body="ok", headers=None, path=SECRET_PATH) -> None:
    """Queue one answer, in order."""
    server.expect_ordered_request(path, method="POST").respond_with_data(
        body, status=status, headers=headers or {}
    )


def received(server) -> list[dict]:
    """The JSON body of every request the stand-in received."""
    return [json.loads(request.get_data()) for request, _ in server.log]


def only_request(server):
    [(request, _)] = server.log
    return request


def refused_url() -> str:
    """A webhook URL on 127.0.0.1 where nothing listens, with a secret path."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{SECRET_PATH}"
