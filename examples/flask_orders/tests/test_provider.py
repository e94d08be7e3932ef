"""Provider verification of the orders service through pytest.

The same run as ``flask --app orders_provider_tests.states:create_test_app
pact-verify pacts``: the real Pact verifier replays the committed pact against
the app on SQLite, and on PostgreSQL when ``PACT_STATES_TEST_POSTGRES_URL``
names one (``bash .ci/postgres.sh`` prints it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from orders_provider.models import Customer, Order, OrderItem, db
from orders_provider_tests.states import create_test_app

from flask_pact_states import verify
from flask_pact_states.provider.state import get_app_states

PACTS = Path(__file__).resolve().parents[1] / "pacts"
POSTGRES_ENV = "PACT_STATES_TEST_POSTGRES_URL"


def _database_urls() -> list[object]:
    postgres = os.environ.get(POSTGRES_ENV)
    skip = pytest.mark.skip(reason=f"{POSTGRES_ENV} is not set")
    return [
        pytest.param(None, id="sqlite"),
        pytest.param(postgres, id="postgres", marks=() if postgres else skip),
    ]


@pytest.fixture(params=_database_urls())
def app(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    if request.param is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", request.param)
    app = create_test_app()
    yield app
    get_app_states(app).close()
    with app.app_context():
        db.drop_all()
        db.session.remove()
        db.engine.dispose()


def _counts(app: Flask) -> list[int]:
    with app.app_context():
        return [
            db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
            for model in (Customer, Order, OrderItem)
        ]


@pytest.mark.e2e
def test_provider_honours_the_consumer_pact(app: Flask) -> None:
    result = verify(app, PACTS)

    assert result.passed, result.report()
    assert len(result.interactions) == 9  # 8 HTTP interactions and a message
    assert result.missing_states == []
    assert _counts(app) == [0, 0, 0]  # every interaction rolled back


@pytest.mark.e2e
def test_provider_state_injects_the_customer_id(app: Flask) -> None:
    result = verify(
        app, PACTS, description="a request for the orders of a new customer"
    )

    assert result.passed, result.report()
    journal = get_app_states(app).journal
    [setup] = [record for record in journal if record.action == "setup"]
    assert isinstance(setup.result, dict)
    assert set(setup.result) == {"customerId"}
