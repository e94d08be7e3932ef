"""The runner with the real verifier and a real werkzeug server: what it
reports for passing runs, mismatches, failing and missing handlers, consumer
scopes, injected values, tokens, filters, output formats and broker sources."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import verify_helpers
from broker_stub import BrokerStub, Fault, StubPact
from flask import Flask
from pact import generate
from pact.match.matcher import GenericMatcher
from verify_helpers import Call, hand_pact, http_interaction, make_app, record_pact

from flask_pact_states import (
    PactSourceError,
    PactStates,
    StateChangeRecord,
    VerificationSetupError,
    active_patch_count,
    mock_db,
)
from flask_pact_states.provider.state import get_app_states
from flask_pact_states.runner.api import verify
from flask_pact_states.runner.broker import BrokerOptions, PublishOptions
from flask_pact_states.runner.pairing import group_records, pair_records

USER_STATE = "user {user_id:int} exists"


@pytest.fixture
def users_pact(tmp_path: Path) -> Path:
    """Web's pact: user 1 exists (mocked), user 2 is missing, and a ping."""
    calls = [
        Call("get user 1", "/users/1", [("user 1 exists", {})], body={"name": "Ann"}),
        Call("get user 2", "/users/2", [("no users", {})], status=404),
        Call("ping", "/ping"),
    ]
    return record_pact(tmp_path, "Web", "Users", calls)


def _register_users(states: PactStates) -> None:
    @states.register(USER_STATE)
    def user_exists(user_id: int) -> None:
        mock_db("verify_helpers.USERS", {user_id: "Ann"})

    @states.register("no users")
    def no_users() -> None:
        mock_db("verify_helpers.USERS")


def test_verify_passes_and_undoes_every_patch(
    states: PactStates, users_pact: Path
) -> None:
    _register_users(states)
    original = verify_helpers.USERS

    result = verify(make_app(states), users_pact)

    assert result.passed, result.report()
    assert [i.status for i in result.interactions] == ["passed"] * 3
    assert result.report().splitlines()[-1] == "3 passed, 0 failed"
    assert verify_helpers.USERS is original
    assert active_patch_count() == 0


def test_verify_reports_response_mismatches(tmp_path: Path, states: PactStates) -> None:
    _register_users(states)
    calls = [
        Call(
            "body and header",
            "/users/1",
            [("user 1 exists", {})],
            body={"name": "Bob", "age": 3},
            headers={"X-Thing": "yes"},
        ),
        Call("status", "/nowhere"),
    ]
    pact = record_pact(tmp_path, "Web", "Users", calls)

    result = verify(make_app(states), pact)

    assert not result.passed
    body, status = result.interactions
    assert "body $.name: Expected 'Ann' (String) to be equal to 'Bob'" in body.mismatch
    assert "body $: Actual map is missing the following keys: age" in body.mismatch
    assert "header X-Thing: Expected a header 'X-Thing' but was missing" in (
        body.mismatch
    )
    assert body.state_failure is None
    assert status.mismatch == "status: expected 200 but was 404"
    report = result.report()
    assert "FAIL  Web: status" in report
    assert "   status: expected 200 but was 404" in report
    assert report.splitlines()[-1] == "0 passed, 2 failed"


def test_verify_reports_a_raising_handler_once_per_interaction(
    tmp_path: Path, states: PactStates
) -> None:
    calls: list[int] = []

    @states.register("database is up")
    def database_up() -> None:
        calls.append(1)
        raise ConnectionError("database is on fire")

    interactions = [
        http_interaction(f"request {n:02}", states=["database is up"])
        for n in range(10)
    ]
    pact = hand_pact(tmp_path / "p.json", interactions)

    result = verify(make_app(states), pact)

    # Once per interaction: a 4xx answer is never retried by the verifier.
    assert len(calls) == 10
    assert [i.status for i in result.interactions] == ["failed"] * 10
    failure = result.interactions[0].state_failure
    assert failure is not None
    assert (failure.state, failure.action, failure.outcome) == (
        "database is up",
        "setup",
        "error",
    )
    assert failure.handler is not None
    assert failure.handler.endswith("database_up")
    assert (failure.exception_type, failure.message) == (
        "ConnectionError",
        "database is on fire",
    )
    assert failure.traceback is not None
    assert 'raise ConnectionError("database is on fire")' in failure.traceback
    report = result.report()
    assert "ConnectionError: database is on fire" in report
    assert 'raise ConnectionError("database is on fire")' in report
    assert report.splitlines()[-1] == "0 passed, 10 failed"


