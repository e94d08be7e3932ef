"""Calling state handlers of every kind: functions, coroutines, generators
and async generators, and checking what they give back.

A generator's code after its ``yield`` is its teardown: it is pushed on the
undo stack of the state that ran it. Async handlers of one app share one
event loop, so an async generator's set-up and teardown run on the same loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator, Mapping
from contextlib import ExitStack
from typing import Any, cast

from ..errors import HandlerReturnError
from .registry import Handler, HandlerKind
from .scopes import current_scope


class HandlerCalls:
    """Calls handlers for one app; owns the event loop of its async ones."""

    def __init__(self) -> None:
        self._async_runner: asyncio.Runner | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop async handlers run on, once one has run."""
        runner = self._async_runner
        return runner.get_loop() if runner is not None else None

    def close(self) -> None:
        """Release the event loop."""
        if self._async_runner is not None:
            self._async_runner.close()
            self._async_runner = None

    def enter(self, handler: Handler, arguments: Mapping[str, Any]) -> Any:
        result = handler.func(**arguments)
        if handler.kind is HandlerKind.FUNCTION:
            return result
        if handler.kind is HandlerKind.COROUTINE:
            return self.run_async(result)
        scope = current_scope()
        assert scope is not None  # _enter always runs inside run_in_scope
        if handler.kind is HandlerKind.GENERATOR:
            return _enter_generator(handler, result, scope)
        return self._enter_async_generator(handler, result, scope)

    def _enter_async_generator(
        self, handler: Handler, agen: AsyncGenerator[Any, None], scope: ExitStack
    ) -> Any:
        try:
            value = self.run_async(agen.__anext__())
        except StopAsyncIteration:
            raise _no_yield(handler) from None
        scope.callback(self._finish_async_generator, handler, agen)
        return value

    def _finish_async_generator(
        self, handler: Handler, agen: AsyncGenerator[Any, None]
    ) -> None:
        try:
            self.run_async(agen.__anext__())
        except StopAsyncIteration:
            return
        self.run_async(agen.aclose())
        raise _yielded_twice(handler)

    def run_async(self, awaitable: Coroutine[Any, Any, Any]) -> Any:
        # One loop per app for all async handlers, so an async generator's
        # setup and teardown run on the same loop.
        if self._async_runner is None:
            self._async_runner = asyncio.Runner()
        # By default the runner uses the context it was created in, so an async
        # handler's patches would join the first state's (long closed) scope.
        return self._async_runner.run(awaitable, context=contextvars.copy_context())

    def run_hooks(self, hooks: list[Callable[[], Any]]) -> None:
        for hook in list(hooks):
            result = hook()
            if asyncio.iscoroutine(result):
                self.run_async(result)


def _enter_generator(
    handler: Handler, gen: Generator[Any, None, None], scope: ExitStack
) -> Any:
    try:
        value = next(gen)
    except StopIteration:
        raise _no_yield(handler) from None
    scope.callback(_finish_generator, handler, gen)
    return value


def _finish_generator(handler: Handler, gen: Generator[Any, None, None]) -> None:
    try:
        next(gen)
    except StopIteration:
        return
    gen.close()
    raise _yielded_twice(handler)


def _no_yield(handler: Handler) -> HandlerReturnError:
    return HandlerReturnError(
        f"Generator state handler {handler.qualname}() returned without yielding;"
        " yield once (the provider-state values or None) between set-up and"
        " teardown."
    )


def _yielded_twice(handler: Handler) -> HandlerReturnError:
    return HandlerReturnError(
        f"Generator state handler {handler.qualname}() yielded more than once;"
        " yield exactly once, between set-up and teardown."
    )


def check_result(handler: Handler, value: Any) -> dict[str, Any]:
    """``value`` as provider-state values, or an error saying what to return."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        msg = (
            f"State handler {handler.qualname}() returned a {type(value).__name__};"
            " return None or a dict of provider-state values."
        )
        raise HandlerReturnError(msg)
    try:
        json.dumps(value, allow_nan=False)  # NaN is not JSON
    except (TypeError, ValueError) as error:
        msg = (
            f"State handler {handler.qualname}() returned a dict that is not JSON"
            f" serialisable ({error}); return plain str, int, float, bool, None,"
            " list and dict values."
        )
        raise HandlerReturnError(msg) from None
    return cast(dict[str, Any], value)
