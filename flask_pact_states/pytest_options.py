"""The pytest plugin's options: declared, read and checked.

Every option is ``--pact-*`` (ini ``pact_*``), clear of pact-python's own
plugin. The broker options are ``flask pact-verify``'s, prefixed, and read
``PACT_BROKER_BASE_URL``, ``PACT_BROKER_TOKEN``, ``PACT_BROKER_USERNAME`` and
``PACT_BROKER_PASSWORD`` as it does.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from .config import PROVIDER
from .errors import PactSourceError
from .runner.broker import BrokerOptions, PublishOptions
from .runner.pacts import is_url

_SHARD: Final = re.compile(r"^(\d+)/(\d+)$")
_MANY: Final = {"action": "append", "default": []}
_FLAG: Final = {"action": "store_true", "default": False}
#: The broker options: name (after --pact-), help, other addoption keywords.
_BROKER: Final[tuple[tuple[str, str, dict[str, Any]], ...]] = (
    ("broker-url", "Pact Broker to fetch pacts from [PACT_BROKER_BASE_URL].", {}),
    ("broker-token", "Bearer token for the broker [PACT_BROKER_TOKEN].", {}),
    ("broker-username", "Basic-auth user [PACT_BROKER_USERNAME].", {}),
    ("broker-password", "Basic-auth password [PACT_BROKER_PASSWORD].", {}),
    ("provider", f"The provider whose pacts the broker selects [{PROVIDER}].", {}),
    ("consumer-version-selector", "A selector as JSON. Repeatable.", _MANY),
    ("consumer-branch", "Verify the latest pact of this branch. Repeatable.", _MANY),
    ("consumer-tag", "Verify the latest pact with this tag. Repeatable.", _MANY),
    ("main-branch", "Verify the pacts of each consumer's main branch.", _FLAG),
    ("deployed-or-released", "Verify deployed or released consumers.", _FLAG),
    ("include-pending", "Include pending pacts (their failures xfail).", _FLAG),
    ("include-wip-since", "Include WIP pacts published since YYYY-MM-DD.", {}),
    ("provider-branch", "The provider's branch.", {}),
    ("provider-tag", "A provider tag. Repeatable.", _MANY),
    ("provider-version", "The provider version results are published for.", {}),
    ("build-url", "URL of the CI build, sent with results.", {}),
    ("publish", "Publish results of pacts whose interactions all ran.", _FLAG),
)


@dataclass(frozen=True)
class Sources:
    """Where the session's pacts come from."""

    paths: tuple[Path, ...] = ()
    urls: tuple[str, ...] = ()
    broker: BrokerOptions | None = None
    provider: str | None = None
    publish: PublishOptions | None = None

    def __bool__(self) -> bool:
        return bool(self.paths or self.urls or self.broker)


def add_options(parser: pytest.Parser) -> None:
    """Declare every option of the plugin."""
    group = parser.getgroup("pact_states", "provider verification (flask-pact-states)")
    group.addoption(
        "--pact-app",
        dest="pact_app",
        metavar="IMPORT",
        help="The test app factory, as flask --app takes it"
        " (myapp.tests:create_test_app or path/to/states.py:create_test_app).",
    )
    group.addoption(
        "--pact-source",
        dest="pact_sources",
        action="append",
        default=[],
        metavar="PATH",
        help="A pact file, a directory of them or a pact URL; repeatable. Each"
        " verifiable interaction becomes a test item.",
    )
    group.addoption(
        "--pact-shard",
        dest="pact_shard",
        metavar="I/N",
        help="Run only shard I of N (1-based) of the interactions, whole"
        " chunks dealt in turn: for splitting them over CI machines.",
    )
    for name, help_text, keywords in _BROKER:
        dest = "pact_" + name.replace("-", "_")
        group.addoption(f"--pact-{name}", dest=dest, help=help_text, **keywords)
    parser.addini("pact_app", "The test app factory, as --pact-app.")
    parser.addini("pact_sources", "Pact files, directories or URLs.", type="linelist")


