"""Consumer tests: the users client against Pact mock servers.

Each test builds the pact for one interaction, serves it and drives the real
client; the mock server fails the test when the client's requests do not match
(``MismatchesError`` when the ``with`` block ends). At the end of the module
the passed pacts are written into one file, in ``$PACT_OUTPUT_DIR`` when set
and otherwise in a temporary directory: the committed pact is regenerated only
by ``make -C examples/flask_users pact``, so that ``test_pact_drift`` notices
when it is stale instead of the test run silently rewriting it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pact import Pact
from pact.error import MismatchesError
from pact.pact import PactServer
from users_consumer.client import User, UserClient
from users_consumer.pact_builder import (
    CREATE_USER,
    DELETE_USER,
    GET_GENERATED_USER,
    GET_UNKNOWN_USER,
    GET_USER,
    PACT_FILE_NAME,
    build_pact,
    exercise,
    pact_output_dir,
    write_pacts,
)


@pytest.fixture(scope="module")
def passed_pacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Pact]]:
    """Collect the pacts whose interactions passed; write them into one file.

    A test appends its pact only after the mock server was satisfied, so a
    failing interaction never reaches the pact file.
    """
    pacts: list[Pact] = []
    yield pacts
    write_pacts(pacts, pact_output_dir(default=tmp_path_factory.mktemp("pacts")))


def _client(server: PactServer) -> UserClient:
    return UserClient(str(server.url))


def test_user_client_get_user_returns_user(passed_pacts: list[Pact]) -> None:
    pact = build_pact(GET_USER)

    with pact.serve(addr="127.0.0.1") as server:
        user = _client(server).get_user(123)
    passed_pacts.append(pact)

    assert user == User(
        id=123,
        name="Joyce Aguilar",
        created_on=datetime(2016, 12, 15, 20, 16, 1, tzinfo=UTC),
        admin=False,
    )


def test_user_client_get_user_returns_none_for_unknown_user(
    passed_pacts: list[Pact],
) -> None:
    pact = build_pact(GET_UNKNOWN_USER)

    with pact.serve(addr="127.0.0.1") as server:
        user = _client(server).get_user(123)
    passed_pacts.append(pact)

    assert user is None


def test_user_client_create_user_returns_created_user(
    passed_pacts: list[Pact],
) -> None:
    pact = build_pact(CREATE_USER)

    with pact.serve(addr="127.0.0.1") as server:
        user = _client(server).create_user("Verna Hampton")
    passed_pacts.append(pact)

    assert (user.id, user.name, user.admin) == (124, "Verna Hampton", False)
    assert user.created_on.utcoffset() is not None


def test_user_client_delete_user_sends_delete(passed_pacts: list[Pact]) -> None:
    pact = build_pact(DELETE_USER)

    with pact.serve(addr="127.0.0.1") as server:
        _client(server).delete_user(124)
        # delete_user returns nothing: what matters is the request it sent.
        assert server.matched
    passed_pacts.append(pact)


def test_user_client_get_user_by_provider_state_id(passed_pacts: list[Pact]) -> None:
    # The consumer test uses the example id 42; at verification the path comes
    # from the provider state's answer ({"user_id": ...}) instead.
    pact = build_pact(GET_GENERATED_USER)

    with pact.serve(addr="127.0.0.1") as server:
        user = _client(server).get_user(42)
    passed_pacts.append(pact)

    assert user is not None
    assert (user.id, user.name) == (42, "Ada Lovelace")


def test_exercise_returns_the_call_result() -> None:
    user = exercise(build_pact(GET_USER), lambda client: client.get_user(123))

    assert user is not None
    assert user.id == 123


def test_build_pact_rejects_unknown_description() -> None:
    with pytest.raises(ValueError, match="No interaction is described as 'nope'"):
        build_pact("nope")


def test_pact_output_dir_prefers_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PACT_OUTPUT_DIR", str(tmp_path))

    assert pact_output_dir(default=Path("elsewhere")) == tmp_path


def test_pact_output_dir_falls_back_to_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PACT_OUTPUT_DIR", raising=False)

    assert pact_output_dir(default=Path("elsewhere")) == Path("elsewhere")


def test_write_pacts_merges_into_one_sorted_file(tmp_path: Path) -> None:
    get_user, delete_user = build_pact(GET_USER), build_pact(DELETE_USER)
    exercise(delete_user, lambda client: client.delete_user(124))
    exercise(get_user, lambda client: client.get_user(123))

    write_pacts([delete_user, get_user], tmp_path)

    written = json.loads((tmp_path / PACT_FILE_NAME).read_text())
    descriptions = [i["description"] for i in written["interactions"]]
    assert descriptions == [GET_USER, DELETE_USER]


def test_exercise_fails_when_client_strays_from_pact() -> None:
    with pytest.raises(MismatchesError, match="/users/7"):
        exercise(build_pact(GET_USER), lambda client: client.get_user(7))
