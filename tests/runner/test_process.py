"""verify() keeps the collector off the objects it outlives, and only then."""

from __future__ import annotations

import gc
import logging
import os
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from verify_helpers import hand_pact, http_interaction, make_app

from flask_pact_states import PactStates
from flask_pact_states.runner.api import verify
from flask_pact_states.runner.process import existing_objects_frozen


@pytest.fixture
def nothing_frozen() -> Iterator[None]:
    assert gc.get_freeze_count() == 0, "another test left objects frozen"
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("nothing_frozen")
def test_verify_freezes_the_objects_it_outlives_for_the_run(tmp_path: Path) -> None:
    states = PactStates()
    during: list[int] = []
    states.register("anything")(lambda: during.append(gc.get_freeze_count()))
    entries = [http_interaction("a", states=["anything"])]
    pact = hand_pact(tmp_path / "pact.json", entries)
    app = make_app(states)

    result = verify(app, pact)

    assert result.passed, result.report()
    assert during
    assert during[0] > 0
    assert gc.get_freeze_count() == 0  # thawed: collected as usual again


def _frozen(obj: object) -> bool:
    """Whether ``obj`` is in the permanent generation: tracked, yet in none
    of the collector's generations. (Counting frozen objects would not do:
    a thread of another test freeing one changes the count.)"""
    return gc.is_tracked(obj) and not any(o is obj for o in gc.get_objects())


@pytest.mark.usefixtures("nothing_frozen")
def test_objects_made_meanwhile_are_collected() -> None:
    before: list[object] = []
    with existing_objects_frozen():
        assert _frozen(before)
        cycle: list[object] = []
        cycle.append(cycle)
        collected = weakref.ref(_Node())
        del cycle
        assert gc.collect() >= 1
        assert collected() is None
        assert _frozen(before)  # a collection thaws nothing


class _Node:
    """An object in a reference cycle, which only the collector frees."""

    def __init__(self) -> None:
        self.me = self


@pytest.mark.usefixtures("nothing_frozen")
def test_what_became_garbage_while_frozen_is_collected_after() -> None:
    node = _Node()
    alive = weakref.ref(node)

    with existing_objects_frozen():
        del node
        gc.collect()
        assert alive() is not None  # frozen: out of the collector's sight

    gc.collect()
    assert alive() is None  # thawed: collected as usual


@pytest.mark.usefixtures("nothing_frozen")
def test_a_process_s_own_freeze_is_left_alone() -> None:
    own: list[object] = []
    gc.freeze()

    with existing_objects_frozen():
        made_meanwhile: list[object] = []
        assert _frozen(own)
        assert not _frozen(made_meanwhile)  # we froze nothing more

    assert _frozen(own)  # not thawed by us


@pytest.mark.usefixtures("nothing_frozen")
def test_objects_are_thawed_when_the_run_raises() -> None:
    with pytest.raises(KeyboardInterrupt), existing_objects_frozen():
        raise KeyboardInterrupt

    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("given", [logging.NOTSET, logging.DEBUG])
def test_verify_forwards_only_the_verifier_s_warnings_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: int
) -> None:
    """At pact-python's default (INFO) every event of the Rust core costs a
    callback into Python: 1,000 interactions took 4.12 s instead of 3.62 s."""
    logger = logging.getLogger("pact.ffi")
    monkeypatch.setattr(logger, "level", given)
    states = PactStates()
    seen: list[int] = []

    @states.register("the level is seen")
    def level_seen() -> None:
        seen.append(logger.level)

    interactions = [http_interaction("ping", states=["the level is seen"])]
    result = verify(make_app(states), hand_pact(tmp_path / "web.json", interactions))

    assert result.passed, result.report()
    assert seen == [logging.WARNING if given == logging.NOTSET else given]
    assert logger.level == given


@pytest.mark.parametrize("given", [None, "3"])
def test_verify_runs_the_verifier_on_one_runtime_thread_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str | None
) -> None:
    """A verification is a ping-pong: a second Tokio worker only searches for
    work (flask pact-verify of 1,000 interactions: 3.69 s with two, 3.47 s
    with one)."""
    if given is None:
        monkeypatch.delenv("TOKIO_WORKER_THREADS", raising=False)
    else:
        monkeypatch.setenv("TOKIO_WORKER_THREADS", given)
    states = PactStates()
    seen: list[str | None] = []

    @states.register("the setting is seen")
    def setting_seen() -> None:
        seen.append(os.environ.get("TOKIO_WORKER_THREADS"))

    interactions = [http_interaction("ping", states=["the setting is seen"])]
    result = verify(make_app(states), hand_pact(tmp_path / "web.json", interactions))

    assert result.passed, result.report()
    assert seen == ["1" if given is None else given]
    assert os.environ.get("TOKIO_WORKER_THREADS") == given
