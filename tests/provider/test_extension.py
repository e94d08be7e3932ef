"""PactStates as a Flask extension: init_app, config, test-only mounting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, request

from flask_pact_states import PactStates
from flask_pact_states.config import DEFAULTS
from flask_pact_states.errors import (
    DuplicateStateError,
    NotSetUpError,
    PactStatesNotEnabledError,
)
from flask_pact_states.provider.state import get_app_states


def make_app(**config: object) -> Flask:
    app = Flask("ext")
    app.config.update(config)
    return app


def test_init_app_refuses_non_testing_app() -> None:
    with pytest.raises(PactStatesNotEnabledError, match="TESTING = True"):
        PactStates(make_app())


def test_init_app_mounts_when_enabled_explicitly() -> None:
    app = make_app(PACT_STATES_ENABLED=True)
    PactStates(app)
    assert "pact_states" in app.blueprints
    get_app_states(app).close()


def test_init_app_twice_is_an_error() -> None:
    app = make_app(TESTING=True)
    states = PactStates(app)
    with pytest.raises(RuntimeError, match="already set up"):
        states.init_app(app)
    get_app_states(app).close()


def test_init_app_sets_config_defaults_without_overriding() -> None:
    app = make_app(TESTING=True, PACT_STATES_MISSING="warn")
    PactStates(app)
    assert app.config["PACT_STATES_MISSING"] == "warn"
    for key, value in DEFAULTS.items():
        if key != "PACT_STATES_MISSING":
            assert app.config[key] == value
    get_app_states(app).close()


def test_init_app_custom_url() -> None:
    app = make_app(TESTING=True, PACT_STATES_URL="/custom/states/")
    PactStates(app)
    response = app.test_client().post("/custom/states", json={"state": ""})
    assert response.status_code == 200
    get_app_states(app).close()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("PACT_STATES_MISSING", "explode", "'error' or 'warn'"),
        ("PACT_STATES_URL", "no-slash", "starting with '/'"),
        ("PACT_STATES_LOCK_TIMEOUT", -2, "PACT_STATES_LOCK_TIMEOUT must be a positive"),
        ("PACT_STATES_MAX_BODY", "1MB", "PACT_STATES_MAX_BODY must be a positive"),
        ("PACT_STATES_JOURNAL_SIZE", 0, "PACT_STATES_JOURNAL_SIZE must be a positive"),
        (
            "PACT_STATES_JOURNAL_SIZE",
            True,
            "PACT_STATES_JOURNAL_SIZE must be a positive",
        ),
    ],
)
def test_init_app_rejects_bad_config(key: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PactStates(make_app(TESTING=True, **{key: value}))


def test_one_extension_serves_several_apps() -> None:
    states = PactStates()
    calls: list[str] = []
    states.register("s")(lambda: calls.append("s"))
    first, second = make_app(TESTING=True), make_app(TESTING=True)
    states.init_app(first)
    states.init_app(second)
    for app in (first, second):
        assert (
            app.test_client()
            .post("/_pact/provider_states", json={"state": "s"})
            .status_code
            == 200
        )
    assert calls == ["s", "s"]
    assert len(states.journal(first)) == len(states.journal(second)) == 1
    for app in (first, second):
        get_app_states(app).close()


def test_register_returns_function_unchanged() -> None:
    states = PactStates()

    def handler() -> None: ...

    assert states.register("a", "b")(handler) is handler
    assert states.before_each(handler) is handler
    assert states.after_each(handler) is handler


def test_get_app_states_without_extension_says_how_to_add_it() -> None:
    with pytest.raises(RuntimeError, match=r"PactStates\(app\)"):
        get_app_states(make_app())


def test_reset_uses_current_app() -> None:
    app = make_app(TESTING=True)
    states = PactStates(app)
    with app.app_context():
        states.reset()
        assert states.journal() == []
    get_app_states(app).close()


def test_provider_request_answered_by_app_hook_still_ends_interaction() -> None:
    # An auth hook that answers before any view must not hide the provider
    # request: with teardown off, the next setup starts a new interaction.
    app = make_app(TESTING=True)

    @app.before_request
    def deny() -> tuple[str, int] | None:
        return ("no", 401) if request.path == "/secret" else None

    states = PactStates(app)
    undone: list[str] = []

    @states.register("a")
    def state_a() -> Iterator[None]:
        yield
        undone.append("a")

    @states.register("b")
    def state_b() -> None: ...

    client = app.test_client()
    client.post("/_pact/provider_states", json={"state": "a"})
    assert client.get("/secret").status_code == 401
    client.post("/_pact/provider_states", json={"state": "b"})
    assert undone == ["a"]
    get_app_states(app).close()


def test_reset_and_journal_use_the_one_app_outside_an_app_context() -> None:
    states = PactStates()
    seen: list[str] = []

    @states.register("a user exists")
    def user_exists() -> Iterator[None]:
        yield
        seen.append("undone")

    app = Flask("only")
    app.testing = True
    states.init_app(app)
    app.test_client().post("/_pact/provider_states", json={"state": "a user exists"})

    states.reset()

    assert seen == ["undone"]
    assert [record.state for record in states.journal()] == ["a user exists"]
    get_app_states(app).close()


def test_reset_outside_an_app_context_with_two_apps_asks_for_the_app() -> None:
    states = PactStates()
    apps = [Flask("first"), Flask("second")]
    for app in apps:
        app.testing = True
        states.init_app(app)

    with pytest.raises(NotSetUpError, match=r"set up on 2 apps.*states\.reset\(app\)"):
        states.reset()
    with pytest.raises(NotSetUpError, match="set up on no app"):
        PactStates().journal()
    for app in apps:
        get_app_states(app).close()


def test_register_module_registers_its_public_functions_by_name() -> None:
    import types

    module = types.ModuleType("legacy_states")
    exec(
        "from os.path import join\n"
        "def user_exists(): return {'id': 1}\n"
        "def no_orders_for_customer(customer=None): pass\n"
        "def _helper(): pass\n",
        module.__dict__,
    )
    states = PactStates()

    states.register_module(module)

    assert sorted(states.registry.known_names()) == [
        "no orders for customer",
        "user exists",
    ]
    with pytest.raises(DuplicateStateError, match="'user exists' is already"):
        states.register_module(module)
