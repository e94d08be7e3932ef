"""Provider states of the users service, and the test-only app that mounts them.

Run the verification with::

    flask --app provider_tests.states:create_test_app pact-verify pacts

Each state swaps ``users_provider.db.FAKE_DB`` for a dict-backed ``MagicMock``
with :func:`~flask_pact_states.mock_db`; the extension undoes the swap when the
interaction ends, so no state leaks into the next one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app
from users_provider.app import create_app
from users_provider.db import User

from flask_pact_states import Message, PactStates, capture, mock_db

FAKE_DB = "users_provider.db.FAKE_DB"
CREATED = datetime(2016, 12, 15, 20, 16, 1, tzinfo=UTC)
#: The id the provider picks for "a user exists with a provider-assigned id";
#: the consumer's pact says 42, the ProviderState generator substitutes this.
ASSIGNED_ID = 7

states = PactStates()


@states.register("user {user_id:int} exists")
def user_exists(user_id: int, name: str = "Joyce Aguilar") -> None:
    """One user with the id from the state name (``name`` may come in params)."""
    mock_db(FAKE_DB, {user_id: User(id=user_id, name=name, created_on=CREATED)})


@states.register("user {user_id:int} doesn't exist")
def user_missing(user_id: int) -> None:
    """An empty database."""
    mock_db(FAKE_DB)


@states.register("create user {user_id:int}")
def ready_to_create(user_id: int) -> None:
    """A database whose next id is ``user_id``: it holds the user just before."""
    previous = User(id=user_id - 1, name="Earlier User", created_on=CREATED)
    mock_db(FAKE_DB, {previous.id: previous})


@states.register("delete the user {user_id:int}")
def ready_to_delete(user_id: int) -> None:
    """A database holding the user that is about to be deleted."""
    mock_db(
        FAKE_DB, {user_id: User(id=user_id, name="Verna Hampton", created_on=CREATED)}
    )


@states.register("a user exists with a provider-assigned id")
def user_with_assigned_id(name: str) -> dict[str, int]:
    """A user whose id the consumer cannot know: the answer tells the verifier,
    which puts it into the request path (``/users/${user_id}``)."""
    created = datetime(1842, 10, 1, 9, 0, tzinfo=UTC)
    mock_db(FAKE_DB, {ASSIGNED_ID: User(id=ASSIGNED_ID, name=name, created_on=created)})
    return {"user_id": ASSIGNED_ID}


@states.message("a user created event")
def user_created(id: int, name: str) -> Message:
    """The event the real ``POST /users`` publishes, in state "create user 124"
    (``id`` and ``name`` come from its params)."""
    with capture("users_provider.events.publish") as sent:
        response = current_app.test_client().post("/users", json={"name": name})
    assert response.status_code == 201, response.get_data(as_text=True)
    topic, payload = sent.args
    event: dict[str, Any] = payload
    assert event["user"]["id"] == id
    return Message(event, metadata={"topic": topic})


def create_test_app() -> Flask:
    """The users app in testing mode, with the provider-state endpoint."""
    app = create_app({"TESTING": True, "PACT_STATES_PROVIDER": "UserService"})
    states.init_app(app)
    return app
