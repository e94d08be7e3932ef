"""The broker stub against the real Rust verifier of pact-python 4.

Each test points ``pact.Verifier`` at a :class:`BrokerStub` and a tiny Flask
provider served by werkzeug, so the stub is checked against what the verifier
really sends, not against what we think it sends.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

# ``--import-mode=importlib`` keeps tests/ off sys.path; the stub is a plain
# module beside this file.
from broker_stub import (
    BrokerStub,
    Fault,
    RecordedRequest,
    StubPact,
)
from flask import Flask
from pact import Pact, Verifier
from werkzeug.serving import make_server

# The verifier sends usage events over the network unless told not to.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

PROVIDER = "Users"


def _pact(
    directory: Path,
    *,
    consumer: str = "Web",
    name: str = "Verna",
    spec: Literal["V3", "V4"] = "V4",
) -> dict[str, Any]:
    """A one-interaction pact as pact-python writes it."""
    pact = Pact(consumer, PROVIDER).with_specification(spec)
    (
        pact.upon_receiving("a request for user 1")
        .given("user 1 exists")
        .with_request("GET", "/users/1")
        .will_respond_with(200)
        .with_body({"id": 1, "name": name}, content_type="application/json")
    )
    pact.write_file(directory, overwrite=True)
    path = directory / f"{consumer}-{PROVIDER}.json"
    document: dict[str, Any] = json.loads(path.read_text())
    path.unlink()
    return document


@pytest.fixture
def provider_url() -> Iterator[str]:
    """A served provider whose user 1 is named Verna."""
    app = Flask("provider")

    @app.get("/users/1")
    def user() -> dict[str, Any]:
        return {"id": 1, "name": "Verna"}

    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _verifier(provider_url: str) -> Verifier:
    return Verifier(PROVIDER, host="127.0.0.1").add_transport(url=provider_url)


def _calls(stub: BrokerStub) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in stub.requests]


FETCH = [
    ("GET", "/"),
    ("GET", "/pacts/provider/Users/for-verification"),
    ("POST", "/pacts/provider/Users/for-verification"),
    ("GET", "/pacts/provider/Users/consumer/Web/version/1.0.0"),
]
PACT_PATH = "/pacts/provider/Users/consumer/Web/version/1.0.0"


# -- fetch and verify -------------------------------------------------------


@pytest.mark.parametrize("spec", ["V3", "V4"])
def test_broker_stub_serves_pacts_that_the_verifier_verifies(
    tmp_path: Path, provider_url: str, spec: Literal["V3", "V4"]
) -> None:
    with BrokerStub([_pact(tmp_path, spec=spec)]) as stub:
        verifier = (
            _verifier(provider_url)
            .broker_source(stub.url, selector=True)
            .consumer_version(main_branch=True)
            .build()
        )
        verifier.verify()

    assert _calls(stub) == FETCH
    assert stub.published_results == []
    results = verifier.results
    assert results["result"] is True
    [interaction] = results["interactionResults"]
    assert interaction["result"] == "OK"
    assert interaction["consumer"] == "Web"


def test_broker_stub_index_links_the_for_verification_template(
    tmp_path: Path, provider_url: str
) -> None:
    with BrokerStub([_pact(tmp_path)]) as stub:
        _verifier(provider_url).broker_source(stub.url).verify()

    # Without selectors the verifier still uses for-verification, never
    # pb:latest-provider-pacts.
    assert _calls(stub) == FETCH
    assert stub.for_verification_bodies == [
        {"includePendingStatus": False, "consumerVersionSelectors": []}
    ]


def test_broker_stub_serves_the_pact_with_broker_links_and_ids(
    tmp_path: Path, provider_url: str
) -> None:
    with BrokerStub([_pact(tmp_path)]) as stub:
        verifier = _verifier(provider_url).broker_source(stub.url)
        verifier.verify()

    [interaction] = verifier.results["interactionResults"]
    # The verifier reports the "_id" the stub gives each interaction.
    assert len(interaction["interactionId"]) == 40


def test_broker_stub_selects_pacts_by_selector_consumer(
    tmp_path: Path, provider_url: str
) -> None:
    web, app = _pact(tmp_path), _pact(tmp_path, consumer="App", name="Other")
    with BrokerStub([web, app]) as stub:
        (
            _verifier(provider_url)
            .broker_source(stub.url, selector=True)
            .consumer_version(consumer="Web", branch="main")
            .build()
            .verify()
        )

    assert _calls(stub) == FETCH


# -- publication --------------------------------------------------------------


def test_broker_stub_records_published_results_with_version_and_branch(
    tmp_path: Path, provider_url: str
) -> None:
    with BrokerStub([_pact(tmp_path)]) as stub:
        (
            _verifier(provider_url)
            .broker_source(stub.url, selector=True)
            .consumer_version(main_branch=True)
            .build()
            .set_publish_options(version="1.0.0", branch="main", tags=["prod"])
            .verify()
        )

    assert _calls(stub) == [
        *FETCH,
        ("GET", "/pacticipants/Users"),
        ("PUT", "/pacticipants/Users/branches/main/versions/1.0.0"),
        ("GET", "/pacticipants/Users"),
        ("PUT", "/pacticipants/Users/versions/1.0.0/tags/prod"),
        ("POST", PACT_PATH + "/verification-results"),
    ]
    assert stub.provider_branches == [("Users", "main", "1.0.0")]
    assert stub.provider_tags == [("Users", "1.0.0", "prod")]
    [published] = stub.published_results
    assert (published.provider, published.consumer) == ("Users", "Web")
    assert published.consumer_version == "1.0.0"
    body = published.body
    assert body["success"] is True
    assert body["providerApplicationVersion"] == "1.0.0"
    assert body["verifiedBy"]["implementation"] == "Pact-Rust"
    [test_result] = body["testResults"]
    assert test_result["success"] is True


def test_broker_stub_records_a_failed_verification_as_unsuccessful(
    tmp_path: Path, provider_url: str
) -> None:
    with BrokerStub([_pact(tmp_path, name="Other")]) as stub:
        verifier = (
            _verifier(provider_url)
            .broker_source(stub.url)
            .set_publish_options(version="2.0.0")
        )
        with pytest.raises(RuntimeError, match="Failed to execute verifier"):
            verifier.verify()

    # No branch and no tags: the verifier goes straight to the results link.
    assert _calls(stub) == [*FETCH, ("POST", PACT_PATH + "/verification-results")]
    [published] = stub.published_results
    assert published.body["success"] is False
    assert published.body["providerApplicationVersion"] == "2.0.0"
    [test_result] = published.body["testResults"]
    assert test_result["success"] is False
    assert test_result["mismatches"] == [
        {
            "attribute": "body",
            "identifier": "$.name",
            "description": "Expected 'Verna' (String) to be equal to 'Other' (String)",
        }
    ]


def test_broker_stub_pending_pact_failure_does_not_fail_verification(
    tmp_path: Path, provider_url: str
) -> None:
    pact = StubPact(_pact(tmp_path, name="Other"), pending=True)
    with BrokerStub([pact]) as stub:
        verifier = (
            _verifier(provider_url)
            .broker_source(stub.url, selector=True)
            .include_pending()
            .build()
            .set_publish_options(version="1.0.0")
        )
        verifier.verify()

    assert verifier.results["pendingErrors"]
    [published] = stub.published_results
    assert published.body["success"] is False


def test_broker_stub_lists_wip_pacts_only_when_asked(
    tmp_path: Path, provider_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    pact = StubPact(_pact(tmp_path), wip=True)
    with BrokerStub([pact]) as stub:
        plain = _verifier(provider_url).broker_source(stub.url)
        with pytest.raises(RuntimeError):
            plain.verify()
        # An empty list: the reason is only in the verifier's log.
        assert "No pacts were found for this provider" in caplog.text

        (
            _verifier(provider_url)
            .broker_source(stub.url, selector=True)
            .include_wip_since("2024-01-01")
            .build()
            .verify()
        )

    assert stub.requests[-1].path == PACT_PATH


# -- what the verifier sends ----------------------------------------------------


def _authorizations(requests: list[RecordedRequest]) -> set[str | None]:
    return {r.headers.get("authorization") for r in requests}


def test_broker_stub_observes_the_bearer_token(
    tmp_path: Path, provider_url: str
) -> None:
    with BrokerStub([_pact(tmp_path)]) as stub:
        (
            _verifier(provider_url)
            .broker_source(stub.url, token="s3cret")
            .set_publish_options(version="1.0.0", branch="main")
            .verify()
        )

    assert len(stub.requests) == 7
    assert _authorizations(stub.requests) == {"Bearer s3cret"}


def test_broker_stub_observes_basic_auth(tmp_path: Path, provider_url: str) -> None:
    with BrokerStub([_pact(tmp_path)]) as stub:
        (
            _verifier(provider_url)
            .broker_source(stub.url, username="ci", password="pa ss")
            .set_publish_options(version="1.0.0")
            .verify()
        )

    expected = "Basic " + base64.b64encode(b"ci:pa ss").decode()
    assert _authorizations(stub.requests) == {expected}


def test_broker_stub_sends_no_auth_header_without_credentials(
    tmp_path: Path, provider_url: str
) -> None:
    with BrokerStub([_pact(tmp_path)]) as stub:
        _verifier(provider_url).broker_source(stub.url, use_env=False).verify()

    assert _authorizations(stub.requests) == {None}


def test_broker_stub_observes_selectors_and_pending_and_wip_flags(
    tmp_path: Path, provider_url: str
) -> None:
    with BrokerStub([_pact(tmp_path)]) as stub:
        (
            _verifier(provider_url)
            .broker_source(stub.url, selector=True)
            .consumer_version(main_branch=True)
            .consumer_version(consumer="Web", branch="feat-x")
            .consumer_version(deployed_or_released=True, environment="production")
            .include_pending()
            .include_wip_since("2024-01-01")
            .provider_branch("main")
            .provider_tags("dev")
            .build()
            .verify()
        )

    [post] = stub.requests_to("POST", "/pacts/provider/Users/for-verification")
    assert post.headers["content-type"] == "application/json"
    assert stub.for_verification_bodies == [
        {
            "providerVersionTags": ["dev"],
            "includePendingStatus": True,
            "includeWipPactsSince": "2024-01-01",
            "consumerVersionSelectors": [
                {"mainBranch": True},
                {"consumer": "Web", "branch": "feat-x"},
                {"deployedOrReleased": True, "environment": "production"},
            ],
            "providerVersionBranch": "main",
        }
    ]


# -- faults ---------------------------------------------------------------------


def _broker_verifier(provider_url: str, stub: BrokerStub) -> Verifier:
    return (
        _verifier(provider_url)
        .broker_source(stub.url, selector=True)
        .consumer_version(main_branch=True)
        .build()
    )


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            Fault.UNAUTHORIZED,
            "IO Error - Request to pact broker path '' failed: 401 Unauthorized.",
        ),
        (Fault.NOT_FOUND, "No pacts found for provider 'Users'"),
    ],
)
def test_broker_stub_fault_fails_the_verifier(
    tmp_path: Path, provider_url: str, fault: Fault, message: str
) -> None:
    with BrokerStub([_pact(tmp_path)], fault=fault) as stub:
        verifier = _broker_verifier(provider_url, stub)
        with pytest.raises(RuntimeError, match="Failed to execute verifier"):
            verifier.verify()

    # 4xx answers are not retried: the index is asked for once.
    assert _calls(stub) == [("GET", "/")]
    output = verifier.output(strip_ansi=True)
    assert "1) Failed to load pact - No pacts found for provider 'Users'" in output
    assert message in output
    assert verifier.results["result"] is False


def _verify_in_thread(verifier: Verifier) -> tuple[threading.Thread, list[Exception]]:
    errors: list[Exception] = []

    def run() -> None:
        try:
            verifier.verify()
        except Exception as exc:  # handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_broker_stub_server_error_is_retried_then_fails(
    tmp_path: Path, provider_url: str
) -> None:
    stub = BrokerStub([_pact(tmp_path)], fault=Fault.SERVER_ERROR).start()
    try:
        verifier = _broker_verifier(provider_url, stub)
        thread, errors = _verify_in_thread(verifier)
        # A 5xx is retried up to 8 times, 1 s, 2 s, ... 64 s apart (127 s):
        # see the retry, then close the broker so the next try fails at once.
        assert stub.wait_for_requests(2, timeout=10)
    finally:
        stub.stop()
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert [type(e) for e in errors] == [RuntimeError]
    assert _calls(stub) == [("GET", "/"), ("GET", "/")]
    assert "error sending request" in verifier.output(strip_ansi=True)


def test_broker_stub_hang_is_bounded_by_the_stub(
    tmp_path: Path, provider_url: str
) -> None:
    with BrokerStub([_pact(tmp_path)], fault=Fault.HANG, hang_seconds=0.5) as stub:
        # The verifier's request timeout does not cover broker requests: only
        # the stub's own bound ends the wait.
        verifier = _broker_verifier(provider_url, stub).set_request_timeout(100)
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="Failed to execute verifier"):
            verifier.verify()
        elapsed = time.monotonic() - started

    assert elapsed >= 0.5
    assert _calls(stub) == [("GET", "/")]
    output = verifier.output(strip_ansi=True)
    assert "IO Error - Failed to access pact broker path ''" in output
    assert "error sending request" in output


def test_broker_stub_stop_releases_a_hung_request(
    tmp_path: Path, provider_url: str
) -> None:
    stub = BrokerStub([_pact(tmp_path)], fault=Fault.HANG, hang_seconds=60).start()
    try:
        verifier = _broker_verifier(provider_url, stub)
        thread, errors = _verify_in_thread(verifier)
        assert stub.wait_for_requests(1, timeout=10)
        started = time.monotonic()
    finally:
        stub.stop()
    thread.join(timeout=10)

    assert time.monotonic() - started < 5
    assert not thread.is_alive()
    assert [type(e) for e in errors] == [RuntimeError]


def test_broker_stub_publication_fault_does_not_fail_verification(
    tmp_path: Path, provider_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    def publishing(request: RecordedRequest) -> bool:
        return request.method != "GET" and "for-verification" not in request.path

    with BrokerStub(
        [_pact(tmp_path)], fault=Fault.UNAUTHORIZED, fault_when=publishing
    ) as stub:
        verifier = _verifier(provider_url).broker_source(stub.url)
        verifier.set_publish_options(version="1.0.0").verify()

    assert _calls(stub)[-1] == ("POST", PACT_PATH + "/verification-results")
    assert stub.published_results == []
    assert verifier.results["result"] is True
    # Only the verifier's log says so (an ERROR record on "pact.ffi.*"):
    # output() and results do not.
    [record] = [r for r in caplog.records if "Publishing" in r.getMessage()]
    assert record.levelname == "ERROR"
    assert record.name.startswith("pact.ffi.")
    assert "failed: 401 Unauthorized" in record.getMessage()
    assert "Publishing" not in verifier.output()


# -- the stub itself ----------------------------------------------------------------


def test_broker_stub_url_needs_a_running_stub() -> None:
    stub = BrokerStub()
    with pytest.raises(RuntimeError, match="not running"):
        _ = stub.url
    with stub:
        assert stub.url.startswith("http://127.0.0.1:")
    stub.stop()  # a second stop is harmless


def test_broker_stub_answers_unknown_paths_with_404() -> None:
    import urllib.error
    import urllib.request

    with BrokerStub() as stub:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(stub.url + "/nope", timeout=5)
        with caught.value:
            assert caught.value.code == 404
            assert "no resource GET /nope" in caught.value.read().decode()

    [request] = stub.requests
    assert (request.method, request.path, request.json) == ("GET", "/nope", None)
