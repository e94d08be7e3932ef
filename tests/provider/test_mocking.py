"""mock_db, patch and override_config: dict semantics, targets, and undo inside
and outside a state."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from unittest.mock import MagicMock

import pytest
from flask import Flask, current_app, request
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_pact_states import (
    PactStates,
    active_patch_count,
    mock_db,
    override_config,
    patch,
    undo_patches,
)
from flask_pact_states.errors import MockTargetError

URL = "/_pact/provider_states"
FAKE_DB = "fps_fake.db.FAKE_DB"
VERNA = {"id": 124, "name": "Verna Hampton"}


class Mailer:
    def send(self, to: str, *, subject: str = "") -> bool:
        raise AssertionError("the real mailer must not run in tests")


class Session:
    """A real context manager (as a DB connection is)."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def query(self, sql: str) -> list[Any]:
        raise AssertionError("the real session must not run in tests")


RealMailer = Mailer


def lookup(user_id: int) -> str:
    return f"real user {user_id}"


@dataclass
class Holder:
    data: dict[str, int]


class FakeDbModule(types.ModuleType):
    """Stands for an app's ``myapp.db``: the app reads its globals at call time."""

    FAKE_DB: dict[int, Any]
    holder: Holder
    lookup: Callable[[int], str]
    Mailer: type[RealMailer]
    MAILER: RealMailer
    SESSION: Session


class FakePackage(types.ModuleType):
    __path__: list[str]
    db: FakeDbModule


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeDbModule:
    """The module ``fps_fake.db`` in package ``fps_fake``, importable by name."""
    package = FakePackage("fps_fake")
    package.__path__ = []
    module = FakeDbModule("fps_fake.db")
    module.FAKE_DB = {1: "real Ann"}
    module.holder = Holder({"real": 1})
    module.lookup = lookup
    module.Mailer = Mailer
    module.MAILER = Mailer()
    module.SESSION = Session()
    package.db = module
    monkeypatch.setitem(sys.modules, "fps_fake", package)
    monkeypatch.setitem(sys.modules, "fps_fake.db", module)
    return module


@pytest.fixture
def users_app(app: Flask, fake: FakeDbModule) -> Flask:
    """The routes of pact-python's classic Flask example, over ``FAKE_DB``."""

    @app.get("/users/<int:uid>")
    def get_user(uid: int) -> Any:
        user = fake.FAKE_DB.get(uid)
        if not user:
            return {"error": "User not found"}, 404
        return user

    @app.post("/users/")
    def create_user() -> Any:
        uid = len(fake.FAKE_DB)
        fake.FAKE_DB[uid] = {**request.get_json(), "id": uid}
        return fake.FAKE_DB[uid], 201

    @app.delete("/users/<int:uid>")
    def delete_user(uid: int) -> Any:
        if uid not in fake.FAKE_DB:
            return {"error": "User not found"}, 404
        del fake.FAKE_DB[uid]
        return "", 204

    @app.get("/config/<key>")
    def config_value(key: str) -> Any:
        return {"value": current_app.config.get(key)}

    @app.get("/session")
    def use_session() -> Any:
        # The app's own `with` on a patched object must not undo the patch.
        with fake.SESSION as session:
            rows = session.query("select 1")
        return {"rows": len(rows), "mocked": isinstance(fake.SESSION, MagicMock)}

    return app


def change(client: FlaskClient, action: str, state: str, **params: Any) -> TestResponse:
    body = {"action": action, "state": state, "params": params}
    return client.post(URL, json=body)


@pytest.fixture
def db(fake: FakeDbModule) -> Iterator[MagicMock]:
    """``mock_db`` over ``FAKE_DB`` outside a state, undone after the test."""
    original = fake.FAKE_DB
    with mock_db(FAKE_DB, {1: "Ann", 2: "Bob"}) as mocked:
        yield mocked
    assert fake.FAKE_DB is original


# dict semantics


def test_mock_db_replaces_target_and_returns_the_mock(
    fake: FakeDbModule, db: MagicMock
) -> None:
    assert fake.FAKE_DB is db
    assert isinstance(db, MagicMock)


