"""The state lifecycle through the test client: generator and async
handlers, before/after_each hooks, and every undo path.

After each path the patched globals must be the very objects they were before
(``is``) and no patch may be left in place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lifecycle_helpers import (
    ALL_REAL,
    CACHE,
    DB,
    URL,
    Globals,
    Recorder,
    message,
    setup,
    teardown,
)

from flask_pact_states import PactStates, active_patch_count, mock_db
from flask_pact_states.provider.state import get_app_states

# generator and async handlers


def test_generator_handler_code_after_yield_runs_at_teardown(
    provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    response = setup(client, "a cached user")
    assert response.status_code == 200
    assert response.get_json() == {"cached_id": 9}
    assert g.seen()["cache"] == "mocked"
    assert rec.events == ["before_each", "cached: setup"]
    assert teardown(client, "a cached user").status_code == 200
    assert rec.events[2:] == ["cached: teardown, cache mocked", "after_each"]
    g.assert_restored()


def test_generator_handler_yielding_none_answers_empty(
    states: PactStates, provider: Flask, client: FlaskClient
) -> None:
    @states.register("plain generator")
    def plain() -> Iterator[None]:
        yield

    assert setup(client, "plain generator").get_json() == {}
    assert teardown(client, "plain generator").status_code == 200


def test_generator_handler_yielding_twice_fails_teardown(
    states: PactStates, provider: Flask, client: FlaskClient, g: Globals
) -> None:
    @states.register("twice")
    def twice() -> Iterator[None]:
        mock_db(DB)
        yield
        yield

    assert setup(client, "twice").status_code == 200
    response = teardown(client, "twice")
    assert "yielded more than once" in message(response)
    assert "twice()" in message(response)
    g.assert_restored()


def test_generator_handler_never_yielding_fails_setup(
    states: PactStates, provider: Flask, client: FlaskClient, g: Globals
) -> None:
    @states.register("never")
    def never() -> Iterator[None]:
        mock_db(DB)
        if False:
            yield  # pragma: no cover

    response = setup(client, "never")
    assert "returned without yielding" in message(response)
    assert "never()" in message(response)
    g.assert_restored()


def test_generator_handler_raising_before_yield_fails_setup(
    states: PactStates, provider: Flask, client: FlaskClient, g: Globals
) -> None:
    @states.register("early error")
    def early_error() -> Iterator[None]:
        mock_db(DB)
        raise LookupError("no such row")
        yield  # pragma: no cover

    assert "LookupError: no such row" in message(setup(client, "early error"))
    g.assert_restored()


def test_generator_handler_yielding_a_non_dict_fails_and_runs_its_teardown(
    states: PactStates, provider: Flask, client: FlaskClient, g: Globals
) -> None:
    ran: list[str] = []

    @states.register("bad yield")
    def bad_yield() -> Iterator[Any]:
        mock_db(DB)
        yield [1, 2]
        ran.append("teardown")

    assert "returned a list" in message(setup(client, "bad yield"))
    assert ran == ["teardown"]
    g.assert_restored()


def test_async_handler_patches_belong_to_its_state(
    provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    assert setup(client, "an async user").get_json() == {"id": 55}
    assert client.get("/users/55").get_json() == {"name": "async"}
    assert teardown(client, "an async user").status_code == 200
    g.assert_restored()
    # A second interaction runs on the same event loop, in its own scope.
    assert setup(client, "an async user").get_json() == {"id": 55}
    assert active_patch_count() == 1
    assert teardown(client, "an async user").status_code == 200
    g.assert_restored()


def test_async_generator_handler_runs_teardown_code(
    provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    for _ in range(2):
        response = setup(client, "an async cached user")
        assert response.get_json() == {"cached_id": 56}
        assert g.seen()["cache"] == "mocked"
        assert teardown(client, "an async cached user").status_code == 200
        g.assert_restored()
    assert rec.events == 2 * [
        "before_each",
        "async cached: setup",
        "async cached: teardown, cache mocked",
        "after_each",
    ]


def test_async_generator_handler_yielding_twice_or_never_fails(
    states: PactStates, provider: Flask, client: FlaskClient, g: Globals
) -> None:
    @states.register("async twice")
    async def twice() -> AsyncIterator[None]:
        mock_db(DB)
        yield
        yield

    @states.register("async never")
    async def never() -> AsyncIterator[None]:
        mock_db(DB)
        if False:
            yield  # pragma: no cover

    assert setup(client, "async twice").status_code == 200
    assert "yielded more than once" in message(teardown(client, "async twice"))
    g.assert_restored()
    assert "returned without yielding" in message(setup(client, "async never"))
    g.assert_restored()


def test_async_hooks_run(
    states: PactStates, provider: Flask, client: FlaskClient, g: Globals
) -> None:
    events: list[str] = []

    @states.before_each
    async def before() -> None:
        mock_db(CACHE)
        events.append("before")

    @states.after_each
    async def after() -> None:
        events.append(f"after, cache {g.seen()['cache']}")

    setup(client, "")
    assert g.seen()["cache"] == "mocked"
    teardown(client, "")
    assert events == ["before", "after, cache real"]
    g.assert_restored()


# before_each and after_each


def test_hooks_run_once_per_interaction_with_several_states(
    provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    setup(client, "user 7 exists")
    setup(client, "mail is captured")
    setup(client, "a cached user")
    assert client.get("/globals/1").get_json() == {
        "db": "mocked",
        "mailer": "mocked",
        "cache": "mocked",
    }
    for state in ("user 7 exists", "mail is captured", "a cached user"):
        assert teardown(client, state).status_code == 200
    assert rec.count("before_each") == 1
    assert rec.count("after_each") == 1
    assert rec.events[-1] == "after_each"
    # after_each runs last, once every state's patches are undone.
    assert rec.after_each_saw == [(True, 0)]
    g.assert_restored()


def test_hooks_run_for_stateless_interactions(
    provider: Flask, client: FlaskClient, rec: Recorder
) -> None:
    # Teardown on: setup "", request, teardown "".
    setup(client, "")
    client.get("/ping")
    teardown(client, "")
    # Teardown off: the next setup ends the interaction.
    setup(client, "")
    client.get("/ping")
    setup(client, "")
    assert rec.events == ["before_each", "after_each"] * 2 + ["before_each"]


def test_before_each_patches_are_undone_before_after_each(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    @states.before_each
    def mock_cache_for_every_interaction() -> None:
        mock_db(CACHE)

    setup(client, "")
    assert g.seen()["cache"] == "mocked"
    teardown(client, "")
    assert rec.after_each_saw == [(True, 0)]
    g.assert_restored()


def test_before_each_failure_fails_setup_and_after_each_still_runs(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    @states.before_each
    def broken_hook() -> None:
        mock_db(CACHE)
        raise RuntimeError("hook broke")

    assert "hook broke" in message(setup(client, "user 1 exists"))
    assert rec.events == ["before_each", "after_each"]
    assert rec.after_each_saw == [(True, 0)]
    g.assert_restored()


def _resource(rec: Recorder, name: str, fail: bool = False) -> Any:
    """An interaction resource that records when it is held and let go."""

    @contextlib.contextmanager
    def hold() -> Iterator[None]:
        rec.events.append(f"{name}: held")
        if fail:
            raise RuntimeError(f"{name} could not be held")
        try:
            yield
        finally:
            rec.events.append(f"{name}: let go")

    return hold


def test_resources_are_held_around_hooks_and_states(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder
) -> None:
    states._hooks.resources[:] = [_resource(rec, "db1"), _resource(rec, "db2")]

    setup(client, "user 1 exists")
    setup(client, "no users")
    teardown(client, "user 1 exists")
    teardown(client, "no users")

    assert rec.events == [
        *("db1: held", "db2: held", "before_each", "user 1", "no users"),
        *("db2: let go", "db1: let go", "after_each"),
    ]


def test_resource_failing_to_be_held_fails_setup_and_lets_go_of_the_others(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    states._hooks.resources[:] = [_resource(rec, "db1"), _resource(rec, "db2", True)]

    assert "db2 could not be held" in message(setup(client, "user 1 exists"))
    assert rec.events == ["db1: held", "db2: held", "db1: let go", "after_each"]
    g.assert_restored()


def test_after_each_failure_fails_the_last_teardown(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    @states.after_each
    def broken_hook() -> None:
        raise RuntimeError("after_each broke")

    setup(client, "user 1 exists")
    assert "after_each broke" in message(teardown(client, "user 1 exists"))
    g.assert_restored()


@pytest.mark.parametrize("mode", ["error", "warn"])
def test_before_each_failure_on_unknown_state_is_a_4xx(
    states: PactStates, mode: str
) -> None:
    app = Flask("provider")
    app.testing = True
    app.config["PACT_STATES_MISSING"] = mode
    states.init_app(app)

    @states.before_each
    def broken_hook() -> None:
        raise RuntimeError("hook broke")

    try:
        response = setup(app.test_client(), "nobody registered this")
        assert 400 <= response.status_code < 500
    finally:
        states.reset(app)


# undo paths


def test_undo_at_the_last_teardown(
    provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    setup(client, "user 7 exists")
    setup(client, "mail is captured")
    assert client.get("/users/7").get_json() == {"name": "user 7"}
    teardown(client, "user 7 exists")
    # The verifier tears down in set-up order; undo waits for the last state.
    assert g.seen() == {"db": "mocked", "mailer": "mocked", "cache": "real"}
    teardown(client, "mail is captured")
    g.assert_restored()
    assert rec.events[-1] == "after_each"


@pytest.mark.parametrize("order", ["set-up order", "reverse order"])
def test_undo_restores_a_global_two_states_patched(
    states: PactStates, provider: Flask, client: FlaskClient, g: Globals, order: str
) -> None:
    @states.register("user {user_id:int} is cached")
    def user_is_cached(user_id: int) -> None:
        mock_db(DB, {user_id: {"name": "cached"}})

    names = ["user 1 is cached", "user 2 is cached"]
    for name in names:
        setup(client, name)
    assert client.get("/users/2").status_code == 200
    assert client.get("/users/1").status_code == 404  # the second mock won
    for name in names if order == "set-up order" else reversed(names):
        assert teardown(client, name).status_code == 200
    g.assert_restored()


def test_undo_at_next_setup_after_a_request_when_teardown_is_off(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    seen_by_next: list[dict[str, str]] = []

    @states.register("next interaction")
    def next_interaction() -> None:
        seen_by_next.append(g.seen())

    setup(client, "user 7 exists")
    setup(client, "mail is captured")
    assert client.get("/globals/1").get_json()["mailer"] == "mocked"
    setup(client, "next interaction")
    assert seen_by_next == [ALL_REAL]
    assert active_patch_count() == 0
    assert rec.events[-2:] == ["after_each", "before_each"]
    assert rec.after_each_saw == [(True, 0)]
    g.assert_restored()


def test_undo_at_next_setup_after_a_teardown_call(
    provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    setup(client, "user 7 exists")
    # A teardown for a state that is not active: a no-op, but a boundary.
    assert teardown(client, "a state nobody set up").status_code == 200
    assert g.seen()["db"] == "mocked"
    setup(client, "mail is captured")
    assert g.seen() == {"db": "real", "mailer": "mocked", "cache": "real"}
    assert rec.count("after_each") == 1


def test_consecutive_setups_belong_to_one_interaction(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    setup(client, "user 7 exists")
    setup(client, "mail is captured")
    assert g.seen() == {"db": "mocked", "mailer": "mocked", "cache": "real"}
    assert rec.count("before_each") == 1
    assert {record.interaction for record in states.journal(provider)} == {1}
    client.get("/ping")
    setup(client, "")
    assert [record.interaction for record in states.journal(provider)] == [1, 1, 2]
    g.assert_restored()


def test_a_stateless_setup_always_begins_an_interaction(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    """No verifier sends "" for an interaction with states: it is always a
    new one, even when the previous one never reached its request."""
    setup(client, "user 7 exists")
    setup(client, "")

    assert g.seen() == ALL_REAL
    assert [record.interaction for record in states.journal(provider)] == [1, 2]


@pytest.mark.parametrize(
    ("state", "params", "status", "text"),
    [
        ("a broken state", {}, 422, "broken on purpose"),
        ("nobody registered this", {}, 404, "No handler is registered"),
        ("a state needing an id", {}, 422, "needs 'id'"),
        ("user 1 exists", {"name": 5}, 200, ""),
    ],
    ids=["handler-raises", "unknown-state", "binding-error", "control"],
)
def test_failed_setup_undoes_the_interaction_at_once(
    states: PactStates,
    provider: Flask,
    client: FlaskClient,
    rec: Recorder,
    g: Globals,
    state: str,
    params: dict[str, Any],
    status: int,
    text: str,
) -> None:
    setup(client, "mail is captured")
    response = setup(client, state, **params)
    assert response.status_code == status
    assert text in response.get_json().get("message", "")
    if status == 200:
        assert active_patch_count() == 2
        states.reset(provider)
    else:
        assert rec.events[-1] == "after_each"
    g.assert_restored()
    assert rec.count("before_each") == rec.count("after_each") == 1
    # The next setup starts a new interaction.
    setup(client, "user 3 exists")
    assert [record.interaction for record in states.journal(provider)] == [1, 1, 2]
    assert rec.count("before_each") == 2
    states.reset(provider)
    g.assert_restored()


def test_failed_setup_with_a_bad_return_value_undoes_at_once(
    states: PactStates, provider: Flask, client: FlaskClient, g: Globals
) -> None:
    @states.register("returns a list")
    def returns_a_list() -> list[int]:
        mock_db(DB)
        return [1]

    assert "returned a list" in message(setup(client, "returns a list"))
    g.assert_restored()


def test_reset_undoes_the_current_interaction(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    setup(client, "user 7 exists")
    setup(client, "a cached user")
    setup(client, "an async cached user")
    assert active_patch_count() == 3
    states.reset(provider)
    g.assert_restored()
    assert rec.events[-3:] == [
        "async cached: teardown, cache mocked",
        "cached: teardown, cache mocked",
        "after_each",
    ]
    states.reset(provider)  # nothing left: a no-op
    assert rec.count("after_each") == 1
    with provider.app_context():
        setup(client, "user 7 exists")
        states.reset()  # current_app
    g.assert_restored()


def test_teardown_of_a_state_that_is_not_active_is_a_no_op(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    assert teardown(client, "user 7 exists").status_code == 200  # no interaction
    assert teardown(client, "").status_code == 200
    setup(client, "user 7 exists")
    setup(client, "mail is captured")
    assert teardown(client, "a cached user").status_code == 200
    assert g.seen()["db"] == "mocked"
    assert [r.outcome for r in states.journal(provider)] == ["ok"] * 5
    # Other params than at setup: the state's name is enough.
    teardown(client, "user 7 exists", user_id=8)
    teardown(client, "mail is captured")
    g.assert_restored()
    assert teardown(client, "mail is captured").status_code == 200
    assert rec.count("after_each") == 1


def test_teardown_that_raises_answers_422_and_undoes_the_rest(
    provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    for state in ("user 7 exists", "a flaky teardown", "a cached user"):
        assert setup(client, state).status_code == 200
    assert g.seen() == {"db": "mocked", "mailer": "mocked", "cache": "mocked"}
    assert teardown(client, "user 7 exists").status_code == 200
    assert teardown(client, "a flaky teardown").status_code == 200
    # The last teardown undoes all three, newest first: the flaky one raises.
    response = teardown(client, "a cached user")
    text = message(response)
    assert "teardown broke on purpose" in text
    assert "Raised while undoing provider state 'a flaky teardown'" in text
    assert "cached: teardown, cache mocked" in rec.events
    assert rec.events[-1] == "after_each"
    g.assert_restored()


def test_teardown_error_with_teardown_off_fails_the_next_setup(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    setup(client, "a flaky teardown")
    client.get("/ping")
    # The verifier never asks for a teardown: the error surfaces when the
    # next interaction begins, and that setup fails.
    text = message(setup(client, "user 7 exists"))
    assert "teardown broke on purpose" in text
    assert "'a flaky teardown'" in text
    g.assert_restored()
    assert setup(client, "user 7 exists").status_code == 200
    states.reset(provider)
    g.assert_restored()


def test_failing_setup_in_the_middle_of_a_run(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    """Teardown off, as the verifier runs by default."""
    setup(client, "user 1 exists")
    assert client.get("/users/1").get_json() == {"name": "user 1"}
    setup(client, "user 2 exists")
    assert setup(client, "a broken state").status_code == 422
    g.assert_restored()
    setup(client, "")
    assert client.get("/globals/1").get_json() == ALL_REAL
    setup(client, "no users")
    assert client.get("/users/1").status_code == 404
    states.reset(provider)
    g.assert_restored()
    assert rec.count("before_each") == rec.count("after_each") == 4
    assert all(saw == (True, 0) for saw in rec.after_each_saw)


@pytest.mark.parametrize("teardown_on", [True, False], ids=["teardown", "no-teardown"])
def test_states_after_a_failed_setup_are_undone_with_the_next_interaction(
    states: PactStates,
    provider: Flask,
    client: FlaskClient,
    rec: Recorder,
    g: Globals,
    teardown_on: bool,
) -> None:
    """The verifier still sends a failed interaction's other setups (then skips
    its request and teardowns). Nothing tells them from the next interaction's
    setups, so they are undone with it: at its last teardown, or when the one
    after it begins."""
    assert setup(client, "a broken state").status_code == 422
    setup(client, "mail is captured")  # the failed interaction's second state
    setup(client, "user 7 exists")  # the next interaction
    assert client.get("/users/7").status_code == 200
    if teardown_on:
        teardown(client, "user 7 exists")
        g.assert_restored()
    else:
        setup(client, "")
        assert client.get("/globals/1").get_json() == ALL_REAL
        states.reset(provider)
        g.assert_restored()


#: What the runner tells the lifecycle for the run in the tests below.
_SCHEDULE = [("a broken state", "mail is captured"), ("user 7 exists",)]


@pytest.mark.parametrize("teardown_on", [True, False], ids=["teardown", "no-teardown"])
def test_a_schedule_skips_the_setups_sent_after_a_failed_one(
    states: PactStates,
    provider: Flask,
    client: FlaskClient,
    rec: Recorder,
    g: Globals,
    teardown_on: bool,
) -> None:
    """With the run's interactions known, the failed interaction's other
    setups are recognised: nothing is set up for them."""
    states_of_app = get_app_states(provider)
    states_of_app.expect(_SCHEDULE)

    assert setup(client, "a broken state").status_code == 422
    skipped = setup(client, "mail is captured")
    assert (skipped.status_code, skipped.get_json()) == (200, {})
    setup(client, "user 7 exists")
    seen = client.get("/globals/1").get_json()
    assert seen == {"db": "mocked", "mailer": "real", "cache": "real"}
    if teardown_on:
        teardown(client, "user 7 exists")
    else:
        states.reset(provider)
    g.assert_restored()
    assert "mail" not in rec.events
    steps = [(r.interaction, r.state, r.outcome) for r in states.journal(provider)]
    assert steps[:3] == [
        (1, "a broken state", "error"),
        (1, "mail is captured", "skipped"),
        (2, "user 7 exists", "ok"),
    ]
    # One before_each and one after_each per interaction, the failed one too.
    assert rec.count("before_each") == rec.count("after_each") == 2


@pytest.mark.parametrize(
    "first",
    ["nobody knows this state", "a state needing an id"],
    ids=["unknown-state", "binding-error"],
)
def test_a_schedule_skips_after_any_kind_of_failed_setup(
    states: PactStates,
    provider: Flask,
    client: FlaskClient,
    rec: Recorder,
    g: Globals,
    first: str,
) -> None:
    get_app_states(provider).expect([(first, "mail is captured"), ("no users",)])

    assert setup(client, first).status_code in (404, 422)
    assert setup(client, "mail is captured").status_code == 200
    setup(client, "no users")

    assert client.get("/globals/1").get_json()["mailer"] == "real"
    teardown(client, "no users")
    g.assert_restored()
    assert "mail" not in rec.events


def test_a_schedule_skips_after_a_failing_before_each_hook(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    failures = iter([RuntimeError("the first interaction's hook fails")])

    @states.before_each
    def flaky() -> None:
        error = next(failures, None)
        if error is not None:
            raise error

    get_app_states(provider).expect([("user 1 exists", "mail is captured"), ("",)])

    assert setup(client, "user 1 exists").status_code == 422
    assert setup(client, "mail is captured").status_code == 200  # skipped
    assert setup(client, "").status_code == 200  # the next interaction
    assert client.get("/globals/1").get_json() == ALL_REAL
    teardown(client, "")
    g.assert_restored()
    assert "mail" not in rec.events


def test_a_call_that_does_not_fit_the_schedule_drops_it(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    """A schedule that turns out wrong must not skip anything: after the
    first misfit the boundaries are inferred, as without one."""
    get_app_states(provider).expect(
        [("a broken state", "no users"), ("user 7 exists",)]
    )

    assert setup(client, "a broken state").status_code == 422
    setup(client, "mail is captured")  # not "no users": the schedule is wrong
    setup(client, "user 7 exists")
    # Inferred as before: the stray setup joined the next interaction.
    assert client.get("/globals/1").get_json()["mailer"] == "mocked"
    teardown(client, "user 7 exists")
    g.assert_restored()
    outcomes = [r.outcome for r in states.journal(provider)]
    assert "skipped" not in outcomes


def test_a_reset_forgets_the_run_s_schedule(
    states: PactStates, provider: Flask, client: FlaskClient, rec: Recorder, g: Globals
) -> None:
    """The runner resets at the end of a run: a schedule left behind would
    skip the next caller's setups."""
    app_states = get_app_states(provider)
    app_states.expect([("a broken state", "mail is captured")])
    app_states.reset()

    assert setup(client, "a broken state").status_code == 422
    assert setup(client, "mail is captured").status_code == 200
    assert client.get("/globals/1").get_json()["mailer"] == "mocked"  # set up
    teardown(client, "mail is captured")
    g.assert_restored()
    assert "skipped" not in [r.outcome for r in states.journal(provider)]


