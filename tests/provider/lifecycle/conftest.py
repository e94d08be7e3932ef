"""Fixtures of the lifecycle tests: an app whose states patch module globals."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from flask import Flask
from lifecycle_helpers import (
    ALL_REAL,
    CACHE,
    DB,
    MAILER,
    Globals,
    GlobalsModule,
    Mailer,
    Recorder,
)

from flask_pact_states import PactStates, active_patch_count, mock_db, patch


@pytest.fixture
def g(monkeypatch: pytest.MonkeyPatch) -> Globals:
    module = GlobalsModule("fps_lc")
    module.DB = {1: {"name": "real Ann"}}
    module.MAILER = Mailer()
    module.CACHE = {"real": 1}
    monkeypatch.setitem(sys.modules, "fps_lc", module)
    return Globals(module, module.DB, module.MAILER, module.CACHE)


@pytest.fixture
def provider(app: Flask, g: Globals) -> Flask:
    """The test app with routes that read the globals at request time."""

    @app.get("/users/<int:uid>")
    def get_user(uid: int) -> Any:
        user = g.module.DB.get(uid)
        if not user:
            return {"error": "not found"}, 404
        return {"name": user["name"]}

    @app.get("/globals/<int:n>")
    def globals_seen(n: int) -> Any:
        return g.seen()

    return app


@pytest.fixture
def rec(states: PactStates, g: Globals) -> Recorder:
    """Register the handlers and hooks most tests use."""
    rec = Recorder()

    @states.before_each
    def before_each() -> None:
        rec.events.append("before_each")

    @states.after_each
    def after_each() -> None:
        rec.events.append("after_each")
        restored = g.seen() == ALL_REAL
        rec.after_each_saw.append((restored, active_patch_count()))

    @states.register("user {user_id:int} exists")
    def user_exists(user_id: int, name: str | None = None) -> None:
        mock_db(DB, {user_id: {"name": name or f"user {user_id}"}})
        rec.events.append(f"user {user_id}")

    @states.register("no users")
    def no_users() -> None:
        mock_db(DB)
        rec.events.append("no users")

    @states.register("mail is captured")
    def mail_is_captured() -> None:
        patch(MAILER).send.return_value = True
        rec.events.append("mail")

    @states.register("a cached user")
    def a_cached_user() -> Iterator[dict[str, int]]:
        mock_db(CACHE, {"user": 9})
        rec.events.append("cached: setup")
        yield {"cached_id": 9}
        # Runs before the state's patches are undone.
        rec.events.append(f"cached: teardown, cache {g.seen()['cache']}")

    @states.register("an async user")
    async def an_async_user() -> dict[str, int]:
        mock_db(DB, {55: {"name": "async"}})
        rec.events.append("async user")
        return {"id": 55}

    @states.register("an async cached user")
    async def an_async_cached_user() -> AsyncIterator[dict[str, int]]:
        mock_db(CACHE, {"user": 56})
        rec.events.append("async cached: setup")
        yield {"cached_id": 56}
        rec.events.append(f"async cached: teardown, cache {g.seen()['cache']}")

    @states.register("a broken state")
    def a_broken_state() -> None:
        mock_db(DB)
        mock_db(CACHE)
        raise RuntimeError("broken on purpose")

    @states.register("a state needing an id")
    def needs_id(id: int) -> None:
        mock_db(CACHE)

    @states.register("a flaky teardown")
    def a_flaky_teardown() -> Iterator[None]:
        patch(MAILER)
        yield
        raise RuntimeError("teardown broke on purpose")

    return rec
