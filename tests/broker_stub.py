"""An in-process stand-in for a Pact Broker, for tests of broker verification.

It speaks the part of the broker's HAL API that the Rust verifier behind
pact-python 4.2 (pact_verifier 1.4.7) uses.  Measured against that verifier, with
or without ``selector=True``, a verification makes these requests, each carrying
``Authorization`` (``Bearer <token>`` or ``Basic <base64 user:password>``) when
credentials are given:

1. ``GET /``: the index; the verifier follows its templated
   ``pb:provider-pacts-for-verification`` link (``pb:latest-provider-pacts`` is
   listed but never followed).
2. ``GET /pacts/provider/{provider}/for-verification``, then ``POST`` to that
   resource's ``_links.self`` with ``consumerVersionSelectors``,
   ``includePendingStatus`` and, when set, ``includeWipPactsSince`` and
   ``providerVersionBranch``.  The answer lists pacts in ``_embedded.pacts``.
3. ``GET`` of each listed pact (``/pacts/provider/{p}/consumer/{c}/version/{v}``).
4. Only with ``set_publish_options``: for a branch, ``GET`` of the pact's
   ``pb:provider`` link and ``PUT {}`` to its templated ``pb:branch-version``; for
   each provider tag, the same ``GET`` and ``PUT {}`` to ``pb:version-tag``; then
   ``POST`` of the results to the pact's ``pb:publish-verification-results``.

Every request is recorded (:attr:`BrokerStub.requests`), and a :class:`Fault`
makes the stub answer 401, 404 or 500, or hold requests unanswered.
"""

from __future__ import annotations

import enum
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest

__all__ = [
    "BrokerStub",
    "Fault",
    "PublishedResult",
    "RecordedRequest",
    "StubPact",
    "broker_stub",
]

_HAL = "application/hal+json"


class Fault(enum.Enum):
    """What the stub does instead of answering normally."""

    #: Answer ``401 Unauthorized`` to every request.
    UNAUTHORIZED = 401
    #: Answer ``404 Not Found`` to every request.
    NOT_FOUND = 404
    #: Answer ``500 Internal Server Error`` to every request.
    SERVER_ERROR = 500
    #: Read the request, then send nothing until :meth:`BrokerStub.stop` or
    #: ``hang_seconds`` have passed, and close the connection unanswered.
    HANG = -1


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stub received it."""

    method: str
    #: The path with its query string, as sent (still percent-encoded).
    path: str
    #: Header names in lower case.
    headers: Mapping[str, str]
    body: bytes
    #: The body parsed as JSON, or ``None`` when empty or not JSON.
    json: Any


@dataclass(frozen=True)
class StubPact:
    """A pact document served by the stub, with the broker's view of it."""

    document: Mapping[str, Any]
    consumer_version: str = "1.0.0"
    #: Reported as ``verificationProperties.pending`` when the verifier asks for
    #: pending status.
    pending: bool = False
    #: Listed only when the verifier sends ``includeWipPactsSince``.
    wip: bool = False

    @property
    def consumer(self) -> str:
        return str(self.document["consumer"]["name"])

    @property
    def provider(self) -> str:
        return str(self.document["provider"]["name"])

    @property
    def path(self) -> str:
        return (
            f"/pacts/provider/{_seg(self.provider)}/consumer/{_seg(self.consumer)}"
            f"/version/{_seg(self.consumer_version)}"
        )


@dataclass(frozen=True)
class PublishedResult:
    """A verification result the verifier published for one pact."""

    provider: str
    consumer: str
    consumer_version: str
    #: The JSON body: ``success``, ``providerApplicationVersion``, ``testResults``,
    #: ``verifiedBy`` and, when set, ``buildUrl``.
    body: Mapping[str, Any]


@dataclass
class _Recorder:
    lock: threading.Condition = field(default_factory=threading.Condition)
    requests: list[RecordedRequest] = field(default_factory=list)
    results: list[PublishedResult] = field(default_factory=list)
    branches: list[tuple[str, str, str]] = field(default_factory=list)
    tags: list[tuple[str, str, str]] = field(default_factory=list)


def _headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    # reqwest sends some headers twice (Accept on POST/PUT): keep both values.
    headers: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _seg(value: str) -> str:
    return quote(value, safe="")


