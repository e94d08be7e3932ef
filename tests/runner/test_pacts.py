"""Reading pact files: formats, validation errors, grouping and state coverage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from verify_helpers import Call, hand_pact, http_interaction, record_pact

from flask_pact_states import PactSourceError
from flask_pact_states.provider.registry import StateRegistry
from flask_pact_states.runner.coverage import check_coverage, states_used
from flask_pact_states.runner.pacts import (
    HTTP_INTERACTION,
    PactState,
    group_by_consumer,
    infer_provider,
    is_url,
    load_pact,
    load_pacts,
    select_provider,
)


def _write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_load_pact_reads_a_v4_pact_written_by_pact_python(tmp_path: Path) -> None:
    calls = [
        Call("get user", "/users/1", [("user {id} exists", {"id": 1})], body={"a": 1}),
        Call("ping", "/ping"),
    ]
    path = record_pact(tmp_path, "Web", "Users", calls)

    pact = load_pact(path)

    assert (pact.consumer, pact.provider) == ("Web", "Users")
    assert pact.specification is not None
    assert pact.specification.startswith("4")
    by_description = {i.description: i for i in pact.interactions}
    assert by_description["get user"].states == (
        PactState("user {id} exists", {"id": 1}),
    )
    assert by_description["ping"].states == ()
    assert all(i.type == HTTP_INTERACTION for i in pact.interactions)


def test_load_pact_reads_v2_provider_state(tmp_path: Path) -> None:
    interaction = {
        "description": "old style",
        "providerState": "a user exists",
        "request": {"method": "GET", "path": "/"},
        "response": {"status": 200},
    }
    path = hand_pact(tmp_path / "v2.json", [interaction], version="2.0.0")

    pact = load_pact(path)

    assert pact.interactions[0].states == (PactState("a user exists"),)
    assert pact.specification == "2.0.0"


def test_load_pact_lists_message_interactions_as_verifiable_and_plugins_not(
    tmp_path: Path,
) -> None:
    message = {"description": "an event", "type": "Asynchronous/Messages"}
    plugin = {"description": "a grpc call", "type": "Synchronous/Plugin"}
    path = hand_pact(
        tmp_path / "v4.json",
        [http_interaction("a request"), message, plugin],
        version="4.0",
    )
    v3_messages = _write(
        tmp_path / "messages.json",
        {
            "consumer": {"name": "Web"},
            "provider": {"name": "Users"},
            "messages": [{"description": "an old event"}],
        },
    )

    pact = load_pact(path)
    message_pact = load_pact(v3_messages)

    assert [i.description for i in pact.verifiable_interactions] == [
        "a request",
        "an event",
    ]
    assert [i.description for i in pact.skipped_interactions] == ["a grpc call"]
    assert message_pact.skipped_interactions == ()
    assert message_pact.verifiable_interactions[0].type == "Asynchronous/Messages"


def test_load_pacts_reads_files_and_directories(tmp_path: Path) -> None:
    folder = tmp_path / "pacts"
    folder.mkdir()
    hand_pact(folder / "a.json", [http_interaction("a")], consumer="A")
    hand_pact(folder / "b.json", [http_interaction("b")], consumer="B")
    (folder / "notes.txt").write_text("not a pact", encoding="utf-8")
    single = hand_pact(tmp_path / "c.json", [http_interaction("c")], consumer="C")

    pacts = load_pacts(folder, str(single), f"file://{single}")

    assert [p.consumer for p in pacts] == ["A", "B", "C", "C"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", "is not a pact: it is not a JSON object"),
        ('{"provider": {"name": "P"}, "interactions": []}', "has no consumer name"),
        ('{"consumer": {"name": "C"}, "provider": {}}', "has no provider name"),
        (
            '{"consumer": {"name": "C"}, "provider": {"name": "P"}}',
            "has no 'interactions' list",
        ),
        (
            '{"consumer": {"name": "C"}, "provider": {"name": "P"},'
            ' "interactions": [{"request": {}}]}',
            "interaction 0 has no 'description'",
        ),
        (
            '{"consumer": {"name": "C"}, "provider": {"name": "P"},'
            ' "interactions": [{"description": "d", "providerStates": {}}]}',
            "providerStates that are not a list",
        ),
        (
            '{"consumer": {"name": "C"}, "provider": {"name": "P"},'
            ' "interactions": [{"description": "d", "providerStates": [{}]}]}',
            "provider state without name",
        ),
        (
            '{"consumer": {"name": "C"}, "provider": {"name": "P"}, "interactions":'
            ' [{"description": "d", "providerStates": [{"name": "s", "params": 1}]}]}',
            "params that are not an object",
        ),
    ],
)
def test_load_pact_rejects_what_is_not_a_pact(
    tmp_path: Path, content: str, match: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(PactSourceError, match=match):
        load_pact(path)


def test_load_pacts_rejects_missing_and_unreadable_sources(tmp_path: Path) -> None:
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    empty = tmp_path / "empty"
    empty.mkdir()

    with pytest.raises(PactSourceError, match=r"'.*nowhere\.json' does not exist"):
        load_pacts(tmp_path / "nowhere.json")
    with pytest.raises(PactSourceError, match="is not UTF-8 text"):
        load_pacts(binary)
    with pytest.raises(PactSourceError, match="holds no pact files"):
        load_pacts(empty)
    with pytest.raises(PactSourceError, match="does not exist"):
        load_pact(tmp_path / "gone.json")


def test_select_provider_keeps_the_provider_s_pacts_and_says_so(
    tmp_path: Path,
) -> None:
    pacts = load_pacts(
        hand_pact(tmp_path / "a.json", [http_interaction("a")], provider="Users"),
        hand_pact(tmp_path / "b.json", [http_interaction("b")], provider="Orders"),
    )
    notes: list[str] = []

    mine = select_provider(pacts, "Users", remote=False, notes=notes)

    assert [pact.provider for pact in mine] == ["Users"]
    assert notes == [
        "Left out 1 pact file(s) for other providers ('Orders'): only those for"
        " 'Users' are verified."
    ]


@pytest.mark.parametrize("remote", [False, True])
def test_select_provider_refuses_only_other_providers_pacts(
    tmp_path: Path, remote: bool
) -> None:
    pacts = load_pacts(
        hand_pact(tmp_path / "b.json", [http_interaction("b")], provider="Orders")
    )

    if remote:  # a URL or broker may still hold the provider's pacts
        assert select_provider(pacts, "Users", remote=True, notes=[]) == []
        return
    with pytest.raises(PactSourceError, match="None of the 1 pact file"):
        select_provider(pacts, "Users", remote=False, notes=[])


def test_infer_provider_only_when_all_pacts_agree(tmp_path: Path) -> None:
    a = hand_pact(tmp_path / "a.json", [http_interaction("a")], provider="Users")
    b = hand_pact(tmp_path / "b.json", [http_interaction("b")], provider="Users")
    c = hand_pact(tmp_path / "c.json", [http_interaction("c")], provider="Orders")

    assert infer_provider(load_pacts(a, b)) == "Users"
    assert infer_provider(load_pacts(a, c)) is None
    assert infer_provider([]) is None


def test_group_by_consumer_keeps_first_seen_order(tmp_path: Path) -> None:
    pacts = load_pacts(
        hand_pact(tmp_path / "1.json", [http_interaction("x")], consumer="Mobile"),
        hand_pact(tmp_path / "2.json", [http_interaction("y")], consumer="Web"),
        hand_pact(tmp_path / "3.json", [http_interaction("z")], consumer="Mobile"),
    )

    groups = group_by_consumer(pacts)

    assert list(groups) == ["Mobile", "Web"]
    assert [p.path.name for p in groups["Mobile"]] == ["1.json", "3.json"]


def test_states_used_lists_params_consumer_and_description(tmp_path: Path) -> None:
    interaction = http_interaction("get")
    interaction["providerStates"] = [{"name": "user exists", "params": {"id": 3}}]
    pacts = load_pacts(hand_pact(tmp_path / "p.json", [interaction]))

    (use,) = states_used(pacts)

    assert (use.state, dict(use.params), use.consumer, use.description) == (
        "user exists",
        {"id": 3},
        "Web",
        "get",
    )


def test_check_coverage_finds_answered_missing_and_unused(tmp_path: Path) -> None:
    registry = StateRegistry()

    def user(user_id: int) -> None: ...
    def web_only() -> None: ...
    def unused() -> None: ...

    registry.add(["user {user_id:int} exists"], user)
    registry.add(["scoped"], web_only, consumer="Web")
    registry.add(["never"], unused)
    interactions = [
        http_interaction("a", states=["user 1 exists", "scoped"]),
        http_interaction("b", states=["nobody knows"]),
        http_interaction("c", states=["nobody knows"]),
        http_interaction("d"),
    ]
    pacts = load_pacts(hand_pact(tmp_path / "p.json", interactions))

    coverage = check_coverage(states_used(pacts), registry)

    assert [(a.use.state, a.registered_name) for a in coverage.answered] == [
        ("user 1 exists", "user {user_id:int} exists"),
        ("scoped", "scoped"),
    ]
    (missing,) = coverage.missing
    assert (missing.state, missing.descriptions) == ("nobody knows", ("b", "c"))
    assert missing.stub.startswith("@states.register('nobody knows')\n")
    assert [h.func for h in coverage.unused_handlers] == [unused]


def test_check_coverage_respects_consumer_scope(tmp_path: Path) -> None:
    registry = StateRegistry()

    def web_only() -> None: ...

    registry.add(["scoped"], web_only, consumer="Web")
    pacts = load_pacts(
        hand_pact(
            tmp_path / "m.json",
            [http_interaction("m", states=["scoped"])],
            consumer="Mobile",
        )
    )

    coverage = check_coverage(states_used(pacts), registry)

    assert [m.consumer for m in coverage.missing] == ["Mobile"]
    assert [h.func for h in coverage.unused_handlers] == [web_only]


def test_is_url_tells_remote_sources_from_paths(tmp_path: Path) -> None:
    assert is_url("https://broker.example/pacts/x")
    assert is_url("http://127.0.0.1:9/p.json")
    assert not is_url("file:///tmp/p.json")
    assert not is_url(tmp_path)
    assert not is_url("pacts/")
