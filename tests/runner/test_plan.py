"""The plan: which verifier runs, with which sources, before any server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from verify_helpers import hand_pact, http_interaction

from flask_pact_states.runner.options import VerifyOptions
from flask_pact_states.runner.pacts import load_pact
from flask_pact_states.runner.plan import VerificationPlan, build_plan


def _plan(
    sources: list[Any], *, provider: str, workdir: Path, **options: Any
) -> VerificationPlan:
    options.setdefault("chunk_size", 0)
    return build_plan(
        VerifyOptions(sources=tuple(sources), **options),
        provider=provider,
        workdir=workdir,
    )


@pytest.mark.parametrize(
    ("sources", "needs_tls"),
    [
        (("pact.json",), False),
        # A plain-HTTP URL may redirect to HTTPS.
        (("http://127.0.0.1:1/pact.json",), True),
        (("https://pacts.example/pact.json",), True),
    ],
)
def test_plan_keeps_the_system_trust_store_for_tls_sources(
    tmp_path: Path, sources: tuple[str, ...], needs_tls: bool
) -> None:
    hand_pact(tmp_path / "pact.json", [http_interaction("ping")])
    located = [s if "://" in s else str(tmp_path / s) for s in sources]

    plan = _plan(located, provider="Users", workdir=tmp_path)

    assert plan.needs_tls is needs_tls


def test_plan_chunks_large_local_pacts_in_file_order(tmp_path: Path) -> None:
    entries = [http_interaction(f"{n:02}", states=["s"]) for n in range(10)]
    entries.insert(3, {"description": "a plugin call", "type": "Synchronous/Plugin"})
    hand_pact(tmp_path / "big.json", entries[::-1], version="4.0")
    workdir = tmp_path / "work"
    workdir.mkdir()

    plan = _plan(
        [tmp_path / "big.json"], provider="Users", workdir=workdir, chunk_size=4
    )

    chunks = [load_pact(run.files[0]) for run in plan.runs]
    described = [[i.description for i in pact.interactions] for pact in chunks]
    http = [e["description"] for e in entries[::-1] if "type" not in e]
    assert described == [http[0:4], http[4:8], http[8:10]]
    assert [run.expected for run in plan.runs] == [4, 4, 2]
    assert plan.expected == 10
    assert any("Skipped 1 interaction(s)" in note for note in plan.notes)


def test_plan_counts_message_interactions_and_keeps_v3_message_pacts(
    tmp_path: Path,
) -> None:
    entries = [http_interaction(f"{n}") for n in range(3)]
    entries.insert(1, {"description": "an event", "type": "Asynchronous/Messages"})
    hand_pact(tmp_path / "mixed.json", entries, version="4.0")
    messages = [{"description": f"event {n}"} for n in range(3)]
    (tmp_path / "v3.json").write_text(
        json.dumps(
            {
                "consumer": {"name": "Mobile"},
                "provider": {"name": "Users"},
                "messages": messages,
            }
        ),
        encoding="utf-8",
    )
    workdir = tmp_path / "work"
    workdir.mkdir()

    plan = _plan([tmp_path], provider="Users", workdir=workdir, chunk_size=2)

    assert plan.expected == 7
    assert [run.expected for run in plan.runs] == [2, 2, 2, 1]
    copies = [json.loads(run.files[0].read_text()) for run in plan.runs]
    assert [len(copy.get("messages", ())) for copy in copies] == [0, 0, 2, 1]
    assert all("interactions" not in copy for copy in copies[2:])
    assert plan.notes == ()


def test_plan_schedules_the_states_of_each_run_s_interactions(tmp_path: Path) -> None:
    entries = [
        http_interaction("a", states=["s1", "s2"]),
        http_interaction("b"),
        http_interaction("c", states=["s3"]),
        http_interaction("d", states=["s4"]),
    ]
    hand_pact(tmp_path / "one.json", entries)
    hand_pact(tmp_path / "other.json", entries[:1], consumer="Mobile")
    hand_pact(tmp_path / "more.json", entries[1:2], consumer="Mobile")

    def schedules(**options: Any) -> list[Any]:
        plan = _plan([tmp_path], provider="Users", workdir=tmp_path / "work", **options)
        return [(run.consumer, run.schedule) for run in plan.runs]

    (tmp_path / "work").mkdir()
    whole = (("s1", "s2"), ("",), ("s3",), ("s4",))
    # Two files of one consumer: the verifier's order across them is unknown.
    assert schedules() == [("Mobile", None), ("Web", whole)]
    assert schedules(chunk_size=3, consumers=["Web"]) == [
        ("Web", whole[:3]),
        ("Web", whole[3:]),
    ]
    assert schedules(state="s[13]", consumers=["Web"]) == [
        ("Web", (("s1", "s2"), ("s3",)))
    ]


def test_plan_skips_chunks_the_filters_empty(tmp_path: Path) -> None:
    entries = [http_interaction(f"{n:02}") for n in range(9)]
    hand_pact(tmp_path / "p.json", entries)

    plan = _plan(
        [tmp_path / "p.json"],
        provider="Users",
        workdir=tmp_path,
        chunk_size=3,
        description="^0[78]$",
    )

    assert [run.expected for run in plan.runs] == [2]


def test_plan_never_chunks_remote_sources(tmp_path: Path) -> None:
    plan = _plan(
        ["http://127.0.0.1:1/p.json"], provider="Users", workdir=tmp_path, chunk_size=1
    )

    assert [run.urls for run in plan.runs] == [("http://127.0.0.1:1/p.json",)]


def test_plan_building_does_not_list_the_workdir_per_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing the work directory once per chunk copy made plan building
    quadratic in the chunks (80,000 interactions: 13.1 s, now 2.6 s)."""
    hand_pact(tmp_path / "big.json", [http_interaction(f"i{n}") for n in range(200)])
    workdir = tmp_path / "work"
    workdir.mkdir()
    listed: list[Path] = []
    iterdir = Path.iterdir

    def counting(path: Path) -> Any:
        listed.append(path)
        return iterdir(path)

    monkeypatch.setattr(Path, "iterdir", counting)

    plan = _plan(
        [str(tmp_path / "big.json")], provider="Users", chunk_size=2, workdir=workdir
    )

    assert len(plan.runs) == 100
    assert len(set(workdir.iterdir())) == 100  # one copy per chunk
    assert workdir not in listed[:-1]  # the last listing is the line above