def test_verify_reports_a_missing_state_with_a_stub(
    tmp_path: Path, states: PactStates
) -> None:
    interaction = http_interaction("needs a cart", states=["a cart exists"])
    interaction["providerStates"][0]["params"] = {"items": 2}
    pact = hand_pact(tmp_path / "p.json", [interaction])

    result = verify(make_app(states), pact)

    (missing,) = result.missing_states
    assert (missing.state, missing.descriptions) == ("a cart exists", ("needs a cart",))
    failure = result.interactions[0].state_failure
    assert failure is not None
    assert failure.outcome == "missing"
    report = result.report()
    assert "   @states.register('a cart exists')\n" in report
    assert "   def given_a_cart_exists(items):\n" in report


def test_verify_reports_close_matches_of_a_missing_state(
    tmp_path: Path, states: PactStates
) -> None:
    @states.register("a user exists")
    def user_exists() -> None: ...

    pact = hand_pact(
        tmp_path / "p.json", [http_interaction("x", states=["a usr exists"])]
    )

    result = verify(make_app(states), pact)

    assert result.missing_states[0].close_matches == ("a user exists",)
    assert "used by: x; did you mean 'a user exists'?" in result.report()


def test_verify_scopes_local_pacts_by_consumer(
    tmp_path: Path, states: PactStates
) -> None:
    seen: list[tuple[str, str | None]] = []

    @states.register("a user exists", consumer="Web")
    def for_web(consumer: str | None) -> None:
        seen.append(("web handler", consumer))

    @states.register("a user exists", consumer="Mobile")
    def for_mobile(consumer: str | None) -> None:
        seen.append(("mobile handler", consumer))

    for consumer in ("Web", "Mobile"):
        hand_pact(
            tmp_path / f"{consumer}.json",
            [http_interaction("get", states=["a user exists"])],
            consumer=consumer,
        )

    result = verify(make_app(states), tmp_path)

    assert result.passed, result.report()
    assert sorted(seen) == [("mobile handler", "Mobile"), ("web handler", "Web")]
    assert result.unused_handlers == []


def test_verify_feeds_provider_state_values_to_generators(
    tmp_path: Path, states: PactStates
) -> None:
    @states.register("a user with a server-side id")
    def assigned() -> dict[str, int]:
        mock_db("verify_helpers.USERS", {7: "Ann"})
        return {"user_id": 7}

    path = GenericMatcher(
        "regex",
        value="/users/42",
        regex=r"^/users/\d+$",
        generator=generate.provider_state("/users/${user_id}"),
    )
    call = Call(
        "by generated id",
        "/users/42",
        [("a user with a server-side id", {})],
        body={"name": "Ann"},
        path_matcher=path,
    )
    pact = record_pact(tmp_path, "Web", "Users", [call])

    result = verify(make_app(states), pact)

    assert result.passed, result.report()


def test_verify_sends_the_app_token(tmp_path: Path, states: PactStates) -> None:
    @states.register("a user exists")
    def user() -> None: ...

    app = make_app(states, PACT_STATES_TOKEN="s3cret")
    pact = hand_pact(
        tmp_path / "p.json", [http_interaction("get", states=["a user exists"])]
    )

    result = verify(app, pact)

    assert result.passed, result.report()
    outcomes = {record.outcome for record in get_app_states(app).journal}
    assert outcomes == {"ok"}


