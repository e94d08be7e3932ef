"""The pytest plugin (``flask_pact_states.pytest_plugin``, entry point ``pact_states``)
in a throwaway project run by ``pytester``, as pytest-flask tests its own.

Each run is a subprocess: the verifier's FFI and its threads stay out of
this process, and the plugin is loaded the way users get it, by entry point.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

#: The user's conftest: an ``app`` fixture with PactStates and one handler.
CONFTEST = """
import pytest
from flask import Flask

import inventory
from flask_pact_states import PactStates, mock_db


@pytest.fixture
def app():
    states = PactStates()
    app = Flask("shop")
    app.config["TESTING"] = True
    states.init_app(app)

    @states.register("a widget is in stock")
    def widget_in_stock():
        mock_db("inventory.STOCK", {"widget": 3})

    @app.get("/stock/<name>")
    def stock(name):
        return {"name": name, "count": inventory.STOCK.get(name, 0)}

    return app
"""

#: The app's "database": a module global that handlers and tests replace.
INVENTORY = """
ORIGINAL = STOCK = {"widget": 0}
"""


def _pact(count: int) -> dict[str, Any]:
    """A V3 pact from Web to Shop expecting ``count`` widgets in stock."""
    return {
        "consumer": {"name": "Web"},
        "provider": {"name": "Shop"},
        "interactions": [
            {
                "description": "get the widget's stock",
                "providerStates": [{"name": "a widget is in stock"}],
                "request": {"method": "GET", "path": "/stock/widget"},
                "response": {
                    "status": 200,
                    "headers": {"Content-Type": "application/json"},
                    "body": {"name": "widget", "count": count},
                },
            }
        ],
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user project: conftest with ``app``, an app module, two pact files."""
    monkeypatch.setenv("PACT_DO_NOT_TRACK", "true")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(inventory=INVENTORY)
    pacts = pytester.mkdir("pacts")
    for name, count in (("right", 3), ("wrong", 5)):
        (pacts / f"{name}.json").write_text(json.dumps(_pact(count)), "utf-8")
    return pytester.path


def _run(pytester: pytest.Pytester, test_module: str, *args: str) -> Any:
    pytester.makepyfile(test_user=textwrap.dedent(test_module))
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_plugin_pact_verify_passes_for_a_matching_pact(
    pytester: pytest.Pytester, project: Path
) -> None:
    result = _run(
        pytester,
        """
        from pathlib import Path

        def test_provider(pact_verify):
            result = pact_verify(Path(__file__).parent / "pacts" / "right.json")
            assert result.passed, result.report()
            assert result.report().splitlines()[-1] == "1 passed, 0 failed"
        """,
    )

    result.assert_outcomes(passed=1)


def test_plugin_pact_verify_failure_shows_the_reports_reason(
    pytester: pytest.Pytester, project: Path
) -> None:
    result = _run(
        pytester,
        """
        from pathlib import Path

        def test_provider(pact_verify):
            result = pact_verify(Path(__file__).parent / "pacts" / "wrong.json")
            assert result.passed, result.report()
        """,
    )

    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "0 passed, 1 failed" in output
    assert "get the widget's stock" in output
    # The report's reason: the body mismatch.
    assert "body $.count: Expected 3 (Integer) to be equal to 5 (Integer)" in output


def test_plugin_undoes_a_mock_db_patch_a_test_left_running(
    pytester: pytest.Pytester, project: Path
) -> None:
    module = """
        import inventory
        from flask_pact_states import active_patch_count, mock_db

        def test_1_patches_and_forgets():
            mock_db("inventory.STOCK", {"widget": 99})
            assert inventory.STOCK is not inventory.ORIGINAL
            assert inventory.STOCK["widget"] == 99

        def test_2_sees_the_original():
            assert inventory.STOCK is inventory.ORIGINAL
            assert active_patch_count() == 0
        """

    result = _run(pytester, module)

    result.assert_outcomes(passed=2)
    # Without the plugin the patch outlives the test that made it.
    without = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:pact_states", "test_user.py"
    )
    without.assert_outcomes(passed=1, failed=1)


#: A user's conftest for an app on Flask-SQLAlchemy with isolate_database.
DATABASE_CONFTEST = """
import pytest
from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_pact_states import PactStates


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Widget(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


@pytest.fixture
def app():
    states = PactStates()
    states.isolate_database(db)

    @states.register("no widgets")
    def no_widgets():
        pass

    app = Flask("shop")
    app.config.update(TESTING=True, SQLALCHEMY_DATABASE_URI="sqlite://")
    db.init_app(app)
    states.init_app(app)

    @app.post("/widgets")
    def add():
        db.session.add(Widget(name=request.json["name"]))
        db.session.commit()
        return {"name": request.json["name"]}, 201

    @app.get("/widgets")
    def widgets():
        return {"widgets": [w.name for w in db.session.scalars(db.select(Widget))]}

    with app.app_context():
        db.create_all()
    return app
"""


def _leak_pact() -> dict[str, Any]:
    """A: POST creates a widget; B: the list is expected empty."""
    state = [{"name": "no widgets"}]
    post = {"method": "POST", "path": "/widgets", "body": {"name": "kettle"}}
    post["headers"] = {"Content-Type": "application/json"}
    return {
        "consumer": {"name": "Web"},
        "provider": {"name": "Shop"},
        "interactions": [
            {
                "description": "A: add a widget",
                "providerStates": state,
                "request": post,
                "response": {"status": 201, "body": {"name": "kettle"}},
            },
            {
                "description": "B: list the widgets",
                "providerStates": state,
                "request": {"method": "GET", "path": "/widgets"},
                "response": {"status": 200, "body": {"widgets": []}},
            },
        ],
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }


def test_plugin_pact_verify_rolls_the_database_back_between_interactions(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACT_DO_NOT_TRACK", "true")
    pytester.makeconftest(DATABASE_CONFTEST)
    (pytester.path / "leak.json").write_text(json.dumps(_leak_pact()), "utf-8")

    result = _run(
        pytester,
        """
        from pathlib import Path

        def test_provider(pact_verify):
            result = pact_verify(Path(__file__).parent / "leak.json")
            assert result.passed, result.report()
            assert result.report().splitlines()[-1] == "2 passed, 0 failed"
        """,
    )

    result.assert_outcomes(passed=1)
