"""The state door (runner/door.py): state calls answered in the thread that
accepted them, on 127.0.0.1, whatever clients send (issue 20)."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from verify_helpers import hand_pact, http_interaction, make_app

from flask_pact_states import PactStates, verify
from flask_pact_states.runner import door
from flask_pact_states.runner.door import serve_door
from flask_pact_states.runner.execution import served_app

_release = threading.Event()


def _echo(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answers with what it was sent; ``/hang`` waits for ``_release``."""
    if environ["PATH_INFO"] == "/hang":
        _release.wait(10)
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    seen = {
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "query": environ["QUERY_STRING"],
        "type": environ.get("CONTENT_TYPE"),
        "token": environ.get("HTTP_X_TOKEN"),
        "body": body.decode(),
    }
    start_response("201 Created", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]


@pytest.fixture
def door_url() -> Iterator[str]:
    _release.clear()
    with serve_door(_echo) as url:
        yield url
    _release.set()


def _post(url: str, path: str, body: bytes = b"{}", timeout: float = 5) -> Any:
    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=timeout)
    headers = {"Content-Type": "application/json", "X-Token": "t"}
    connection.request("POST", path, body, headers)
    answer = connection.getresponse()
    data = answer.read()
    connection.close()
    return answer, data


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 0


def test_the_door_passes_a_call_to_the_app_and_its_answer_back(door_url: str) -> None:
    answer, data = _post(door_url, "/_pact/provider_states?consumer=Web", b'{"a": 1}')

    assert answer.status == 201
    assert answer.getheader("Content-Length") == str(len(data))
    assert answer.getheader("Connection") == "close"
    assert json.loads(data) == {
        "method": "POST",
        "path": "/_pact/provider_states",
        "query": "consumer=Web",
        "type": "application/json",
        "token": "t",
        "body": '{"a": 1}',
    }


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
        (b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"411"),
        (b"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400"),
        (b"POST /x HTTP/1.1\r\nX: " + b"a" * 300_000 + b"\r\n\r\n", b"431"),
        (b"POST /x HTTP/1.1\r\n bad header\r\n\r\n", b"400"),
        (b"POST http://elsewhere/x HTTP/1.1\r\n\r\n", b"400"),
        (b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort", b"400"),
    ],
)
def test_a_bad_request_gets_a_4xx_and_the_door_goes_on(
    door_url: str, request_bytes: bytes, status: bytes
) -> None:
    answer = _half_closed(door_url, request_bytes)

    assert answer.split(b" ")[1] == status
    assert _post(door_url, "/ok")[0].status == 201


def _half_closed(url: str, data: bytes) -> bytes:
    """Send ``data``, then end the sending side (a short body ends there);
    the answer."""
    with socket.create_connection(_address(url), timeout=5) as client:
        client.sendall(data)
        client.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return answer


def test_a_client_that_resets_its_connection_loses_the_door_nothing(
    door_url: str,
) -> None:
    for _ in range(3):
        client = socket.create_connection(_address(door_url))
        # Linger 0: close() sends a reset, not a FIN.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.sendall(b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
        client.close()

    assert _post(door_url, "/ok")[0].status == 201


def test_a_silent_client_does_not_hold_up_the_next_call(door_url: str) -> None:
    with socket.create_connection(_address(door_url)):
        started = time.monotonic()
        answer, _ = _post(door_url, "/ok")
        waited = time.monotonic() - started

    assert answer.status == 201
    assert waited < door.READ_TIMEOUT  # a spare thread took it, not the first


def test_a_hung_call_does_not_hold_up_the_next_one(door_url: str) -> None:
    hung = threading.Thread(
        target=_post, args=(door_url, "/hang"), kwargs={"timeout": 15}
    )
    hung.start()
    try:
        time.sleep(0.1)
        answer, data = _post(door_url, "/ok")
    finally:
        _release.set()
        hung.join(15)

    assert answer.status == 201
    assert json.loads(data)["path"] == "/ok"


def test_hung_calls_take_at_most_max_threads(
    door_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(door, "HUNG_AFTER", 0.02)
    clients = []
    for _ in range(door.MAX_THREADS + 3):
        client = socket.create_connection(_address(door_url))
        client.sendall(b"POST /hang HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        clients.append(client)
        time.sleep(0.05)
    time.sleep(0.3)

    threads = [t for t in threading.enumerate() if t.name.startswith("pact-state-door")]
    _release.set()
    for client in clients:
        client.close()

    assert len(threads) == door.MAX_THREADS


def test_a_closed_door_ends_its_threads_and_frees_its_port() -> None:
    with serve_door(_echo) as url:
        assert _post(url, "/ok")[0].status == 201

    deadline = time.monotonic() + 5
    while _door_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _door_threads() == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(_address(url), timeout=1)


def _door_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("pact-")]


@pytest.mark.parametrize("direct", [True, False])
def test_verify_sends_state_calls_to_the_door_unless_they_go_through_the_app(
    states: PactStates,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    direct: bool,
) -> None:
    answered: list[int] = []
    answer = door._Door._answer

    def counting(self: Any, connection: socket.socket) -> None:
        answered.append(1)
        answer(self, connection)

    monkeypatch.setattr(door._Door, "_answer", counting)
    seen: list[int] = []

    @states.register("user {id:int} exists")
    def user(id: int) -> None:
        seen.append(id)

    interactions = [
        http_interaction("get user 1", states=["user 1 exists"]),
        http_interaction("ping"),
    ]
    pact = hand_pact(tmp_path / "web.json", interactions)

    result = verify(make_app(states), pact, direct_state_calls=direct)

    assert seen == [1]
    assert len(answered) == (4 if direct else 0)  # setup and teardown, twice
    assert [i.status for i in result.interactions] == ["passed", "passed"] or (
        result.report()
    )


def test_a_body_over_the_limit_is_left_unread_for_the_app_to_refuse(
    states: PactStates,
) -> None:
    app = make_app(states, PACT_STATES_MAX_BODY=100)
    wsgi_app = served_app(app, direct_state_calls=True)
    body = json.dumps({"state": "x" * 1000, "action": "setup"}).encode()

    with serve_door(wsgi_app, max_body=100) as url:
        answer, data = _post(url, "/_pact/provider_states", body)
        head = b"POST /_pact/provider_states HTTP/1.1\r\nContent-Length: 999999\r\n"
        huge = _half_closed(url, head + b"\r\n")

    # The endpoint's own 413, with its reason, as behind waitress.
    assert answer.status == 413
    assert json.loads(data)["error"] == "too_large"
    assert "PACT_STATES_MAX_BODY" in json.loads(data)["message"]
    assert huge.split(b" ")[1] == b"413"