@pytest.mark.parametrize(
    ("config", "argument", "state_calls_seen"),
    [
        ({}, None, 0),
        ({"PACT_STATES_DIRECT_STATE_CALLS": False}, None, 6),
        ({"PACT_STATES_DIRECT_STATE_CALLS": False}, True, 0),
        ({}, False, 6),
    ],
    ids=["default", "config-off", "argument-wins", "argument-off"],
)
def test_verify_state_calls_skip_the_app_request_hooks_unless_told(
    states: PactStates,
    users_pact: Path,
    config: dict[str, Any],
    argument: bool | None,
    state_calls_seen: int,
) -> None:
    from flask import request

    _register_users(states)
    app = make_app(states, **config)
    paths: list[str] = []
    app.before_request(lambda: paths.append(request.path))

    result = verify(app, users_pact, direct_state_calls=argument)

    assert result.passed, result.report()
    state_url = app.config["PACT_STATES_URL"]
    assert paths.count(state_url) == state_calls_seen  # setup and teardown each
    assert [p for p in paths if p != state_url] == ["/users/1", "/users/2", "/ping"]


def test_verify_refuses_an_app_without_pact_states(users_pact: Path) -> None:
    with pytest.raises(VerificationSetupError, match=r"Call states\.init_app\(app\)"):
        verify(Flask("bare"), users_pact)


def test_verify_needs_a_provider_when_pacts_disagree(
    tmp_path: Path, states: PactStates
) -> None:
    hand_pact(tmp_path / "a.json", [http_interaction("a")], provider="Users")
    hand_pact(tmp_path / "b.json", [http_interaction("b")], provider="Orders")

    with pytest.raises(VerificationSetupError, match="Pass --provider NAME"):
        verify(make_app(states), tmp_path)


def test_verify_selects_the_given_provider_s_pacts(
    tmp_path: Path, states: PactStates
) -> None:
    hand_pact(tmp_path / "a.json", [http_interaction("a")], provider="Users")
    hand_pact(tmp_path / "b.json", [http_interaction("b")], provider="Orders")

    result = verify(make_app(states), tmp_path, provider="Users")

    assert [i.description for i in result.interactions] == ["a"]
    assert any(
        "for 'Users' are" in note and "'Orders'" in note for note in result.notes
    )
    assert "comes from the pacts" not in result.report()


def test_verify_refuses_another_provider_s_pacts(
    tmp_path: Path, states: PactStates
) -> None:
    hand_pact(tmp_path / "b.json", [http_interaction("b")], provider="Payments")
    app = make_app(states, PACT_STATES_PROVIDER="Orders")

    with pytest.raises(PactSourceError, match=r"is for provider 'Orders'.*'Payments'"):
        verify(app, tmp_path)


def test_verify_says_when_the_provider_name_comes_from_the_pacts(
    tmp_path: Path, states: PactStates
) -> None:
    hand_pact(tmp_path / "b.json", [http_interaction("b")], provider="Payments")

    report = verify(make_app(states), tmp_path).report()

    assert report.splitlines()[1].startswith("(The provider name comes from the pacts")


def test_verify_takes_the_provider_from_config(
    tmp_path: Path, states: PactStates
) -> None:
    pact = hand_pact(tmp_path / "p.json", [http_interaction("a")], provider="Users")
    app = make_app(states, PACT_STATES_PROVIDER="Users")

    assert verify(app, pact).provider == "Users"


def test_verify_filters_by_consumer_description_and_state(
    tmp_path: Path, states: PactStates
) -> None:
    _register_users(states)
    interactions = [
        http_interaction("get user 1", "/users/1", ["user 1 exists"]),
        http_interaction("get user 2", "/users/2", ["no users"], status=404),
        http_interaction("ping"),
    ]
    hand_pact(tmp_path / "web.json", interactions, consumer="Web")
    hand_pact(tmp_path / "mobile.json", [http_interaction("ping")], consumer="Mobile")
    app = make_app(states)

    by_consumer = verify(app, tmp_path, consumers=["Mobile"])
    by_description = verify(app, tmp_path, consumers=["Web"], description="^get")
    by_state = verify(app, tmp_path, state="no users")

    assert [i.consumer for i in by_consumer.interactions] == ["Mobile"]
    assert [i.description for i in by_description.interactions] == [
        "get user 1",
        "get user 2",
    ]
    assert [i.description for i in by_state.interactions] == ["get user 2"]
    assert by_state.filtered(state="no users") == by_state.interactions
    with pytest.raises(PactSourceError, match="No pact for consumer 'Tablet'"):
        verify(app, tmp_path, consumers=["Tablet"])
    with pytest.raises(VerificationSetupError, match="not a regular expression"):
        verify(app, tmp_path, description="(")


