"""The state table: templates, converters, scopes, precedence and binding."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from flask_pact_states.errors import (
    DuplicateStateError,
    StateBindingError,
    StateRegistrationError,
)
from flask_pact_states.provider.binding import bind_arguments
from flask_pact_states.provider.registry import (
    HandlerKind,
    StateRegistry,
)
from flask_pact_states.provider.stubs import handler_stub
from flask_pact_states.provider.templates import compile_template


def noop(**kwargs: Any) -> None:
    """A handler that accepts anything."""


def test_resolve_exact_name() -> None:
    registry = StateRegistry()
    registry.add(["a user exists"], noop)
    found = registry.resolve("a user exists")
    assert found is not None
    assert found.registered_name == "a user exists"
    assert found.captures == {}


def test_resolve_unknown_state_is_none() -> None:
    registry = StateRegistry()
    registry.add(["a user exists"], noop)
    assert registry.resolve("no user exists") is None


@pytest.mark.parametrize(
    ("template", "state", "captures"),
    [
        ("user {name} exists", "user Verna Hampton exists", {"name": "Verna Hampton"}),
        ("user {name:str} exists", "user x exists", {"name": "x"}),
        ("user {id:int} exists", "user 123 exists", {"id": 123}),
        ("user {id:int} exists", "user -7 exists", {"id": -7}),
        ("user {id:int} exists", "user +7 exists", {"id": 7}),
        ("price is {p:float}", "price is 2.5", {"p": 2.5}),
        ("price is {p:float}", "price is -3", {"p": -3.0}),
        ("price is {p:float}", "price is 1e3", {"p": 1000.0}),
        (
            "order {o:uuid}",
            "order 12345678-1234-5678-1234-567812345678",
            {"o": uuid.UUID("12345678-1234-5678-1234-567812345678")},
        ),
        ("{a} and {b}", "x and y and z", {"a": "x", "b": "y and z"}),
    ],
)
def test_resolve_template_converts_captures(
    template: str, state: str, captures: dict[str, Any]
) -> None:
    registry = StateRegistry()
    registry.add([template], noop)
    found = registry.resolve(state)
    assert found is not None
    assert dict(found.captures) == captures


@pytest.mark.parametrize(
    ("template", "state"),
    [
        ("user {id:int} exists", "user abc exists"),
        ("user {id:int} exists", "user 1.5 exists"),
        ("user {name} exists", "user  exists extra"),
        ("user {name} exists", "user exists"),
        ("price is {p:float}", "price is ."),
        ("order {o:uuid}", "order 1234"),
    ],
)
def test_resolve_template_rejects_non_matching_text(template: str, state: str) -> None:
    registry = StateRegistry()
    registry.add([template], noop)
    assert registry.resolve(state) is None


def test_resolve_template_text_itself_is_exact_match() -> None:
    # Real pacts use names such as "an order with ID {id} exists" with params.
    registry = StateRegistry()
    registry.add(["an order with ID {id} exists"], noop)
    found = registry.resolve("an order with ID {id} exists")
    assert found is not None
    assert found.captures == {}


def test_resolve_exact_name_wins_over_template() -> None:
    registry = StateRegistry()

    def template_handler(id: int) -> None: ...
    def exact_handler() -> None: ...

    registry.add(["user {id:int} exists"], template_handler)
    registry.add(["user 1 exists"], exact_handler)
    found = registry.resolve("user 1 exists")
    assert found is not None
    assert found.handler.func is exact_handler


def test_resolve_more_literal_template_wins_regardless_of_order() -> None:
    registry = StateRegistry()

    def general(**kwargs: Any) -> None: ...
    def specific(**kwargs: Any) -> None: ...

    registry.add(["{who} exists"], general)
    registry.add(["user {id} exists"], specific)
    found = registry.resolve("user 5 exists")
    assert found is not None
    assert found.handler.func is specific


def test_resolve_equal_templates_first_registered_wins() -> None:
    registry = StateRegistry()

    def first(**kwargs: Any) -> None: ...
    def second(**kwargs: Any) -> None: ...

    registry.add(["user {id:int} exists"], first)
    registry.add(["user {name} exists"], second)
    found = registry.resolve("user 5 exists")
    assert found is not None
    assert found.handler.func is first


def test_resolve_consumer_scope_wins_for_that_consumer() -> None:
    registry = StateRegistry()

    def shared() -> None: ...
    def web_only() -> None: ...

    registry.add(["a user exists"], shared)
    registry.add(["a user exists"], web_only, consumer="Web")
    web = registry.resolve("a user exists", "Web")
    other = registry.resolve("a user exists", "Mobile")
    unnamed = registry.resolve("a user exists")
    assert web is not None
    assert web.handler.func is web_only
    assert other is not None
    assert other.handler.func is shared
    assert unnamed is not None
    assert unnamed.handler.func is shared


def test_resolve_scoped_template_wins_over_unscoped_exact() -> None:
    registry = StateRegistry()

    def shared() -> None: ...
    def scoped(id: int) -> None: ...

    registry.add(["user 1 exists"], shared)
    registry.add(["user {id:int} exists"], scoped, consumer="Web")
    found = registry.resolve("user 1 exists", "Web")
    assert found is not None
    assert found.handler.func is scoped


def test_resolve_scoped_handler_hidden_from_other_consumers() -> None:
    registry = StateRegistry()
    registry.add(["only web"], noop, consumer="Web")
    assert registry.resolve("only web", "Mobile") is None
    assert registry.resolve("only web") is None


def test_add_several_names_share_one_handler() -> None:
    registry = StateRegistry()
    registry.add(["a", "b {x}"], noop)
    a, b = registry.resolve("a"), registry.resolve("b 1")
    assert a is not None
    assert b is not None
    assert a.handler is b.handler
    assert len(registry.handlers) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [("a user exists", "a user exists"), ("user {id} exists", "user {uid} exists")],
)
def test_add_duplicate_in_same_scope_is_an_error(first: str, second: str) -> None:
    registry = StateRegistry()
    registry.add([first], noop)
    with pytest.raises(DuplicateStateError, match="already registered"):
        registry.add([second], noop)


def test_add_same_name_in_other_scope_is_allowed() -> None:
    registry = StateRegistry()
    registry.add(["a"], noop)
    registry.add(["a"], noop, consumer="Web")
    registry.add(["a"], noop, consumer="Mobile")
    assert len(registry) == 3


def test_add_duplicate_failure_registers_nothing() -> None:
    registry = StateRegistry()
    registry.add(["b"], noop)
    with pytest.raises(DuplicateStateError):
        registry.add(["a", "b"], noop)
    assert registry.resolve("a") is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("user {id:bogus} exists", "Unknown converter 'bogus'"),
        ("user {params} exists", "reserved"),
        ("{a} and {a}", "appears twice"),
    ],
)
def test_add_bad_template_is_an_error(name: str, message: str) -> None:
    registry = StateRegistry()
    with pytest.raises(StateRegistrationError, match=message):
        registry.add([name], noop)


def test_add_capture_without_parameter_is_an_error() -> None:
    def handler(other: int) -> None: ...

    registry = StateRegistry()
    with pytest.raises(StateRegistrationError, match="no parameter 'user_id'"):
        registry.add(["user {user_id:int} exists"], handler)


def test_add_positional_only_parameter_is_an_error() -> None:
    def handler(x: int, /) -> None: ...

    with pytest.raises(StateRegistrationError, match="positional-only"):
        StateRegistry().add(["s"], handler)


@pytest.mark.parametrize("names", [[], [1], ["a", "a"]])
def test_add_bad_names_are_errors(names: list[Any]) -> None:
    with pytest.raises(StateRegistrationError):
        StateRegistry().add(names, noop)


def test_add_non_callable_is_an_error() -> None:
    with pytest.raises(StateRegistrationError, match="callable"):
        StateRegistry().add(["s"], "not a function")  # type: ignore[arg-type]


def test_compile_template_keeps_invalid_braces_literal() -> None:
    assert compile_template('a body {"json": 1}') is None
    assert compile_template("plain") is None


def test_handler_kind_detected() -> None:
    def function() -> None: ...

    async def coroutine() -> None: ...

    def generator() -> Any:
        yield

    async def async_generator() -> Any:
        yield

    registry = StateRegistry()
    kinds = {
        registry.add([func.__name__], func).kind
        for func in (function, coroutine, generator, async_generator)
    }
    assert kinds == set(HandlerKind)


def bind(func: Any, state: str, params: dict[str, Any], **kw: Any) -> dict[str, Any]:
    registry = StateRegistry()
    registry.add([kw.pop("name", state)], func)
    found = registry.resolve(state, kw.get("consumer"))
    assert found is not None
    return bind_arguments(found, params, state=state, consumer=kw.get("consumer"))


def test_bind_captures_and_params_by_keyword() -> None:
    def handler(user_id: int, name: str = "x") -> None: ...

    arguments = bind(
        handler,
        "user 5 exists",
        {"name": "Al", "extra": 1},
        name="user {user_id:int} exists",
    )
    assert arguments == {"user_id": 5, "name": "Al"}


def test_bind_param_wins_over_capture() -> None:
    def handler(user_id: int) -> None: ...

    arguments = bind(
        handler, "user 5 exists", {"user_id": 9}, name="user {user_id:int} exists"
    )
    assert arguments == {"user_id": 9}


def test_bind_var_keyword_gets_everything_but_reserved() -> None:
    def handler(**kwargs: Any) -> None: ...

    arguments = bind(handler, "s", {"a": 1, "state": "shadowed", "user-id": 2})
    assert arguments == {"a": 1, "user-id": 2}


def test_bind_reserved_names() -> None:
    def handler(params: dict[str, Any], state: str, consumer: str | None) -> None: ...

    arguments = bind(handler, "s", {"a": 1}, consumer=None)
    assert arguments == {"params": {"a": 1}, "state": "s", "consumer": None}


def test_bind_missing_required_argument_names_everything() -> None:
    def handler(user_id: int) -> None: ...

    with pytest.raises(
        StateBindingError, match=r"handler\(\) needs 'user_id'.*\{'x': 1\}"
    ):
        bind(handler, "s", {"x": 1})


def test_bind_default_used_when_nothing_supplies_it() -> None:
    def handler(name: str = "Verna Hampton") -> None: ...

    assert bind(handler, "s", {}) == {}


def test_close_matches_suggest_similar_names() -> None:
    registry = StateRegistry()
    registry.add(["user 123 exists", "an order exists"], noop)
    assert registry.close_matches("user 124 exists")[0] == "user 123 exists"
    assert registry.close_matches("something else entirely") == []


def test_known_names_lists_scoped_first() -> None:
    registry = StateRegistry()
    registry.add(["shared"], noop)
    registry.add(["mine"], noop, consumer="Web")
    assert registry.known_names("Web") == ["mine", "shared"]
    assert registry.known_names() == ["shared"]


def test_handler_stub_is_valid_python_with_params() -> None:
    stub = handler_stub("user 5 exists", {"id": 5, "user-name": "x"}, "Web")
    assert "@states.register('user 5 exists', consumer='Web')" in stub
    assert "def given_user_5_exists(id, params):" in stub
    compile(stub.replace("@states.register", "@print"), "<stub>", "exec")


@pytest.mark.parametrize(
    "params",
    [
        {"class": "admin", "id": 5},
        {"state": "active", "id": 5},
        {"params": [1, 2], "consumer": "x", "id": 5},
        {"user-name": "x", "lambda": 1},
    ],
)
def test_handler_stub_compiles_and_binds_every_param(params: dict[str, Any]) -> None:
    stub = handler_stub("user exists", params, None)
    registry = StateRegistry()
    namespace: dict[str, Any] = {}
    exec(stub.replace("@states.register('user exists')\n", ""), namespace)
    registry.add(["user exists"], namespace["given_user_exists"])
    match = registry.resolve("user exists")
    assert match is not None

    arguments = bind_arguments(match, params, state="user exists", consumer=None)

    reached = dict(arguments.get("params", {}))
    reached |= {k: v for k, v in arguments.items() if k != "params"}
    assert reached == params


def test_handler_location_points_at_definition() -> None:
    handler = StateRegistry().add(["s"], noop)
    assert handler.location.endswith(f"test_registry.py:{noop.__code__.co_firstlineno}")
    assert handler.qualname.endswith("test_registry.noop")


def test_resolve_among_many_templates_finds_the_right_one() -> None:
    registry = StateRegistry()
    for i in range(500):
        registry.add([f"thing {i} with {{x:int}} items"], noop)
        registry.add([f"thing {i} exists"], noop)
    found = registry.resolve("thing 321 with 7 items")
    assert found is not None
    assert found.registered_name == "thing 321 with {x:int} items"
    assert found.captures == {"x": 7}


@pytest.mark.parametrize(
    ("state", "params", "received"),
    [
        ("an order with ID 7 exists", {}, {"id": "7"}),
        ("an order with ID 7 exists", {"id": 7, "x": 1}, {"id": 7, "x": 1}),
    ],
)
def test_params_receives_the_captures_under_the_state_s_params(
    state: str, params: dict[str, Any], received: dict[str, Any]
) -> None:
    """PactNet-style names: the id in the name, in params, or both."""
    registry = StateRegistry()

    def order_exists(params: dict[str, Any]) -> None: ...

    registry.add(["an order with ID {id} exists"], order_exists)
    match = registry.resolve(state)
    assert match is not None

    arguments = bind_arguments(match, params, state=state, consumer=None)

    assert arguments == {"params": received}


def test_template_capture_reaching_no_parameter_is_refused() -> None:
    def no_room(other: int = 0) -> None: ...

    with pytest.raises(StateRegistrationError, match=r"no parameter 'id'.*params"):
        StateRegistry().add(["an order with ID {id} exists"], no_room)


def test_handler_ignored_lists_params_no_argument_receives() -> None:
    def declares(id: int) -> None: ...

    def takes_params(params: dict[str, Any]) -> None: ...

    registry = StateRegistry()
    handlers = [
        registry.add([name], func)
        for name, func in (("a", declares), ("b", takes_params), ("c", noop))
    ]

    assert [h.ignored({"id": 1, "status": "x"}) for h in handlers] == [
        ("status",),
        (),
        (),
    ]
