"""Message producers: the events a provider publishes, verified like its answers.

The Rust verifier verifies a message interaction through a *message
transport*: it sets the interaction's states up with the state endpoint as
for HTTP, then POSTs ``{"description", "providerStates": [...]}`` (plus
``"request"`` for a synchronous message) to the transport URL, and compares
the answer's body with the pact's contents, its ``Content-Type`` with the
content type, and the base64 JSON of its ``Pact-Message-Metadata`` header
with the metadata.

:func:`answer_message` is that transport: it finds the producer registered
for the description (same lookup and binding rules as states), runs it in
the current interaction, after its states are set up and before they are
undone, and answers with what it returned. A producer that raises, or a
description without one, gets a 4xx JSON answer (never 5xx, which the
verifier retries for two minutes) and a journal record that the runner
turns into the report's reason.
"""

from __future__ import annotations

import base64
import json
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ..errors import HandlerReturnError
from .binding import bind_arguments
from .journal import StateChangeRecord
from .registry import StateMatch
from .stubs import producer_stub
from .wire import MalformedStateChange

if TYPE_CHECKING:
    from .lifecycle import Interaction
    from .state import AppStates

#: The journal's action for a message production.
MESSAGE_ACTION: Final = "message"
_DEFAULT_TYPES: Final = {
    bytes: "application/octet-stream",
    str: "text/plain",
}


@dataclass(frozen=True)
class Message:
    """What a message producer returns when the contents alone do not say
    it all: the contents, the message's metadata and its content type.

    :param contents: a dict or list (sent as JSON), a str or bytes.
    :param metadata: JSON-ready values, compared with the pact's metadata
        (a Kafka topic, an SNS attribute...).
    :param content_type: defaults to ``application/json`` for dicts and
        lists, ``text/plain`` for str, ``application/octet-stream`` for bytes.

    .. versionadded:: 0.1
    """

    contents: Any
    metadata: Mapping[str, Any] | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class MessageRequest:
    """The verifier's request for one message."""

    description: str
    #: The params of the interaction's provider states, merged in order.
    params: Mapping[str, Any] = field(default_factory=dict)
    #: A synchronous message's request contents, decoded; else ``None``.
    request: Any = None
    consumer: str | None = None


