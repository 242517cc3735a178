"""Awaitables returned by record handlers: always awaited, never mistaken for a success.

A handler that is not itself ``async def`` may still return a coroutine: a
``lambda record: handle(record)`` around an ``async def``, a ``functools.wraps``
wrapper of one, an object whose inherited ``__call__`` is async. Its body runs only
when the result is awaited, so the processors await every awaitable result before
counting the record a success; when it cannot be awaited, the record fails.
"""

from __future__ import annotations

import sys
import threading

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Awaitable


def is_awaitable(value: Any) -> bool:
    """Whether ``value`` must be awaited to get the handler's real result (``None`` is not)."""
    return value is not None and getattr(type(value), "__await__", None) is not None


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _main_thread_loop() -> Any:
    """The main thread's event loop: the one set for the thread (a handler module may have
    bound resources to it), else a new one, set, and reused on later (warm) calls."""
    import asyncio
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the policy API, 3.12+
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:  # none set (3.14 no longer makes one here)
            loop = None
    if loop is None or loop.is_closed() or loop.is_running():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop


def run_awaitable(awaitable: Awaitable[Any]) -> Any:
    """Await ``awaitable`` from synchronous code and return its result (or raise its exception).

    The main thread runs it on the event loop set for the thread (made and set on first
    use, then kept across warm invocations), so resources a handler module binds to that
    loop stay usable; worker threads use a loop for the call. Inside a running event loop
    the awaitable cannot be awaited here: it is closed and ``TypeError`` says what to do
    instead.
    """
    import asyncio  # only handlers that return awaitables pay for it

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        close = getattr(awaitable, "close", None)
        if callable(close):
            close()  # no "never awaited" warning: the record is reported as failed instead
        raise TypeError(
            "the record handler returned an awaitable inside a running event loop:"
            " use `await processor.async_process()` (or AsyncBatchProcessor)"
        )
    if threading.current_thread() is threading.main_thread():
        return _main_thread_loop().run_until_complete(_await(awaitable))
    return asyncio.run(_await(awaitable))


def running_loop() -> Any:
    """The event loop running in this thread, or ``None`` (asyncio only loaded when needed)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


__all__ = ["is_awaitable", "run_awaitable", "running_loop"]
