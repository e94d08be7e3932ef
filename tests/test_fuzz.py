"""Property-based fuzzing of the state-change endpoint and its wire parser.

What it proves: whatever arrives at ``POST /_pact/provider_states`` in any
verifier's format (Rust body and query mode, old Ruby, pact-jvm, pactman) or in
no format at all (arbitrary bytes, invalid UTF-8, truncated or deeply nested
JSON, huge strings, NaN, wrong content types and lengths, odd query strings,
unknown actions, any JSON value in any field), the answer is a 2xx or 4xx
strict-JSON object (4xx ones with a ``message``), never a 5xx that the verifier
would retry for two minutes; after a reset no patch is active; ``/ping`` still
answers; and the ``mock_db`` handlers registered beside the garbage still set
up and undo their patches afterwards.

Counts per run (fixed by ``max_examples``, checked by
:func:`test_fuzz_totals`): 2,100 generated requests through the Flask test
client (Rust body 450, Rust query 450, Ruby 250, pact-jvm 250, pactman 300, raw
bodies 400), each after an optional valid setup so garbage also lands in the
middle of an interaction; plus 2,000 inputs straight into
:func:`~flask_pact_states.wire.parse_state_changes` (1,200 garbage, 800 valid
round trips).
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote_from_bytes

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from serving_helpers import DB, ORIGINAL_ORDERS, ORIGINAL_USERS
from werkzeug.test import TestResponse

from flask_pact_states import PactStates, active_patch_count, mock_db
from flask_pact_states.provider.wire import (
    ACTIONS,
    MalformedStateChange,
    StateChange,
    parse_state_changes,
)

URL: Final = "/_pact/provider_states"

#: Requests sent per fuzz test, and the statuses they got, for the totals.
SENT: Counter[str] = Counter()
STATUSES: Counter[tuple[str, int]] = Counter()
PARSED: Counter[str] = Counter()
REFUSED: Counter[str] = Counter()
ENDPOINT_EXAMPLES: Final = {
    "rust-body": 450,
    "rust-query": 450,
    "ruby": 250,
    "pact-jvm": 250,
    "pactman": 300,
    "raw": 400,
}
PARSER_EXAMPLES: Final = {"garbage": 1200, "round-trip": 800}


def fuzz_settings(max_examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- strategies ---------------------------------------------------------------

#: Any code point, lone surrogates included (JSON can carry them as \\ud800).
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
HUGE_PIECES: Final = ["x", "é", "\u2603", "\U0001f600", "\\", '"', "\x00", "{", "%"]


def huge(low: int, high: int) -> st.SearchStrategy[str]:
    """One character or two repeated ``low`` to ``high`` times."""
    pieces = st.one_of(st.sampled_from(HUGE_PIECES), any_text.filter(bool))
    return st.builds(lambda piece, count: piece * count, pieces, st.integers(low, high))


def mostly_short(rare: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Short text, and one time in ten ``rare``."""
    return st.integers(0, 9).flatmap(lambda n: rare if n == 0 else any_text)


texts = mostly_short(huge(10_000, 200_000))
#: HTTP servers refuse request lines over 64 KiB, so query values stay below.
query_texts = mostly_short(huge(1_000, 6_000))
# NaN and infinities too: json.dumps writes them as bare NaN/Infinity tokens.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), texts, st.just(2**70)
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(any_text, children, max_size=4),
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(any_text, json_values, max_size=5)
finite_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63),
        st.floats(allow_nan=False, allow_infinity=False),
        any_text,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(any_text, children, max_size=3),
    ),
    max_leaves=8,
)

REGISTERED: Final = [
    "",
    "a user exists",
    "user 5 exists",
    "user -12 exists",
    "user x exists",
    "order 8c6b8e1e-2f1b-4a5e-9a53-7f7c3c1d2e4f at 9.5",
    "echo",
    "generator state",
    "async state",
    "needs arg",
    "raises",
    "os.system",
    "__import__",
]
states_names = st.one_of(st.sampled_from(REGISTERED), texts)
actions = st.sampled_from(sorted(ACTIONS))
consumers = st.sampled_from(["Web", "", "Mobile"])


