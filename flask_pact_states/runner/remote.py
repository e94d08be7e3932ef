"""Pacts fetched by the runner itself: from URLs and from a Pact Broker.

``flask pact-verify`` hands URL and broker sources to the Rust verifier,
which fetches, verifies and publishes in one call and so cannot verify one
interaction at a time. The pytest items need the pacts at collection time
instead, to make an item of each interaction and verify chunks of them as
local copies; this module fetches them the way the verifier does (the
broker's HAL index, ``pb:provider-pacts-for-verification``, then each pact)
and publishes the results back (:mod:`.publishing`).

Every request is bounded by :data:`TIMEOUT` (per blocking read) and every
answer by the pact file size limit; every failure is a
:class:`~flask_pact_states.errors.PactSourceError` that names the URL.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlsplit

from ..errors import PactSourceError
from .broker import BrokerOptions
from .files import MAX_PACT_BYTES

#: Seconds any one request to a broker or pact URL may take.
TIMEOUT: Final = 30.0
#: How much of an error answer's body a message quotes.
_QUOTED: Final = 300
_ACCEPT: Final = "application/hal+json, application/json"
_FOR_VERIFICATION: Final = "pb:provider-pacts-for-verification"
_UNSAFE: Final = re.compile(r"[^\w.@+-]+")


@dataclass(frozen=True)
class RemotePact:
    """One pact fetched from a URL or a broker.

    .. versionadded:: 0.1
    """

    #: Where the pact was fetched from.
    url: str
    document: Mapping[str, Any]
    #: The broker says the pact is pending: its failures do not fail the build.
    pending: bool = False
    #: The broker's notices for this pact (why it is verified, pending or not).
    notices: tuple[str, ...] = ()

    def link(self, relation: str) -> str | None:
        """The href of one of the pact's HAL links (``pb:provider``...)."""
        links = self.document.get("_links")
        found = links.get(relation) if isinstance(links, Mapping) else None
        href = found.get("href") if isinstance(found, Mapping) else None
        return href if isinstance(href, str) and href else None

    @property
    def file_name(self) -> str:
        """A file name for the pact, the same in every process that fetches
        it: ``Consumer-Provider-version.json`` (the version from a broker's
        pact URL, else a digest of the URL)."""
        parts = urlsplit(self.url).path.split("/")
        version = parts[-1] if len(parts) > 1 and parts[-2] == "version" else ""
        digest = hashlib.sha1(self.url.encode(), usedforsecurity=False).hexdigest()
        names = [_name(self.document, "consumer"), _name(self.document, "provider")]
        name = "-".join([*names, version or digest[:10]])
        return _UNSAFE.sub("_", name) + ".json"