@pytest.mark.parametrize("reset_first", [False, True], ids=["expect", "reset"])
def test_a_setup_failing_after_the_next_run_began_skips_nothing_in_it(
    states: PactStates,
    provider: Flask,
    client: FlaskClient,
    rec: Recorder,
    g: Globals,
    monkeypatch: pytest.MonkeyPatch,
    reset_first: bool,
) -> None:
    """A handler of the previous run that hung past the lock timeout, then
    failed, must not make the next run skip a setup of its own: whether the
    previous run ended with a reset (also given up on) or not."""
    entered, release = threading.Event(), threading.Event()

    @states.register("a slow broken state")
    def slow_broken() -> None:
        entered.set()
        release.wait(10)
        raise RuntimeError("failed late")

    app_states = get_app_states(provider)
    settings = dataclasses.replace(app_states.settings, lock_timeout=0.1)
    monkeypatch.setattr(app_states, "settings", settings)
    app_states.expect([("a slow broken state", "mail is captured")])
    answers: list[int] = []
    hung = threading.Thread(
        target=lambda: answers.append(setup(client, "a slow broken state").status_code)
    )
    hung.start()
    assert entered.wait(10)

    if reset_first:
        app_states.reset(wait=0.1)  # the previous run's end; gives up the lock
    app_states.expect([("mail is captured",)])  # the next run; gives up the lock
    release.set()
    hung.join(10)

    assert answers == [422]
    assert setup(client, "mail is captured").status_code == 200
    assert client.get("/globals/1").get_json()["mailer"] == "mocked"  # not skipped
    teardown(client, "mail is captured")
    g.assert_restored()
    assert "skipped" not in [r.outcome for r in states.journal(provider)]


