"""runner/items.py without pytest sessions: names, chunks, shards, matching."""

from __future__ import annotations

from pathlib import Path

from flask_pact_states.runner.items import (
    ItemSpec,
    chunk_groups,
    is_interaction_id,
    item_specs,
    match_results,
    shard_of,
)
from flask_pact_states.runner.pacts import PactState, parse_pact
from flask_pact_states.runner.results import InteractionResult, VerificationResult


def _ids(count: int, prefix: str = "p.json::Web") -> list[str]:
    return [f"{prefix}::i{n}" for n in range(count)]


def test_chunk_groups_cut_consecutive_interactions_of_one_consumer() -> None:
    ids = [*_ids(5), "tests/test_x.py::test_a", *_ids(2, "q.json::Web")]

    groups = chunk_groups(ids, 2)

    assert "tests/test_x.py::test_a" not in groups
    assert [groups[i] for i in _ids(5)] == [
        "p.json::Web#0",
        "p.json::Web#0",
        "p.json::Web#1",
        "p.json::Web#1",
        "p.json::Web#2",
    ]
    assert {groups[i] for i in _ids(2, "q.json::Web")} == {"q.json::Web#0"}


def test_chunk_groups_size_zero_keeps_a_consumer_whole() -> None:
    assert set(chunk_groups(_ids(50), 0).values()) == {"p.json::Web#0"}


def test_is_interaction_id_needs_a_json_file_and_two_parts() -> None:
    assert is_interaction_id("pacts/a.json::Web::get it")
    assert not is_interaction_id("pacts/a.json::Web")
    assert not is_interaction_id("tests/test_a.py::Class::test")


def test_shard_of_deals_chunks_in_turn() -> None:
    order = ["a#0", "a#0", "a#1", "b#0", "b#1"]

    assert [shard_of(g, order, 2) for g in ("a#0", "a#1", "b#0", "b#1")] == [
        0,
        1,
        0,
        1,
    ]


def test_item_specs_name_repeated_descriptions_by_key_or_position() -> None:
    document = {
        "consumer": {"name": "Web"},
        "provider": {"name": "Shop"},
        "interactions": [
            {"type": "Synchronous/HTTP", "description": "get", "key": "k1"},
            {"type": "Synchronous/HTTP", "description": "get"},
            {"type": "Asynchronous/Messages", "description": "an event"},
            {
                "type": "Synchronous/HTTP",
                "description": "a::b",
                "providerStates": [{"name": "user 1 exists", "params": {"id": 1}}],
            },
        ],
    }

    specs = item_specs(parse_pact(document, Path("p.json")))

    assert [s.name for s in specs] == ["get[k1]", "get[#2]", "an event", "a: :b"]
    assert specs[3].keywords == ["Web", "user 1 exists", "id=1"]


def test_match_results_pairs_by_description_in_order() -> None:
    spec = ItemSpec(Path("p.json"), "Web", "get", 0, (PactState("s"),))
    other = ItemSpec(Path("p.json"), "Web", "gone", 1)
    failed = InteractionResult("Web", "get", ("s",), False, mismatch="status: 500")
    result = VerificationResult("Shop", interactions=[failed], errors=["boom"])

    outcomes = match_results([spec, other], result)

    assert outcomes[0].text == "Web: get [s]\nstatus: 500"
    assert not outcomes[0].passed
    assert not outcomes[1].passed
    assert "did not report this interaction: boom" in outcomes[1].text
