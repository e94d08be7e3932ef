"""The pact between ``UserServiceClient`` and ``UserService``, in one place.

Each interaction gets a :class:`~pact.Pact` of its own, because pact-python 4
freezes a pact once its mock server has started, and because two interactions
here send the same request (``GET /users/123``) in different provider states: a
single mock server could not tell them apart. Pacts written one after another
to the same directory merge into one file, sorted by description, so the file
does not depend on the order in which interactions were exercised.

The consumer tests and ``python -m users_consumer.write_pact`` both build their
pacts here, which is what lets ``test_pact_drift`` compare the committed file
with a fresh one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pact import Pact, generate, match
from pact.match.matcher import AbstractMatcher, GenericMatcher

from users_consumer.client import User, UserClient, handle_user_event

T = TypeVar("T")

CONSUMER = "UserServiceClient"
PROVIDER = "UserService"
PACT_FILE_NAME = f"{CONSUMER}-{PROVIDER}.json"
PACT_DIR = Path(__file__).resolve().parent.parent / "pacts"
"""Where the committed pact lives: ``examples/flask_users/pacts``."""
PACT_OUTPUT_DIR_ENV = "PACT_OUTPUT_DIR"

GET_USER = "a request for user 123"
GET_UNKNOWN_USER = "a request for an unknown user"
CREATE_USER = "a request to create user 124"
DELETE_USER = "a request to delete user 124"
GET_GENERATED_USER = "a request for a user by generated id"
USER_CREATED_EVENT = "a user created event"
"""A message: what the provider publishes when it creates user 124."""

GENERATED_USER_STATE = "a user exists with a provider-assigned id"
"""Its handler must answer ``{"user_id": <int>}``; see :func:`_get_generated_user`."""

_JSON = "application/json"
# ISO 8601 with a "+00:00" offset, what datetime.isoformat() gives; "%:z" is
# only converted to Java's "XXX" here, so a string example works on 3.11 too.
_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S%:z"


def _created_on(example: str) -> AbstractMatcher[str]:
    return match.datetime(example, _DATETIME_FORMAT)


def _get_user(pact: Pact) -> None:
    (
        pact.upon_receiving(GET_USER)
        .given("user 123 exists")
        .with_request("GET", "/users/123")
        .will_respond_with(200)
        .with_body(
            {
                "id": match.int(123),
                "name": match.str("Joyce Aguilar"),
                "created_on": _created_on("2016-12-15T20:16:01+00:00"),
                "admin": match.bool(False),
            },
            content_type=_JSON,
        )
    )


def _get_unknown_user(pact: Pact) -> None:
    # No body expected: the client only relies on the status.
    (
        pact.upon_receiving(GET_UNKNOWN_USER)
        .given("user 123 doesn't exist")
        .with_request("GET", "/users/123")
        .will_respond_with(404)
    )


def _create_user(pact: Pact) -> None:
    (
        pact.upon_receiving(CREATE_USER)
        .given("create user 124", {"id": 124, "name": "Verna Hampton"})
        .with_request("POST", "/users")
        .with_body({"name": "Verna Hampton"}, content_type=_JSON)
        .will_respond_with(201)
        .with_body(
            {
                "id": match.int(124),
                "name": "Verna Hampton",
                "created_on": _created_on("2016-12-15T20:16:01+00:00"),
                "admin": False,
            },
            content_type=_JSON,
        )
    )


def _delete_user(pact: Pact) -> None:
    (
        pact.upon_receiving(DELETE_USER)
        .given("delete the user 124")
        .with_request("DELETE", "/users/124")
        .will_respond_with(204)
    )


def _get_generated_user(pact: Pact) -> None:
    """The consumer does not know the id: the provider state chooses it.

    The state handler answers ``{"user_id": 7}`` (say); the verifier merges that
    over the state's params and the ``ProviderState`` generator rewrites the
    path to ``/users/7``. The consumer test and the mock server use the example
    ``/users/42``. The path needs a *regex* matcher: a path matched by type
    would match every path, and the mock server would answer other
    interactions' requests with this one.
    """
    path = GenericMatcher(
        "regex",
        value="/users/42",
        regex=r"^/users/\d+$",
        generator=generate.provider_state("/users/${user_id}"),
    )
    (
        pact.upon_receiving(GET_GENERATED_USER)
        .given(GENERATED_USER_STATE, {"name": "Ada Lovelace"})
        .with_request("GET", path)
        .will_respond_with(200)
        .with_body(
            {
                "id": match.int(42),
                "name": "Ada Lovelace",
                "created_on": _created_on("1842-10-01T09:00:00+00:00"),
                "admin": match.bool(False),
            },
            content_type=_JSON,
        )
    )


@dataclass(frozen=True)
class _Interaction:
    define: Callable[[Pact], None]
    call: Callable[[UserClient], User | None]


def _delete_124(client: UserClient) -> None:
    client.delete_user(124)


_INTERACTIONS: Mapping[str, _Interaction] = {
    GET_USER: _Interaction(_get_user, lambda client: client.get_user(123)),
    GET_UNKNOWN_USER: _Interaction(
        _get_unknown_user, lambda client: client.get_user(123)
    ),
    CREATE_USER: _Interaction(
        _create_user, lambda client: client.create_user("Verna Hampton")
    ),
    DELETE_USER: _Interaction(_delete_user, _delete_124),
    GET_GENERATED_USER: _Interaction(
        _get_generated_user, lambda client: client.get_user(42)
    ),
}

DESCRIPTIONS: tuple[str, ...] = tuple(_INTERACTIONS)
"""Every interaction of the pact, by description."""


def build_pact(description: str) -> Pact:
    """Build a V4 pact holding the one interaction ``description``.

    :param description: One of :data:`DESCRIPTIONS`.
    :returns: A pact ready to :meth:`~pact.Pact.serve`.
    :raises ValueError: For an unknown description.
    """
    try:
        interaction = _INTERACTIONS[description]
    except KeyError:
        known = ", ".join(repr(name) for name in DESCRIPTIONS)
        msg = f"No interaction is described as {description!r}; known: {known}."
        raise ValueError(msg) from None
    pact = Pact(CONSUMER, PROVIDER).with_specification("V4")
    interaction.define(pact)
    return pact


def exercise(pact: Pact, call: Callable[[UserClient], T]) -> T:
    """Run ``call`` with a :class:`UserClient` pointed at the pact's mock server.

    :param pact: A pact from :func:`build_pact`.
    :param call: What the consumer does, e.g. ``lambda c: c.get_user(123)``.
    :returns: What ``call`` returned.
    :raises pact.error.MismatchesError: When the requests did not match the
        pact (unexpected, wrong or missing requests).
    """
    # 127.0.0.1 rather than pact's "localhost", which may resolve to ::1 first.
    with pact.serve(addr="127.0.0.1") as server:
        return call(UserClient(str(server.url)))


def build_event_pact() -> Pact:
    """A V4 pact holding the message :data:`USER_CREATED_EVENT`, merged into
    the same file as the HTTP interactions (a mixed V4 pact)."""
    pact = Pact(CONSUMER, PROVIDER).with_specification("V4")
    user = {
        "id": match.int(124),
        "name": "Verna Hampton",
        "created_on": _created_on("2016-12-15T20:16:01+00:00"),
        "admin": False,
    }
    (
        pact.upon_receiving(USER_CREATED_EVENT, "Async")
        .given("create user 124", {"id": 124, "name": "Verna Hampton"})
        .with_body({"event": "user_created", "user": user}, content_type=_JSON)
        .with_metadata({"topic": "users"})
    )
    return pact


def verify_event_pact(pact: Pact) -> None:
    """The consumer's side of the message: its handler reads it.

    :raises pact.error.PactVerificationError: when the handler fails.
    """

    def read(body: str | bytes | None, metadata: dict[str, object]) -> None:
        handle_user_event(body, metadata)

    pact.verify(read, "Async")


def write_pact_file(directory: Path | str) -> Path:
    """Exercise every interaction, then write the pact file into ``directory``.

    Nothing is written unless every interaction passed, so a failure never
    leaves a half-written pact behind.

    :param directory: Created when missing; an existing pact file is replaced.
    :returns: The path of the written file.
    """
    pacts = []
    for description in DESCRIPTIONS:
        pact = build_pact(description)
        exercise(pact, _INTERACTIONS[description].call)
        pacts.append(pact)
    events = build_event_pact()
    verify_event_pact(events)
    write_pacts([*pacts, events], directory)
    return Path(directory) / PACT_FILE_NAME


def write_pacts(pacts: list[Pact], directory: Path | str) -> None:
    """Write pacts into one file in ``directory``, replacing what was there.

    :param pacts: Exercised pacts between the same consumer and provider.
    :param directory: Created when missing.
    """
    for index, pact in enumerate(pacts):
        # Only the first write replaces the file; later ones merge into it.
        pact.write_file(directory, overwrite=index == 0)


def pact_output_dir(default: Path = PACT_DIR) -> Path:
    """Where to write pacts: ``$PACT_OUTPUT_DIR`` when set, else ``default``.

    :param default: Used when the variable is unset or empty.
    :returns: The directory, which may not exist yet.
    """
    return Path(os.environ.get(PACT_OUTPUT_DIR_ENV) or default)
