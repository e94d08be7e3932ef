"""Shared fixtures: a small test app with PactStates, its client and CLI runner,
and a leak check for patches and threads after every test."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from flask_pact_states import PactStates, active_patch_count, undo_patches
from flask_pact_states.provider.state import get_app_states

# The verifier sends usage events over the network unless told not to.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")


@pytest.fixture
def states() -> PactStates:
    """A fresh extension object; register handlers on it before using ``app``."""
    return PactStates()


@pytest.fixture
def app(states: PactStates) -> Iterator[Flask]:
    """A testing app with the endpoint mounted and one route of its own.

    Closed at the end like a runner closes it, so the leak check below sees
    only what survives the app.
    """
    app = Flask("provider")
    app.testing = True
    states.init_app(app)

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        return {"pong": True}

    yield app
    get_app_states(app).close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    """Fail a test that leaves a patch in place or a thread running."""
    threads_before = set(threading.enumerate())
    yield
    leaked_patches = active_patch_count()
    undo_patches()
    assert leaked_patches == 0, f"{leaked_patches} patch(es) left in place"
    leaked = [
        thread
        for thread in set(threading.enumerate()) - threads_before
        if thread.is_alive() and not thread.daemon
    ]
    assert not leaked, f"threads left running: {leaked}"
