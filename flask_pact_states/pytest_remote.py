"""Pacts from URLs and a Pact Broker for the pytest items, fetched once per
session.

pytest-xdist's workers collect each on their own. Fetching in each would ask
the broker once per worker, and a broker whose selection changed in between
(a pact published meanwhile) would give the workers different items, which
xdist refuses as a collection mismatch: ``-n N`` would fail where ``-n 0``
passes. So under xdist the controller fetches, once, when it configures its
first worker, and hands the pacts, or the reason it could not fetch them, to
every worker in its ``workerinput``. A plain session fetches when it
collects, as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import pytest

from .errors import PactSourceError
from .pytest_options import Sources
from .runner.broker import BrokerOptions
from .runner.remote import BrokerClient, RemotePact

#: Fetches the pacts of one source; raises PactSourceError.
Fetch = Callable[[], list[RemotePact]]
#: The key of the controller's fetched pacts in a worker's ``workerinput``.
_INPUT_KEY: Final = "pact_states_remote_pacts"


@dataclass(frozen=True)
class RemoteSource:
    """A pact URL or the broker, as the items' collector names it."""

    #: The collector's name: ``pact-broker``, or the URL.
    name: str
    #: The folder (under the rootdir) its pacts appear in, in node ids.
    folder: str
    fetch: Fetch


def remote_sources(sources: Sources) -> list[RemoteSource]:
    """The broker (when given), then each pact URL."""
    found = []
    if sources.broker is not None:
        client = BrokerClient(sources.broker)
        provider = sources.provider or ""
        fetch = partial(client.pacts_for_verification, provider)
        found.append(RemoteSource("pact-broker", "pact-broker", fetch))
    plain = BrokerClient(sources.broker or BrokerOptions())
    for url in sources.urls:
        found.append(RemoteSource(url, "pact-url", partial(_fetch_one, plain, url)))
    return found


class RemotePacts:
    """The session's remote sources, fetched once: here, or by the
    controller for its workers (a plugin: xdist calls its hook)."""

    def __init__(self, config: pytest.Config, sources: list[RemoteSource]) -> None:
        self._config = config
        self.sources = sources
        self._packed: dict[str, dict[str, Any]] | None = None

    def fetch(self, source: RemoteSource) -> list[RemotePact]:
        """The pacts of ``source``; the controller's, in an xdist worker.

        :raises PactSourceError: when they could not be fetched.
        """
        workerinput = getattr(self._config, "workerinput", {})
        # A worker whose sources differ from the controller's (another
        # environment on a remote host) fetches its own.
        packed = workerinput.get(_INPUT_KEY, {}).get(source.name)
        if packed is None:
            return source.fetch()
        return _unpack(packed)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Fetch every source once, for all workers (restarted ones too)."""
        if self._packed is None:
            self._packed = {source.name: _pack(source) for source in self.sources}
        node.workerinput[_INPUT_KEY] = self._packed


def _fetch_one(client: BrokerClient, url: str) -> list[RemotePact]:
    return [client.fetch(url)]


def _pack(source: RemoteSource) -> dict[str, Any]:
    """The source's pacts, or why not, in what execnet can send."""
    try:
        pacts = source.fetch()
    except PactSourceError as error:
        return {"error": str(error)}
    except Exception as error:  # in a worker: a collection error
        # Raised here it would end xdist's whole session as an INTERNALERROR.
        return {"error": f"{source.name}: {type(error).__name__}: {error}"}
    return {
        "pacts": [
            {
                "url": pact.url,
                "document": json.dumps(pact.document),
                "pending": pact.pending,
                "notices": list(pact.notices),
            }
            for pact in pacts
        ]
    }


def _unpack(packed: dict[str, Any]) -> list[RemotePact]:
    if "error" in packed:
        raise PactSourceError(packed["error"])
    return [
        RemotePact(
            url=pact["url"],
            document=json.loads(pact["document"]),
            pending=pact["pending"],
            notices=tuple(pact["notices"]),
        )
        for pact in packed["pacts"]
    ]
