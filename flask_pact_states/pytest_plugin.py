"""pytest plugin (registered as ``pytest11``) and pytest-free helpers.

Like pytest-flask, the plugin relies on the user's ``app`` fixture instead of
defining one, prefixes its fixtures with ``pact_``, and alters no app on its
own: its one autouse fixture only undoes patches that :func:`mock_db` and
friends started outside a state and that a test forgot to undo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .provider.mocking import undo_patches

if TYPE_CHECKING:
    from flask import Flask

    from .runner.results import VerificationResult


@pytest.fixture(autouse=True)
def _pact_undo_stray_patches() -> Iterator[None]:
    """Undo ``mock_db``/``patch`` calls made outside a state after each test."""
    yield
    undo_patches()


@pytest.fixture
def pact_verify(request: pytest.FixtureRequest) -> Callable[..., VerificationResult]:
    """Verify the user's ``app`` fixture against pacts::

        def test_provider(pact_verify):
            result = pact_verify("pacts/")
            assert result.passed, result.report()

    Arguments are those of :func:`flask_pact_states.verify` after ``app``.
    """
    app: Flask = request.getfixturevalue("app")

    def run(*sources: Any, **options: Any) -> VerificationResult:
        from .runner.api import verify  # the verifier is heavy: import on use

        return verify(app, *sources, **options)

    return run
