"""The lifecycle under the real pact verifier: every interaction undone,
with teardown on and off, after failed setups and over long runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from lifecycle_helpers import (
    ALL_REAL,
    DB,
    URL,
    Globals,
    Recorder,
)
from pact import Verifier, generate
from pact.match.matcher import GenericMatcher
from serving_helpers import served
from verify_helpers import Call, record_pact

from flask_pact_states import PactStates, active_patch_count, mock_db
from flask_pact_states.runner.process import minimal_trust_store

# the real verifier


@pytest.fixture
def small_trust_store() -> Iterator[None]:
    """The package's minimal trust store: the verifier builds an HTTP client per
    interaction and otherwise reads every file under /etc/ssl/certs each time.
    Plain HTTP to a local app needs no trust store at all."""
    with minimal_trust_store():
        yield


def run_verifier(app: Flask, pacts: Path, *, teardown: bool) -> list[dict[str, Any]]:
    """Verify ``pacts`` against ``app``; the verifier's result per interaction."""
    with served(app) as port:
        base = f"http://127.0.0.1:{port}"
        verifier = (
            Verifier("provider", host="127.0.0.1")
            .add_transport(url=base)
            .state_handler(f"{base}{URL}", teardown=teardown, body=True)
            .add_source(pacts)
        )
        with contextlib.suppress(RuntimeError):  # raised when any interaction fails
            verifier.verify()
    results: list[dict[str, Any]] = verifier.results["interactionResults"]
    return results


def outcomes(results: list[dict[str, Any]]) -> dict[str, str]:
    """Description -> ``OK`` or ``Error``, for a run of one pact."""
    assert len({result["consumer"] for result in results}) == 1
    return {result["description"]: result["result"] for result in results}


def journal_steps(states: PactStates, app: Flask) -> list[tuple[int, str, str]]:
    return [
        (record.interaction, record.action, record.state)
        for record in states.journal(app)
    ]


def expected_steps(
    calls: Sequence[Call], *, teardown: bool
) -> list[tuple[int, str, str]]:
    """The journal a run of ``calls`` leaves when no setup fails."""
    steps: list[tuple[int, str, str]] = []
    for number, call in enumerate(calls, start=1):
        names = [name for name, _ in call.states] or [""]
        actions = ["setup", "teardown"] if teardown else ["setup"]
        steps += [(number, action, name) for action in actions for name in names]
    return steps


TEARDOWN = pytest.mark.parametrize(
    "teardown_on", [True, False], ids=["teardown", "no-teardown"]
)
# The verifier runs a pact's interactions in file order (the numbers only
# keep descriptions apart).
MIXED_RUN = [
    Call("01 no state", "/globals/1", body=ALL_REAL),
    Call(
        "02 user exists",
        "/users/123",
        [("user 123 exists", {})],
        body={"name": "user 123"},
    ),
    Call("03 user does not exist", "/users/1", [("no users", {})], status=404),
    Call(
        "04 two states",
        "/globals/4",
        [("user 7 exists", {"name": "Seven"}), ("mail is captured", {})],
        body={"db": "mocked", "mailer": "mocked", "cache": "real"},
    ),
    Call("05 no state", "/globals/5", body=ALL_REAL),
    Call(
        "06 generator",
        "/globals/6",
        [("a cached user", {})],
        body={"db": "real", "mailer": "real", "cache": "mocked"},
    ),
    Call("07 async", "/users/55", [("an async user", {})], body={"name": "async"}),
    Call(
        "08 async generator and a user",
        "/globals/8",
        [("an async cached user", {}), ("user 8 exists", {})],
        body={"db": "mocked", "mailer": "real", "cache": "mocked"},
    ),
    Call("09 no state", "/globals/9", body=ALL_REAL),
    Call(
        "10 user exists",
        "/users/10",
        [("user 10 exists", {})],
        body={"name": "user 10"},
    ),
]