def test_verify_with_nothing_selected_does_not_pass(
    tmp_path: Path, states: PactStates
) -> None:
    pact = hand_pact(tmp_path / "p.json", [http_interaction("ping")])

    result = verify(make_app(states), pact, description="^nothing matches$")

    assert not result.passed
    assert result.errors == [
        "No interaction was verified: check the sources and the filters."
    ]


def test_verify_skips_plugin_interactions_with_a_note(
    tmp_path: Path, states: PactStates
) -> None:
    message = {"description": "a grpc call", "type": "Synchronous/Plugin"}
    http = http_interaction("ping")
    http["type"] = "Synchronous/HTTP"
    pact = hand_pact(tmp_path / "p.json", [http, message], version="4.0")

    result = verify(make_app(states), pact)

    assert result.passed, result.report()
    assert [i.description for i in result.interactions] == ["ping"]
    assert (
        "Skipped 1 interaction(s) of p.json (Synchronous/Plugin)" in (result.notes[0])
    )


@pytest.mark.parametrize("chunk_size", [0, 1], ids=["one-run", "chunks"])
def test_verify_sets_up_nothing_for_a_failed_interaction_s_other_states(
    tmp_path: Path, states: PactStates, chunk_size: int
) -> None:
    """The verifier still sends a failed interaction's other setups; the runner
    knows they are not the next interaction's, and nothing is set up."""
    ran: list[str] = []

    @states.register("the database is down")
    def down() -> None:
        raise ConnectionError("no database")

    @states.register("no users")
    def no_users() -> None:
        ran.append("no users")
        mock_db("verify_helpers.USERS")

    real_ann = http_interaction("2 real Ann is there", "/users/1")
    real_ann["response"]["body"] = {"id": 1, "name": "real Ann"}
    pact = hand_pact(
        tmp_path / "p.json",
        [
            http_interaction("1 fails", states=["the database is down", "no users"]),
            real_ann,
        ],
    )
    app = make_app(states)

    result = verify(app, pact, chunk_size=chunk_size)

    assert [i.status for i in result.interactions] == ["failed", "passed"]
    assert "ConnectionError: no database" in result.report()
    assert ran == []
    steps = [(r.interaction, r.state, r.outcome) for r in get_app_states(app).journal]
    assert steps[1][1:] == ("no users", "skipped")
    assert steps[0][0] == steps[1][0] != steps[2][0]
    assert active_patch_count() == 0


def test_verify_reports_a_failing_teardown(tmp_path: Path, states: PactStates) -> None:
    @states.register("a temporary file")
    def temporary() -> Iterator[None]:
        yield
        raise OSError("cannot remove the file")

    pact = hand_pact(
        tmp_path / "p.json", [http_interaction("a", states=["a temporary file"])]
    )

    result = verify(make_app(states), pact)

    failure = result.interactions[0].state_failure
    assert failure is not None
    assert (failure.action, failure.exception_type) == ("teardown", "OSError")
    assert "teardown of state 'a temporary file'" in result.report()


def test_verify_reports_progress_as_interactions_start(
    states: PactStates, users_pact: Path
) -> None:
    _register_users(states)
    seen: list[tuple[int, int | None]] = []

    verify(make_app(states), users_pact, progress=lambda *call: seen.append(call))

    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_verify_result_converts_to_junit_and_json(
    tmp_path: Path, states: PactStates
) -> None:
    @states.register("broken")
    def broken() -> None:
        raise ValueError("boom")

    interactions = [
        http_interaction("fine"),
        http_interaction("handler", states=["broken"]),
        http_interaction("mismatch", "/nowhere"),
    ]
    result = verify(make_app(states), hand_pact(tmp_path / "p.json", interactions))

    suites = ET.fromstring(result.to_junit())
    data = json.loads(result.to_json())

    assert (suites.get("tests"), suites.get("failures")) == ("3", "2")
    cases = {case.get("name"): case for case in suites.iter("testcase")}
    assert cases["fine"].find("failure") is None
    handler_failure = cases["handler [broken]"].find("failure")
    assert handler_failure is not None
    assert handler_failure.get("type") == "state"
    assert "ValueError: boom" in (handler_failure.text or "")
    mismatch = cases["mismatch"].find("failure")
    assert mismatch is not None
    assert mismatch.get("message") == "status: expected 200 but was 404"
    assert data["passed"] is False
    assert data["counts"] == {"passed": 1, "failed": 2, "pending": 0}
    by_description = {i["description"]: i for i in data["interactions"]}
    assert by_description["handler"]["state_failure"]["exception_type"] == "ValueError"
    assert by_description["mismatch"]["status"] == "failed"


