"""Dispatch benchmark: state lookup among many names, and the endpoint's cost.

1. Resolving a state among 10,000 registered names (half of them templates):
   median time per lookup, against a plain dict lookup as a same-run baseline.
2. A full state-change request through the Flask test client, against a bare
   Flask view answering ``{}`` measured in alternating rounds (target: <= 1.3x),
   and the same state change through the runner's direct door
   (:class:`~flask_pact_states.DirectStateCalls`), which skips Flask's request
   handling.

Run with ``python -m benchmarks.dispatch``. Machines here are shared and noisy,
so compare the ratios, not the absolute times.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.test import Client

from flask_pact_states import PactStates
from flask_pact_states.provider.endpoint import DirectStateCalls
from flask_pact_states.provider.registry import StateRegistry

from . import targets

WORDS = [
    *("user", "order", "invoice", "account", "basket", "payment", "product"),
    *("review", "shipment", "cart", "customer", "supplier", "report", "ticket"),
    *("session", "token", "coupon", "refund", "address", "plan"),
]
ROUNDS = 7


def _names(count: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """``count`` exact names and ``count`` templates of varied, realistic text."""
    exact, templates = [], []
    for i in range(count):
        a, b, c = rng.sample(WORDS, 3)
        exact.append(f"{a} {i} has a {b} with {c}")
        templates.append(f"{b} {{item_id:int}} of {a} {i} is {c}")
    return exact, templates


def _median_per_call(func: Callable[[], Any], calls: int) -> float:
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(calls):
            func()
        samples.append((time.perf_counter() - started) / calls)
    return statistics.median(samples)


def bench_resolve(count: int = 5000) -> dict[str, float]:
    """Median seconds per lookup among ``2 * count`` names."""
    rng = random.Random(7)
    exact, templates = _names(count, rng)
    registry = StateRegistry()
    for name in exact:
        registry.add([name], lambda: None)
    for name in templates:
        registry.add([name], lambda **kwargs: None)
    plain = dict.fromkeys(exact)
    probe_exact = rng.sample(exact, 200)
    probe_templates = [
        t.replace("{item_id:int}", str(rng.randint(1, 10**6)))
        for t in rng.sample(templates, 200)
    ]
    probe_missing = [f"nothing {i} matches this" for i in range(200)]

    def run(probes: list[str]) -> Callable[[], None]:
        def lookups() -> None:
            for probe in probes:
                registry.resolve(probe)

        return lookups

    def dict_lookups() -> None:
        for probe in probe_exact:
            plain.get(probe)

    return {
        "dict baseline": _median_per_call(dict_lookups, 50) / 200,
        "exact name": _median_per_call(run(probe_exact), 50) / 200,
        "template": _median_per_call(run(probe_templates), 50) / 200,
        "unknown state": _median_per_call(run(probe_missing), 50) / 200,
    }


def bench_endpoint(rounds: int = 31, requests: int = 200) -> dict[str, float]:
    """Median seconds per request: bare view, state change, direct door."""
    app = Flask("bench")
    app.testing = True
    states = PactStates(app)

    @states.register("user {user_id:int} exists")
    def user_exists(user_id: int, name: str = "x") -> None:
        pass

    @app.post("/bare")
    def bare() -> dict[str, Any]:
        return {}

    @app.get("/ping")
    def ping() -> str:
        return ""

    client = app.test_client()
    # The direct door is no Flask app: werkzeug's client, from loopback.
    direct = Client(DirectStateCalls(app))
    loopback = {"REMOTE_ADDR": "127.0.0.1"}
    body = {"action": "setup", "state": "user 5 exists", "params": {"name": "Al"}}
    state_url = "/_pact/provider_states"
    contenders = (
        ("bare", client, "/bare"),
        ("state", client, state_url),
        ("direct", direct, state_url),
    )
    samples: dict[str, list[float]] = {label: [] for label, _, _ in contenders}
    # Many short rounds, alternating, so drift and noise hit all alike.
    for _ in range(rounds):
        for label, caller, url in contenders:
            spent = 0.0
            for _ in range(requests):
                started = time.perf_counter()
                caller.post(url, json=body, environ_base=loopback)
                spent += time.perf_counter() - started
                # Untimed: the provider request that ends a real interaction.
                client.get("/ping")
            samples[label].append(spent / requests)
    states.reset(app)
    return {label: statistics.median(values) for label, values in samples.items()}


def main() -> None:
    resolve = bench_resolve()
    print("State lookup among 10,000 names (5,000 templates), per lookup:")
    for label, seconds in resolve.items():
        ratio = seconds / resolve["dict baseline"]
        print(f"  {label:<14} {seconds * 1e6:8.2f} µs  ({ratio:6.1f}x a dict lookup)")
    worst = max(v for k, v in resolve.items() if k != "dict baseline")
    print("  " + targets.at_most("worst case", worst * 1e6, 50, " µs"))
    endpoint = bench_endpoint()
    ratio = endpoint["state"] / endpoint["bare"]
    print("State change through the test client, per request:")
    print("(POSTs timed alone; an untimed GET to the app follows each, as in a run)")
    print(f"  bare Flask view   {endpoint['bare'] * 1e6:8.1f} µs")
    print(f"  state change      {endpoint['state'] * 1e6:8.1f} µs")
    print("  " + targets.at_most("ratio", ratio, 1.3))
    print("The same state change through the runner's direct door:")
    print(
        f"  direct door       {endpoint['direct'] * 1e6:8.1f} µs"
        f"  ({endpoint['direct'] / endpoint['state']:.2f}x the state change,"
        f" {endpoint['direct'] / endpoint['bare']:.2f}x the bare view)"
    )


if __name__ == "__main__":
    main()