_ABSENT: Final = object()


def field_value(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid three times in five, else garbage or ``_ABSENT`` (left out)."""
    return st.integers(0, 4).flatmap(
        lambda n: st.just(_ABSENT) if n == 0 else json_values if n == 1 else valid
    )


@st.composite
def documents(draw: st.DrawFn, fields: Mapping[str, st.SearchStrategy[Any]]) -> Any:
    """A JSON object with each of ``fields`` valid, garbage or absent."""
    document = {
        name: value
        for name, strategy in fields.items()
        if (value := draw(field_value(strategy))) is not _ABSENT
    }
    document.update(draw(st.dictionaries(any_text, json_values, max_size=2)))
    return document


rust_bodies = documents(
    {"action": actions, "params": json_objects, "state": states_names}
)
ruby_bodies = documents(
    {
        "consumer": consumers,
        "state": states_names,
        "states": st.lists(states_names, max_size=3),
        "params": json_objects,
    }
)
jvm_bodies = documents(
    {"state": states_names, "params": json_objects, "action": st.just("teardown")}
)
pactman_entries = documents({"name": states_names, "params": json_objects})
pactman_bodies = st.one_of(
    documents({"provider": any_text, "consumer": consumers, "state": states_names}),
    documents(
        {
            "provider": any_text,
            "consumer": consumers,
            "states": st.lists(st.one_of(pactman_entries, json_values), max_size=4),
        }
    ),
)

CONTENT_TYPES: Final = [
    None,
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "garbage/\x7f;;;=",
]
# Newlines would split the header: the test client refuses them itself.
header_text = st.text(
    st.characters(exclude_categories=(), exclude_characters="\r\n"), max_size=40
)
content_types = st.one_of(st.sampled_from(CONTENT_TYPES), header_text)


def _query_piece(value: bytes) -> str:
    return quote_from_bytes(value, safe="")


query_values = st.one_of(
    st.binary(max_size=30),
    st.sampled_from(
        [b"setup", b"teardown", b"NaN", b"-Infinity", b"1e999", b"9" * 5000]
    ),
    st.builds(lambda value: json.dumps(value).encode(), finite_json),
    st.builds(lambda text: text.encode("utf-8", "surrogatepass"), query_texts),
)
query_keys = st.one_of(
    st.sampled_from([b"state", b"action", b"consumer", b"params", b""]),
    st.binary(max_size=10),
)
ODD_QUERY_PIECES: Final = ["&&", "=", "==", "%", "%zz", "+", ";", "&=&", "%00", "a"]


@st.composite
def query_strings(draw: st.DrawFn) -> str:
    """A query string mixing encoded pairs with raw oddities."""
    pieces = [
        f"{_query_piece(key)}={_query_piece(value)}"
        for key, value in draw(
            st.lists(st.tuples(query_keys, query_values), max_size=6)
        )
    ]
    if draw(st.integers(0, 4)):  # a state four times in five
        names = st.sampled_from(REGISTERED).map(str.encode)
        pieces.insert(0, "state=" + _query_piece(draw(st.one_of(names, query_values))))
    pieces += draw(st.lists(st.sampled_from(ODD_QUERY_PIECES), max_size=3))
    order = draw(st.permutations(pieces))
    return "&".join(order)


def _nested(depth: int, opener: bytes) -> bytes:
    closer = b"]" if opener == b"[" else b"}"
    inner = b"[" * depth + b"]" * depth
    if opener == b"{":
        inner = b'{"a":' * depth + b"1" + closer * depth
    return b'{"state":"echo","params":{"deep":' + inner + b"}}"


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.binary(min_size=1, max_size=8).map(lambda b: b"\xff\xfe" + b),
    st.sampled_from(
        [
            b"",
            b"   \n\t",
            b"null",
            b"[]",
            b'"state"',
            b"1e999",
            b"{",
            b'{"state":',
            b'{"state":"echo"',
            b'\xef\xbb\xbf{"state":"echo"}',
            b'{"state":"echo","params":{"n":NaN}}',
            b'{"state":"echo","params":{"n":Infinity}}',
            b'{"state":"echo","params":{"n":-1e999}}',
            b'{"state":"echo","params":{"n":' + b"9" * 5000 + b"}}",
            b'{"state":"\\ud800"}',
            b'{"state":"\xc3\x28"}',
            b'{"state":"echo","state":"raises"}',
            b'{"state":"echo"}\x00',
            b"[" * 100_000,
            b'{"a":' * 50_000,
        ]
    ),
    st.builds(_nested, st.integers(1, 3000), st.sampled_from([b"[", b"{"])),
    st.builds(lambda value: json.dumps(value).encode(), json_values),
    st.builds(
        lambda value, cut: json.dumps(value).encode()[:cut],
        json_objects,
        st.integers(0, 50),
    ),
)
CONTENT_LENGTHS: Final = [None, "0", "-1", "abc", "99999999999", "+5", " 3 "]


# -- sending and checking -----------------------------------------------------


@dataclass
class Fuzzed:
    """One generated request."""

    body: bytes = b""
    query: str = ""
    content_type: str | None = None
    content_length: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _strict_constant(name: str) -> Any:
    raise ValueError(f"answer is not strict JSON: {name}")


def check_answer(response: TestResponse) -> None:
    """The property every answer must have."""
    status = response.status_code
    assert 200 <= status < 300 or 400 <= status < 500, status
    assert response.mimetype == "application/json", response.data[:200]
    # Strict: a NaN or Infinity would break the Rust verifier's JSON parser.
    body = json.loads(response.get_data(), parse_constant=_strict_constant)
    assert isinstance(body, dict)
    if status >= 400:
        assert isinstance(body.get("message"), str)
        assert body["message"]


def send(client: FlaskClient, kind: str, request: Fuzzed) -> TestResponse:
    environ: dict[str, Any] = {}
    if request.content_length is not None:
        environ["CONTENT_LENGTH"] = request.content_length
    response = client.post(
        URL,
        data=request.body,
        query_string=request.query,
        content_type=request.content_type,
        headers=request.headers,
        environ_overrides=environ,
    )
    SENT[kind] += 1
    STATUSES[kind, response.status_code] += 1
    check_answer(response)
    return response


def register_handlers(states: PactStates) -> None:
    """Handlers covering every kind, several patching ``DB`` with mock_db."""

    @states.register("a user exists")
    def a_user_exists() -> None:
        mock_db((DB, "users"), {1: "Al"})

    @states.register("a user exists", consumer="Web")
    def a_web_user_exists() -> None:
        mock_db((DB, "users"), {1: "Web Al"})

    @states.register("user {user_id:int} exists")
    def user_exists(user_id: int, name: str = "Verna") -> dict[str, Any]:
        mock_db((DB, "users"), {user_id: name})
        return {"user_id": user_id}

    @states.register("order {order_id:uuid} at {price:float}")
    def order_at(order_id: Any, price: float) -> dict[str, str]:
        mock_db((DB, "orders"), {str(order_id): price})
        return {"order_id": str(order_id)}

    @states.register("echo")
    def echo(params: dict[str, Any]) -> dict[str, Any]:
        return params

    @states.register("generator state")
    def generator_state(**params: Any) -> Iterator[dict[str, bool]]:
        mock_db((DB, "orders"), params)
        yield {"entered": True}
        assert DB.orders is not ORIGINAL_ORDERS

    @states.register("async state")
    async def async_state(x: Any = 0) -> dict[str, Any]:
        mock_db((DB, "users"), {"x": x})
        return {"x": x}

    @states.register("needs arg")
    def needs_arg(user_id: int) -> None:
        mock_db((DB, "users"), {user_id: "x"})

    @states.register("raises")
    def raises() -> None:
        mock_db((DB, "users"), {})
        raise ValueError("broken on purpose")


class _FormatOrFail(logging.Handler):
    """Formats every record (the journal logs garbage params) and keeps none."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)

    def handleError(self, record: logging.LogRecord) -> None:
        raise  # a record that cannot be formatted fails the test


@pytest.fixture
def fuzz_app(states: PactStates, app: Flask) -> Iterator[Flask]:
    """The app with handlers; its log records are formatted, not kept: the
    fuzzing logs megabytes of garbage that pytest would otherwise hold."""
    register_handlers(states)
    logger = logging.getLogger("flask_pact_states")
    handler = _FormatOrFail()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield app
    finally:
        logger.propagate = True
        logger.removeHandler(handler)


def assert_clean(states: PactStates, app: Flask) -> None:
    """After a reset nothing is patched and the originals are back."""
    states.reset(app)
    assert active_patch_count() == 0
    assert DB.users is ORIGINAL_USERS
    assert DB.orders is ORIGINAL_ORDERS


def assert_still_serving(states: PactStates, app: Flask) -> None:
    """The app answers and the mock_db handlers still work after the fuzzing."""
    client = app.test_client()
    assert client.get("/ping").get_json() == {"pong": True}
    setup = client.post(URL, json={"action": "setup", "state": "user 7 exists"})
    assert setup.get_json() == {"user_id": 7}
    assert DB.users.get(7) == "Verna"
    assert client.post(URL, json={"state": "generator state"}).status_code == 200
    assert DB.orders is not ORIGINAL_ORDERS
    client.get("/ping")
    for state in ("user 7 exists", "generator state"):
        teardown = client.post(URL, json={"action": "teardown", "state": state})
        assert teardown.status_code == 200
    assert active_patch_count() == 0
    assert DB.users is ORIGINAL_USERS
    assert DB.orders is ORIGINAL_ORDERS
    assert states.journal(app)[-1].outcome == "ok"


def run_fuzz(
    states: PactStates,
    app: Flask,
    kind: str,
    requests: st.SearchStrategy[Fuzzed],
) -> None:
    """Send ``ENDPOINT_EXAMPLES[kind]`` generated requests, checking each."""
    client = app.test_client()
    preludes = st.sampled_from([None, *REGISTERED[1:5], "async state"])

    @fuzz_settings(ENDPOINT_EXAMPLES[kind])
    @given(request=requests, prelude=preludes)
    def fuzz(request: Fuzzed, prelude: str | None) -> None:
        if prelude is not None:  # garbage in the middle of an interaction
            client.post(URL, json={"state": prelude})
        send(client, kind, request)
        assert client.get("/ping").status_code == 200
        assert_clean(states, app)

    try:
        fuzz()
    finally:
        assert_clean(states, app)
    assert_still_serving(states, app)


def body_requests(bodies: st.SearchStrategy[Any]) -> st.SearchStrategy[Fuzzed]:
    return st.builds(
        Fuzzed,
        body=bodies.map(lambda document: json.dumps(document).encode()),
        query=st.one_of(st.just(""), st.just("consumer=Web"), query_strings()),
        content_type=st.one_of(st.just("application/json"), content_types),
    )


# -- the endpoint ---------------------------------------------------------------


def test_endpoint_survives_rust_body_fuzz(states: PactStates, fuzz_app: Flask) -> None:
    run_fuzz(states, fuzz_app, "rust-body", body_requests(rust_bodies))


def test_endpoint_survives_rust_query_fuzz(states: PactStates, fuzz_app: Flask) -> None:
    requests = st.builds(
        Fuzzed,
        body=st.sampled_from([b"", b" ", b"\r\n"]),
        query=query_strings(),
        content_type=st.one_of(st.none(), content_types),
    )
    run_fuzz(states, fuzz_app, "rust-query", requests)


def test_endpoint_survives_ruby_body_fuzz(states: PactStates, fuzz_app: Flask) -> None:
    run_fuzz(states, fuzz_app, "ruby", body_requests(ruby_bodies))


def test_endpoint_survives_jvm_body_fuzz(states: PactStates, fuzz_app: Flask) -> None:
    run_fuzz(states, fuzz_app, "pact-jvm", body_requests(jvm_bodies))


def test_endpoint_survives_pactman_body_fuzz(
    states: PactStates, fuzz_app: Flask
) -> None:
    run_fuzz(states, fuzz_app, "pactman", body_requests(pactman_bodies))


def test_endpoint_survives_raw_body_fuzz(states: PactStates, fuzz_app: Flask) -> None:
    requests = st.builds(
        Fuzzed,
        body=raw_bodies,
        query=st.one_of(st.just(""), query_strings()),
        content_type=content_types,
        content_length=st.sampled_from(CONTENT_LENGTHS),
        headers=st.dictionaries(
            st.sampled_from(["X-Pact-States-Token", "Transfer-Encoding", "X-Other"]),
            st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=20),
            max_size=2,
        ),
    )
    run_fuzz(states, fuzz_app, "raw", requests)