def test_mock_db_reads_like_a_dict(db: MagicMock) -> None:
    assert db.get(1) == "Ann"
    assert db.get(3) is None
    assert db.get(3, "nobody") == "nobody"
    assert db[2] == "Bob"
    with pytest.raises(KeyError):
        db[3]
    assert 1 in db
    assert 3 not in db
    assert len(db) == 2
    assert bool(db)
    assert list(db) == list(db) == [1, 2]  # a fresh iterator each time
    assert list(db.keys()) == [1, 2]
    assert list(db.values()) == ["Ann", "Bob"]
    assert list(db.items()) == [(1, "Ann"), (2, "Bob")]
    assert db.copy() == {1: "Ann", 2: "Bob"}


def test_mock_db_writes_like_a_dict(db: MagicMock) -> None:
    db[3] = "Cy"
    assert db[3] == "Cy"
    del db[1]
    assert 1 not in db
    with pytest.raises(KeyError):
        del db[1]
    assert db.pop(2) == "Bob"
    assert db.pop(2, "gone") == "gone"
    with pytest.raises(KeyError):
        db.pop(2)
    assert db.setdefault(4, "Di") == "Di"
    assert db.setdefault(4, "other") == "Di"
    db.update({5: "Ed"}, six="Fay")
    assert dict(db.items()) == {3: "Cy", 4: "Di", 5: "Ed", "six": "Fay"}
    db.clear()
    assert len(db) == 0
    assert not db
    assert list(db) == []


def test_mock_db_works_on_a_copy_of_data(fake: FakeDbModule) -> None:
    data = {1: "Ann"}
    with mock_db(FAKE_DB, data) as db:
        db[2] = "Bob"
        del db[1]
    assert data == {1: "Ann"}


def test_mock_db_without_data_is_empty(fake: FakeDbModule) -> None:
    with mock_db(FAKE_DB) as db:
        assert len(db) == 0
        assert not db
        assert db.get(1) is None


def test_mock_db_records_calls(db: MagicMock) -> None:
    db[3] = "Cy"
    db.get(1)
    db.get(2)
    db.__setitem__.assert_called_once_with(3, "Cy")
    assert db.get.call_count == 2
    db.get.assert_called_with(2)
    assert 1 in db
    db.__contains__.assert_called_once_with(1)


def test_mock_db_configure_sets_attributes(fake: FakeDbModule) -> None:
    with mock_db(FAKE_DB, {1: "Ann"}, is_mocked=True) as db:
        assert db.is_mocked is True
        assert db[1] == "Ann"


@pytest.mark.parametrize(
    ("configure", "check"),
    [
        ({"__len__.return_value": 124}, lambda db: len(db) == 124),
        ({"get.return_value": "X"}, lambda db: db.get(1) == "X" == db.get(99)),
        ({"__getitem__.return_value": "X"}, lambda db: db[99] == "X"),
        ({"__contains__.return_value": True}, lambda db: 99 in db),
        ({"keys.return_value": ["k"]}, lambda db: db.keys() == ["k"]),
        ({"__iter__.return_value": ["k"]}, lambda db: list(db) == ["k"] == list(db)),
        ({"get.side_effect": KeyError("no")}, lambda db: _raises(db.get, KeyError)),
    ],
    ids=["len", "get", "getitem", "contains", "keys", "iter", "side_effect"],
)
def test_mock_db_configure_wins_over_dict_behaviour(
    fake: FakeDbModule, configure: dict[str, Any], check: Callable[[Any], bool]
) -> None:
    with mock_db(FAKE_DB, {1: "Ann"}, **configure) as db:
        assert check(db)
        # The other mapping methods keep their dict behaviour.
        db[2] = "Bob"
        assert list(db.values())[-1] == "Bob"


def _raises(func: Callable[..., Any], error: type[BaseException]) -> bool:
    with pytest.raises(error):
        func(1)
    return True


# the classic pact-python Flask example's four states, one or two lines each


