"""Pytest items from a Pact Broker and from pact URLs, and results published
only for pact versions whose interactions all ran (issue 19).

The broker is :mod:`broker_stub`, a HAL stand-in served on 127.0.0.1 in this
process (no real broker runs here); pytest runs in a subprocess with the
real verifier.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from broker_stub import BrokerStub, Fault, StubPact
from items_helpers import CONFTEST, SHOP, USERS_PACT, interaction, outcomes, write_pact

pytest_plugins = ["pytester"]

#: The node id folder of the broker's pacts.
BROKER_PACT = "pact-broker/Web-Shop-1.0.0.json"


def _document(tmp_path: Path, interactions: list[dict[str, Any]]) -> Any:
    path = write_pact(tmp_path / "made" / "Web-Shop.json", interactions)
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def shop(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PACT_DO_NOT_TRACK", "true")
    for name in ("BASE_URL", "TOKEN", "USERNAME", "PASSWORD"):
        monkeypatch.delenv(f"PACT_BROKER_{name}", raising=False)
    pytester.makepyfile(shop=SHOP)
    pytester.makeconftest(CONFTEST)
    return pytester.path


@pytest.fixture
def broker(shop: Path) -> Iterator[BrokerStub]:
    with BrokerStub([_document(shop, USERS_PACT)]) as stub:
        yield stub


def _pytest(pytester: pytest.Pytester, broker: BrokerStub, *args: str) -> Any:
    return pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-rA",
        "--pact-app",
        "shop:create_test_app",
        "--pact-provider",
        "Shop",
        "--pact-broker-url",
        broker.url,
        *args,
    )


_PUBLISH = ("--pact-publish", "--pact-provider-version", "2.0")


def test_broker_pacts_are_items_and_a_full_run_is_published(
    pytester: pytest.Pytester, broker: BrokerStub
) -> None:
    args = ("--pact-broker-token", "t0ken", "--pact-provider-branch", "main")

    result = _pytest(pytester, broker, *args, *_PUBLISH, "--pact-main-branch")

    result.assert_outcomes(passed=4)
    # pact-python's own plugin ran alongside: no option or fixture clashed.
    assert "pact-python-4" in result.stdout.str()
    assert outcomes(result.outlines) == {
        f"{BROKER_PACT}::Web::{name}": "PASSED"
        for name in (
            "get user 123",
            "get user 7",
            "get a missing user",
            "delete nobody",
        )
    }
    (body,) = broker.for_verification_bodies
    assert body["consumerVersionSelectors"] == [{"mainBranch": True}]
    assert body["providerVersionBranch"] == "main"
    (published,) = broker.published_results
    assert published.body["success"] is True
    assert published.body["providerApplicationVersion"] == "2.0"
    assert broker.provider_branches == [("Shop", "main", "2.0")]
    assert {r.headers.get("authorization") for r in broker.requests} == {"Bearer t0ken"}
    result.stdout.fnmatch_lines([f"published success of 2.0 for {BROKER_PACT}."])


def test_a_failing_item_publishes_a_failure(
    pytester: pytest.Pytester, shop: Path
) -> None:
    failing = [*USERS_PACT, interaction("get user 5", "/users/5", body={"name": "Bo"})]
    with BrokerStub([_document(shop, failing)]) as broker:
        result = _pytest(pytester, broker, *_PUBLISH)

    result.assert_outcomes(passed=4, failed=1)
    (published,) = broker.published_results
    assert published.body["success"] is False
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize(
    "selection",
    [("-k", "not ping"), ("--pact-shard", "2/2"), ("-x",)],
    ids=["-k", "shard", "-x"],
)
def test_a_partial_run_publishes_nothing_and_says_so(
    pytester: pytest.Pytester, shop: Path, selection: tuple[str, ...]
) -> None:
    # -x stops at the second item: it fails. One chunk: shard 2 of 2 is empty.
    pact = [USERS_PACT[0], interaction("get user 5", "/users/5", body={"n": 1})]
    pact += [interaction(f"ping {n}", f"/ping/{n}", body={"number": n}) for n in (1, 2)]
    with BrokerStub([_document(shop, pact)]) as broker:
        result = _pytest(pytester, broker, *_PUBLISH, *selection)

    assert broker.published_results == []
    assert broker.provider_branches == []
    result.stdout.fnmatch_lines([f"not published for {BROKER_PACT}: * of its 4 *"])


def test_xdist_publishes_once_from_the_controller(
    pytester: pytest.Pytester, broker: BrokerStub
) -> None:
    result = _pytest(
        pytester, broker, *_PUBLISH, "-n", "2", "--pact-provider-tag", "ci"
    )

    result.assert_outcomes(passed=4)
    (published,) = broker.published_results
    assert published.body["success"] is True
    assert broker.provider_tags == [("Shop", "2.0", "ci")]
    # The controller fetched once for both workers: they cannot see two
    # different selections, and the broker is asked once.
    assert len(broker.for_verification_bodies) == 1
    assert len(broker.requests_to("GET", broker.pacts[0].path)) == 1


def test_under_xdist_a_failing_broker_is_a_collection_error(
    pytester: pytest.Pytester, broker: BrokerStub
) -> None:
    broker.fault = Fault.SERVER_ERROR

    result = _pytest(pytester, broker, "-n", "2")

    # xdist ends a session with collection errors with 1, not pytest's 2.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=1)
    assert broker.url in result.stdout.str()
    assert "500" in result.stdout.str()
    assert len(broker.requests_to("GET", "/")) == 1  # the index, asked once


def test_under_xdist_a_pact_url_is_fetched_once(
    pytester: pytest.Pytester, broker: BrokerStub
) -> None:
    url = broker.url + broker.pacts[0].path
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--pact-app", "shop:create_test_app",
        "--pact-source", url, "-n", "2",
    )  # fmt: skip

    result.assert_outcomes(passed=4)
    assert len(broker.requests_to("GET", broker.pacts[0].path)) == 1


def test_a_pending_pact_s_failures_xfail_and_are_published_as_failures(
    pytester: pytest.Pytester, shop: Path
) -> None:
    failing = [USERS_PACT[0], interaction("get user 5", "/users/5", body={"n": 1})]
    pact = StubPact(_document(shop, failing), pending=True)
    with BrokerStub([pact]) as broker:
        result = _pytest(pytester, broker, "--pact-include-pending", *_PUBLISH)

    result.assert_outcomes(passed=1, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
    (published,) = broker.published_results
    assert published.body["success"] is False


def test_env_variables_give_the_broker_and_its_credentials(
    pytester: pytest.Pytester, broker: BrokerStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACT_BROKER_BASE_URL", broker.url)
    monkeypatch.setenv("PACT_BROKER_USERNAME", "ann")
    monkeypatch.setenv("PACT_BROKER_PASSWORD", "s3cret")
    monkeypatch.setenv("PACT_STATES_PROVIDER", "Shop")

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--pact-app", "shop:create_test_app"
    )

    result.assert_outcomes(passed=4)
    assert {r.headers.get("authorization") for r in broker.requests} == {
        "Basic YW5uOnMzY3JldA=="
    }


def test_the_broker_variable_alone_turns_nothing_on(
    pytester: pytest.Pytester, broker: BrokerStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACT_BROKER_BASE_URL", broker.url)
    pytester.makepyfile(test_unit="def test_unit():\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    assert broker.requests == []


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (Fault.SERVER_ERROR, "answered 500"),
        (Fault.UNAUTHORIZED, "answered 401"),
    ],
)
def test_a_broker_that_fails_is_a_collection_error_naming_it(
    pytester: pytest.Pytester, broker: BrokerStub, fault: Fault, said: str
) -> None:
    broker.fault = fault

    result = _pytest(pytester, broker)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    assert broker.url in result.stdout.str()
    assert said in result.stdout.str()


def test_an_unreachable_broker_and_no_selected_pact_are_collection_errors(
    pytester: pytest.Pytester, shop: Path
) -> None:
    with BrokerStub() as empty:
        url = empty.url
        result = _pytest_at(pytester, url)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*selected no pact for provider 'Shop'*"])

    gone = _pytest_at(pytester, url)  # the stub has stopped: nothing listens

    assert gone.ret == pytest.ExitCode.INTERRUPTED
    gone.stdout.fnmatch_lines([f"*GET {url} failed: *"])


def _pytest_at(pytester: pytest.Pytester, url: str) -> Any:
    return pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--pact-app",
        "shop:create_test_app",
        "--pact-provider",
        "Shop",
        "--pact-broker-url",
        url,
    )


def test_bad_json_from_a_pact_url_is_a_collection_error(
    pytester: pytest.Pytester, broker: BrokerStub
) -> None:
    url = broker.url + "/"  # the index: JSON, but not a pact
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--pact-app",
        "shop:create_test_app",
        "--pact-source",
        url,
    )

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*{url}*"])


def test_a_pact_url_source_is_verified_as_items(
    pytester: pytest.Pytester, broker: BrokerStub
) -> None:
    url = broker.url + broker.pacts[0].path

    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-rA",
        "--pact-app",
        "shop:create_test_app",
        "--pact-source",
        url,
        "-k",
        "user",
    )

    result.assert_outcomes(passed=3)
    found = outcomes(result.outlines)
    assert "pact-url/Web-Shop-1.0.0.json::Web::get user 123" in found
    assert broker.requests_to("POST") == []


def test_under_xdist_paths_given_to_pytest_fetch_no_pact(
    pytester: pytest.Pytester, broker: BrokerStub
) -> None:
    """With the sources in the ini file and paths on the command line, the
    session runs those paths only: not even xdist's controller fetches."""
    url = broker.url + broker.pacts[0].path
    pytester.makeini(
        f"[pytest]\npact_app = shop:create_test_app\npact_sources = {url}\n"
    )
    pytester.makepyfile(test_unit="def test_one():\n    assert True\n")

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "test_unit.py"
    )

    result.assert_outcomes(passed=1)
    assert broker.requests == []
