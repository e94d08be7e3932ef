"""The per-app record of state changes, for runners the verifier keeps in the dark.

The verifier never shows the body of a failed state-change answer. A runner in
the same process listens to the journal instead and reports the handler's
exception and traceback itself.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Literal

logger = logging.getLogger("flask_pact_states")

#: The most characters a record keeps of a handler's returned values (as
#: JSON), its error message and its traceback, each.
MAX_KEPT: Final = 64 * 1024

Outcome = Literal["ok", "error", "missing", "ignored", "skipped", "rejected"]


@dataclass(slots=True)  # not frozen: frozen __init__ is slow on the hot path
class StateChangeRecord:
    """One state-change call as the endpoint saw and answered it.

    .. versionadded:: 0.1
    """

    #: Number of the interaction (per app, from 1) the call belonged to; 0 when
    #: it was rejected before reaching the lifecycle.
    interaction: int
    #: ``setup``, ``teardown``, or ``message`` for a message production
    #: (``state`` is then the message's description, ``params`` its states').
    action: str
    state: str
    consumer: str | None
    params: Mapping[str, Any]
    #: ``ok``; ``error`` (handler or binding failed); ``missing`` (no handler,
    #: answered 404); ``ignored`` (no handler, ``PACT_STATES_MISSING="warn"``);
    #: ``skipped`` (a setup the verifier still sent after an earlier state of
    #: its interaction failed; only when the runner knows the interactions);
    #: ``rejected`` (malformed or refused request).
    outcome: Outcome
    status: int
    handler: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    duration: float = 0.0
    #: Params the handler received no argument for (it neither declares them
    #: nor takes ``**kwargs`` or ``params``): dropped, which a mismatch may follow.
    ignored_params: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        """Whether the verifier was told this state change failed."""
        return self.status >= 400


Listener = Callable[[StateChangeRecord], None]


class Journal:
    """A bounded log of :class:`StateChangeRecord` plus live listeners.

    :param size: how many records to keep for inspection.
    """

    def __init__(self, size: int) -> None:
        self._records: deque[StateChangeRecord] = deque(maxlen=size)
        self._listeners: list[Listener] = []

    def add(self, record: StateChangeRecord) -> None:
        """Keep ``record`` (its big values cut down), log it and pass it to
        every listener."""
        _bound(record)
        self._records.append(record)
        _log(record)
        for listener in self._listeners:
            listener(record)

    @contextmanager
    def listen(self, listener: Listener) -> Iterator[None]:
        """Call ``listener`` with each record added inside the ``with`` block."""
        self._listeners.append(listener)
        try:
            yield
        finally:
            self._listeners.remove(listener)

    def __iter__(self) -> Iterator[StateChangeRecord]:
        return iter(tuple(self._records))

    def __len__(self) -> int:
        return len(self._records)


def _bound(record: StateChangeRecord) -> None:
    """Cut down what one record keeps: a handler returning 50 MB, thirty
    times, must not leave 1.5 GB held by the journal after the run."""
    if record.result:
        size = len(json.dumps(record.result, default=repr))
        if size > MAX_KEPT:
            record.result = {"<not kept>": f"{size} characters of JSON"}
    for name in ("error_message", "traceback"):
        text = getattr(record, name)
        if text is not None and len(text) > MAX_KEPT:
            cut = len(text) - MAX_KEPT
            setattr(record, name, f"{text[:MAX_KEPT]}... [{cut} more characters]")


def _log(record: StateChangeRecord) -> None:
    if record.failed:
        logger.warning(
            "%s %r (consumer %r, params %r) failed with %s: %s",
            record.action,
            record.state,
            record.consumer,
            dict(record.params),
            record.status,
            record.error_message,
        )
    elif logger.isEnabledFor(logging.INFO):
        logger.info(
            "%s %r (consumer %r, params %r): %s",
            record.action,
            record.state,
            record.consumer,
            dict(record.params),
            record.outcome,
        )
