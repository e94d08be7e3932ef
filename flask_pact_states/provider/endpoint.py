"""HTTP in, :class:`~.state.Answer` out: the provider-state endpoint.

One function, :func:`answer_state_change`, checks a request (method, caller,
token, size), parses it (:mod:`.wire`) and applies it (:mod:`.state`). Two
doors lead to it: the blueprint's view, which any verifier can call, and
:class:`DirectStateCalls`, the runner's own door in front of the app, which
answers state calls in an app context without the app's request handling
(routing, request hooks, middleware): a third of what a state call costs.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

from .. import config
from .messages import MessageAnswer, answer_message, parse_message_request
from .state import EXTENSION_KEY, Answer, AppStates, get_app_states
from .wire import MalformedStateChange, parse_state_changes

BLUEPRINT_NAME = "pact_states"
# Every method reaches the view, so a wrong one gets a JSON 405 too.
#: Set in the environ when a state call reached the extension's view.
_REACHED_KEY = "flask_pact_states.reached"
#: At most this many bytes of an app's refusal go into the journal.
_BODY_SHOWN = 500
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_TOKEN_ENVIRON_KEY = "HTTP_" + config.TOKEN_HEADER.upper().replace("-", "_")


def create_blueprint(url: str, message_url: str | None = None) -> Blueprint:
    """A blueprint with the state-change endpoint at ``url`` and the message
    endpoint at ``message_url`` (trailing slashes too)."""
    blueprint = Blueprint(BLUEPRINT_NAME, __name__)
    blueprint.add_url_rule(
        url.rstrip("/") or "/",
        "state_change",
        state_change,
        methods=_METHODS,
        strict_slashes=False,
    )
    if message_url is not None:
        blueprint.add_url_rule(
            message_url.rstrip("/") or "/",
            "message",
            message,
            methods=_METHODS,
            strict_slashes=False,
        )
    return blueprint


def state_change() -> Response:
    """Enter or leave the provider state the verifier asks for."""
    states: AppStates = current_app.extensions[EXTENSION_KEY]
    request.environ[_REACHED_KEY] = True
    answer = answer_state_change(states, request)
    return Response(answer_body(answer), answer.status, mimetype="application/json")


def message() -> Response:
    """Produce the message the verifier's message transport asks for."""
    states: AppStates = current_app.extensions[EXTENSION_KEY]
    answer = answer_message_request(states, request)
    return Response(answer.body, answer.status, headers=list(answer.headers))


def answer_message_request(states: AppStates, request: Request) -> MessageAnswer:
    """Check, parse and answer one message request (as for state changes).

    :returns: the answer, never an exception: a producer's error is a 422.
    """
    refused = _refusal(states, request)
    if refused is not None:
        return MessageAnswer.error(refused.status, refused.body)
    try:
        body = _read_body(request, states.settings.max_body)
        query = request.args if request.environ.get("QUERY_STRING") else {}
        parsed = parse_message_request(body, query)
    except (ClientDisconnected, MalformedStateChange) as error:
        text = str(error) or "The request body ended early."
        states.reject(400, "malformed_request", text)
        return MessageAnswer.error(400, {"error": "malformed_request", "message": text})
    return answer_message(states, parsed)


def answer_state_change(states: AppStates, request: Request) -> Answer:
    """Check, parse and apply one state-change request.

    Handlers run in the current app context; no request context is needed.

    :param request: the request; only its WSGI environ and query are read.
    :returns: the answer, never an exception: a handler's error is a 422.
    """
    return _refusal(states, request) or _apply(states, request)


def answer_body(answer: Answer) -> bytes:
    """The answer's JSON document."""
    # Built directly: jsonify's provider machinery is a third of the view's cost.
    if not answer.body:
        return b"{}"
    return json.dumps(answer.body, separators=(",", ":")).encode()


