"""The verification benchmark's pacts, apps and servers.

One small Flask API over two module globals, ``USERS`` and ``ORDERS``, served
several ways: with every row already in place (the floor), with states set up
by pact-python's in-process handler or a hand-written view (the peers, sharing
one dict of handler functions in the classic pact-python style), and with
:class:`~flask_pact_states.PactStates` and ``mock_db`` (ours). The contenders
that verify against them are in :mod:`.contenders`.

Every contender verifies the same pact, so the same state names with the same
params reach each of them. The state names are exact (the ids travel in the
params) because the peers can only look states up in a dict.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from unittest import mock

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from flask_pact_states import PactStates, mock_db

CONSUMER: Final = "BenchConsumer"
PROVIDER: Final = "BenchProvider"
USER_STATE: Final = "a user exists"
ORDER_STATE: Final = "the user has an order"
STATE_URL: Final = "/_pact/provider_states"

#: The app's "database": views read these globals on every request, so a
#: patched global reaches them (the way apps keep a module-level session).
USERS: Any = {}
ORDERS: Any = {}

_NAMES: Final = ("Ada", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Alan")


@dataclass(frozen=True)
class Spec:
    """One interaction: what its states hold and what the app must answer."""

    index: int
    user: dict[str, Any] | None
    order: dict[str, Any] | None

    @property
    def path(self) -> str:
        if self.order is not None:
            return f"/orders/{self.order['order_id']}"
        if self.user is not None:
            return f"/users/{self.user['user_id']}"
        return "/health"


def specs(count: int) -> list[Spec]:
    """``count`` interactions: a fifth without states, then one state, two states.

    Deterministic in ``count``, so a child process can rebuild the floor's
    data without reading the pact.
    """
    result = []
    for index in range(count):
        kind = index % 5
        user = {
            "user_id": 1000 + index,
            "name": f"{_NAMES[index % len(_NAMES)]} {index}",
            "admin": index % 7 == 0,
        }
        order = {"order_id": 500_000 + index, "user_id": user["user_id"]}
        order["total_cents"] = 100 + index * 3
        if kind == 0:
            result.append(Spec(index, None, None))
        elif kind in (1, 2):
            result.append(Spec(index, user, None))
        else:
            result.append(Spec(index, user, order))
    return result


# -- pact generation ---------------------------------------------------------


def write_pact(count: int, directory: Path) -> Path:
    """Write a V4 pact of ``count`` interactions as pact-python 4 would.

    Built as JSON directly: generating thousands of interactions through the
    consumer DSL would take longer than verifying them.
    """
    pact = {
        "consumer": {"name": CONSUMER},
        "interactions": [_interaction(spec) for spec in specs(count)],
        "metadata": {
            "pactRust": {"ffi": "0.5.12", "models": "1.3.16"},
            "pactSpecification": {"version": "4.0"},
        },
        "provider": {"name": PROVIDER},
    }
    path = directory / f"{CONSUMER}-{PROVIDER}-{count}.json"
    path.write_text(json.dumps(pact, indent=2), encoding="utf-8")
    return path


def _interaction(spec: Spec) -> dict[str, Any]:
    states = []
    if spec.user is not None:
        states.append({"name": USER_STATE, "params": spec.user})
    if spec.order is not None:
        states.append({"name": ORDER_STATE, "params": spec.order})
    interaction: dict[str, Any] = {
        "description": f"request {spec.index} for {spec.path}",
        "pending": False,
        "request": {"method": "GET", "path": spec.path},
        "response": {
            "body": {
                "content": expected_body(spec),
                "contentType": "application/json",
                "encoded": False,
            },
            "headers": {"Content-Type": ["application/json"]},
            "status": 200,
        },
        "type": "Synchronous/HTTP",
    }
    if states:
        interaction["providerStates"] = states
    return interaction


def expected_body(spec: Spec) -> dict[str, Any]:
    """The JSON body the consumer expects for ``spec``."""
    if spec.order is not None and spec.user is not None:
        return {
            "id": spec.order["order_id"],
            "owner": spec.user["name"],
            "total_cents": spec.order["total_cents"],
        }
    if spec.user is not None:
        return {"id": spec.user["user_id"], "name": spec.user["name"]}
    return {"status": "ok"}


# -- the app -----------------------------------------------------------------


def create_app() -> Flask:
    """The API under test, without any state handling."""
    app = Flask(__name__)
    app.testing = True
    app.add_url_rule("/health", "health", _health)
    app.add_url_rule("/users/<int:user_id>", "user", _user)
    app.add_url_rule("/orders/<int:order_id>", "order", _order)
    return app


def _health() -> ResponseReturnValue:
    return jsonify(status="ok")


def _user(user_id: int) -> ResponseReturnValue:
    user = USERS.get(user_id)
    if user is None:
        return jsonify(error=f"no user {user_id}"), 404
    return jsonify(id=user_id, name=user["name"])


def _order(order_id: int) -> ResponseReturnValue:
    order = ORDERS.get(order_id)
    owner = USERS.get(order["user_id"]) if order is not None else None
    if order is None or owner is None:
        return jsonify(error=f"no order {order_id}"), 404
    return jsonify(id=order_id, owner=owner["name"], total_cents=order["total_cents"])


def seed(count: int) -> None:
    """Put every row of a ``count``-interaction pact in place (the floor)."""
    for spec in specs(count):
        if spec.user is not None:
            USERS[spec.user["user_id"]] = spec.user
        if spec.order is not None:
            ORDERS[spec.order["order_id"]] = spec.order


# -- the peers: a dict of functions, classic pact-python style ---------------


def _peer_patch(name: str, key: int, row: dict[str, Any]) -> None:
    table = mock.MagicMock(name=name)
    table.get.side_effect = {key: row}.get
    mock.patch(f"{__name__}.{name}", table).start()


def peer_user_exists(action: str, parameters: dict[str, Any] | None) -> None:
    """Set up (or tear down) ``a user exists`` by patching ``USERS``."""
    if action == "teardown":
        mock.patch.stopall()
        return
    params = parameters or {}
    _peer_patch("USERS", params["user_id"], params)


def peer_user_has_order(action: str, parameters: dict[str, Any] | None) -> None:
    """Set up (or tear down) ``the user has an order`` by patching ``ORDERS``."""
    if action == "teardown":
        mock.patch.stopall()
        return
    params = parameters or {}
    _peer_patch("ORDERS", params["order_id"], params)


#: What both peers dispatch on: pact-python's dict handler and the view.
PEER_STATES: Final[dict[str, Callable[[str, dict[str, Any] | None], None]]] = {
    USER_STATE: peer_user_exists,
    ORDER_STATE: peer_user_has_order,
}


def create_hand_written_app() -> Flask:
    """The API with a ``/_pact/provider_states`` view written by hand."""
    app = create_app()
    app.add_url_rule(STATE_URL, "provider_states", _provider_states, methods=["POST"])
    return app


def _provider_states() -> ResponseReturnValue:
    body = request.get_json()
    state = body.get("state", "")
    handler = PEER_STATES.get(state)
    if handler is None and state:
        return jsonify(error=f"unknown state {state!r}"), 400
    if handler is not None:
        handler(body.get("action", "setup"), body.get("params"))
    return jsonify({})


# -- ours --------------------------------------------------------------------

states = PactStates()


@states.register(USER_STATE)
def user_exists(user_id: int, name: str, admin: bool) -> None:
    """A user row, patched in with ``mock_db``."""
    mock_db(f"{__name__}.USERS", {user_id: {"name": name, "admin": admin}})


@states.register(ORDER_STATE)
def user_has_order(order_id: int, user_id: int, total_cents: int) -> None:
    """An order row, patched in with ``mock_db``."""
    row = {"user_id": user_id, "total_cents": total_cents}
    mock_db(f"{__name__}.ORDERS", {order_id: row})


def create_ours_app() -> Flask:
    """The API with :class:`~flask_pact_states.PactStates` mounted."""
    app = create_app()
    states.init_app(app)
    return app


# -- serving -----------------------------------------------------------------


class QuietRequestHandler(WSGIRequestHandler):
    """No access log: thousands of lines would cost time and hide the report."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1, port 0, in a thread; yield its base URL.

    The werkzeug setup the runner used before waitress, the same for every
    contender that brings no server of its own, so that those differ only in
    their state handling.
    """
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler
    )
    with serve_in_thread(server) as url:
        yield url


@contextmanager
def serve_in_thread(server: BaseWSGIServer) -> Iterator[str]:
    """Run ``server`` in a thread; yield its base URL; stop and close it."""
    # A short poll: shutdown() otherwise waits up to half a second.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
