"""Verification results of single interactions, published per pact version.

The pytest items verify a remote pact's interactions in many runs, possibly
in many processes; a broker wants one verdict per pact version. A verdict is
published only when every interaction of that pact version ran in the
session: after ``-k``, ``--lf``, ``-x`` or a shard, a partial "success" would
tell the broker the provider honours a pact it never fully tried.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import quote

from ..errors import PactSourceError
from .broker import PublishOptions
from .remote import BrokerClient, RemotePact, link_href


@dataclass(frozen=True)
class PactVersion:
    """What publishing needs of one remote pact: plain data, so that
    pytest-xdist can carry it from a worker to the controller.

    .. versionadded:: 0.1
    """

    #: The pact's path in node ids (``pact-broker/Web-Shop-1.0.json``).
    name: str
    url: str
    #: How many of its interactions are test items.
    interactions: int
    results_url: str | None
    provider_url: str | None

    @classmethod
    def of(cls, name: str, pact: RemotePact, interactions: int) -> PactVersion:
        """The publishing data of ``pact``, shown in node ids as ``name``."""
        return cls(
            name,
            pact.url,
            interactions,
            pact.link("pb:publish-verification-results"),
            pact.link("pb:provider"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for pytest-xdist's channel."""
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """A pact version's verdict, or why there is none."""

    pact: PactVersion
    success: bool | None
    #: Why nothing is published (``success`` is ``None``).
    skipped: str = ""


def verdicts(
    pacts: Iterable[PactVersion], outcomes: Mapping[str, bool]
) -> list[Verdict]:
    """Each pact version's verdict from the outcomes of the items that ran
    (node id -> passed), or why it has none."""
    found = []
    for pact in pacts:
        prefix = pact.name + "::"
        ran = [ok for nodeid, ok in outcomes.items() if nodeid.startswith(prefix)]
        if len(ran) < pact.interactions:
            why = f"{len(ran)} of its {pact.interactions} interactions ran"
            found.append(Verdict(pact, None, why))
        else:
            found.append(Verdict(pact, all(ran)))
    return found


def publish(client: BrokerClient, verdict: Verdict, options: PublishOptions) -> None:
    """Publish ``verdict`` (and the provider version's branch and tags).

    :raises PactSourceError: when the pact lacks a link or the broker refuses.
    """
    pact = verdict.pact
    if pact.results_url is None:
        msg = f"{pact.url} has no pb:publish-verification-results link."
        raise PactSourceError(msg)
    if options.branch or options.tags:
        _label_provider_version(client, pact, options)
    body: dict[str, Any] = {
        "success": bool(verdict.success),
        "providerApplicationVersion": options.provider_version,
        "verifiedBy": {"implementation": "flask-pact-states", "version": _version()},
    }
    if options.build_url:
        body["buildUrl"] = options.build_url
    client.request("POST", pact.results_url, body)


def _label_provider_version(
    client: BrokerClient, pact: PactVersion, options: PublishOptions
) -> None:
    if pact.provider_url is None:
        msg = f"{pact.url} has no pb:provider link to label the provider version."
        raise PactSourceError(msg)
    provider = client.request("GET", pact.provider_url)
    version_ = quote(options.provider_version, safe="")
    if options.branch:
        template = link_href(provider, "pb:branch-version", pact.provider_url)
        branch = quote(options.branch, safe="")
        href = template.replace("{branch}", branch).replace("{version}", version_)
        client.request("PUT", href, {})
    for tag in options.tags:
        template = link_href(provider, "pb:version-tag", pact.provider_url)
        href = template.replace("{version}", version_)
        client.request("PUT", href.replace("{tag}", quote(tag, safe="")), {})


def _version() -> str:
    try:
        return version("flask-pact-states")
    except PackageNotFoundError:  # run from a source tree
        return "unknown"
