"""Helpers shared by the tests that serve an app over real sockets, and the
module-global "database" that the fault and fuzz tests patch with ``mock_db``.

Imported after putting this directory on ``sys.path``
(``--import-mode=importlib`` keeps it off), as ``verify_helpers`` is.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

ORIGINAL_USERS: Final = {"real": "users"}
ORIGINAL_ORDERS: Final = {"real": "orders"}
#: What the mock_db handlers patch; tests check the originals come back (``is``).
DB: Final = types.SimpleNamespace(users=ORIGINAL_USERS, orders=ORIGINAL_ORDERS)


class QuietHandler(WSGIRequestHandler):
    """Logs nothing: neither requests nor an abandoned request's broken pipe."""

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


@contextmanager
def served(app: Flask) -> Iterator[int]:
    """Serve ``app`` threaded on 127.0.0.1 (port 0) in a thread; yield the port.

    The server is shut down in ``finally`` and its thread must have stopped.
    """
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}
    )
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive(), "server thread did not stop"