def read_sources(config: pytest.Config, app: str | None) -> Sources:
    """The session's sources, checked. ``PACT_BROKER_BASE_URL`` counts only
    with an ``app``: set for a whole CI job, it alone turns nothing on.

    :raises pytest.UsageError: for sources without an app, or options that
        do not fit together.
    """
    given: list[str] = config.getoption("pact_sources") or []
    base = config.invocation_params.dir
    if not given:
        given = list(config.getini("pact_sources"))
        base = config.rootpath
    if (given or config.getoption("pact_broker_url")) and not app:
        msg = (
            "--pact-source or --pact-broker-url (or the pact_sources ini option)"
            " needs --pact-app (or pact_app): the test app factory, e.g."
            " --pact-app myapp.tests:create_test_app."
        )
        raise pytest.UsageError(msg)
    try:
        broker = _broker(config, from_env=bool(app))
        publish = _publish(config, broker)
    except PactSourceError as error:
        raise pytest.UsageError(str(error)) from None
    provider = config.getoption("pact_provider") or os.environ.get(PROVIDER) or None
    if broker is not None and not provider:
        msg = f"--pact-broker-url needs --pact-provider (or {PROVIDER}): the"
        msg += " provider whose pacts the broker selects."
        raise pytest.UsageError(msg)
    return Sources(
        paths=tuple((base / s).resolve() for s in given if not is_url(s)),
        urls=tuple(s for s in given if is_url(s)),
        broker=broker,
        provider=provider,
        publish=publish,
    )


def _broker(config: pytest.Config, from_env: bool) -> BrokerOptions | None:
    """The broker options, when a broker URL is given (or in the environment)."""
    option = config.getoption
    url = option("pact_broker_url")
    url = url or (os.environ.get("PACT_BROKER_BASE_URL") if from_env else None)
    if not url:
        return None
    options = BrokerOptions(
        url=url,
        token=option("pact_broker_token"),
        username=option("pact_broker_username"),
        password=option("pact_broker_password"),
        selectors=[_selector(t) for t in option("pact_consumer_version_selector")],
        consumer_branches=option("pact_consumer_branch"),
        consumer_tags=option("pact_consumer_tag"),
        main_branch=option("pact_main_branch"),
        deployed_or_released=option("pact_deployed_or_released"),
        include_pending=option("pact_include_pending"),
        include_wip_since=option("pact_include_wip_since"),
        provider_branch=option("pact_provider_branch"),
        provider_tags=option("pact_provider_tag"),
    )
    return options.resolved()


def _selector(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        msg = f"--pact-consumer-version-selector {text!r} is not JSON ({error})."
        raise PactSourceError(msg) from None
    if not isinstance(value, dict):
        msg = f"--pact-consumer-version-selector {text!r} must be a JSON object."
        raise PactSourceError(msg)
    return value


def _publish(
    config: pytest.Config, broker: BrokerOptions | None
) -> PublishOptions | None:
    option = config.getoption
    if not option("pact_publish"):
        return None
    if not option("pact_provider_version"):
        msg = (
            "--pact-publish needs --pact-provider-version: the version results are for."
        )
        raise PactSourceError(msg)
    if broker is None:
        msg = (
            "--pact-publish needs a broker (--pact-broker-url or PACT_BROKER_BASE_URL)."
        )
        raise PactSourceError(msg)
    return PublishOptions(
        provider_version=option("pact_provider_version"),
        branch=option("pact_provider_branch"),
        tags=option("pact_provider_tag"),
        build_url=option("pact_build_url"),
    )


def app_factory(config: pytest.Config) -> str | None:
    """``--pact-app``, else the ``pact_app`` ini option (a file path in it
    relative to the ini file)."""
    given: str | None = config.getoption("pact_app")
    if given:
        return given
    app = str(config.getini("pact_app") or "")
    path, colon, factory = app.partition(":")
    if path.endswith(".py"):
        return f"{(config.rootpath / path).resolve()}{colon}{factory}"
    return app or None


def shard(config: pytest.Config) -> tuple[int, int] | None:
    """``--pact-shard I/N`` as ``(I, N)``.

    :raises pytest.UsageError: unless ``1 <= I <= N``.
    """
    value: str | None = config.getoption("pact_shard")
    if value is None:
        return None
    match = _SHARD.match(value)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        msg = f"--pact-shard takes I/N with 1 <= I <= N, e.g. 1/3; got {value!r}."
        raise pytest.UsageError(msg)
    return int(match[1]), int(match[2])


def given_on_command_line(config: pytest.Config) -> bool:
    """Whether pacts were named on the command line (not only in the ini)."""
    option = config.getoption
    return bool(option("pact_sources") or option("pact_broker_url"))


def pact_files(sources: Iterable[Path]) -> Iterator[Path]:
    """Every pact file the sources name (what does not exist: as given)."""
    for source in sources:
        if source.is_dir():
            yield from sorted(p.resolve() for p in source.glob("*.json"))
        else:
            yield source


def ordered_files(sources: Iterable[Path]) -> list[Path]:
    """:func:`pact_files`, each once, in order."""
    return list(dict.fromkeys(pact_files(sources)))