def register_classic_states(states: PactStates) -> None:
    @states.register("user 123 exists")
    def user_123_exists() -> None:
        mock_db(FAKE_DB, {123: {"id": 123, "name": "Verna Hampton"}})

    @states.register("user 123 doesn't exist")
    def user_123_does_not_exist() -> None:
        mock_db(FAKE_DB)

    @states.register("create user 124")
    def create_user_124() -> None:
        mock_db(FAKE_DB, **{"__len__.return_value": 124})

    @states.register("delete the user 124")
    def delete_user_124() -> None:
        mock_db(FAKE_DB, {124: VERNA})


def test_mock_db_classic_example_user_exists(
    states: PactStates, users_app: Flask, client: FlaskClient, fake: FakeDbModule
) -> None:
    register_classic_states(states)
    original = fake.FAKE_DB
    assert change(client, "setup", "user 123 exists").status_code == 200
    response = client.get("/users/123")
    assert response.status_code == 200
    assert response.get_json()["name"] == "Verna Hampton"
    fake.FAKE_DB.get.assert_called_once_with(123)  # type: ignore[attr-defined]
    assert change(client, "teardown", "user 123 exists").status_code == 200
    assert fake.FAKE_DB is original
    assert active_patch_count() == 0


def test_mock_db_classic_example_user_does_not_exist(
    states: PactStates, users_app: Flask, client: FlaskClient, fake: FakeDbModule
) -> None:
    register_classic_states(states)
    change(client, "setup", "user 123 doesn't exist")
    assert client.get("/users/123").status_code == 404
    assert client.get("/users/1").status_code == 404  # the real Ann is hidden
    change(client, "teardown", "user 123 doesn't exist")
    assert fake.FAKE_DB == {1: "real Ann"}


def test_mock_db_classic_example_create_user(
    states: PactStates, users_app: Flask, client: FlaskClient, fake: FakeDbModule
) -> None:
    register_classic_states(states)
    change(client, "setup", "create user 124")
    response = client.post("/users/", json={"name": "Verna Hampton"})
    assert response.status_code == 201
    assert response.get_json() == VERNA
    fake.FAKE_DB.__setitem__.assert_called_once()  # type: ignore[attr-defined]
    change(client, "teardown", "create user 124")
    assert fake.FAKE_DB == {1: "real Ann"}


def test_mock_db_classic_example_delete_user(
    states: PactStates, users_app: Flask, client: FlaskClient, fake: FakeDbModule
) -> None:
    register_classic_states(states)
    change(client, "setup", "delete the user 124")
    assert client.delete("/users/124").status_code == 204
    assert client.delete("/users/124").status_code == 404
    fake.FAKE_DB.__delitem__.assert_called_once_with(124)  # type: ignore[attr-defined]
    change(client, "teardown", "delete the user 124")
    assert fake.FAKE_DB == {1: "real Ann"}


# targets


@pytest.mark.parametrize(
    "target",
    ["fps_fake.db.FAKE_DB", "fps_fake.db:FAKE_DB", "fps_fake:db.FAKE_DB"],
)
def test_mock_db_target_as_dotted_name(fake: FakeDbModule, target: str) -> None:
    original = fake.FAKE_DB
    with mock_db(target, {7: "Gil"}) as db:
        assert fake.FAKE_DB is db
        assert fake.FAKE_DB[7] == "Gil"
    assert fake.FAKE_DB is original


def test_mock_db_target_as_attribute_path(fake: FakeDbModule) -> None:
    original = fake.holder.data
    with mock_db("fps_fake.db:holder.data", {"mocked": 2}) as db:
        assert fake.holder.data is db
        assert fake.holder.data["mocked"] == 2
    assert fake.holder.data is original


