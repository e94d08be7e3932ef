"""Issue 8's targets: ``flask pact-verify`` against pact-python's bare verifier.

Whole processes, timed side by side and alternating over the rounds:

- the floor: :class:`pact.Verifier` with default settings on the same app,
  its data already in place and no state URL (``python -m benchmarks.fast
  floor PACT``);
- ours: ``flask --app benchmarks.fast:create_app pact-verify PACT`` (states
  on, teardown on, every speed-up at its default);
- ours with one speed-up taken away, to show what each earns: the runner's
  state calls sent through the app (``--app-state-calls``), the app
  served by werkzeug instead of waitress (``python -m benchmarks.fast
  werkzeug ARGS``: the same command with the runner's previous server, a
  werkzeug server handing connections to four long-lived threads), and
  state calls answered by waitress instead of the state door (``python -m
  benchmarks.fast nodoor ARGS``);
- at the first size, ours with ``--jobs 2`` against ``--jobs 1``;
- with ``--chunk-sizes 10,50``, ours with each of those chunk sizes.

Run ``python -m benchmarks.fast [--rounds 5] [--sizes 1000,5000]``. It prints
the median wall time of each contender and the ratios issue 8 asks for.
``--only NAME`` (repeatable; names as printed, some with commas) times just
those contenders, e.g. more rounds of the two ``--jobs`` runs: ``--sizes 1000
--rounds 15 --only 'ours --jobs 1' --only 'ours --jobs 2'``.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.serving import BaseWSGIServer, make_server

from benchmarks import targets
from benchmarks.workloads import QuietRequestHandler, serve_in_thread
from flask_pact_states import PactStates, mock_db

#: This module's import name (``__name__`` is ``__main__`` under ``-m``).
_MODULE: Final = "benchmarks.fast"
CONSUMER: Final = "FastConsumer"
PROVIDER: Final = "FastProvider"
#: The app's "database", read by the view on every request.
ITEMS: dict[int, dict[str, Any]] = {0: {"id": 0, "name": "fixed"}}
#: Every n-th interaction has no provider state (it reads a fixed row).
_STATELESS_EVERY: Final = 5

states = PactStates()


@states.register("item {item_id:int} exists")
def item_exists(item_id: int, name: str = "widget") -> None:
    """Put one row in place for the interaction."""
    mock_db(f"{_MODULE}.ITEMS", {item_id: {"id": item_id, "name": name}})


def _base_app() -> Flask:
    app = Flask("fast_provider")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> ResponseReturnValue:
        row = ITEMS.get(item_id)
        return (jsonify(row), 200) if row else (jsonify(error="not found"), 404)

    return app


def create_app() -> Flask:
    """The provider with :class:`PactStates` (for ``flask pact-verify``)."""
    app = _base_app()
    app.testing = True
    app.config["PACT_STATES_PROVIDER"] = PROVIDER
    states.init_app(app)
    return app


def write_pact(directory: Path, size: int) -> Path:
    """A V3 pact of ``size`` interactions; most have a state with params."""
    interactions = []
    for index in range(size):
        stateless = index % _STATELESS_EVERY == 0
        item_id = 0 if stateless else index
        name = f"item {index}"
        interactions.append(
            {
                "description": f"get item {index:06d}",
                "providerStates": []
                if stateless
                else [
                    {
                        "name": f"item {item_id} exists",
                        "params": {"item_id": item_id, "name": name},
                    }
                ],
                "request": {"method": "GET", "path": f"/items/{item_id}"},
                "response": {
                    "status": 200,
                    "headers": {"Content-Type": "application/json"},
                    "body": {"id": item_id, "name": "fixed" if stateless else name},
                },
            }
        )
    document = {
        "consumer": {"name": CONSUMER},
        "provider": {"name": PROVIDER},
        "interactions": interactions,
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }
    path = directory / f"{CONSUMER}-{PROVIDER}-{size}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def run_floor(pact: Path) -> int:
    """The floor: every row in place, no state URL, pact-python's defaults."""
    from pact import Verifier

    document = json.loads(pact.read_text(encoding="utf-8"))
    for entry in document["interactions"]:
        body = entry["response"]["body"]
        ITEMS[body["id"]] = body
    server = make_server(
        "127.0.0.1", 0, _base_app(), True, request_handler=QuietRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        verifier = Verifier(PROVIDER, host="127.0.0.1")
        verifier.add_transport(url=f"http://127.0.0.1:{server.port}")
        verifier.add_source(pact)
        verifier.verify()
    finally:
        server.shutdown()
    return 0


def run_ideal_floor(pact: Path) -> int:
    """The ideal floor (issue 20): the verifier's own work and nothing else.

    The runner's tricks, given to pact-python's bare verifier: every row in
    place, no state URL at all, the app served by the runner's waitress
    server, the minimal trust store, and the pact verified in chunks of the
    runner's default size, one verifier run after another.
    """
    from pact import Verifier

    from flask_pact_states.runner.options import DEFAULT_CHUNK_SIZE
    from flask_pact_states.runner.process import minimal_trust_store
    from flask_pact_states.runner.server import serve

    document = json.loads(pact.read_text(encoding="utf-8"))
    entries = document["interactions"]
    for entry in entries:
        body = entry["response"]["body"]
        ITEMS[body["id"]] = body
    with tempfile.TemporaryDirectory() as directory:
        chunks = []
        for start in range(0, len(entries), DEFAULT_CHUNK_SIZE):
            chunk = {
                **document,
                "interactions": entries[start : start + DEFAULT_CHUNK_SIZE],
            }
            chunks.append(Path(directory) / f"{start}.json")
            chunks[-1].write_text(json.dumps(chunk), encoding="utf-8")
        with serve(_base_app()) as url, minimal_trust_store():
            for path in chunks:
                verifier = Verifier(PROVIDER, host="127.0.0.1").add_transport(url=url)
                verifier.add_source(path).verify()
    return 0


class _PooledWerkzeugServer(BaseWSGIServer):
    """The runner's server before waitress: werkzeug, four request threads."""

    multithread = True

    def __init__(self, host: str, port: int, app: Any) -> None:
        super().__init__(host, port, app, QuietRequestHandler)
        self._requests: queue.SimpleQueue[tuple[socket.socket, Any] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [threading.Thread(target=self._work) for _ in range(4)]
        for thread in self._threads:
            thread.daemon = True
            thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        self._requests.put((request, client_address))

    def _work(self) -> None:
        while (item := self._requests.get()) is not None:
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            finally:
                self.shutdown_request(request)


@contextmanager
def _serve_with_werkzeug(app: Any) -> Iterator[str]:
    with serve_in_thread(_PooledWerkzeugServer("127.0.0.1", 0, app)) as url:
        yield url


@contextmanager
def _no_state_door(app: Any) -> Iterator[None]:
    yield None  # the Target's door URL: state calls go to waitress


def run_patched(kind: str, arguments: Sequence[str]) -> int:
    """``flask ARGUMENTS`` with one speed-up of the runner taken away:
    ``werkzeug`` serves with werkzeug, not waitress; ``nodoor`` sends state
    calls to waitress, not the state door."""
    import importlib

    from flask.cli import main as flask_main

    serving = importlib.import_module("flask_pact_states.runner.serving")
    if kind == "werkzeug":
        serving.serve = _serve_with_werkzeug  # type: ignore[attr-defined]
    else:
        serving.serve_door = _no_state_door  # type: ignore[attr-defined]
    sys.argv = ["flask", *arguments]
    flask_main()
    return 0


def _time(command: Sequence[str]) -> float:
    env = {**os.environ, "PACT_DO_NOT_TRACK": "true"}
    start = time.perf_counter()
    subprocess.run(
        command,
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=_ROOT,
    )
    return time.perf_counter() - start


_ROOT: Final = Path(__file__).resolve().parent.parent


def _contenders(
    pact: Path, jobs: bool, chunk_sizes: Sequence[int] = ()
) -> dict[str, list[str]]:
    app = ["--app", f"{_MODULE}:create_app", "pact-verify", str(pact)]
    ours = [sys.executable, "-m", "flask", *app]
    contenders = {
        "floor": [sys.executable, "-m", _MODULE, "floor", str(pact)],
        "ideal floor": [sys.executable, "-m", _MODULE, "ideal", str(pact)],
        "ours": ours,
        "ours, app state calls": [*ours, "--app-state-calls"],
        "ours, werkzeug": [sys.executable, "-m", _MODULE, "werkzeug", *app],
        "ours, no state door": [sys.executable, "-m", _MODULE, "nodoor", *app],
    }
    if jobs:
        contenders["ours --jobs 1"] = [*ours, "--jobs", "1"]
        contenders["ours --jobs 2"] = [*ours, "--jobs", "2"]
    for size in chunk_sizes:
        contenders[f"ours, chunks of {size}"] = [*ours, "--chunk-size", str(size)]
    return contenders


def measure(
    size: int,
    rounds: int,
    jobs: bool,
    chunk_sizes: Sequence[int] = (),
    only: Sequence[str] = (),
) -> dict[str, list[float]]:
    """Wall times of each contender at ``size``, one per round.

    Contenders alternate within a round, in an order rotated every round, so
    that drift on a shared machine hits them all alike.

    :param only: time just these contenders (all when empty).
    """
    with tempfile.TemporaryDirectory() as directory:
        pact = write_pact(Path(directory), size)
        every = _contenders(pact, jobs, chunk_sizes)
        if unknown := set(only) - every.keys():
            msg = f"unknown contenders {sorted(unknown)}; there are {list(every)}"
            raise SystemExit(msg)
        contenders = [(n, c) for n, c in every.items() if not only or n in only]
        times: dict[str, list[float]] = {name: [] for name, _ in contenders}
        for round_number in range(rounds):
            shift = round_number % len(contenders)
            for name, command in contenders[shift:] + contenders[:shift]:
                times[name].append(_time(command))
    return times


def _report(size: int, samples: dict[str, list[float]]) -> None:
    print(f"N = {size}")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    floor, ours = medians.get("floor"), medians.get("ours")
    for name, seconds in medians.items():
        versus = [f"{seconds / floor:.3f}x floor"] if floor else []
        if name.startswith("ours,") and ours:
            versus.append(f"{seconds / ours:.2f}x ours")
        spread = " ".join(f"{value:.1f}" for value in samples[name])
        versus.append(f"rounds: {spread}")
        print(f"  {name:<22} {seconds:8.2f} s  ({'; '.join(versus)})")
    if {"ideal floor", "ours"} <= medians.keys():
        pairs = zip(samples["ours"], samples["ideal floor"], strict=True)
        per_round = statistics.median(a / b for a, b in pairs)
        ratio = medians["ours"] / medians["ideal floor"]
        print("  " + targets.at_most("ours / ideal floor", ratio, 1.25))
        print(f"  per round: {per_round:.2f}x median")
    if {"ours --jobs 1", "ours --jobs 2"} <= medians.keys():
        speedup = medians["ours --jobs 1"] / medians["ours --jobs 2"]
        print("  " + targets.at_least("--jobs 2 over --jobs 1", speedup, 1.4))
        # The ratio within each round cancels the machine's drift between
        # rounds (its speed wandered by up to 1.5x over minutes, measured),
        # which the ratio of the medians does not.
        pairs = zip(samples["ours --jobs 1"], samples["ours --jobs 2"], strict=True)
        ratios = [one / two for one, two in pairs]
        listed = " ".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"  per round: {statistics.median(ratios):.2f}x median ({listed})")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``floor PACT``, or the benchmark."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["floor"]:
        return run_floor(Path(args[1]))
    if args[:1] == ["ideal"]:
        return run_ideal_floor(Path(args[1]))
    if args[:1] in (["werkzeug"], ["nodoor"]):
        return run_patched(args[0], args[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fast")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument(
        "--chunk-sizes",
        default="",
        help="also time ours with each of these --chunk-size values, e.g. 10,50",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="time just this contender (repeatable), e.g. --only 'ours, werkzeug'",
    )
    options = parser.parse_args(args)
    sizes = [int(text) for text in options.sizes.split(",")]
    chunks = [int(text) for text in options.chunk_sizes.split(",") if text]
    for size in sizes:
        first = size == sizes[0]
        _report(size, measure(size, options.rounds, first, chunks, options.only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