@pytest.mark.e2e
@TEARDOWN
def test_verifier_run_undoes_every_interaction(
    states: PactStates,
    provider: Flask,
    rec: Recorder,
    g: Globals,
    tmp_path: Path,
    small_trust_store: None,
    teardown_on: bool,
) -> None:
    record_pact(tmp_path, "web", "provider", MIXED_RUN)
    results = outcomes(run_verifier(provider, tmp_path, teardown=teardown_on))
    # Each response depends on the globals: a leak would fail an interaction.
    assert results == {call.description: "OK" for call in MIXED_RUN}
    assert journal_steps(states, provider) == expected_steps(
        MIXED_RUN, teardown=teardown_on
    )
    assert all(record.status == 200 for record in states.journal(provider))
    if teardown_on:
        g.assert_restored()  # no later than the last teardown
    else:
        assert active_patch_count() == 1  # the last interaction's, until reset
        states.reset(provider)
        g.assert_restored()
    assert rec.count("before_each") == rec.count("after_each") == len(MIXED_RUN)
    assert rec.after_each_saw == [(True, 0)] * len(MIXED_RUN)
    assert rec.count("cached: teardown, cache mocked") == 1
    assert rec.count("async cached: teardown, cache mocked") == 1


@pytest.mark.e2e
@TEARDOWN
def test_verifier_run_with_failing_setups_in_the_middle(
    states: PactStates,
    provider: Flask,
    rec: Recorder,
    g: Globals,
    tmp_path: Path,
    small_trust_store: None,
    teardown_on: bool,
) -> None:
    calls = [
        Call(
            "01 user exists",
            "/users/11",
            [("user 11 exists", {})],
            body={"name": "user 11"},
        ),
        Call("02 broken", "/globals/2", [("a broken state", {})], body=ALL_REAL),
        Call(
            "03 user then unknown",
            "/globals/3",
            [("user 3 exists", {}), ("nobody registered this", {})],
            body=ALL_REAL,
        ),
        Call("04 no state", "/globals/4", body=ALL_REAL),
        Call(
            "05 binding error",
            "/globals/5",
            [("a state needing an id", {})],
            body=ALL_REAL,
        ),
        Call("06 no users", "/users/1", [("no users", {})], status=404),
        Call("07 no state", "/globals/7", body=ALL_REAL),
    ]
    record_pact(tmp_path, "web", "provider", calls)
    results = outcomes(run_verifier(provider, tmp_path, teardown=teardown_on))
    failed = {"02 broken", "03 user then unknown", "05 binding error"}
    assert results == {
        call.description: "Error" if call.description in failed else "OK"
        for call in calls
    }
    records = states.journal(provider)
    failures = [(r.interaction, r.state, r.status) for r in records if r.failed]
    assert failures == [
        (2, "a broken state", 422),
        (3, "nobody registered this", 404),
        (5, "a state needing an id", 422),
    ]
    assert "broken on purpose" in (records[1 + teardown_on].traceback or "")
    if not teardown_on:
        states.reset(provider)
    g.assert_restored()
    assert rec.count("before_each") == rec.count("after_each") == len(calls)
    assert rec.after_each_saw == [(True, 0)] * len(calls)


@pytest.mark.e2e
@TEARDOWN
def test_verifier_states_after_a_failed_setup_do_not_outlive_the_next_interaction(
    states: PactStates,
    provider: Flask,
    rec: Recorder,
    g: Globals,
    tmp_path: Path,
    small_trust_store: None,
    teardown_on: bool,
) -> None:
    calls = [
        Call("01 no state", "/globals/1", body=ALL_REAL),
        Call(
            "02 broken, then mail",
            "/globals/2",
            [("a broken state", {}), ("mail is captured", {})],
            body=ALL_REAL,
        ),
        Call(
            "03 user exists",
            "/users/3",
            [("user 3 exists", {})],
            body={"name": "user 3"},
        ),
    ]
    record_pact(tmp_path, "web", "provider", calls)
    results = outcomes(run_verifier(provider, tmp_path, teardown=teardown_on))
    assert results == {
        "01 no state": "OK",
        "02 broken, then mail": "Error",
        "03 user exists": "OK",
    }
    # The verifier sent the failed interaction's second setup anyway.
    assert ("setup", "mail is captured") in [
        (r.action, r.state) for r in states.journal(provider)
    ]
    if teardown_on:
        g.assert_restored()  # undone at the last teardown of the run
    else:
        states.reset(provider)
        g.assert_restored()
    assert rec.count("before_each") == rec.count("after_each")


