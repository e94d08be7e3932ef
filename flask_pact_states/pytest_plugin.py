"""pytest plugin (registered as ``pytest11``): interactions as test items.

``pytest --pact-app myapp.tests:create_test_app --pact-source pacts/`` (or
the ini options ``pact_app`` and ``pact_sources``) collects one item per
verifiable interaction, ``pacts/C-P.json::C::description``; pact URLs and a
Pact Broker's pacts are fetched at collection time
(``pact-broker/C-P-version.json::C::description``). Selected items
are verified in chunks by the real verifier (:mod:`.pytest_items`), the app
built once per process; under pytest-xdist, whole chunks go to one worker.

pytest loads this module in every session of a project that has the package
installed, so it holds only the options and fixtures, and imports neither
Flask nor pact-python: the item machinery is imported when ``--pact-app``
and sources are given, the verifier when a fixture or item first verifies.

Like pytest-flask, fixtures and options are prefixed ``pact_``/``--pact-``,
clear of pact-python's own plugin (``pact``). The ``pact_verify`` fixture
relies on the user's ``app`` fixture; the one autouse fixture only undoes
patches that :func:`mock_db` and friends started outside a state.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final

import pytest

from .pytest_options import add_options, app_factory, read_sources

if TYPE_CHECKING:
    from flask import Flask

    from .runner.results import VerificationResult

#: The module whose patches the autouse fixture undoes, once imported.
_MOCKING: Final = "flask_pact_states.provider.mocking"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    app = app_factory(config)
    sources = read_sources(config, app)
    if not sources or not app:
        return
    from . import pytest_items  # only sessions with interaction items need it

    pytest_items.activate(config, app, sources)


@pytest.fixture(autouse=True)
def _pact_undo_stray_patches() -> Iterator[None]:
    """Undo ``mock_db``/``patch`` calls made outside a state after each test."""
    yield
    mocking = sys.modules.get(_MOCKING)
    if mocking is not None:  # never imported: nothing was patched
        mocking.undo_patches()


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
