"""Pact Broker options: which pacts to fetch, where to publish results.

Plain data, checked before any server starts; :func:`configure_broker` hands
them to a :class:`pact.Verifier` (imported lazily by the caller).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from ..errors import PactSourceError

if TYPE_CHECKING:
    from pact import Verifier


# Consumer version selector keys: the broker's JSON name -> pact-python's keyword.
_SELECTOR_KEYS: Final = {
    "consumer": "consumer",
    "tag": "tag",
    "fallbackTag": "fallback_tag",
    "latest": "latest",
    "deployedOrReleased": "deployed_or_released",
    "deployed": "deployed",
    "released": "released",
    "environment": "environment",
    "mainBranch": "main_branch",
    "branch": "branch",
    "matchingBranch": "matching_branch",
    "fallbackBranch": "fallback_branch",
}
_BROKER_ENV: Final = {
    "url": "PACT_BROKER_BASE_URL",
    "token": "PACT_BROKER_TOKEN",
    "username": "PACT_BROKER_USERNAME",
    "password": "PACT_BROKER_PASSWORD",
}


@dataclass(frozen=True)
class BrokerOptions:
    """Where and which pacts to fetch from a Pact Broker.

    Unset ``url``, ``token``, ``username`` and ``password`` are read from
    ``PACT_BROKER_BASE_URL``, ``PACT_BROKER_TOKEN``, ``PACT_BROKER_USERNAME``
    and ``PACT_BROKER_PASSWORD``. Selectors are the broker's consumer version
    selectors as dicts (``{"mainBranch": True}``); ``consumer_branches``,
    ``consumer_tags``, ``main_branch`` and ``deployed_or_released`` add the
    common ones without writing JSON.

    .. versionadded:: 0.1
    """

    url: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    selectors: Sequence[Mapping[str, Any]] = ()
    consumer_branches: Sequence[str] = ()
    consumer_tags: Sequence[str] = ()
    main_branch: bool = False
    deployed_or_released: bool = False
    include_pending: bool = False
    include_wip_since: date | str | None = None
    provider_branch: str | None = None
    provider_tags: Sequence[str] = ()

    def resolved(self, environ: Mapping[str, str] | None = None) -> BrokerOptions:
        """These options with credentials from the environment, checked.

        :raises PactSourceError: without a URL, with both a token and a
            username, with an unknown selector key or a bad WIP date.
        """
        env = os.environ if environ is None else environ
        options = replace(
            self,
            url=self.url or env.get(_BROKER_ENV["url"]) or None,
            token=self.token or env.get(_BROKER_ENV["token"]) or None,
            username=self.username or env.get(_BROKER_ENV["username"]) or None,
            password=self.password or env.get(_BROKER_ENV["password"]) or None,
        )
        if not options.url:
            msg = (
                "No Pact Broker URL: pass --broker-url (BrokerOptions(url=...))"
                " or set PACT_BROKER_BASE_URL."
            )
            raise PactSourceError(msg)
        if options.token and (options.username or options.password):
            msg = "Give the Pact Broker either a token or a username and password."
            raise PactSourceError(msg)
        options.selector_keywords()
        options.wip_date()
        return options

    def selector_keywords(self) -> list[dict[str, Any]]:
        """All selectors as keyword arguments of pact-python's ``consumer_version``.

        :raises PactSourceError: for a key no selector has.
        """
        return [
            {_SELECTOR_KEYS.get(key, key): value for key, value in selector.items()}
            for selector in self._selectors()
        ]

    def selector_json(self) -> list[dict[str, Any]]:
        """All selectors as the broker's JSON has them (``mainBranch``).

        :raises PactSourceError: for a key no selector has.
        """
        camel = {snake: key for key, snake in _SELECTOR_KEYS.items()}
        return [
            {camel.get(key, key): value for key, value in selector.items()}
            for selector in self._selectors()
        ]

    def _selectors(self) -> list[dict[str, Any]]:
        selectors = [dict(selector) for selector in self.selectors]
        selectors += [{"mainBranch": True}] if self.main_branch else []
        selectors += [{"branch": branch} for branch in self.consumer_branches]
        selectors += [{"tag": tag, "latest": True} for tag in self.consumer_tags]
        if self.deployed_or_released:
            selectors.append({"deployedOrReleased": True})
        snake = set(_SELECTOR_KEYS.values())
        for selector in selectors:
            for key in selector:
                if key not in _SELECTOR_KEYS and key not in snake:
                    msg = (
                        f"Unknown consumer version selector key {key!r} in"
                        f" {selector!r}; use one of {', '.join(_SELECTOR_KEYS)}."
                    )
                    raise PactSourceError(msg)
        return selectors

    def wip_date(self) -> date | None:
        """``include_wip_since`` as a date.

        :raises PactSourceError: for a string that is not ``YYYY-MM-DD``.
        """
        since = self.include_wip_since
        if since is None or isinstance(since, date):
            return since
        try:
            return date.fromisoformat(since)
        except ValueError:
            msg = f"include_wip_since must be a date as YYYY-MM-DD, got {since!r}."
            raise PactSourceError(msg) from None


@dataclass(frozen=True)
class PublishOptions:
    """Publish verification results to the broker the pacts came from.

    .. versionadded:: 0.1
    """

    provider_version: str
    branch: str | None = None
    tags: Sequence[str] = ()
    build_url: str | None = None


def configure_broker(verifier: Verifier, options: BrokerOptions) -> None:
    """Add the broker source of ``options``, already :meth:`~BrokerOptions.resolved`."""
    assert options.url is not None  # resolved() refuses options without one
    if options.token:
        builder = verifier.broker_source(
            options.url, token=options.token, selector=True, use_env=False
        )
    else:
        builder = verifier.broker_source(
            options.url,
            username=options.username,
            password=options.password,
            selector=True,
            use_env=False,
        )
    # Everything below was checked by resolved(): build() must be reached, or
    # the builder's __del__ raises a Warning.
    if options.include_pending:
        builder.include_pending()
    since = options.wip_date()
    if since is not None:
        builder.include_wip_since(since)
    if options.provider_branch:
        builder.provider_branch(options.provider_branch)
    if options.provider_tags:
        builder.provider_tags(*options.provider_tags)
    for keywords in options.selector_keywords():
        builder.consumer_version(**keywords)
    builder.build()