@dataclass(frozen=True)
class MessageAnswer:
    """The transport's answer: status, body and headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def error(cls, status: int, document: Mapping[str, Any]) -> MessageAnswer:
        """A JSON error answer (a 4xx: the verifier never retries those)."""
        body = json.dumps(document, default=repr).encode()
        return cls(status, body, (("Content-Type", "application/json"),))


def parse_message_request(body: bytes, query: Mapping[str, str]) -> MessageRequest:
    """Parse the verifier's message request.

    :raises MalformedStateChange: when it is not one (answered 400).
    """
    try:
        document = json.loads(body)
    except ValueError as error:
        msg = f"The message request body is not JSON ({error})."
        raise MalformedStateChange(msg) from None
    if not isinstance(document, dict) or not isinstance(
        document.get("description"), str
    ):
        msg = 'A message request is a JSON object with a "description".'
        raise MalformedStateChange(msg)
    params: dict[str, Any] = {}
    for state in document.get("providerStates") or ():
        if isinstance(state, dict) and isinstance(state.get("params"), dict):
            params.update(state["params"])
    request = document.get("request")
    return MessageRequest(
        description=document["description"],
        params=params,
        request=decode_contents(request) if isinstance(request, dict) else None,
        consumer=query.get("consumer") or None,
    )


def decode_contents(part: Mapping[str, Any]) -> Any:
    """A V4 message part's contents as the producer gets them: JSON as
    Python values, text as str, base64-encoded contents as bytes."""
    contents = part.get("contents", part)
    if not isinstance(contents, dict) or "content" not in contents:
        return contents
    content = contents["content"]
    encoded = contents.get("encoded")
    if isinstance(content, str) and encoded == "base64":
        return base64.b64decode(content)
    if isinstance(content, str) and encoded == "json":
        return json.loads(content)
    return content


def answer_message(states: AppStates, message: MessageRequest) -> MessageAnswer:
    """Produce ``message`` with its producer, one at a time per app.

    :returns: 200 with the message; 404 without a producer, 422 when it
        failed, 409 when a state change still runs after the lock timeout.
    """
    with states.exclusive() as acquired:
        if not acquired:
            text = (
                "A state change is still running (a handler may hang); the"
                f" message waited {states.settings.lock_timeout} s and gave up."
            )
            _record(states, message, None, "rejected", 409, 0.0, error_message=text)
            return MessageAnswer.error(409, {"error": "busy", "message": text})
        return _produce(states, message)


def _produce(states: AppStates, message: MessageRequest) -> MessageAnswer:
    started = time.perf_counter()
    current = states.lifecycle.interaction
    consumer = message.consumer or (current.consumer if current else None)
    message = MessageRequest(
        message.description, message.params, message.request, consumer
    )
    match = states.producers.resolve(message.description, consumer)
    if match is None:
        return _missing(states, message, started)
    try:
        value = states.lifecycle.produce(
            lambda interaction: _call(match, message, interaction)
        )
        answer = encode_message(value, match.handler.qualname)
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        return _failed(states, message, match, error, started)
    _record(states, message, match, "ok", 200, started)
    return answer


def _call(match: StateMatch, message: MessageRequest, interaction: Interaction) -> Any:
    # The handlers' returned values win over the pact's params, as the
    # verifier merges a state answer over the params.
    params = {**message.params, **interaction.values}
    arguments = bind_arguments(
        match,
        params,
        state=message.description,
        consumer=message.consumer,
        reserved={"request": message.request},
    )
    return match.handler.func(**arguments)


def encode_message(value: Any, producer: str) -> MessageAnswer:
    """The 200 answer carrying what a producer returned.

    :raises HandlerReturnError: for contents that are not dict, list, str or
        bytes, or metadata that is not JSON.
    """
    message = value if isinstance(value, Message) else Message(value)
    contents = message.contents
    if isinstance(contents, bytes | bytearray):
        body, default = bytes(contents), _DEFAULT_TYPES[bytes]
    elif isinstance(contents, str):
        body, default = contents.encode(), _DEFAULT_TYPES[str]
    elif isinstance(contents, dict | list):
        body, default = _json(contents, producer, "contents"), "application/json"
    else:
        msg = (
            f"Message producer {producer}() returned {type(contents).__name__}"
            " contents; return a dict or list (JSON), str, bytes, or a"
            " Message(contents, metadata=..., content_type=...)."
        )
        raise HandlerReturnError(msg)
    content_type = message.content_type or default
    headers = [("Content-Type", content_type)]
    if message.metadata:
        metadata = _json(dict(message.metadata), producer, "metadata")
        headers.append(("Pact-Message-Metadata", base64.b64encode(metadata).decode()))
    return MessageAnswer(200, body, tuple(headers))


def _json(value: Any, producer: str, what: str) -> bytes:
    try:
        return json.dumps(value, allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        msg = (
            f"Message producer {producer}() returned {what} that are not JSON"
            f" ({error}); use str, int, float, bool, None, list and dict values."
        )
        raise HandlerReturnError(msg) from None


def _missing(
    states: AppStates, message: MessageRequest, started: float
) -> MessageAnswer:
    by = f" from consumer {message.consumer!r}" if message.consumer else ""
    text = f"No producer is registered for message {message.description!r}{by}."
    stub = producer_stub(message.description, message.params, None)
    _record(states, message, None, "missing", 404, started, error_message=text)
    return MessageAnswer.error(
        404,
        {
            "error": "unknown_message",
            "message": text + " Add a producer:\n\n" + stub,
            "description": message.description,
            "close_matches": states.producers.close_matches(
                message.description, message.consumer
            ),
            "stub": stub,
        },
    )


def _failed(
    states: AppStates,
    message: MessageRequest,
    match: StateMatch,
    error: BaseException,
    started: float,
) -> MessageAnswer:
    kind = type(error).__qualname__
    trace = "".join(traceback.format_exception(error))
    _record(
        states,
        message,
        match,
        "error",
        422,
        started,
        error_type=kind,
        error_message=str(error),
        traceback=trace,
    )
    return MessageAnswer.error(
        422,
        {
            "error": "message_production_failed",
            "message": f"Producing message {message.description!r} failed:"
            f" {kind}: {error}",
            "handler": match.handler.qualname,
            "exception": {"type": kind, "message": str(error), "traceback": trace},
        },
    )


def _record(
    states: AppStates,
    message: MessageRequest,
    match: StateMatch | None,
    outcome: Any,
    status: int,
    started: float,
    **details: Any,
) -> None:
    states.journal.add(
        StateChangeRecord(
            interaction=states.lifecycle.interactions_started,
            action=MESSAGE_ACTION,
            state=message.description,
            consumer=message.consumer,
            params=message.params,
            outcome=outcome,
            status=status,
            handler=match.handler.qualname if match else None,
            duration=time.perf_counter() - started if started else 0.0,
            **details,
        )
    )