# -- the parser directly --------------------------------------------------------

parser_queries = st.dictionaries(
    st.one_of(st.sampled_from(["state", "action", "consumer"]), any_text),
    st.one_of(texts, st.sampled_from(["setup", "teardown", "NaN", "1e999"])),
    max_size=5,
)
parser_bodies = st.one_of(
    raw_bodies,
    rust_bodies.map(lambda d: json.dumps(d).encode()),
    ruby_bodies.map(lambda d: json.dumps(d).encode()),
    pactman_bodies.map(lambda d: json.dumps(d).encode()),
)


def _is_json_value(value: Any) -> bool:
    """Plain JSON data with finite numbers only (iterative: values nest deep)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                return False
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif not (item is None or isinstance(item, str | int | float)):
            return False
    return True


def _parse(body: bytes, query: dict[str, str]) -> list[StateChange] | str:
    """The changes, or the message of the :class:`MalformedStateChange`."""
    try:
        return parse_state_changes(body, query)
    except MalformedStateChange as error:
        return str(error)


@fuzz_settings(PARSER_EXAMPLES["garbage"])
@given(body=parser_bodies, query=parser_queries)
@example(body=b"", query={"state": "s", "n": "NaN"})
@example(body=b'{"state":"s","params":{"n":NaN}}', query={})
def test_parse_state_changes_garbage_is_parsed_or_malformed(
    body: bytes, query: dict[str, str]
) -> None:
    PARSED["garbage"] += 1
    changes = _parse(body, query)  # nothing but MalformedStateChange escapes
    if isinstance(changes, str):
        assert changes
        REFUSED["parser"] += 1
        return
    assert changes
    for change in changes:
        assert isinstance(change.state, str)
        assert change.action in ACTIONS
        assert isinstance(change.params, dict)
        assert _is_json_value(dict(change.params))
        assert change.consumer is None or isinstance(change.consumer, str)
        assert change.consumer != ""


_QUERY_KEYS: Final = frozenset({"state", "action", "consumer"})


def encode_request(
    mode: str, change: StateChange
) -> tuple[bytes, dict[str, str], StateChange]:
    """``change`` as verifier ``mode`` sends it, and what parsing must return."""
    query = {} if change.consumer is None else {"consumer": change.consumer}
    params = dict(change.params)
    if mode == "rust":
        document: dict[str, Any] = {
            "action": change.action,
            "params": params,
            "state": change.state,
        }
        return json.dumps(document).encode(), query, change
    expected = StateChange(change.state, "setup", params, change.consumer)
    if mode == "ruby":
        document = {
            "consumer": change.consumer,
            "state": change.state,
            "states": [change.state],
            "params": params,
        }
        return json.dumps(document).encode(), query, expected
    if mode == "pactman":
        entry = {"name": change.state, "params": params}
        document = {"provider": "P", "consumer": change.consumer, "states": [entry]}
        return json.dumps(document).encode(), query, expected
    # Query mode: strings raw, every other value JSON-encoded.
    params = {k: v for k, v in params.items() if k not in _QUERY_KEYS}
    for name, value in params.items():
        query[name] = value if isinstance(value, str) else json.dumps(value)
    query.update(state=change.state, action=change.action)
    decoded = {name: _query_decoded(value) for name, value in params.items()}
    return (
        b"",
        query,
        StateChange(change.state, change.action, decoded, change.consumer),
    )


def _query_decoded(value: Any) -> Any:
    # A string that is itself JSON ("12", "true") cannot be told from a
    # JSON-encoded value in query mode: it decodes (documented).
    if isinstance(value, str):
        try:
            decoded = json.loads(value, parse_constant=_strict_constant)
        except (ValueError, RecursionError):
            return value
        return decoded if _is_json_value(decoded) else value
    return value


@fuzz_settings(PARSER_EXAMPLES["round-trip"])
@given(
    change=st.builds(
        StateChange,
        state=any_text,
        action=st.sampled_from(sorted(ACTIONS)),
        params=st.dictionaries(any_text, finite_json, max_size=4),
        consumer=st.one_of(st.none(), any_text.filter(bool)),
    ),
    mode=st.sampled_from(["rust", "query", "ruby", "pactman"]),
)
def test_parse_state_changes_round_trips_valid_requests(
    change: StateChange, mode: str
) -> None:
    PARSED["round-trip"] += 1
    body, query, expected = encode_request(mode, change)
    assert parse_state_changes(body, query) == [expected]


# -- regressions found by the fuzzing -------------------------------------------


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_parse_state_changes_query_keeps_non_json_numbers_as_text(text: str) -> None:
    (change,) = parse_state_changes(b"", {"state": "s", "n": text})
    assert change.params == {"n": text}


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_parse_state_changes_body_refuses_non_json_numbers(number: bytes) -> None:
    body = b'{"state": "s", "params": {"n": ' + number + b"}}"
    with pytest.raises(MalformedStateChange, match="not valid JSON"):
        parse_state_changes(body, {})


def test_endpoint_body_shorter_than_content_length_answers_400_json(
    fuzz_app: Flask,
) -> None:
    # The client announced 3 bytes and hung up before sending any.
    response = fuzz_app.test_client().post(
        URL, data=b"", environ_overrides={"CONTENT_LENGTH": "3"}
    )
    assert response.status_code == 400
    assert "Content-Length" in response.get_json()["message"]


def test_fuzz_totals() -> None:
    """At least 2,000 generated requests when the whole file runs."""
    if set(SENT) != set(ENDPOINT_EXAMPLES) or set(PARSED) != set(PARSER_EXAMPLES):
        pytest.skip("run the whole file to count the fuzzed requests")
    total = sum(SENT.values())
    by_status = Counter[int]()
    for (_, status), count in STATUSES.items():
        by_status[status] += count
    bad = sum(count for status, count in by_status.items() if status >= 400)
    print(
        f"\nfuzzed {total} requests ({dict(SENT)}), {bad} answered 4xx"
        f" ({dict(sorted(by_status.items()))}); parser inputs {dict(PARSED)},"
        f" {REFUSED['parser']} refused as malformed"
    )
    for kind in ENDPOINT_EXAMPLES:
        statuses = {s: c for (k, s), c in sorted(STATUSES.items()) if k == kind}
        print(f"  {kind}: {statuses}")
    assert total >= 2000
    assert sum(PARSED.values()) >= 2000
    assert not [status for status in by_status if status >= 500]
