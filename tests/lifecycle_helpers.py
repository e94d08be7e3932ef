"""Shared by the lifecycle tests (tests/provider/lifecycle/): the module of
globals the states patch, what handlers saw, and state-call helpers."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_pact_states import active_patch_count

URL = "/_pact/provider_states"
DB = "fps_lc.DB"
MAILER = "fps_lc.MAILER"
CACHE = "fps_lc.CACHE"
ALL_REAL = {"db": "real", "mailer": "real", "cache": "real"}


class Mailer:
    def send(self, to: str) -> bool:
        raise AssertionError("the real mailer must not run in tests")


class GlobalsModule(types.ModuleType):
    """Stands for an app module whose globals the states replace."""

    DB: dict[int, dict[str, str]]
    MAILER: Mailer
    CACHE: dict[str, int]


@dataclass
class Globals:
    """The module ``fps_lc`` and the objects its globals started as."""

    module: GlobalsModule
    db: dict[int, dict[str, str]]
    mailer: Mailer
    cache: dict[str, int]

    def seen(self) -> dict[str, str]:
        """Which globals are the originals right now."""
        module = self.module
        pairs = [("db", module.DB, self.db), ("mailer", module.MAILER, self.mailer)]
        pairs.append(("cache", module.CACHE, self.cache))
        return {name: "real" if now is was else "mocked" for name, now, was in pairs}

    def assert_restored(self) -> None:
        assert self.module.DB is self.db
        assert self.module.MAILER is self.mailer
        assert self.module.CACHE is self.cache
        assert active_patch_count() == 0


@dataclass
class Recorder:
    """What handlers and hooks saw, in order."""

    events: list[str] = field(default_factory=list)
    #: At each after_each: (every global was the original, patches in place).
    after_each_saw: list[tuple[bool, int]] = field(default_factory=list)

    def count(self, event: str) -> int:
        return self.events.count(event)


def setup(client: FlaskClient, state: str, **params: Any) -> TestResponse:
    body = {"action": "setup", "state": state, "params": params}
    return client.post(URL, json=body)


def teardown(client: FlaskClient, state: str, **params: Any) -> TestResponse:
    body = {"action": "teardown", "state": state, "params": params}
    return client.post(URL, json=body)


def message(response: TestResponse) -> str:
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    return f"{body['message']}\n{body['exception']['traceback']}"