class BrokerStub:
    """A Pact Broker stand-in served on ``127.0.0.1`` from a daemon thread.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`::

        with BrokerStub([pact_json]) as broker:
            Verifier("P").broker_source(broker.url, selector=True)...

    :param pacts: pact documents (as ``Pact.write_file`` writes them) or
        :class:`StubPact` values; a plain document gets consumer version
        ``"1.0.0"``, not pending, not WIP.
    :param fault: a :class:`Fault` to answer requests with; settable later
        through :attr:`fault`.
    :param fault_when: limits the fault to the requests this returns true for
        (say ``lambda r: r.method != "GET"`` for publication only); ``None``
        means every request.
    :param hang_seconds: the longest time a :attr:`Fault.HANG` request is held.
    """

    def __init__(
        self,
        pacts: Iterable[Mapping[str, Any] | StubPact] = (),
        *,
        fault: Fault | None = None,
        fault_when: Callable[[RecordedRequest], bool] | None = None,
        hang_seconds: float = 10.0,
    ) -> None:
        self.pacts: list[StubPact] = [
            p if isinstance(p, StubPact) else StubPact(p) for p in pacts
        ]
        self.fault = fault
        self.fault_when = fault_when
        self.hang_seconds = hang_seconds
        self._rec = _Recorder()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>`` (no trailing slash)."""
        if self._server is None:
            msg = "BrokerStub is not running: call start() or use it in a with block."
            raise RuntimeError(msg)
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> BrokerStub:
        """Bind a free port and serve; returns ``self``."""
        if self._server is not None:
            msg = "BrokerStub is already running."
            raise RuntimeError(msg)
        self._release.clear()
        server = _Server(("127.0.0.1", 0), _Handler, self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="broker-stub",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held requests, stop serving and join every stub thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._release.set()
        server.shutdown()
        server.server_close()  # joins the per-request threads
        thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> BrokerStub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what was seen -----------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._rec.lock:
            return list(self._rec.requests)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` requests have arrived; false on timeout."""
        with self._rec.lock:
            return self._rec.lock.wait_for(
                lambda: len(self._rec.requests) >= count, timeout
            )

    def requests_to(self, method: str, path_prefix: str = "/") -> list[RecordedRequest]:
        """The recorded requests with this method whose path starts with the prefix."""
        return [
            r
            for r in self.requests
            if r.method == method.upper() and r.path.startswith(path_prefix)
        ]

    @property
    def for_verification_bodies(self) -> list[Any]:
        """The JSON bodies POSTed to ``/pacts/provider/{p}/for-verification``."""
        return [
            r.json
            for r in self.requests_to("POST", "/pacts/provider/")
            if urlsplit(r.path).path.endswith("/for-verification")
        ]

    @property
    def published_results(self) -> list[PublishedResult]:
        """Verification results published so far, in arrival order."""
        with self._rec.lock:
            return list(self._rec.results)

    @property
    def provider_branches(self) -> list[tuple[str, str, str]]:
        """``(provider, branch, version)`` for each branch-version ``PUT``."""
        with self._rec.lock:
            return list(self._rec.branches)

    @property
    def provider_tags(self) -> list[tuple[str, str, str]]:
        """``(provider, version, tag)`` for each version-tag ``PUT``."""
        with self._rec.lock:
            return list(self._rec.tags)

    # -- routing (runs on request threads) ---------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._rec.lock:
            self._rec.requests.append(request)
            self._rec.lock.notify_all()

    def _fault_for(self, request: RecordedRequest) -> Fault | None:
        fault, when = self.fault, self.fault_when
        if fault is None or (when is not None and not when(request)):
            return None
        return fault

    def _route(self, req: RecordedRequest) -> tuple[int, Any]:
        parts = [unquote(p) for p in urlsplit(req.path).path.split("/") if p]
        base = self.url
        match req.method, parts:
            case "GET", []:
                return 200, _index(base)
            case "GET", ["pacts", "provider", provider, "for-verification"]:
                return 200, _for_verification_resource(base, provider)
            case "POST", ["pacts", "provider", provider, "for-verification"]:
                body = req.json if isinstance(req.json, dict) else {}
                return 200, self._pacts_for_verification(base, provider, body)
            case "GET", ["pacts", "provider", p, "consumer", c, "version", v]:
                pact = self._find(p, c, v)
                if pact is not None:
                    return 200, _pact_document(base, pact)
            case "POST", [
                "pacts",
                "provider",
                p,
                "consumer",
                c,
                "version",
                v,
                "verification-results",
            ] if self._find(p, c, v) is not None:
                body = req.json if isinstance(req.json, dict) else {}
                with self._rec.lock:
                    self._rec.results.append(PublishedResult(p, c, v, body))
                return 201, {**body, "_links": {"self": {"href": base + req.path}}}
            case "GET", ["pacticipants", name]:
                return 200, _pacticipant(base, name)
            case "PUT", ["pacticipants", name, "branches", branch, "versions", ver]:
                with self._rec.lock:
                    self._rec.branches.append((name, branch, ver))
                return 200, {"name": branch, "_links": {}}
            case "PUT", ["pacticipants", name, "versions", ver, "tags", tag]:
                with self._rec.lock:
                    self._rec.tags.append((name, ver, tag))
                return 200, {"name": tag, "_links": {}}
        return 404, {"error": f"BrokerStub has no resource {req.method} {req.path}"}

    def _find(self, provider: str, consumer: str, version: str) -> StubPact | None:
        for pact in self.pacts:
            if (pact.provider, pact.consumer, pact.consumer_version) == (
                provider,
                consumer,
                version,
            ):
                return pact
        return None

    def _pacts_for_verification(
        self, base: str, provider: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        # Selectors are applied by consumer name only (a selector without
        # "consumer" matches every pact); branches, tags and environments are
        # recorded for assertions, not interpreted.
        selectors = [s for s in body.get("consumerVersionSelectors") or [] if s]
        with_pending = bool(body.get("includePendingStatus"))
        with_wip = bool(body.get("includeWipPactsSince"))
        entries = []
        for pact in self.pacts:
            if pact.provider != provider or (pact.wip and not with_wip):
                continue
            if selectors and not any(
                "consumer" not in s or s["consumer"] == pact.consumer
                for s in selectors
                if isinstance(s, dict)
            ):
                continue
            properties: dict[str, Any] = {"notices": _notices(pact, with_pending)}
            if with_pending:
                properties["pending"] = pact.pending or pact.wip
            if pact.wip:
                properties["wip"] = True
            entries.append(
                {
                    "shortDescription": f"latest from {pact.consumer}",
                    "verificationProperties": properties,
                    "_links": {
                        "self": {
                            "href": base + pact.path,
                            "name": _pact_name(pact),
                        }
                    },
                }
            )
        return {
            "_embedded": {"pacts": entries},
            "_links": {"self": {"href": f"{base}/pacts/provider/{_seg(provider)}"}},
        }


def _notices(pact: StubPact, with_pending: bool) -> list[dict[str, str]]:
    # The verifier reads notices as string-to-string maps: other value types make
    # it discard the whole answer.
    notices = [
        {
            "when": "before_verification",
            "text": f"The pact at {pact.path} is being verified because it matches"
            " the given consumer version selectors.",
        }
    ]
    if with_pending:
        state = "is in pending state" if pact.pending else "is not in pending state"
        notices.append({"when": "before_verification", "text": f"This pact {state}."})
    return notices


def _pact_name(pact: StubPact) -> str:
    return f"Pact between {pact.consumer} ({pact.consumer_version}) and {pact.provider}"


def _index(base: str) -> dict[str, Any]:
    def link(href: str, title: str) -> dict[str, Any]:
        return {"href": base + href, "title": title, "templated": "{" in href}

    return {
        "_links": {
            "self": {"href": base, "title": "Index"},
            "pb:provider-pacts-for-verification": link(
                "/pacts/provider/{provider}/for-verification",
                "Pact versions to be verified for the specified provider",
            ),
            "pb:latest-provider-pacts": link(
                "/pacts/provider/{provider}/latest",
                "Latest pacts by provider",
            ),
            "pb:provider": link("/pacticipants/{provider}", "Fetch provider by name"),
            "pb:pacticipant": link("/pacticipants/{pacticipant}", "Fetch pacticipant"),
        }
    }


def _for_verification_resource(base: str, provider: str) -> dict[str, Any]:
    href = f"{base}/pacts/provider/{_seg(provider)}/for-verification"
    return {
        "_links": {
            "self": {"href": href, "title": "Pacts to be verified"},
        }
    }


def _pact_document(base: str, pact: StubPact) -> dict[str, Any]:
    doc = dict(pact.document)
    # The broker gives every interaction an "_id"; the verifier reports results
    # per "_id" (testResults stays empty without them).
    doc["interactions"] = [
        {"_id": _interaction_id(i), **i} if "_id" not in i else i
        for i in doc.get("interactions") or []
    ]
    pact_url = base + pact.path
    provider = f"{base}/pacticipants/{_seg(pact.provider)}"
    doc["_links"] = {
        "self": {"href": pact_url, "title": "Pact", "name": _pact_name(pact)},
        "pb:consumer": {
            "href": f"{base}/pacticipants/{_seg(pact.consumer)}",
            "name": pact.consumer,
        },
        "pb:provider": {"href": provider, "name": pact.provider},
        "pb:publish-verification-results": {
            "href": pact_url + "/verification-results",
            "title": "Publish verification results",
        },
    }
    return doc


def _interaction_id(interaction: Mapping[str, Any]) -> str:
    canonical = json.dumps(interaction, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()


def _pacticipant(base: str, name: str) -> dict[str, Any]:
    href = f"{base}/pacticipants/{_seg(name)}"
    return {
        "name": name,
        "_links": {
            "self": {"href": href},
            "pb:branch-version": {
                "href": href + "/branches/{branch}/versions/{version}",
                "templated": True,
            },
            "pb:version-tag": {
                "href": href + "/versions/{version}/tags/{tag}",
                "templated": True,
            },
        },
    }


class _Server(ThreadingHTTPServer):
    # Non-daemon request threads, so server_close() joins them and a stopped stub
    # leaves no thread behind; HANG waits are released by stop().
    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        stub: BrokerStub,
    ) -> None:
        self.stub = stub
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Bounds a client that connects and never sends a request line.
    timeout = 5.0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        stub = self.server.stub
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers=_headers(self.headers.items()),
            body=body,
            json=parsed,
        )
        stub._record(request)
        fault = stub._fault_for(request)
        if fault is Fault.HANG:
            stub._release.wait(stub.hang_seconds)
            self.close_connection = True
            return
        if fault is not None:
            status, payload = fault.value, {"error": f"BrokerStub fault {fault.name}"}
        else:
            status, payload = stub._route(request)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", _HAL + ";charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


@pytest.fixture
def broker_stub() -> Iterator[BrokerStub]:
    """A running :class:`BrokerStub` with no pacts; add them to ``.pacts``."""
    with BrokerStub() as stub:
        yield stub
