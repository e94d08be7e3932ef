"""The runner's own Pact Broker client (runner/remote.py) and result
publishing (runner/publishing.py), against the HAL stand-in of
:mod:`broker_stub` (no real broker runs here)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from broker_stub import BrokerStub, Fault, StubPact

from flask_pact_states.errors import PactSourceError
from flask_pact_states.runner import remote
from flask_pact_states.runner.broker import BrokerOptions, PublishOptions
from flask_pact_states.runner.publishing import PactVersion, Verdict, publish, verdicts
from flask_pact_states.runner.remote import BrokerClient, RemotePact


def _pact(consumer: str = "Web", provider: str = "Shop") -> dict[str, Any]:
    return {
        "consumer": {"name": consumer},
        "provider": {"name": provider},
        "interactions": [{"description": "ping", "request": {}, "response": {}}],
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }


@pytest.fixture
def broker() -> Iterator[BrokerStub]:
    pacts = [StubPact(_pact(), "1.0.0"), StubPact(_pact("App"), "2.0", pending=True)]
    with BrokerStub(pacts) as stub:
        yield stub


def _client(broker: BrokerStub, **options: Any) -> BrokerClient:
    return BrokerClient(BrokerOptions(url=broker.url, **options).resolved({}))


def test_the_pacts_for_verification_are_fetched_with_pending_and_notices(
    broker: BrokerStub,
) -> None:
    client = _client(broker, token="t0ken", include_pending=True, main_branch=True)

    pacts = client.pacts_for_verification("Shop")

    assert [p.file_name for p in pacts] == ["Web-Shop-1.0.0.json", "App-Shop-2.0.json"]
    assert [p.pending for p in pacts] == [False, True]
    assert "This pact is in pending state." in pacts[1].notices
    (body,) = broker.for_verification_bodies
    assert body["consumerVersionSelectors"] == [{"mainBranch": True}]
    assert body["includePendingStatus"] is True
    assert {r.headers.get("authorization") for r in broker.requests} == {"Bearer t0ken"}


def test_basic_credentials_are_sent(broker: BrokerStub) -> None:
    _client(broker, username="ann", password="s3cret").pacts_for_verification("Shop")

    assert {r.headers.get("authorization") for r in broker.requests} == {
        "Basic YW5uOnMzY3JldA=="
    }


@pytest.mark.parametrize(
    ("fault", "said"),
    [(Fault.NOT_FOUND, "answered 404"), (Fault.SERVER_ERROR, "answered 500")],
)
def test_an_error_answer_names_the_url(
    broker: BrokerStub, fault: Fault, said: str
) -> None:
    broker.fault = fault

    with pytest.raises(PactSourceError, match=said) as raised:
        _client(broker).pacts_for_verification("Shop")

    assert broker.url in str(raised.value)


def test_a_broker_that_never_answers_is_an_error_within_the_timeout() -> None:
    with BrokerStub([_pact()], fault=Fault.HANG, hang_seconds=10) as broker:
        client = BrokerClient(BrokerOptions(url=broker.url).resolved({}), timeout=0.3)
        started = time.monotonic()
        with pytest.raises(PactSourceError, match="timed out"):
            client.pacts_for_verification("Shop")

    assert time.monotonic() - started < 5


def test_something_that_is_not_a_broker_says_so(broker: BrokerStub) -> None:
    pact_url = broker.url + broker.pacts[0].path

    with pytest.raises(PactSourceError, match="is it a Pact Broker"):
        BrokerClient(BrokerOptions(url=pact_url).resolved({})).pacts_for_verification(
            "Shop"
        )


def test_a_broker_selecting_no_pact_is_an_error(broker: BrokerStub) -> None:
    with pytest.raises(PactSourceError, match="selected no pact for provider 'Nobody'"):
        _client(broker).pacts_for_verification("Nobody")


def test_an_answer_over_the_size_limit_is_refused(
    broker: BrokerStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "MAX_PACT_BYTES", 100)

    with pytest.raises(PactSourceError, match="answered more than"):
        _client(broker).fetch(broker.url + broker.pacts[0].path)


def test_file_names_are_stable_and_safe() -> None:
    pact = RemotePact("http://b/pacts/x", {"consumer": {"name": "a/b::c"}})

    assert pact.file_name == RemotePact(pact.url, pact.document).file_name
    assert pact.file_name.startswith("a_b_c-provider-")
    assert "/" not in pact.file_name
    assert "::" not in pact.file_name


def _version(name: str = "pact-broker/W.json", count: int = 2) -> PactVersion:
    return PactVersion(name, "http://b/p", count, "http://b/p/results", "http://b/pv")


def test_a_verdict_needs_every_interaction_of_the_pact() -> None:
    prefix = "pact-broker/W.json::Web::"
    ran = {prefix + "a": True, prefix + "b": False, "other.json::Web::a": True}

    full, partial = verdicts([_version(), _version("pact-broker/X.json")], ran)

    assert (full.success, full.skipped) == (False, "")
    assert partial.success is None
    assert partial.skipped == "0 of its 2 interactions ran"
    assert (
        verdicts([_version(count=3)], ran)[0].skipped == "2 of its 3 interactions ran"
    )


def test_publishing_labels_the_provider_version_and_posts_the_verdict(
    broker: BrokerStub,
) -> None:
    client = _client(broker)
    (pact, _) = client.pacts_for_verification("Shop")
    version = PactVersion.of("pact-broker/Web-Shop-1.0.0.json", pact, 1)
    options = PublishOptions("3.1", branch="main", tags=("ci", "prod"), build_url="b")

    publish(client, Verdict(version, True), options)

    (result,) = broker.published_results
    assert result.body["success"] is True
    assert result.body["providerApplicationVersion"] == "3.1"
    assert result.body["buildUrl"] == "b"
    assert broker.provider_branches == [("Shop", "main", "3.1")]
    assert broker.provider_tags == [("Shop", "3.1", "ci"), ("Shop", "3.1", "prod")]


def test_a_pact_without_a_results_link_cannot_be_published(broker: BrokerStub) -> None:
    version = PactVersion("p", "http://b/p", 1, None, None)

    with pytest.raises(PactSourceError, match="no pb:publish-verification-results"):
        publish(_client(broker), Verdict(version, True), PublishOptions("1"))


def test_an_answer_that_is_not_http_or_a_url_that_is_not_one_is_an_error() -> None:
    """Neither may escape as another exception: under xdist the controller
    fetches, and anything but PactSourceError would end the whole session."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def answer_garbage() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"garbage\r\n\r\n")

        thread = threading.Thread(target=answer_garbage, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}/pact.json"
        with pytest.raises(PactSourceError, match="BadStatusLine"):
            BrokerClient(BrokerOptions()).fetch(url)
        thread.join(5)

    with pytest.raises(PactSourceError, match="not a URL"):
        BrokerClient(BrokerOptions()).fetch("/pacts/provider/Shop")
