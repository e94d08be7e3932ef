"""The provider-state blueprint: HTTP in, :class:`~.service.Answer` out.

Only the checks that need the request live here (method, caller, token, size);
parsing is in :mod:`.wire` and applying in :mod:`.service`.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache

from flask import Blueprint, Response, current_app, jsonify, request

from . import config
from .service import Answer, AppStates
from .wire import MalformedStateChange, parse_state_changes

BLUEPRINT_NAME = "pact_states"
EXTENSION_KEY = "pact_states"
# Every method reaches the view, so a wrong one gets a JSON 405 too.
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


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
    answer = _refusal(states) or _apply(states)
    response = jsonify(answer.body)
    response.status_code = answer.status
    return response


def _apply(states: AppStates) -> Answer:
    body = request.stream.read(states.settings.max_body + 1)
    if len(body) > states.settings.max_body:
        return _too_large(states)
    try:
        changes = parse_state_changes(body, request.args)
    except MalformedStateChange as error:
        return states.reject(400, "malformed_request", str(error))
    return states.apply(changes)


def _refusal(states: AppStates) -> Answer | None:
    settings = states.settings
    if request.method != "POST":
        message = f"Use POST for provider state changes, not {request.method}."
        return states.reject(405, "method_not_allowed", message)
    if not settings.allow_remote and not _is_loopback(request.remote_addr):
        message = (
            f"State changes are answered for loopback callers only, not"
            f" {request.remote_addr}; set {config.ALLOW_REMOTE} = True to allow."
        )
        return states.reject(403, "forbidden", message)
    if settings.token is not None and not _token_matches(settings.token):
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


def _token_matches(expected: str) -> bool:
    sent = request.headers.get(config.TOKEN_HEADER, "")
    # Constant time, so the token cannot be guessed byte by byte.
    return hmac.compare_digest(sent.encode(), expected.encode())


@lru_cache(maxsize=64)
def _is_loopback(address: str | None) -> bool:
    if address is None:
        return False
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False
