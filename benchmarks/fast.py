"""Issue 8's targets: ``flask pact-verify`` against pact-python's bare verifier.

Whole processes, timed side by side and alternating over the rounds:

- the floor: :class:`pact.Verifier` with default settings on the same app,
  its data already in place and no state URL (``python -m benchmarks.fast
  floor PACT``);
- ours: ``flask --app benchmarks.fast:create_app pact-verify PACT`` (states
  on, teardown on, every speed-up at its default);
- ours with ``--jobs 2`` against ``--jobs 1``.

Run ``python -m benchmarks.fast [--rounds 5] [--sizes 1000,5000]``. It prints
the median wall time of each contender and the ratios issue 8 asks for.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.serving import WSGIRequestHandler, make_server

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


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def run_floor(pact: Path) -> int:
    """The floor: every row in place, no state URL, pact-python's defaults."""
    from pact import Verifier

    document = json.loads(pact.read_text(encoding="utf-8"))
    for entry in document["interactions"]:
        body = entry["response"]["body"]
        ITEMS[body["id"]] = body
    server = make_server("127.0.0.1", 0, _base_app(), True, request_handler=_Quiet)
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


def _contenders(pact: Path, jobs: bool) -> dict[str, list[str]]:
    flask = [sys.executable, "-m", "flask", "--app", f"{_MODULE}:create_app"]
    ours = [*flask, "pact-verify", str(pact)]
    contenders = {
        "floor": [sys.executable, "-m", _MODULE, "floor", str(pact)],
        "ours": ours,
    }
    if jobs:
        contenders["ours --jobs 1"] = [*ours, "--jobs", "1"]
        contenders["ours --jobs 2"] = [*ours, "--jobs", "2"]
    return contenders


def measure(size: int, rounds: int, jobs: bool) -> dict[str, float]:
    """Median wall time of each contender at ``size``, alternating per round."""
    with tempfile.TemporaryDirectory() as directory:
        pact = write_pact(Path(directory), size)
        contenders = _contenders(pact, jobs)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(rounds):
            for name, command in contenders.items():
                times[name].append(_time(command))
    return {name: statistics.median(values) for name, values in times.items()}


def _report(size: int, medians: dict[str, float]) -> None:
    print(f"N = {size}")
    for name, seconds in medians.items():
        print(
            f"  {name:<16} {seconds:8.2f} s  ({seconds / medians['floor']:.2f}x floor)"
        )
    if "ours --jobs 2" in medians:
        speedup = medians["ours --jobs 1"] / medians["ours --jobs 2"]
        print(f"  --jobs 2 is {speedup:.2f}x faster than --jobs 1 (target >= 1.4x)")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``floor PACT``, or the benchmark."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["floor"]:
        return run_floor(Path(args[1]))
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fast")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="1000,5000")
    options = parser.parse_args(args)
    for size in (int(text) for text in options.sizes.split(",")):
        _report(size, measure(size, options.rounds, jobs=size == 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