def test_mock_db_target_as_pair(fake: FakeDbModule) -> None:
    original = fake.FAKE_DB
    with mock_db((fake, "FAKE_DB"), {7: "Gil"}) as db:
        assert fake.FAKE_DB is db
    assert fake.FAKE_DB is original


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("fps_nowhere.db.FAKE_DB", r"'fps_nowhere\.db\.FAKE_DB'.*'fps_nowhere\.db'"),
        ("fps_nowhere:FAKE_DB", r"'fps_nowhere:FAKE_DB'.*not found"),
        ("fps_fake.db.NOPE", r"'fps_fake\.db\.NOPE'.*no attribute 'NOPE'"),
        ("fps_fake.db:NOPE", r"'fps_fake\.db:NOPE'.*no attribute 'NOPE'"),
        ("fps_fake.db:holder.nope", r"'fps_fake\.db:holder\.nope'.*'nope'"),
        ("FAKE_DB", r"'FAKE_DB'.*name the module"),
        (".FAKE_DB", r"'\.FAKE_DB'.*name the module"),
    ],
)
def test_mock_db_bad_target_names_it(
    fake: FakeDbModule, target: str, message: str
) -> None:
    with pytest.raises(MockTargetError, match=message):
        mock_db(target)
    assert active_patch_count() == 0


@pytest.mark.parametrize(
    "target",
    [(object(),), (object(), 1), (object(), "a", "b")],
    ids=["short", "not-str", "long"],
)
def test_mock_db_bad_pair_names_it(target: Any) -> None:
    with pytest.raises(MockTargetError, match=r"\(object, 'attribute'\)"):
        mock_db(target)


def test_mock_db_pair_with_missing_attribute_names_it(fake: FakeDbModule) -> None:
    with pytest.raises(MockTargetError, match="no attribute 'NOPE'"):
        mock_db((fake, "NOPE"))


def test_mock_db_target_of_wrong_type_names_it() -> None:
    with pytest.raises(MockTargetError, match="got 42"):
        mock_db(42)  # type: ignore[arg-type]


def test_mock_db_is_a_lookup_error(fake: FakeDbModule) -> None:
    with pytest.raises(LookupError):
        mock_db("fps_fake.db.NOPE")


# patch


def test_patch_replaces_with_new(fake: FakeDbModule) -> None:
    replacement = object()
    assert patch("fps_fake.db.MAILER", replacement) is replacement
    assert fake.MAILER is replacement
    undo_patches()
    assert isinstance(fake.MAILER, Mailer)


def test_patch_with_new_mock_is_a_context_manager(fake: FakeDbModule) -> None:
    original = fake.MAILER
    with patch("fps_fake.db.MAILER", MagicMock()) as mailer:
        assert fake.MAILER is mailer
    assert fake.MAILER is original


