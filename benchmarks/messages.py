"""Message benchmark: a message interaction against an HTTP one, same states.

One V4 pact of N interactions, HTTP and message interactions alternating:
interaction ``i`` asks for state ``user {i} exists`` (params ``name``,
``admin``; the handler replaces a module global with ``mock_db``), then
either ``GET /users/{i}`` (a view reading the global) or the message
``user {i} changed`` (a producer reading the same global and publishing it
through ``capture``), with the same JSON body. Both kinds run side by side in
each :func:`flask_pact_states.verify` run (its defaults: chunks of 20,
teardown on), so drift on this shared machine hits both alike.

Per kind, the cost is the sum of the verifier's own per-interaction
durations (``interactionResults[].duration``: setup, request or message,
comparison, teardown); the ratio message / HTTP is taken per round, and the
table shows its median over the rounds. A second measure takes the whole
``verify()`` wall time of the pact's HTTP half alone against its message half
alone, the two runs back to back in each round (order alternating). Run with
``python -m benchmarks.messages [--size N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from flask import Flask

from flask_pact_states import Message, PactStates, capture, mock_db, verify
from flask_pact_states.runner.report import duration_seconds

from . import targets

#: Replaced by ``mock_db`` in the state handler.
USERS: dict[int, dict[str, Any]] = {}


def publish(topic: str, payload: Any) -> None:
    """The publisher seam the producer captures."""
    raise RuntimeError("a real broker")


def create_app() -> Flask:
    """The provider: one state handler, one view, one producer."""
    states = PactStates()

    @states.register("user {user_id:int} exists")
    def user_exists(user_id: int, name: str, admin: bool) -> None:
        mock_db(f"{__name__}.USERS", {user_id: {"name": name, "admin": admin}})

    @states.message("user {user_id:int} changed")
    def user_changed(user_id: int) -> Message:
        with capture(f"{__name__}.publish") as sent:
            publish("users", {"id": user_id, **USERS[user_id]})
        return Message(sent.arguments["payload"], metadata={"topic": "users"})

    app = Flask("message_benchmark")
    app.testing = True
    states.init_app(app)

    @app.get("/users/<int:user_id>")
    def user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, **USERS[user_id]}

    return app


def write_pact(path: Path, size: int, kinds: str = "mixed") -> None:
    """The V4 pact: even interactions HTTP, odd ones messages (``mixed``),
    or only the ``http`` or only the ``message`` ones."""
    entries = []
    for i in range(size):
        if (kinds == "http" and i % 2) or (kinds == "message" and not i % 2):
            continue
        params = {"name": f"user {i}", "admin": i % 3 == 0}
        body = {"id": i, **params}
        states = [{"name": f"user {i} exists", "params": params}]
        if i % 2 == 0:
            entry: dict[str, Any] = {
                "type": "Synchronous/HTTP",
                "description": f"get user {i}",
                "request": {"method": "GET", "path": f"/users/{i}"},
                "response": {
                    "status": 200,
                    "body": {
                        "content": body,
                        "contentType": "application/json",
                        "encoded": False,
                    },
                },
            }
        else:
            entry = {
                "type": "Asynchronous/Messages",
                "description": f"user {i} changed",
                "contents": {
                    "content": body,
                    "contentType": "application/json",
                    "encoded": False,
                },
                "metadata": {"contentType": "application/json", "topic": "users"},
            }
        entries.append({**entry, "providerStates": states})
    document = {
        "consumer": {"name": "Web"},
        "provider": {"name": "Users"},
        "interactions": entries,
        "metadata": {"pactSpecification": {"version": "4.0"}},
    }
    path.write_text(json.dumps(document), encoding="utf-8")


def one_round(app: Flask, pact: Path) -> dict[str, float]:
    """One verification: seconds per kind, and the whole run's wall time."""
    started = time.perf_counter()
    result = verify(app, pact)
    wall = time.perf_counter() - started
    if not result.passed:
        raise SystemExit(result.report())
    spent = {"http": 0.0, "message": 0.0}
    for interaction in result.interactions:
        kind = "http" if interaction.description.startswith("get") else "message"
        spent[kind] += duration_seconds(interaction.duration)
    return {**spent, "wall": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="interactions")
    parser.add_argument("--rounds", type=int, default=5, help="verify() runs")
    parser.add_argument(
        "--quick", action="store_true", help="200 interactions, 3 rounds"
    )
    options = parser.parse_args(argv)
    if options.quick:
        options.size, options.rounds = 200, 3
    app = create_app()
    with tempfile.TemporaryDirectory() as workdir:
        pacts = {kind: Path(workdir) / f"{kind}.json" for kind in _KINDS}
        for kind, path in pacts.items():
            write_pact(path, options.size, kind)
        one_round(app, pacts["mixed"])  # warm-up: imports, first connections
        rounds, walls = [], []
        for number in range(options.rounds):
            rounds.append(one_round(app, pacts["mixed"]))
            order = ("http", "message")[:: 1 if number % 2 else -1]
            walls.append({kind: one_round(app, pacts[kind])["wall"] for kind in order})
    _print_mixed(options, rounds)
    wall_ratios = [w["message"] / w["http"] for w in walls]
    print("\nHalves alone, wall time of verify() (s):")
    print("| round | HTTP only | message only | ratio |")
    print("|---:|---:|---:|---:|")
    for number, w in enumerate(walls, 1):
        ratio = wall_ratios[number - 1]
        print(f"| {number} | {w['http']:.2f} | {w['message']:.2f} | {ratio:.3f}x |")
    median = statistics.median(wall_ratios)
    print(f"median ratio message/HTTP (halves alone): {median:.3f}x")
    return 0


_KINDS = ("mixed", "http", "message")


def _print_mixed(options: argparse.Namespace, rounds: list[dict[str, float]]) -> None:
    half = options.size / 2
    ratios = [r["message"] / r["http"] for r in rounds]
    print(f"N = {options.size} interactions (half each kind), {options.rounds} rounds")
    print("| round | HTTP per interaction | message per interaction | ratio | wall |")
    print("|---:|---:|---:|---:|---:|")
    for number, r in enumerate(rounds, 1):
        print(
            f"| {number} | {r['http'] / half * 1000:.2f} ms"
            f" | {r['message'] / half * 1000:.2f} ms"
            f" | {ratios[number - 1]:.3f}x | {r['wall']:.2f} s |"
        )
    print(f"median ratio message/HTTP (side by side): {statistics.median(ratios):.3f}x")
    name = f"message / HTTP interaction, same states, side by side at {options.size}"
    print(targets.at_most(name, statistics.median(ratios), 1.2))


if __name__ == "__main__":
    raise SystemExit(main())