@pytest.mark.parametrize("giving_up", ["reset", "close"])
def test_patches_a_handler_makes_after_a_reset_gave_up_are_undone_when_it_returns(
    states: PactStates,
    provider: Flask,
    client: FlaskClient,
    g: Globals,
    monkeypatch: pytest.MonkeyPatch,
    giving_up: str,
) -> None:
    """Ctrl-C while a handler hangs: what it set up so far is undone at once,
    and what it sets up after that is undone by its own thread when it
    returns, not left to the garbage collector."""
    entered, release = threading.Event(), threading.Event()

    @states.register("a slow state")
    def slow() -> None:
        mock_db(DB)
        entered.set()
        release.wait(10)
        mock_db(CACHE)  # after the reset gave up waiting

    app_states = get_app_states(provider)
    settings = dataclasses.replace(app_states.settings, lock_timeout=0.1)
    monkeypatch.setattr(app_states, "settings", settings)
    hung = threading.Thread(target=setup, args=(client, "a slow state"))
    hung.start()
    assert entered.wait(10)
    # Held, as a traceback or a debugger would hold it: the late patch must
    # not depend on the interaction being freed.
    held = app_states.lifecycle.interaction

    if giving_up == "reset":
        app_states.reset(wait=0.1)
    else:
        app_states.close()
    assert g.seen() == {"db": "real", "mailer": "real", "cache": "real"}
    release.set()
    hung.join(10)

    gc.disable()  # undone by the handler's thread, not by a collection
    try:
        g.assert_restored()
    finally:
        gc.enable()
    assert held is not None


@pytest.mark.parametrize(
    "stateless_call",
    [
        {"action": "setup", "state": "", "params": {}},  # the Rust verifier
        {"consumer": "Web", "state": None, "states": [None], "params": {}},  # Ruby
    ],
    ids=["rust", "ruby"],
)
def test_a_stateless_setup_undoes_the_leftovers_of_a_failed_interaction(
    client: FlaskClient, rec: Recorder, g: Globals, stateless_call: dict[str, Any]
) -> None:
    """Interaction A: an unknown state fails, then the verifier still sends
    A's second setup (and skips A's request and teardowns). Interaction B has
    no state: its call can only mean a new interaction, so A's row is gone."""
    assert setup(client, "nobody knows this state").status_code == 404
    assert setup(client, "user 5 exists").status_code == 200
    assert g.seen()["db"] == "mocked"  # A's leftover setup

    assert client.post(URL, json=stateless_call).status_code == 200

    assert g.seen() == ALL_REAL
    g.assert_restored()
