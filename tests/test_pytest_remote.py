"""pytest_remote.py without a session: what the controller packs for its
workers, what a worker makes of it, and a worker left to fetch its own."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from flask_pact_states.errors import PactSourceError
from flask_pact_states.pytest_remote import RemotePacts, RemoteSource
from flask_pact_states.runner.remote import RemotePact

_PACT = RemotePact(
    url="http://127.0.0.1:9/pacts/provider/Shop/consumer/Web/version/1.0",
    document={"consumer": {"name": "Web"}, "interactions": [{"n": 1.5}]},
    pending=True,
    notices=("pending: new",),
)


def _failing() -> list[RemotePact]:
    raise PactSourceError("GET http://127.0.0.1:9 failed: refused")


def _counted(calls: list[str], name: str, pacts: list[RemotePact]) -> RemoteSource:
    def fetch() -> list[RemotePact]:
        calls.append(name)
        return pacts

    return RemoteSource(name, "pact-url", fetch)


def _shipped(sources: list[RemoteSource]) -> dict[str, Any]:
    """The workerinput the controller gives two workers."""
    controller = RemotePacts(SimpleNamespace(), sources)  # type: ignore[arg-type]
    nodes = [SimpleNamespace(workerinput={}) for _ in range(2)]
    for node in nodes:
        controller.pytest_configure_node(node)
    shipped: dict[str, Any] = nodes[0].workerinput
    assert shipped == nodes[1].workerinput
    return shipped


def _worker_of(source: RemoteSource) -> RemotePacts:
    """A worker's RemotePacts, given what the controller shipped for ``source``."""
    shipped = SimpleNamespace(workerinput=_shipped([source]))
    return RemotePacts(shipped, [source])  # type: ignore[arg-type]


def test_the_controller_fetches_once_and_workers_get_the_same_pacts() -> None:
    calls: list[str] = []
    source = _counted(calls, "u", [_PACT])
    worker = _worker_of(source)

    assert worker.fetch(source) == [_PACT]
    assert worker.fetch(source) == [_PACT]
    assert calls == ["u"]  # the controller's one fetch


def test_a_failed_fetch_reaches_each_worker_as_the_same_error() -> None:
    source = RemoteSource("pact-broker", "pact-broker", _failing)
    worker = _worker_of(source)

    with pytest.raises(PactSourceError, match="failed: refused"):
        worker.fetch(source)


def test_a_source_the_controller_did_not_ship_is_fetched_here() -> None:
    calls: list[str] = []
    shipped = _shipped([_counted(calls, "u", [_PACT])])
    other = _counted(calls, "v", [])
    worker = RemotePacts(SimpleNamespace(workerinput=shipped), [other])  # type: ignore[arg-type]

    assert worker.fetch(other) == []
    assert calls == ["u", "v"]


def test_outside_xdist_each_source_is_fetched_when_collected() -> None:
    calls: list[str] = []
    source = _counted(calls, "u", [_PACT])
    plain = RemotePacts(SimpleNamespace(), [source])  # type: ignore[arg-type]

    assert plain.fetch(source) == [_PACT]
    assert calls == ["u"]


def test_an_unexpected_fetch_error_reaches_workers_as_a_source_error() -> None:
    def broken() -> list[RemotePact]:
        raise RuntimeError("a bug or an odd answer")

    source = RemoteSource("http://127.0.0.1:9/p.json", "pact-url", broken)
    worker = _worker_of(source)

    with pytest.raises(PactSourceError, match="RuntimeError: a bug or an odd"):
        worker.fetch(source)
