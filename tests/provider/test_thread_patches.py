"""Patches made in a thread a handler starts are undone with its interaction,
and refused once it has ended (issue 15, item 10)."""

from __future__ import annotations

import threading
from typing import ClassVar, Final

from flask.testing import FlaskClient

from flask_pact_states import PactStates, active_patch_count, mock_db
from flask_pact_states.errors import PatchScopeError

URL: Final = "/_pact/provider_states"


class Store:
    data: ClassVar[dict[int, str]] = {1: "real"}


ORIGINAL: Final = Store.data


def test_patches_from_a_handler_s_thread_are_undone_with_its_interaction(
    client: FlaskClient, states: PactStates
) -> None:
    again, patched_again, finish = (
        threading.Event(),
        threading.Event(),
        threading.Event(),
    )
    errors: list[BaseException] = []

    def work() -> None:
        for n in range(10):  # while the handler runs
            mock_db((Store, "data"), {n: "during"})
        again.wait(timeout=10)
        for n in range(10):  # after it returned, its interaction going on
            mock_db((Store, "data"), {n: "after"})
        patched_again.set()
        finish.wait(timeout=10)
        try:  # after its interaction ended
            mock_db((Store, "data"), {0: "too late"})
        except PatchScopeError as error:
            errors.append(error)

    worker = threading.Thread(target=work, name="handler-helper")

    @states.register("threaded")
    def threaded() -> None:
        worker.start()
        while active_patch_count() < 10:
            pass

    setup = {"action": "setup", "state": "threaded", "params": {}}
    assert client.post(URL, json=setup).status_code == 200
    again.set()
    assert patched_again.wait(timeout=10)
    assert active_patch_count() == 20
    teardown = {"action": "teardown", "state": "threaded", "params": {}}
    assert client.post(URL, json=teardown).status_code == 200

    assert active_patch_count() == 0
    assert Store.data is ORIGINAL
    finish.set()
    worker.join(timeout=10)
    [error] = errors
    assert "after that interaction ended" in str(error)
    assert active_patch_count() == 0
    assert Store.data is ORIGINAL


def test_a_thread_that_existed_before_keeps_unscoped_patches(
    client: FlaskClient, states: PactStates
) -> None:
    """The test's own thread patching outside a state is not captured."""

    @states.register("plain")
    def plain() -> None: ...

    setup = {"action": "setup", "state": "plain", "params": {}}
    assert client.post(URL, json=setup).status_code == 200
    with mock_db((Store, "data"), {1: "fake"}):
        assert Store.data[1] == "fake"
    assert Store.data is ORIGINAL