@pytest.mark.e2e
@TEARDOWN
def test_verifier_teardown_that_raises(
    states: PactStates,
    provider: Flask,
    rec: Recorder,
    g: Globals,
    tmp_path: Path,
    small_trust_store: None,
    teardown_on: bool,
) -> None:
    calls = [
        Call(
            "01 flaky teardown",
            "/globals/1",
            [("user 1 exists", {}), ("a flaky teardown", {}), ("a cached user", {})],
            body={"db": "mocked", "mailer": "mocked", "cache": "mocked"},
        ),
        Call("02 no state", "/globals/2", body=ALL_REAL),
    ]
    record_pact(tmp_path, "web", "provider", calls)
    results = outcomes(run_verifier(provider, tmp_path, teardown=teardown_on))
    failing = [r for r in states.journal(provider) if r.failed]
    assert len(failing) == 1
    assert "Raised while undoing provider state 'a flaky teardown'" in (
        failing[0].traceback or ""
    )
    if teardown_on:
        # The teardown call that undid it gets the 4xx; the run goes on clean.
        assert results == {"01 flaky teardown": "Error", "02 no state": "OK"}
        assert (failing[0].action, failing[0].state) == ("teardown", "a cached user")
    else:
        # No teardown calls: the error surfaces when the next interaction begins.
        assert results == {"01 flaky teardown": "OK", "02 no state": "Error"}
        assert (failing[0].action, failing[0].state) == ("setup", "")
        states.reset(provider)
    g.assert_restored()
    assert rec.after_each_saw[0] == (True, 0)


@pytest.mark.e2e
def test_verifier_yielded_dict_feeds_provider_state_generators(
    states: PactStates, provider: Flask, g: Globals, tmp_path: Path
) -> None:
    @states.register("a generated user")
    def a_generated_user() -> Iterator[dict[str, int]]:
        mock_db(DB, {42: {"name": "generated"}})
        yield {"user_id": 42}

    path = GenericMatcher(
        "regex",
        value="/users/1",
        regex=r"^/users/\d+$",
        generator=generate.provider_state("/users/${user_id}"),
    )
    call = Call(
        "get the generated user",
        "/users/1",
        [("a generated user", {})],
        body={"name": "generated"},
        path_matcher=path,
    )
    # The mock server answers /users/1 from the pact; the provider gets the
    # path the verifier generates from the yielded value.
    record_pact(tmp_path, "generated", "provider", [call])
    results = outcomes(run_verifier(provider, tmp_path, teardown=True))
    assert results == {"get the generated user": "OK"}
    g.assert_restored()


def long_run_calls(consumer: int, size: int) -> list[Call]:
    calls: list[Call] = []
    for index in range(size):
        n = consumer * size + index
        name = f"{index:03d} interaction {n}"
        kind = n % 4
        user: tuple[str, dict[str, Any]] = (f"user {n} exists", {})
        if kind == 0:
            calls.append(Call(name, f"/globals/{n}", body=ALL_REAL))
        elif kind == 1:
            calls.append(Call(name, f"/users/{n}", [user], body={"name": f"user {n}"}))
        elif kind == 2:
            body = {"db": "mocked", "mailer": "mocked", "cache": "real"}
            mail: tuple[str, dict[str, Any]] = ("mail is captured", {})
            calls.append(Call(name, f"/globals/{n}", [user, mail], body=body))
        else:
            calls.append(Call(name, f"/users/{n}", [("no users", {})], status=404))
    return calls


@pytest.mark.e2e
@TEARDOWN
def test_verifier_long_run_leaves_nothing_behind(
    states: PactStates,
    provider: Flask,
    rec: Recorder,
    g: Globals,
    tmp_path: Path,
    small_trust_store: None,
    teardown_on: bool,
) -> None:
    """1,000 interactions, as 100 pacts of 10 (the verifier's time grows with
    the square of a pact's size, and so does the mock server's)."""
    consumers, size = 100, 10
    for consumer in range(consumers):
        record_pact(
            tmp_path,
            f"consumer-{consumer:03d}",
            "provider",
            long_run_calls(consumer, size),
        )
    results = run_verifier(provider, tmp_path, teardown=teardown_on)
    total = consumers * size
    assert [result["result"] for result in results] == ["OK"] * total
    assert rec.count("before_each") == total
    if not teardown_on:
        states.reset(provider)
    assert rec.count("after_each") == total
    assert set(rec.after_each_saw) == {(True, 0)}
    g.assert_restored()
