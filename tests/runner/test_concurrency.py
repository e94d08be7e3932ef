"""Concurrent verifiers hammering one app over real HTTP.

What it proves: 8 client threads each sending 250 state changes (125
setup/teardown pairs, 2,000 requests in all) to the app served by a threaded
werkzeug server on 127.0.0.1 finish without deadlock (every join and request
is bounded); state handlers never overlap (a counter checked inside every
handler's set-up and teardown code, which also sleeps to widen any window);
every answer is 200 with the values the handler returned; the journal holds
exactly the 2,000 changes, in an order consistent with each thread's own, with
the interaction number each handler saw; every generator handler's teardown
code runs exactly once; and at the end no patch is active and each of the 8
patched globals is the original object again (``is``).

Concurrent clients interleave interactions: the lifecycle infers interaction
boundaries from the order of calls, so one thread's setup may end another's
interaction early. That is expected; what matters is that nothing is lost,
nothing leaks and handlers never run at the same time.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from flask import Flask
from serving_helpers import served

from flask_pact_states import PactStates, active_patch_count, mock_db
from flask_pact_states.provider.state import get_app_states

URL: Final = "/_pact/provider_states"
THREADS: Final = 8
CHANGES_PER_THREAD: Final = 250
PAIRS: Final = CHANGES_PER_THREAD // 2
#: Seconds a handler holds the "running" flag: widens any overlap window.
HANDLER_HOLD: Final = 0.0002

ORIGINALS: Final = {n: object() for n in range(THREADS)}
DB = types.SimpleNamespace(**{f"table_{n}": ORIGINALS[n] for n in range(THREADS)})


@dataclass
class Guard:
    """Detects handlers running at the same time."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    running: int = 0
    overlaps: list[str] = field(default_factory=list)
    setups: int = 0
    teardowns: int = 0

    @contextmanager
    def running_alone(self, what: str) -> Iterator[None]:
        with self.lock:
            if self.running:
                self.overlaps.append(what)
            self.running += 1
        try:
            assert self.running == 1, f"{what} overlapped another handler"
            time.sleep(HANDLER_HOLD)
            yield
        finally:
            with self.lock:
                self.running -= 1


def register(states: PactStates, guard: Guard) -> None:
    @states.register("thread {n:int} state")
    def thread_state(n: int, seq: int) -> Iterator[dict[str, int]]:
        table = f"table_{n}"
        with guard.running_alone(f"setup {n}/{seq}"):
            assert getattr(DB, table) is ORIGINALS[n]  # the last one was undone
            mock_db((DB, table), {"seq": seq})
            interaction = get_app_states().lifecycle.interaction
            assert interaction is not None
            guard.setups += 1
        yield {"thread": n, "seq": seq, "interaction": interaction.number}
        with guard.running_alone(f"teardown {n}/{seq}"):
            assert getattr(DB, table).get("seq") == seq  # still ours
            guard.teardowns += 1


def post(port: int, document: dict[str, Any]) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = json.dumps(document)
        headers = {"Content-Type": "application/json"}
        connection.request("POST", URL, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@dataclass
class Client:
    """One verifier-like client: setup and teardown of its own state, in turn."""

    n: int
    port: int
    start: threading.Barrier
    answers: list[tuple[str, int, int, Any]] = field(default_factory=list)
    error: BaseException | None = None

    def run(self) -> None:
        try:
            self.start.wait(timeout=10)
            state = f"thread {self.n} state"
            for seq in range(PAIRS):
                for action in ("setup", "teardown"):
                    params = {"seq": seq}
                    document = {"action": action, "state": state, "params": params}
                    status, body = post(self.port, document)
                    self.answers.append((action, seq, status, body))
        except BaseException as error:  # reported by the test thread
            self.error = error


def test_concurrent_clients_never_overlap_and_leak_nothing(states: PactStates) -> None:
    guard = Guard()
    register(states, guard)
    app = Flask("concurrent")
    app.config.update(TESTING=True, PACT_STATES_JOURNAL_SIZE=4 * THREADS * PAIRS)
    states.init_app(app)
    app_states = get_app_states(app)
    started = time.perf_counter()
    try:
        with served(app) as port:
            barrier = threading.Barrier(THREADS)
            clients = [Client(n, port, barrier) for n in range(THREADS)]
            threads = [threading.Thread(target=c.run) for c in clients]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert not [t for t in threads if t.is_alive()], "deadlock"
    finally:
        states.reset(app)
    elapsed = time.perf_counter() - started

    assert [c.error for c in clients] == [None] * THREADS
    assert guard.overlaps == []
    assert active_patch_count() == 0
    for n in range(THREADS):
        assert getattr(DB, f"table_{n}") is ORIGINALS[n]
    # Every setup ran once and every generator finished once: nothing lost.
    assert guard.setups == guard.teardowns == THREADS * PAIRS

    for client in clients:
        assert len(client.answers) == CHANGES_PER_THREAD
        for action, seq, status, body in client.answers:
            assert status == 200, body
            if action == "setup":
                assert body["thread"] == client.n
                assert body["seq"] == seq
            else:
                assert body == {}
    check_journal(app_states.journal, clients)
    app_states.close()
    print(
        f"\n{THREADS * CHANGES_PER_THREAD} concurrent state changes in {elapsed:.2f} s"
    )


def check_journal(journal: Any, clients: list[Client]) -> None:
    """2,000 records, all ok, each setup with the interaction its handler saw."""
    records = list(journal)
    assert len(records) == THREADS * CHANGES_PER_THREAD
    assert {(r.outcome, r.status) for r in records} == {("ok", 200)}
    numbers = [r.interaction for r in records]
    assert numbers == sorted(numbers)  # recorded in the order applied
    assert numbers[0] >= 1
    assert numbers[-1] <= THREADS * PAIRS

    answered = {
        (c.n, seq): body["interaction"]
        for c in clients
        for action, seq, _, body in c.answers
        if action == "setup"
    }
    seen: dict[tuple[int, int], int] = {}
    last_seq = dict.fromkeys(range(THREADS), -1)
    for position, record in enumerate(records):
        n, seq = int(record.state.split()[1]), record.params["seq"]
        if record.action == "setup":
            assert seq == last_seq[n] + 1  # each thread's own order is kept
            last_seq[n] = seq
            assert record.result["interaction"] == record.interaction
            assert answered[n, seq] == record.interaction
            seen[n, seq] = position
        else:
            assert (n, seq) in seen  # a teardown never precedes its setup
            assert record.interaction >= records[seen[n, seq]].interaction
    assert len(seen) == THREADS * PAIRS