def _record(number: int, state: str, action: str = "setup") -> StateChangeRecord:
    return StateChangeRecord(number, action, state, None, {}, "ok", 200)


def test_pair_records_falls_back_to_matching_states() -> None:
    records = [
        _record(1, "a"),
        _record(1, "b"),
        _record(1, "a", "teardown"),
        _record(2, ""),
        _record(0, "c"),  # rejected before the lifecycle saw it
    ]
    entries: list[dict[str, Any]] = [
        {"description": "made no state call", "providerStates": ["z"]},
        {"description": "two states", "providerStates": ["a", "b"]},
        {"description": "stateless", "providerStates": []},
        {"description": "rejected", "providerStates": ["c"]},
    ]

    pairs = pair_records(entries, group_records(records))

    assert [None if g is None else [r.state for r in g] for _, g in pairs] == [
        None,
        ["a", "b", "a"],
        [""],
        ["c"],
    ]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerStub]:
    calls = [
        Call("get user 1", "/users/1", [("user 1 exists", {})], body={"name": "Ann"}),
        Call("ping", "/ping"),
    ]
    path = record_pact(tmp_path / "broker", "Web", "Users", calls)
    document = json.loads(path.read_text(encoding="utf-8"))
    with BrokerStub([document]) as stub:
        yield stub


def test_verify_fetches_from_a_broker_and_publishes(
    states: PactStates, broker: BrokerStub
) -> None:
    _register_users(states)
    options = BrokerOptions(
        url=broker.url, token="t0ken", consumer_branches=["main"], include_pending=True
    )
    publish = PublishOptions("1.2.3", branch="feature-x", build_url="http://ci/1")

    result = verify(make_app(states), provider="Users", broker=options, publish=publish)

    assert result.passed, result.report()
    assert len(result.interactions) == 2
    (body,) = broker.for_verification_bodies
    assert body["consumerVersionSelectors"] == [{"branch": "main"}]
    assert body["includePendingStatus"] is True
    (published,) = broker.published_results
    assert published.body["success"] is True
    assert published.body["providerApplicationVersion"] == "1.2.3"
    assert broker.provider_branches == [("Users", "feature-x", "1.2.3")]
    assert {r.headers.get("authorization") for r in broker.requests} == {"Bearer t0ken"}


def test_verify_publishes_a_failure_and_scopes_broker_consumers(
    states: PactStates, broker: BrokerStub
) -> None:
    seen: list[str | None] = []

    @states.register("user 1 exists", consumer="Web")
    def web_user(consumer: str | None) -> None:
        seen.append(consumer)
        raise LookupError("no such user")

    result = verify(
        make_app(states),
        provider="Users",
        consumers=["Web"],
        broker=BrokerOptions(url=broker.url),
        publish=PublishOptions("2.0.0"),
    )

    assert not result.passed
    assert seen == ["Web"]
    assert result.interactions[0].state_failure is not None
    (published,) = broker.published_results
    assert published.body["success"] is False


def test_verify_fails_when_the_broker_refuses_the_results(
    states: PactStates, broker: BrokerStub
) -> None:
    _register_users(states)
    # The verifier passes such a run and only logs why publication failed.
    broker.fault = Fault.UNAUTHORIZED
    broker.fault_when = lambda request: "verification-results" in request.path

    result = verify(
        make_app(states),
        provider="Users",
        broker=BrokerOptions(url=broker.url),
        publish=PublishOptions("3.0.0", branch="main"),
    )

    assert not result.passed
    assert all(i.status == "passed" for i in result.interactions)
    (error,) = result.errors
    assert "publishing results failed" in error
    assert "401" in error
    assert broker.published_results == []