class BrokerClient:
    """A client of one Pact Broker (or of plain pact URLs, with its credentials).

    :param options: resolved broker options (credentials and selectors); for
        plain URLs, options without selectors will do.
    """

    def __init__(self, options: BrokerOptions, timeout: float = TIMEOUT) -> None:
        self._options = options
        self._timeout = timeout

    def pacts_for_verification(self, provider: str) -> list[RemotePact]:
        """The pacts the broker selects for ``provider``, each fetched.

        :raises PactSourceError: when the broker cannot be reached, answers
            an error or no JSON, has no such relation, or selects no pact.
        """
        assert self._options.url is not None  # resolved() refuses options without
        index = self.request("GET", self._options.url)
        template = link_href(index, _FOR_VERIFICATION, self._options.url)
        href = template.replace("{provider}", quote(provider, safe=""))
        found = self.request("POST", href, self._selection())
        entries = _embedded_pacts(found, href)
        if not entries:
            msg = (
                f"The Pact Broker at {self._options.url} selected no pact for"
                f" provider {provider!r} with these consumer version selectors:"
                f" {json.dumps(self._options.selector_json())}."
            )
            raise PactSourceError(msg)
        return [self._fetch_entry(entry, href) for entry in entries]

    def fetch(self, url: str) -> RemotePact:
        """The pact at ``url``.

        :raises PactSourceError: as :meth:`request`, or when it is not a JSON object.
        """
        document = self.request("GET", url)
        if not isinstance(document, dict):
            msg = f"{url} answered JSON that is not a pact (not an object)."
            raise PactSourceError(msg)
        return RemotePact(url, document)

    def request(self, method: str, url: str, body: Any = None) -> Any:
        """Send one request; its answer's JSON (``None`` for an empty body).

        :raises PactSourceError: naming ``url`` and saying what went wrong.
        """
        data = None if body is None else json.dumps(body).encode()
        try:
            # A relative or malformed href from the broker: ValueError.
            request = urllib.request.Request(url, data=data, method=method)
        except ValueError as error:
            raise PactSourceError(f"{method} {url}: not a URL ({error}).") from None
        request.add_header("Accept", _ACCEPT)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if authorization := self._authorization():
            request.add_header("Authorization", authorization)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:
                raw = answer.read(MAX_PACT_BYTES + 1)
        except urllib.error.HTTPError as error:
            quoted = error.read()[:_QUOTED].decode(errors="replace")
            msg = f"{method} {url} answered {error.code} {error.reason}: {quoted}"
            raise PactSourceError(msg) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            # HTTPException: an answer that is not HTTP (BadStatusLine...).
            why = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
            msg = f"{method} {url} failed: {why} (timeout {self._timeout:g} s)."
            raise PactSourceError(msg) from None
        if len(raw) > MAX_PACT_BYTES:
            msg = f"{method} {url} answered more than {MAX_PACT_BYTES // 2**20} MiB."
            raise PactSourceError(msg)
        return _json(raw, method, url)

    def _selection(self) -> dict[str, Any]:
        """The body of the pacts-for-verification request."""
        options = self._options
        body: dict[str, Any] = {
            "consumerVersionSelectors": options.selector_json(),
            "includePendingStatus": options.include_pending,
        }
        if (since := options.wip_date()) is not None:
            body["includeWipPactsSince"] = since.isoformat()
        if options.provider_branch:
            body["providerVersionBranch"] = options.provider_branch
        if options.provider_tags:
            body["providerVersionTags"] = list(options.provider_tags)
        return body

    def _fetch_entry(self, entry: Mapping[str, Any], listed_at: str) -> RemotePact:
        href = link_href(entry, "self", listed_at)
        properties = entry.get("verificationProperties")
        properties = properties if isinstance(properties, Mapping) else {}
        notices = properties.get("notices")
        pact = self.fetch(href)
        return RemotePact(
            href,
            pact.document,
            pending=bool(properties.get("pending")),
            notices=tuple(
                str(notice["text"])
                for notice in (notices if isinstance(notices, list) else [])
                if isinstance(notice, Mapping) and "text" in notice
            ),
        )

    def _authorization(self) -> str | None:
        options = self._options
        if options.token:
            return f"Bearer {options.token}"
        if options.username:
            pair = f"{options.username}:{options.password or ''}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        return None


def _json(raw: bytes, method: str, url: str) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as error:
        quoted = raw[:_QUOTED].decode(errors="replace")
        msg = f"{method} {url} did not answer JSON ({error}): {quoted}"
        raise PactSourceError(msg) from None


def link_href(resource: Any, relation: str, url: str) -> str:
    """The href of ``resource``'s link ``relation``, which came from ``url``."""
    links = resource.get("_links") if isinstance(resource, Mapping) else None
    link = links.get(relation) if isinstance(links, Mapping) else None
    href = link.get("href") if isinstance(link, Mapping) else None
    if not isinstance(href, str) or not href:
        msg = f"{url} answered without a {relation!r} link: is it a Pact Broker?"
        raise PactSourceError(msg)
    return href


def _embedded_pacts(found: Any, url: str) -> list[Mapping[str, Any]]:
    embedded = found.get("_embedded") if isinstance(found, Mapping) else None
    pacts = embedded.get("pacts") if isinstance(embedded, Mapping) else None
    if not isinstance(pacts, list):
        msg = f"{url} answered without a list of pacts (_embedded.pacts)."
        raise PactSourceError(msg)
    return [entry for entry in pacts if isinstance(entry, Mapping)]


def _name(document: Mapping[str, Any], role: str) -> str:
    participant = document.get(role)
    name = participant.get("name") if isinstance(participant, Mapping) else None
    return str(name) if name else role
