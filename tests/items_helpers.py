"""What the pytest items' tests share: a user's app module, a conftest that
counts verifier runs, and pacts written for them."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The app factory module a user points --pact-app at.
SHOP = """
from flask import Flask
from flask_pact_states import PactStates, mock_db

USERS = {}
BUILT = []
states = PactStates()


@states.register("user {user_id:int} exists")
def user_exists(user_id):
    mock_db("shop.USERS", {user_id: "Ada"})


@states.register("the database is down")
def database_down():
    raise ConnectionError("db unreachable")


def create_test_app():
    BUILT.append(1)
    app = Flask("shop")
    app.config.update(TESTING=True, PACT_STATES_PROVIDER="Shop")
    states.init_app(app)

    @app.get("/users/<int:user_id>")
    def user(user_id):
        if user_id not in USERS:
            return {"error": "not found"}, 404
        return {"name": USERS[user_id]}

    @app.get("/ping/<int:number>")
    def ping(number):
        return {"number": number}

    return app
"""

#: Counts verifier runs and verified interactions, per process.
CONFTEST = """
import json
from pathlib import Path

from flask_pact_states.runner import chunks

RUNS = []
_verify = chunks._ServedApp.verify


def counting(*args, **kwargs):
    result = _verify(*args, **kwargs)
    RUNS.append(len(result.interactions))
    return result


chunks._ServedApp.verify = counting


def pytest_sessionfinish(session):
    import shop

    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    counts = {"runs": RUNS, "built": len(shop.BUILT)}
    Path(session.config.rootpath, f"counts-{worker}.json").write_text(
        json.dumps(counts)
    )
"""


def interaction(
    description: str,
    path: str,
    states: Sequence[str] = (),
    status: int = 200,
    body: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    response: dict[str, Any] = {"status": status}
    if body is not None:
        response["body"] = body
    return {
        "description": description,
        "providerStates": [{"name": name} for name in states],
        "request": {"method": "GET", "path": path},
        "response": response,
        **extra,
    }


def write_pact(
    path: Path, interactions: Sequence[dict[str, Any]], version: str = "3.0.0"
) -> Path:
    if version.startswith("4"):
        interactions = [{"type": "Synchronous/HTTP", **i} for i in interactions]
    document = {
        "consumer": {"name": "Web"},
        "provider": {"name": "Shop"},
        "interactions": list(interactions),
        "metadata": {"pactSpecification": {"version": version}},
    }
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


USERS_PACT = [
    interaction(
        "get user 123", "/users/123", ["user 123 exists"], body={"name": "Ada"}
    ),
    interaction("get user 7", "/users/7", ["user 7 exists"], body={"name": "Ada"}),
    interaction("get a missing user", "/users/9", status=404),
    interaction("delete nobody", "/users/8", status=404),
]


def outcomes(output: Sequence[str]) -> dict[str, str]:
    """``-rA`` summary lines: node id -> PASSED/FAILED/XFAIL."""
    found = {}
    for line in output:
        match = re.match(r"^(PASSED|FAILED|XFAIL|ERROR) (\S.*?)(?: - .*)?$", line)
        if match:
            found[match[2]] = match[1]
    return found