def test_verify_counts_pending_failures_apart(states: PactStates) -> None:
    pact = {
        "consumer": {"name": "Web"},
        "provider": {"name": "Users"},
        "interactions": [http_interaction("nowhere", "/nowhere")],
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }
    with BrokerStub([StubPact(pact, pending=True)]) as stub:
        options = BrokerOptions(url=stub.url, include_pending=True)
        result = verify(make_app(states), provider="Users", broker=options)

    assert result.passed, result.report()
    assert [i.status for i in result.interactions] == ["pending"]
    assert "This pact is in pending state." in result.notes
    assert "1 failure(s) in pending pacts, not counted." in result.report()
    assert result.report().splitlines()[-1] == "0 passed, 0 failed"


def test_broker_options_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACT_BROKER_BASE_URL", "https://broker.example")
    monkeypatch.setenv("PACT_BROKER_USERNAME", "ci")
    monkeypatch.setenv("PACT_BROKER_PASSWORD", "pw")

    options = BrokerOptions(selectors=[{"mainBranch": True}], main_branch=True)
    resolved = options.resolved()

    assert (resolved.url, resolved.username, resolved.password) == (
        "https://broker.example",
        "ci",
        "pw",
    )
    assert resolved.selector_keywords() == [{"main_branch": True}] * 2


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (BrokerOptions(), "No Pact Broker URL"),
        (BrokerOptions(url="http://b", token="t", username="u"), "either a token"),
        (BrokerOptions(url="http://b", selectors=[{"mainbranch": 1}]), "'mainbranch'"),
        (BrokerOptions(url="http://b", include_wip_since="last week"), "YYYY-MM-DD"),
    ],
)
def test_broker_options_refuse_bad_values(
    monkeypatch: pytest.MonkeyPatch, options: BrokerOptions, match: str
) -> None:
    for name in ("BASE_URL", "TOKEN", "USERNAME", "PASSWORD"):
        monkeypatch.delenv(f"PACT_BROKER_{name}", raising=False)

    with pytest.raises(PactSourceError, match=match):
        options.resolved()


def test_verify_reads_a_pact_url_and_reports_load_failures(
    states: PactStates, tmp_path: Path
) -> None:
    document = json.loads(
        hand_pact(tmp_path / "p.json", [http_interaction("ping")]).read_text("utf-8")
    )
    with BrokerStub([document]) as stub:
        missing = f"{stub.url}/nothing"
        good = verify(
            make_app(states), stub.url + StubPact(document).path, provider="Users"
        )
        bad = verify(make_app(states), missing, provider="Users")
        # A load failure is reported even when other interactions ran.
        both = verify(
            make_app(states),
            stub.url + StubPact(document).path,
            missing,
            provider="Users",
        )

    assert good.passed, good.report()
    assert not bad.passed
    assert not both.passed
    assert [i.status for i in both.interactions] == ["passed"]
    assert both.errors == [
        f"Verifying 2 pact URLs: Failed to load pact '{missing}'"
        " - Request failed with status - 404 Not Found"
    ]
    assert bad.errors == [
        f"Verifying {missing}: Failed to load pact '{missing}'"
        " - Request failed with status - 404 Not Found"
    ]
    assert bad.report().splitlines()[-1] == "0 passed, 0 failed"


def test_verify_reports_a_broker_that_refuses(states: PactStates) -> None:
    with BrokerStub(fault=Fault.UNAUTHORIZED) as stub:
        result = verify(
            make_app(states), provider="Users", broker=BrokerOptions(url=stub.url)
        )

    assert not result.passed
    (error,) = result.errors
    assert "401 Unauthorized" in error
    assert "Errors\n  Verifying broker http://127.0.0.1:" in result.report()


def test_verify_notes_params_a_handler_dropped(
    tmp_path: Path, states: PactStates
) -> None:
    @states.register("an order exists")
    def order_exists(id: int = 1) -> None: ...

    interaction = http_interaction("order", states=["an order exists"])
    interaction["providerStates"][0]["params"] = {"id": 2, "status": "new"}
    pact = hand_pact(tmp_path / "p.json", [interaction])

    result = verify(make_app(states), pact)

    assert [note for note in result.notes if "dropped" in note] == [
        "Params 'status' of state 'an order exists' reached"
        f" {__name__}.{order_exists.__qualname__}(), which neither declares"
        " them nor takes **kwargs or params: they were dropped."
    ]
