"""The runner's server (waitress in a thread) over real sockets."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from typing import Any

import pytest
from flask import Flask, request

from flask_pact_states.runner.server import serve


def _server_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith(("pact-verify", "waitress"))
    ]


def test_serve_answers_while_a_request_hangs() -> None:
    app = Flask("hanging")
    release = threading.Event()

    @app.get("/hang")
    def hang() -> str:
        release.wait(10)
        return "late"

    @app.get("/ping")
    def ping() -> str:
        return "pong"

    with serve(app) as base_url:
        hung = threading.Thread(
            target=lambda: urllib.request.urlopen(f"{base_url}/hang", timeout=10).read()
        )
        hung.start()
        with urllib.request.urlopen(f"{base_url}/ping", timeout=5) as response:
            assert response.read() == b"pong"
        release.set()
        hung.join()
    assert not _server_threads()


def test_serve_stops_its_threads_and_frees_the_port() -> None:
    app = Flask("short-lived")
    app.get("/ping")(lambda: "pong")

    for _ in range(3):
        with serve(app) as base_url:
            with urllib.request.urlopen(f"{base_url}/ping", timeout=5) as response:
                assert response.read() == b"pong"
            assert len(_server_threads()) == 5  # the loop and four request threads
        assert not _server_threads()

    with pytest.raises(OSError, match=r"(?i)refused"):
        urllib.request.urlopen(f"{base_url}/ping", timeout=5)


def test_serve_passes_the_request_through_unchanged() -> None:
    app = Flask("echo")

    @app.post("/echo")
    def echo() -> dict[str, object]:
        return {
            "remote": request.remote_addr,
            "forwarded": request.headers.get("X-Forwarded-For"),
            "query": request.args.to_dict(),
            "body": request.get_data(as_text=True),
        }

    with serve(app) as base_url:
        sent = urllib.request.Request(
            f"{base_url}/echo?a=1&b=two",
            data=b'{"x": 1}',
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        with urllib.request.urlopen(sent, timeout=5) as response:
            seen = json.load(response)

    assert seen == {
        "remote": "127.0.0.1",
        "forwarded": "203.0.113.9",
        "query": {"a": "1", "b": "two"},
        "body": '{"x": 1}',
    }


def test_serve_stops_even_when_its_trigger_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from waitress import trigger

    app = Flask("no-trigger")
    app.get("/ping")(lambda: "pong")

    def dead_pipe(self: object) -> None:
        raise OSError(9, "Bad file descriptor")

    with serve(app) as base_url:
        with urllib.request.urlopen(f"{base_url}/ping", timeout=5) as response:
            assert response.read() == b"pong"
        monkeypatch.setattr(trigger.trigger, "_physical_pull", dead_pipe)

    assert not _server_threads()


def test_a_trigger_pulled_after_the_server_stopped_touches_no_descriptor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """waitress's trigger wrote to its closed pipe's descriptor number when
    pulled late (a request thread ending after the stop, or the stop's own
    pull racing with the close it asked for): EBADF, or a byte in someone
    else's file. It made test_server fail in full runs."""
    from waitress.server import TcpWSGIServer

    servers: list[Any] = []
    init = TcpWSGIServer.__init__

    def keep(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        servers.append(self)

    monkeypatch.setattr(TcpWSGIServer, "__init__", keep)
    with serve(Flask("stopped")):
        pass
    [server] = servers
    # The stopped server's descriptor numbers, taken by someone else.
    pipes = [os.pipe() for _ in range(8)]
    try:
        server.trigger.pull_trigger()  # as a late request thread does

        for read_end, _ in pipes:
            os.set_blocking(read_end, False)
            with pytest.raises(BlockingIOError):
                os.read(read_end, 1)
    finally:
        for pipe in pipes:
            for fd in pipe:
                os.close(fd)
