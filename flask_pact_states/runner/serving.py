"""The served app as the verifier sees it: a :class:`~.execution.Target`.

App requests (and message calls) go to waitress (:mod:`.server`); state
calls, when answered directly, go to the state door (:mod:`.door`), which
answers them without thread hand-offs. With ``direct_state_calls`` off they
go through the app, on waitress, as an outside verifier's would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from .door import serve_door
from .execution import Target
from .server import serve

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from ..config import Settings


@contextmanager
def serve_target(
    app: WSGIApplication, settings: Settings, *, door: bool
) -> Iterator[Target]:
    """Serve ``app`` (the runner's :func:`~.execution.served_app`) on
    127.0.0.1, with the state door when ``door``; yield where it answers."""
    with ExitStack() as stack:
        base_url = stack.enter_context(serve(app))
        door_url = (
            stack.enter_context(serve_door(app, settings.max_body)) if door else None
        )
        yield Target(
            base_url, settings.url, settings.token, settings.message_url, door_url
        )