class DirectStateCalls:
    """WSGI app: state calls answered directly, every other request by the app.

    The runner serves this in front of the app. A state call (a request to
    ``PACT_STATES_URL``, with or without its trailing slash) runs in an app
    context, as a CLI command would, and never reaches the app's routing,
    ``before_request`` hooks or WSGI middleware; handlers get
    :data:`~flask.current_app` and :data:`~flask.g`, not
    :data:`~flask.request`. The checks and the answers are the endpoint's.
    Requests to ``PACT_STATES_MESSAGE_URL`` (the verifier's message
    transport) are answered the same way, by the message producers.

    The token header (``PACT_STATES_TOKEN``), which the verifier sends with
    every request, is taken off the app's own requests: only state and
    message calls may carry it.

    :param direct: ``False`` sends state and message calls through the app too.

    .. versionadded:: 0.1
    """

    def __init__(self, app: Flask, *, direct: bool = True) -> None:
        """:raises NotSetUpError: when PactStates is not set up on ``app``."""
        self._app = app
        self._states = get_app_states(app)
        self._direct = direct
        self._paths = _paths(self._states.settings.url)
        self._message_paths = _paths(self._states.settings.message_url)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        wsgi_app: WSGIApplication = self._app
        path = environ.get("PATH_INFO")
        state_call = path in self._paths
        if not state_call and path not in self._message_paths:
            environ.pop(_TOKEN_ENVIRON_KEY, None)
            return wsgi_app(environ, start_response)
        if not self._direct:
            if state_call:
                return self._state_call_through_app(environ, start_response)
            return wsgi_app(environ, start_response)
        if state_call:
            with self._app.app_context():
                answer = answer_state_change(self._states, Request(environ))
            body = answer_body(answer)
            headers = [("Content-Type", "application/json")]
            return _respond(start_response, answer.status, body, headers)
        with self._app.app_context():
            produced = answer_message_request(self._states, Request(environ))
        headers = list(produced.headers)
        return _respond(start_response, produced.status, produced.body, headers)

    def _state_call_through_app(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """A state call sent through the app, as an outside verifier's would
        be; when the app answers it before the extension sees it (an auth
        ``before_request`` hook, a middleware), the journal says so."""
        statuses: list[int] = []

        def start(status: str, headers: Any, *exc_info: Any) -> Any:
            statuses.append(int(status.split()[0]))
            return start_response(status, headers, *exc_info)

        wsgi_app: WSGIApplication = self._app
        response = wsgi_app(environ, start)
        try:
            body = b"".join(response)
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()
        if not environ.get(_REACHED_KEY) and statuses and statuses[-1] >= 300:
            message = (
                "the app answered before the extension saw the call (a"
                " before_request hook or WSGI middleware), with:"
                f" {body[:_BODY_SHOWN].decode(errors='replace')}"
            )
            self._states.reject(statuses[-1], "refused_by_app", message)
        return [body]


def _paths(url: str) -> frozenset[str]:
    path = url.rstrip("/")
    return frozenset({path or "/", path + "/"})


def _respond(
    start_response: StartResponse,
    status: int,
    body: bytes,
    headers: list[tuple[str, str]],
) -> list[bytes]:
    reason = HTTP_STATUS_CODES.get(status, "")
    headers.append(("Content-Length", f"{len(body)}"))
    start_response(f"{status} {reason}", headers)
    return [body]


def _apply(states: AppStates, request: Request) -> Answer:
    environ = request.environ
    try:
        body = _read_body(request, states.settings.max_body)
    except ClientDisconnected:
        message = "The request body ended before the length its Content-Length gave."
        return states.reject(400, "malformed_request", message)
    if len(body) > states.settings.max_body:
        return _too_large(states)
    try:
        # Most verifiers send no query string: skip parsing an empty one.
        query = request.args if environ.get("QUERY_STRING") else {}
        changes = parse_state_changes(body, query)
    except MalformedStateChange as error:
        return states.reject(400, "malformed_request", str(error))
    return states.apply(changes)


def _read_body(request: Request, limit: int) -> bytes:
    """The body, at most ``limit + 1`` bytes (so an oversized one shows).

    Read straight from ``wsgi.input`` when the server ends that stream at the
    body's end (waitress) or the length is known (werkzeug): werkzeug's
    stream wrapper is a sixth of the endpoint's own cost. Chunked or unknown
    lengths on other servers go through that wrapper.
    """
    environ = request.environ
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        return stream.read(limit + 1)  # type: ignore[no-any-return]
    length = environ.get("CONTENT_LENGTH", "")
    if length.isdigit():
        size = min(int(length), limit + 1)
        body: bytes = stream.read(size)
        if len(body) < size:
            raise ClientDisconnected
        return body
    return request.stream.read(limit + 1)


def _refusal(states: AppStates, request: Request) -> Answer | None:
    settings = states.settings
    environ = request.environ
    method = environ["REQUEST_METHOD"]
    if method != "POST":
        message = f"Use POST for provider state changes, not {method}."
        return states.reject(405, "method_not_allowed", message)
    address = _remote_address(environ)
    if not settings.allow_remote and address is not None:
        message = (
            f"State changes are answered for loopback callers only, not"
            f" {address}; set {config.ALLOW_REMOTE} = True to allow."
        )
        return states.reject(403, "forbidden", message)
    if settings.token is not None and not _token_matches(settings.token, environ):
        message = (
            f"The {config.TOKEN_HEADER} header is missing or wrong; the"
            f" {config.TOKEN} of the app must be sent with every state change."
        )
        return states.reject(401, "unauthorized", message)
    if (request.content_length or 0) > settings.max_body:
        return _too_large(states)
    return None


def _remote_address(environ: WSGIEnvironment) -> str | None:
    """The first caller that is not loopback, or ``None`` when all are.

    The socket's peer counts, not the address a proxy middleware rewrote
    (``werkzeug.middleware.proxy_fix.ProxyFix`` keeps the original), and so
    does every address a proxy forwarded for: behind a reverse proxy on the
    same host the peer is loopback, the caller is not.
    """
    original = environ.get("werkzeug.proxy_fix.orig") or {}
    peer = original.get("REMOTE_ADDR", environ.get("REMOTE_ADDR"))
    if not _is_loopback(peer):
        return str(peer)
    for address in _forwarded_for(environ):
        if not _is_loopback(address):
            return address
    return None


def _forwarded_for(environ: WSGIEnvironment) -> list[str]:
    """The addresses in ``X-Forwarded-For``, ``X-Real-IP`` and ``Forwarded``."""
    addresses = []
    for key in ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP"):
        addresses += [a.strip() for a in environ.get(key, "").split(",") if a.strip()]
    for element in environ.get("HTTP_FORWARDED", "").replace(",", ";").split(";"):
        name, _, value = element.strip().partition("=")
        if name.lower() == "for":
            value = value.strip('"')
            # [v6]:port, v4:port, an obfuscated name or "unknown": not loopback.
            host = value[1:].partition("]")[0] if value.startswith("[") else value
            addresses.append(host.rpartition(":")[0] if host.count(":") == 1 else host)
    return addresses


def _too_large(states: AppStates) -> Answer:
    limit = states.settings.max_body
    message = f"The request body is over {config.MAX_BODY} ({limit} bytes)."
    return states.reject(413, "too_large", message)


def _token_matches(expected: str, environ: WSGIEnvironment) -> bool:
    sent = environ.get(_TOKEN_ENVIRON_KEY, "")
    # Constant time, so the token cannot be guessed byte by byte. A WSGI
    # environ may hold any str (lone surrogates too): never fail to encode it.
    return hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), expected.encode())


@lru_cache(maxsize=64)
def _is_loopback(address: str | None) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    # A dual-stack server sees IPv4 callers as ::ffff:127.0.0.1, which Python
    # before 3.13 does not call loopback.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback
