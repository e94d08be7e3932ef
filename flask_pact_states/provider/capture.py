"""``capture``: the app's real publisher, recorded instead of sending.

A message producer runs the code path that publishes (the service function
that creates an order and publishes "order created") with the publish
function replaced by a recording autospec, then returns what it was called
with. Like every patch, the replacement is undone with the interaction (or
at the end of a ``with`` block).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any
from unittest import mock

from ..errors import CaptureError
from .mocking import Target, describe_target, resolve_target, start_patch

__all__ = ["Captured", "capture"]


def capture(target: Target, /, **configure: Any) -> Captured:
    """Replace the publish function ``target`` with a recording mock that
    does not send, for the current interaction::

        @states.message("an order created event")
        def order_created(order_id: int = 1):
            with capture("orders.events.publish") as sent:
                orders.service.create_order(order_id, item="kettle")
            return Message(sent.arguments["payload"],
                           metadata={"topic": sent.arguments["topic"]})

    The stand-in checks each call against the original's signature, so a
    call with a wrong signature fails as it would for real, and returns
    ``return_value`` (a :class:`~unittest.mock.MagicMock` by default, as a
    Kafka ``send`` future would be used). A method patched on a class, or
    other ``configure`` keywords, get an autospec of the original configured
    with them. Any publisher shape works: a function, a Kafka producer's
    ``send``, boto3's ``publish``, a Celery task's ``apply_async``
    (``(task, "apply_async")``).

    :param target: ``"myapp.events.publish"``, ``"myapp.events:publish"``
        or ``(object, "attribute")``: the name where the app looks it up.
    :returns: the record of its calls; also a context manager that undoes
        the patch at the end of its block (the calls stay readable).
    :raises MockTargetError: when ``target`` cannot be found.

    .. versionadded:: 0.1
    """
    owner, attribute = resolve_target(target)
    original = getattr(owner, attribute)
    signature = None
    if isinstance(original, mock.NonCallableMock) or not callable(original):
        recorder: Any = mock.MagicMock(**configure)
    elif isinstance(owner, type) or set(configure) - {"return_value"}:
        # Called through instances, a class's function must bind self:
        # an autospec does (and takes any configure keyword).
        recorder = mock.create_autospec(original, **configure)
        signature = _signature(original)
    else:
        # A tenth of an autospec's cost, which is most of a message's.
        signature = _signature(original)
        recorder = _Recorder(signature, configure.get("return_value", _UNSET))
    stop = start_patch(mock.patch.object(owner, attribute, recorder))
    return Captured(describe_target(target), recorder, signature, stop)


_UNSET: Any = object()


class _Recorder:
    """A stand-in that checks each call's signature and records it."""

    def __init__(self, signature: inspect.Signature | None, return_value: Any) -> None:
        self._signature = signature
        self.return_value = return_value
        self.call_args_list: list[Any] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._signature is not None:
            self._signature.bind(*args, **kwargs)  # TypeError, as for real
        self.call_args_list.append(mock.call(*args, **kwargs))
        if self.return_value is _UNSET:
            self.return_value = mock.MagicMock(name="publish()")
        return self.return_value


def _signature(func: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


class Captured:
    """The calls a :func:`capture` recorded.

    :attr:`call_args`, :attr:`args`, :attr:`kwargs` and :attr:`arguments`
    are about *the* one call, and raise
    :class:`~flask_pact_states.errors.CaptureError` when the publisher was
    called zero or several times; :attr:`calls` has every call.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        target: str,
        recorder: Any,
        signature: inspect.Signature | None,
        stop: Any,
    ) -> None:
        self.target = target
        #: The mock standing in for the publisher.
        self.mock = recorder
        self._signature = signature
        self._stop = stop

    @property
    def calls(self) -> Sequence[Any]:
        """Every call, as :data:`unittest.mock.call` objects, in order."""
        return list(self.mock.call_args_list)

    @property
    def call_args(self) -> Any:
        """The one call (``call_args.args``, ``call_args.kwargs``).

        :raises CaptureError: when there were zero or several calls.
        """
        calls = self.calls
        if len(calls) == 1:
            return calls[0]
        if not calls:
            msg = (
                f"capture({self.target}) recorded no call: the code the producer"
                " ran did not publish. Run the code path that publishes, and"
                " capture the name that code looks up (where it is used, not"
                " where it is defined)."
            )
        else:
            listed = "; ".join(repr(call) for call in calls[:5])
            msg = (
                f"capture({self.target}) recorded {len(calls)} calls, so there"
                f" is no one message to return: {listed}. Pick one from"
                " .calls, or publish once."
            )
        raise CaptureError(msg)

    @property
    def args(self) -> tuple[Any, ...]:
        """The positional arguments of the one call."""
        return tuple(self.call_args.args)

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the one call."""
        return dict(self.call_args.kwargs)

    @property
    def arguments(self) -> Mapping[str, Any]:
        """The one call's arguments by parameter name, positional or keyword
        (``sent.arguments["value"]`` whether ``send(topic, value)`` or
        ``send(topic, value=...)`` was called); ``**kwargs`` flattened."""
        call = self.call_args
        if self._signature is None:
            return dict(call.kwargs)
        try:
            bound = self._signature.bind(*call.args, **call.kwargs)
        except TypeError:
            return dict(call.kwargs)
        arguments = dict(bound.arguments)
        for name, parameter in self._signature.parameters.items():
            if parameter.kind is parameter.VAR_KEYWORD and name in arguments:
                arguments.update(arguments.pop(name))
        return arguments

    def undo(self) -> None:
        """Put the publisher back now (later undo is a no-op)."""
        self._stop()

    def __enter__(self) -> Captured:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.undo()

    def __repr__(self) -> str:
        return f"<Captured {self.target}: {len(self.calls)} call(s)>"
