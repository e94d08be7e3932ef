"""The provider-state blueprint: HTTP in, :class:`~.service.Answer` out.

Only the checks that need the request live here (method, caller, token, size);
parsing is in :mod:`.wire` and applying in :mod:`.service`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from functools import lru_cache
from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import ClientDisconnected

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

from . import config
from .service import Answer, AppStates
from .wire import MalformedStateChange, parse_state_changes

BLUEPRINT_NAME = "pact_states"
EXTENSION_KEY = "pact_states"
# Every method reaches the view, so a wrong one gets a JSON 405 too.
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_TOKEN_ENVIRON_KEY = "HTTP_" + config.TOKEN_HEADER.upper().replace("-", "_")


def create_blueprint(url: str) -> Blueprint:
    """A blueprint with the state-change endpoint at ``url`` (trailing slash too)."""
    blueprint = Blueprint(BLUEPRINT_NAME, __name__)
    blueprint.add_url_rule(
        url.rstrip("/") or "/",
        "state_change",
        state_change,
        methods=_METHODS,
        strict_slashes=False,
    )
    return blueprint


def state_change() -> Response:
    """Enter or leave the provider state the verifier asks for."""
    states: AppStates = current_app.extensions[EXTENSION_KEY]
    environ = request.environ
    answer = _refusal(states, environ) or _apply(states, environ)
    # Built directly: jsonify's provider machinery is a third of the view's cost.
    body = json.dumps(answer.body, separators=(",", ":")) if answer.body else "{}"
    return Response(body, answer.status, mimetype="application/json")


def _apply(states: AppStates, environ: WSGIEnvironment) -> Answer:
    try:
        body = _read_body(environ, states.settings.max_body)
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


def _read_body(environ: WSGIEnvironment, limit: int) -> bytes:
    """The body, at most ``limit + 1`` bytes (so an oversized one shows).

    Verifiers send a Content-Length: reading exactly that from ``wsgi.input``
    skips werkzeug's stream wrapper, a sixth of the endpoint's own cost.
    Chunked or unknown lengths go through werkzeug's stream.
    """
    length = environ.get("CONTENT_LENGTH", "")
    if length.isdigit() and not environ.get("wsgi.input_terminated"):
        size = min(int(length), limit + 1)
        body: bytes = environ["wsgi.input"].read(size)
        if len(body) < size:
            raise ClientDisconnected
        return body
    return request.stream.read(limit + 1)


def _refusal(states: AppStates, environ: WSGIEnvironment) -> Answer | None:
    settings = states.settings
    method = environ["REQUEST_METHOD"]
    if method != "POST":
        message = f"Use POST for provider state changes, not {method}."
        return states.reject(405, "method_not_allowed", message)
    address = environ.get("REMOTE_ADDR")
    if not settings.allow_remote and not _is_loopback(address):
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