def test_patch_autospec_function_checks_signature(fake: FakeDbModule) -> None:
    fake_lookup = patch("fps_fake.db.lookup", return_value="mocked")
    assert fake.lookup(1) == "mocked"
    with pytest.raises(TypeError):
        fake.lookup(1, 2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        fake.lookup(user=1)  # type: ignore[call-arg]
    assert fake.lookup is fake_lookup
    undo_patches()
    assert fake.lookup is lookup


def test_patch_autospec_instance_checks_methods(fake: FakeDbModule) -> None:
    original = fake.MAILER
    mailer = patch("fps_fake.db.MAILER")
    mailer.send.return_value = True
    assert fake.MAILER.send("a@b.c", subject="hi") is True
    with pytest.raises(TypeError):
        fake.MAILER.send()  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        fake.MAILER.receive  # type: ignore[attr-defined]  # noqa: B018
    undo_patches()
    assert fake.MAILER is original


def test_patch_autospec_of_a_context_manager_is_one(fake: FakeDbModule) -> None:
    original = fake.SESSION
    with patch("fps_fake.db.SESSION") as session:
        session.query.return_value = []
        assert fake.SESSION.query("select 1") == []
        assert fake.SESSION is session
    assert fake.SESSION is original


def test_patch_autospec_class_without_with_support(fake: FakeDbModule) -> None:
    # Mailer has no __enter__: its autospec cannot be a context manager, and
    # patching it must still work (lasting until undo_patches()).
    mailer_class = patch("fps_fake.db.Mailer")
    fake.Mailer().send("a@b.c")
    with pytest.raises(TypeError):
        fake.Mailer().send()  # type: ignore[call-arg]
    assert fake.Mailer is mailer_class
    undo_patches()
    assert fake.Mailer is Mailer


def test_patch_autospec_of_a_mock_names_the_target(fake: FakeDbModule) -> None:
    original = fake.SESSION
    with patch("fps_fake.db.SESSION"):
        with pytest.raises(MockTargetError, match=r"'fps_fake\.db\.SESSION'.*mock"):
            patch("fps_fake.db.SESSION")
        assert active_patch_count() == 1
        # An explicit replacement still layers over it.
        with patch("fps_fake.db.SESSION", MagicMock()):
            assert active_patch_count() == 2
    assert fake.SESSION is original


def test_patch_configure_needs_no_new(fake: FakeDbModule) -> None:
    with pytest.raises(TypeError, match="only when it creates the mock"):
        patch("fps_fake.db.MAILER", MagicMock(), return_value=1)
    assert active_patch_count() == 0


def test_patch_bad_target_names_it(fake: FakeDbModule) -> None:
    with pytest.raises(MockTargetError, match=r"'fps_fake\.db\.nope'"):
        patch("fps_fake.db.nope")
    with pytest.raises(MockTargetError, match=r"'fps_fake\.db\.nope'"):
        patch("fps_fake.db.nope", object())


# inside a state


def test_patch_in_state_keeps_the_mocks_own_with(
    states: PactStates, users_app: Flask, client: FlaskClient, fake: FakeDbModule
) -> None:
    original = fake.SESSION

    @states.register("a session")
    def a_session() -> None:
        session = patch("fps_fake.db.SESSION", MagicMock())
        session.__enter__.return_value.query.return_value = [1, 2]

    change(client, "setup", "a session")
    assert client.get("/session").get_json() == {"rows": 2, "mocked": True}
    assert client.get("/session").get_json() == {"rows": 2, "mocked": True}
    assert active_patch_count() == 1
    change(client, "teardown", "a session")
    assert fake.SESSION is original
    assert active_patch_count() == 0


def test_patch_autospec_class_in_state(
    states: PactStates, app: Flask, client: FlaskClient, fake: FakeDbModule
) -> None:
    @states.register("no mail")
    def no_mail() -> None:
        patch("fps_fake.db.Mailer")
        patch("fps_fake.db.SESSION")

    assert change(client, "setup", "no mail").status_code == 200
    assert isinstance(fake.Mailer, MagicMock)
    change(client, "teardown", "no mail")
    assert fake.Mailer is Mailer
    assert active_patch_count() == 0


def test_override_config_in_state_is_undone_at_teardown(
    states: PactStates, users_app: Flask, client: FlaskClient
) -> None:
    users_app.config["FEATURE"] = "off"

    @states.register("feature on")
    def feature_on() -> None:
        override_config(FEATURE="on", NEW_KEY=1)

    @states.register("feature from mapping")
    def feature_from_mapping() -> None:
        override_config({"FEATURE": "mapped"})

    change(client, "setup", "feature on")
    assert client.get("/config/FEATURE").get_json() == {"value": "on"}
    assert client.get("/config/NEW_KEY").get_json() == {"value": 1}
    change(client, "teardown", "feature on")
    assert users_app.config["FEATURE"] == "off"
    assert "NEW_KEY" not in users_app.config
    change(client, "setup", "feature from mapping")
    assert client.get("/config/FEATURE").get_json() == {"value": "mapped"}
    change(client, "teardown", "feature from mapping")
    assert users_app.config["FEATURE"] == "off"
    assert active_patch_count() == 0


def test_mock_db_in_state_is_undone_at_teardown(
    states: PactStates, app: Flask, client: FlaskClient, fake: FakeDbModule
) -> None:
    original = fake.FAKE_DB
    mocks: list[MagicMock] = []

    @states.register("two patches")
    def two_patches() -> None:
        mocks.append(mock_db(FAKE_DB, {1: "mocked"}))
        mocks.append(mock_db("fps_fake.db:holder.data"))

    change(client, "setup", "two patches")
    assert fake.FAKE_DB is mocks[0]
    assert fake.holder.data is mocks[1]
    assert active_patch_count() == 2
    change(client, "teardown", "two patches")
    assert fake.FAKE_DB is original
    assert fake.holder.data == {"real": 1}
    assert active_patch_count() == 0


def test_mock_db_bad_target_in_state_is_422_naming_it(
    states: PactStates, app: Flask, client: FlaskClient
) -> None:
    @states.register("typo")
    def typo() -> None:
        mock_db("fps_fake.db.FAKE_DBB")

    response = change(client, "setup", "typo")
    assert response.status_code == 422
    assert "fps_fake" in response.get_json()["message"]
    assert response.get_json()["exception"]["type"] == "MockTargetError"


# outside a state


def test_mock_db_with_block_restores_the_original(fake: FakeDbModule) -> None:
    original = fake.FAKE_DB
    with mock_db(FAKE_DB, {1: "x"}) as db:
        assert fake.FAKE_DB is db
        assert active_patch_count() == 1
    assert fake.FAKE_DB is original
    assert active_patch_count() == 0


def test_mock_db_with_block_undoes_on_error(fake: FakeDbModule) -> None:
    original = fake.FAKE_DB
    with pytest.raises(RuntimeError, match="inside"), mock_db(FAKE_DB):
        raise RuntimeError("inside")
    assert fake.FAKE_DB is original


def test_mock_db_without_with_lasts_until_undo_patches(fake: FakeDbModule) -> None:
    original = fake.FAKE_DB
    db = mock_db(FAKE_DB, {1: "x"})
    assert fake.FAKE_DB is db
    assert active_patch_count() == 1
    undo_patches()
    assert fake.FAKE_DB is original
    assert active_patch_count() == 0
    undo_patches()  # a second call is harmless
    assert fake.FAKE_DB is original


def test_mock_db_nested_patches_of_one_target_unwind(fake: FakeDbModule) -> None:
    original = fake.FAKE_DB
    with mock_db(FAKE_DB, {1: "outer"}) as outer:
        with mock_db(FAKE_DB, {1: "inner"}) as inner:
            assert fake.FAKE_DB is inner
            assert active_patch_count() == 2
        assert fake.FAKE_DB is outer
    assert fake.FAKE_DB is original


def test_mock_db_undo_patches_unwinds_in_reverse(fake: FakeDbModule) -> None:
    original = fake.FAKE_DB
    mock_db(FAKE_DB)
    mock_db(FAKE_DB)
    mock_db((fake, "holder"))
    assert active_patch_count() == 3
    undo_patches()
    assert fake.FAKE_DB is original
    assert isinstance(fake.holder, Holder)
    assert active_patch_count() == 0


def test_mock_db_with_block_then_undo_patches_is_harmless(fake: FakeDbModule) -> None:
    original = fake.FAKE_DB
    with mock_db(FAKE_DB):
        pass
    replacement = mock_db(FAKE_DB)
    undo_patches()
    assert fake.FAKE_DB is original
    assert fake.FAKE_DB is not replacement


def test_override_config_outside_state_as_context_manager(app: Flask) -> None:
    app.config["FEATURE"] = "off"
    with app.app_context():
        with override_config(FEATURE="on"):
            assert current_app.config["FEATURE"] == "on"
            assert active_patch_count() == 1
        assert app.config["FEATURE"] == "off"
        override_config({"FEATURE": "on"})
        assert app.config["FEATURE"] == "on"
        undo_patches()
    assert app.config["FEATURE"] == "off"
    assert active_patch_count() == 0


def test_override_config_needs_an_app_context() -> None:
    with pytest.raises(RuntimeError, match="application context"):
        override_config(FEATURE="on")
    assert active_patch_count() == 0


def test_active_patch_count_counts_every_helper(app: Flask, fake: FakeDbModule) -> None:
    assert active_patch_count() == 0
    mock_db(FAKE_DB)
    patch("fps_fake.db.lookup")
    patch("fps_fake.db.MAILER", MagicMock())
    with app.app_context():
        override_config(X=1)
    assert active_patch_count() == 4
    undo_patches()
    assert active_patch_count() == 0
