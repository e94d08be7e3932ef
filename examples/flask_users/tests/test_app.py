"""The provider app on its own, with ``users_provider.db.FAKE_DB`` patched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from users_provider import db
from users_provider.app import create_app

CREATED = datetime(2016, 12, 15, 20, 16, 1, tzinfo=UTC)


@pytest.fixture
def users(monkeypatch: pytest.MonkeyPatch) -> dict[int, db.User]:
    """A fresh database swapped in the way provider states do it."""
    fake = {123: db.User(id=123, name="Joyce Aguilar", created_on=CREATED)}
    monkeypatch.setattr(db, "FAKE_DB", fake)
    return fake


@pytest.fixture
def client(users: dict[int, db.User]) -> Iterator[FlaskClient]:
    app = create_app({"TESTING": True})
    with app.test_client() as client:
        yield client


def test_create_app_applies_config() -> None:
    app = create_app({"TESTING": True, "SOMETHING": 1})

    assert app.testing
    assert app.config["SOMETHING"] == 1


def test_get_user_returns_patched_user(client: FlaskClient) -> None:
    response = client.get("/users/123")

    assert response.status_code == 200
    assert response.json == {
        "id": 123,
        "name": "Joyce Aguilar",
        "created_on": "2016-12-15T20:16:01+00:00",
        "admin": False,
    }


def test_get_user_missing_is_json_404(client: FlaskClient) -> None:
    response = client.get("/users/9")

    assert response.status_code == 404
    assert response.json == {"error": "User 9 does not exist."}


def test_create_user_takes_next_id(
    client: FlaskClient, users: dict[int, db.User]
) -> None:
    response = client.post("/users", json={"name": "Verna Hampton"})

    assert response.status_code == 201
    assert response.headers["Location"] == "/users/124"
    body = response.json
    assert body is not None
    assert (body["id"], body["name"], body["admin"]) == (124, "Verna Hampton", False)
    assert datetime.fromisoformat(body["created_on"]).utcoffset() is not None
    assert users[124].name == "Verna Hampton"


def test_create_user_takes_given_id(
    client: FlaskClient, users: dict[int, db.User]
) -> None:
    response = client.post("/users", json={"id": 7, "name": "Ada", "admin": True})

    assert response.status_code == 201
    assert users[7].admin is True


def test_create_user_starts_at_one_when_empty(
    client: FlaskClient, users: dict[int, db.User]
) -> None:
    users.clear()

    response = client.post("/users", json={"name": "First"})

    assert response.status_code == 201
    assert list(users) == [1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1], "must be a JSON object"),
        ({}, "'name' must be a non-empty string"),
        ({"name": ""}, "'name' must be a non-empty string"),
        ({"name": "A", "admin": "yes"}, "'admin' must be true or false"),
        ({"name": "A", "id": "5"}, "'id' must be a positive integer"),
        ({"name": "A", "id": True}, "'id' must be a positive integer"),
        ({"name": "A", "id": 0}, "'id' must be a positive integer"),
    ],
)
def test_create_user_rejects_bad_body(
    client: FlaskClient, body: object, message: str
) -> None:
    response = client.post("/users", json=body)

    assert response.status_code == 400
    assert response.json is not None
    assert message in response.json["error"]


def test_create_user_rejects_non_json(client: FlaskClient) -> None:
    response = client.post("/users", data="name=A")

    assert response.status_code == 400


def test_create_user_existing_id_conflicts(client: FlaskClient) -> None:
    response = client.post("/users", json={"id": 123, "name": "Again"})

    assert response.status_code == 409
    assert response.json == {"error": "User 123 already exists."}


def test_delete_user_removes_user(
    client: FlaskClient, users: dict[int, db.User]
) -> None:
    response = client.delete("/users/123")

    assert response.status_code == 204
    assert response.data == b""
    assert users == {}


def test_delete_user_missing_is_json_404(client: FlaskClient) -> None:
    response = client.delete("/users/9")

    assert response.status_code == 404
    assert response.json == {"error": "User 9 does not exist."}
