"""Interactions as pytest items (``--pact-app``/``--pact-source``), run by
``pytester`` in subprocesses with the real verifier, with and without xdist.

The user's project counts, per process, how often the verifier ran, how many
interactions it verified and how often the app was built, so the tests can
tell chunked runs from one run per item.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from items_helpers import CONFTEST, SHOP, USERS_PACT
from items_helpers import interaction as _interaction
from items_helpers import outcomes as _outcomes
from items_helpers import write_pact as _write_pact

pytest_plugins = ["pytester"]


def _pings(count: int, failing: int | None = None) -> list[dict[str, Any]]:
    return [
        _interaction(
            f"ping {n:02d}", f"/ping/{n}", body={"number": -1 if n == failing else n}
        )
        for n in range(1, count + 1)
    ]


@pytest.fixture
def shop(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PACT_DO_NOT_TRACK", "true")
    pytester.makepyfile(shop=SHOP)
    pytester.makeconftest(CONFTEST)
    return pytester.path


def _pytest(pytester: pytest.Pytester, *args: str, cache: bool = False) -> Any:
    options = ("--pact-app", "shop:create_test_app", "--pact-source", "pacts")
    plugins = () if cache else ("-p", "no:cacheprovider")
    return pytester.runpytest_subprocess(*plugins, *options, *args)


def _counts(root: Path) -> dict[str, dict[str, Any]]:
    return {
        path.stem.removeprefix("counts-"): json.loads(path.read_text())
        for path in root.glob("counts-*.json")
    }


def test_items_node_ids_name_file_consumer_and_description(
    pytester: pytest.Pytester, shop: Path
) -> None:
    _write_pact(shop / "pacts" / "Web-Shop.json", USERS_PACT)

    result = _pytest(pytester, "--collect-only", "-q")

    assert result.ret == 0
    ids = [line for line in result.outlines if "::" in line]
    assert ids == [
        "pacts/Web-Shop.json::Web::get user 123",
        "pacts/Web-Shop.json::Web::get user 7",
        "pacts/Web-Shop.json::Web::get a missing user",
        "pacts/Web-Shop.json::Web::delete nobody",
    ]


def test_items_states_select_with_k(pytester: pytest.Pytester, shop: Path) -> None:
    _write_pact(shop / "pacts" / "Web-Shop.json", USERS_PACT)

    result = _pytest(pytester, "-k", "user and 123 or nobody", "-rA")

    result.assert_outcomes(passed=2, deselected=2)
    # "123" only in the state of one, "nobody" only in the other's description.
    assert set(_outcomes(result.outlines)) == {
        "pacts/Web-Shop.json::Web::get user 123",
        "pacts/Web-Shop.json::Web::delete nobody",
    }
    # One verifier run, of the two selected interactions only.
    assert _counts(shop)["main"] == {"runs": [2], "built": 1}


def test_items_repeated_descriptions_take_the_v4_key(
    pytester: pytest.Pytester, shop: Path
) -> None:
    twice = [
        {**_interaction("ping", "/ping/1", body={"number": 1}), "key": "k1"},
        {**_interaction("ping", "/ping/2", body={"number": 2}), "key": "k2"},
    ]
    _write_pact(shop / "pacts" / "Web-Shop.json", twice, version="4.0")

    result = _pytest(pytester, "-rA")

    result.assert_outcomes(passed=2)
    assert set(_outcomes(result.outlines)) == {
        "pacts/Web-Shop.json::Web::ping[k1]",
        "pacts/Web-Shop.json::Web::ping[k2]",
    }


def test_items_failures_show_the_reports_reason(
    pytester: pytest.Pytester, shop: Path
) -> None:
    interactions = [
        *USERS_PACT[:1],
        _interaction("wrong name", "/users/5", ["user 5 exists"], body={"name": "Bo"}),
        _interaction("database down", "/users/5", ["the database is down"]),
        _interaction("no such state", "/users/5", ["a state nobody wrote"]),
    ]
    _write_pact(shop / "pacts" / "Web-Shop.json", interactions)

    result = _pytest(pytester)

    result.assert_outcomes(passed=1, failed=3)
    output = result.stdout.str()
    assert "body $.name: Expected 'Ada' (String) to be equal to 'Bo'" in output
    assert "ConnectionError: db unreachable" in output
    assert 'raise ConnectionError("db unreachable")' in output  # the traceback
    assert "No handler is registered for state 'a state nobody wrote'" in output
    assert "@states.register('a state nobody wrote')" in output
    # The failure text is the report's, not a traceback into the plugin.
    assert "pytest_plugin.py" not in output
    assert _counts(shop)["main"] == {"runs": [4], "built": 1}


def test_items_pending_interactions_xfail_with_the_reason(
    pytester: pytest.Pytester, shop: Path
) -> None:
    pending = _interaction("pending ping", "/ping/1", body={"number": 2}, pending=True)
    _write_pact(shop / "pacts" / "Web-Shop.json", [pending], version="4.0")

    result = _pytest(pytester, "-rx")

    result.assert_outcomes(xfailed=1)
    assert "pending pact: Web: pending ping" in result.stdout.str()


def test_items_run_in_chunks_and_build_the_app_once(
    pytester: pytest.Pytester, shop: Path
) -> None:
    _write_pact(shop / "pacts" / "Web-Shop.json", _pings(45))

    result = _pytest(pytester)

    result.assert_outcomes(passed=45)
    assert _counts(shop)["main"] == {"runs": [20, 20, 5], "built": 1}


def test_items_xdist_gives_the_outcomes_of_one_process(
    pytester: pytest.Pytester, shop: Path
) -> None:
    _write_pact(shop / "pacts" / "Web-Shop.json", _pings(45, failing=33))

    serial = _pytest(pytester, "-rA", "-p", "no:xdist")
    (shop / "counts-main.json").unlink()
    parallel = _pytest(pytester, "-rA", "-n", "2")

    serial.assert_outcomes(passed=44, failed=1)
    parallel.assert_outcomes(passed=44, failed=1)
    assert _outcomes(parallel.outlines) == _outcomes(serial.outlines)
    counts = _counts(shop)
    # The controller verifies nothing.
    assert counts.pop("main") == {"runs": [], "built": 0}
    assert set(counts) == {"gw0", "gw1"}
    # Whole chunks per worker, each worker building its own app once.
    assert sorted(r for c in counts.values() for r in c["runs"]) == [5, 20, 20]
    assert [c["built"] for c in counts.values()] == [1, 1]


def test_items_shards_together_cover_every_interaction_once(
    pytester: pytest.Pytester, shop: Path
) -> None:
    _write_pact(shop / "pacts" / "Web-Shop.json", _pings(45))
    _write_pact(shop / "pacts" / "Web-Other.json", USERS_PACT)

    shards = [
        _pytest(pytester, "--collect-only", "-q", "--pact-shard", f"{i}/3")
        for i in (1, 2, 3)
    ]

    ids = [[line for line in s.outlines if "::" in line] for s in shards]
    everything = [i for shard in ids for i in shard]
    assert len(everything) == len(set(everything)) == 49
    assert all(shard for shard in ids)
    # Chunks stay whole: the pings of one chunk are in one shard.
    assert "pacts/Web-Shop.json::Web::ping 01" in ids[1]
    assert "pacts/Web-Shop.json::Web::ping 20" in ids[1]


def test_items_junitxml_has_a_testcase_per_interaction(
    pytester: pytest.Pytester, shop: Path
) -> None:
    interactions = [
        *USERS_PACT[:2],
        _interaction("bad", "/ping/1", status=500),
        _interaction("database down", "/users/5", ["the database is down"]),
    ]
    _write_pact(shop / "pacts" / "Web-Shop.json", interactions)

    _pytest(pytester, "--junitxml=junit.xml")

    cases = ET.parse(shop / "junit.xml").getroot().iter("testcase")
    by_name = {case.get("name"): case for case in cases}
    assert set(by_name) == {"get user 123", "get user 7", "bad", "database down"}
    assert by_name["get user 7"].find("failure") is None
    failure = by_name["bad"].find("failure")
    assert failure is not None
    assert "Web: bad" in (failure.get("message") or "")
    assert "status: expected 500 but was 200" in (failure.text or "")
    # A state handler's exception, with its traceback into the handler.
    handler = by_name["database down"].find("failure")
    assert handler is not None
    assert "ConnectionError: db unreachable" in (handler.text or "")
    assert "Traceback" in (handler.text or "")
    assert 'in database_down\n    raise ConnectionError("db unreachable")' in (
        handler.text or ""
    )


def test_items_last_failed_reruns_and_verifies_only_the_failure(
    pytester: pytest.Pytester, shop: Path
) -> None:
    _write_pact(shop / "pacts" / "Web-Shop.json", _pings(10, failing=4))

    _pytest(pytester, cache=True).assert_outcomes(passed=9, failed=1)
    rerun = _pytest(pytester, "--lf", "-rA", cache=True)

    rerun.assert_outcomes(failed=1, deselected=9)
    assert list(_outcomes(rerun.outlines)) == ["pacts/Web-Shop.json::Web::ping 04"]
    assert _counts(shop)["main"]["runs"] == [1]


def test_items_exitfirst_stops_at_the_first_failure(
    pytester: pytest.Pytester, shop: Path
) -> None:
    _write_pact(shop / "pacts" / "Web-Shop.json", _pings(10, failing=4))

    result = _pytest(pytester, "-x")

    result.assert_outcomes(passed=3, failed=1)


def test_items_unreadable_pact_is_a_collection_error_naming_it(
    pytester: pytest.Pytester, shop: Path
) -> None:
    _write_pact(shop / "pacts" / "Web-Shop.json", USERS_PACT)
    (shop / "pacts" / "broken.json").write_text("{not json", encoding="utf-8")

    result = _pytest(pytester)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    assert re.search(
        r"The pact file '.*broken\.json' is not valid JSON", result.stdout.str()
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--pact-source", "pacts"), "needs --pact-app"),
        (
            (
                "--pact-app",
                "shop:create_test_app",
                "--pact-source",
                "pacts",
                "--pact-shard",
                "3/2",
            ),
            "--pact-shard takes I/N",
        ),
        (("--pact-broker-url", "http://127.0.0.1:9"), "needs --pact-app"),
        (
            ("--pact-app", "shop:create_test_app", "--pact-broker-url", "http://b"),
            "needs --pact-provider",
        ),
        (
            (
                "--pact-app",
                "shop:create_test_app",
                "--pact-provider",
                "Shop",
                "--pact-broker-url",
                "http://b",
                "--pact-publish",
            ),
            "--pact-publish needs --pact-provider-version",
        ),
        (
            (
                "--pact-app",
                "shop:create_test_app",
                "--pact-source",
                "pacts",
                "--pact-publish",
                "--pact-provider-version",
                "1",
            ),
            "--pact-publish needs a broker",
        ),
        (
            (
                "--pact-app",
                "shop:create_test_app",
                "--pact-provider",
                "Shop",
                "--pact-broker-url",
                "http://b",
                "--pact-broker-token",
                "t",
                "--pact-broker-username",
                "u",
            ),
            "either a token or a username",
        ),
        (
            (
                "--pact-app",
                "shop:create_test_app",
                "--pact-provider",
                "Shop",
                "--pact-broker-url",
                "http://b",
                "--pact-consumer-version-selector",
                "[1]",
            ),
            "must be a JSON object",
        ),
    ],
)
def test_items_option_mistakes_are_usage_errors(
    pytester: pytest.Pytester, shop: Path, args: tuple[str, ...], message: str
) -> None:
    _write_pact(shop / "pacts" / "Web-Shop.json", USERS_PACT)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_items_ini_options_let_a_plain_pytest_verify(
    pytester: pytest.Pytester, shop: Path
) -> None:
    _write_pact(shop / "pacts" / "Web-Shop.json", USERS_PACT)
    pytester.makeini(
        """
        [pytest]
        pact_app = shop.py:create_test_app
        pact_sources = pacts
        """
    )
    pytester.makepyfile(test_other="def test_other():\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=5)


def test_items_serve_nothing_while_other_tests_run(
    pytester: pytest.Pytester, shop: Path
) -> None:
    """The app is built once, but served only while interaction items run:
    the session's other tests see no server thread of ours, and none of the
    process-wide changes a verification makes."""
    _write_pact(shop / "pacts" / "a.json", USERS_PACT[:2])
    _write_pact(shop / "pacts" / "b.json", USERS_PACT[2:])
    outer = {name: os.environ.get(name) for name in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    pytester.makepyfile(
        test_between=f"""
        import gc
        import os
        import threading

        SSL_CERT_FILE = {outer["SSL_CERT_FILE"]!r}
        SSL_CERT_DIR = {outer["SSL_CERT_DIR"]!r}

        def test_no_server_thread_runs():
            ours = ("pact-verify-server", "pact-state-door", "waitress")
            names = [t.name for t in threading.enumerate()]
            assert not [n for n in names if n.startswith(ours)], names

        def test_no_process_wide_change_is_left():
            assert os.environ.get("SSL_CERT_FILE") == SSL_CERT_FILE
            assert os.environ.get("SSL_CERT_DIR") == SSL_CERT_DIR
            assert os._exit.__module__ == "posix", os._exit
            assert gc.get_freeze_count() == 0
        """
    )

    result = _pytest(pytester, "pacts/a.json", "test_between.py", "pacts/b.json")

    result.assert_outcomes(passed=6)
    assert _counts(shop)["main"] == {"runs": [2, 2], "built": 1}


def test_items_are_reported_outside_the_verification_environment(
    pytester: pytest.Pytester, shop: Path
) -> None:
    """Other plugins' hooks run between chunks: they see the process as it
    was, not the minimal trust store, the os._exit guard or a frozen heap."""
    _write_pact(shop / "pacts" / "Web-Shop.json", USERS_PACT)
    conftest = shop / "conftest.py"
    conftest.write_text(
        conftest.read_text(encoding="utf-8")
        + """
import gc
import os

SEEN = set()


def pytest_runtest_logreport(report):
    SEEN.add((os.environ.get("SSL_CERT_FILE"), os._exit.__module__,
              gc.get_freeze_count() > 0))


def pytest_sessionfinish(session):
    Path("seen.json").write_text(json.dumps(sorted(SEEN)))
""",
        encoding="utf-8",
    )

    result = _pytest(pytester)

    result.assert_outcomes(passed=4)
    seen = json.loads((shop / "seen.json").read_text(encoding="utf-8"))
    assert seen == [[os.environ.get("SSL_CERT_FILE"), "posix", False]]
