"""The record handler: what it declares (a ``lambda_context`` parameter, an ``async def`` body), and
the awaitables it returns, always awaited and never mistaken for a success.

A handler that is not itself ``async def`` may still return a coroutine: a
``lambda record: handle(record)`` around an ``async def``, a ``functools.wraps``
wrapper of one, an object whose inherited ``__call__`` is async. Its body runs only
when the result is awaited, so the processors await every awaitable result before
counting the record a success; when it cannot be awaited, the record fails.

Signatures are read without importing ``inspect`` for plain functions (cold start); other
callables are inspected once, and the answer is held only as long as the handler lives.
"""

from __future__ import annotations

import functools
import sys
import threading
import weakref

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Awaitable, Callable


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


_CO_COROUTINE = 0x80  # the code flag of an ``async def`` function


def _unwrap(handler: Any) -> Any:
    while isinstance(handler, functools.partial):
        handler = handler.func
    return getattr(handler, "__func__", handler)  # a bound method's function


# Answers for handlers whose signature needs ``inspect`` (decorated functions, callable
# objects), held weakly: a handler made per invocation (a closure and whatever it captures)
# must not outlive its invocation because of this cache.
_SIGNATURE_ANSWERS: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _signature_declares_lambda_context(handler: Callable[..., Any]) -> bool:
    import inspect  # classes, callable objects, decorated functions

    try:
        parameters = inspect.signature(handler).parameters
    except (TypeError, ValueError):  # some builtins have no signature
        return False
    return "lambda_context" in parameters


def accepts_lambda_context(handler: Callable[..., Any]) -> bool:
    """Whether ``handler`` declares a ``lambda_context`` parameter.

    A plain function's parameter names are read from its code object (no cache needed);
    other callables are inspected once and the answer is kept only as long as the
    handler itself lives.
    """
    if isinstance(handler, functools.partial) and "lambda_context" in handler.keywords:
        return False  # already bound
    target = _unwrap(handler)
    code = getattr(target, "__code__", None)
    if code is not None and not hasattr(target, "__wrapped__"):
        # A plain function: read its parameter names without importing inspect (cold start).
        return "lambda_context" in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    try:
        return _SIGNATURE_ANSWERS[handler]
    except (KeyError, TypeError):  # not seen yet, or not weakly referenceable
        pass
    answer = _signature_declares_lambda_context(handler)
    try:  # noqa: SIM105 - contextlib is not worth importing here (cold start)
        _SIGNATURE_ANSWERS[handler] = answer
    except TypeError:  # not weakly referenceable (or unhashable): not cached
        pass
    return answer


def is_async_handler(handler: Callable[..., Any]) -> bool:
    """Whether calling ``handler`` returns a coroutine (an ``async def`` function, method or partial)."""
    target = _unwrap(handler)
    code = getattr(target, "__code__", None)
    if code is None:
        call = type(target).__call__ if callable(target) else None  # own or inherited __call__
        code = getattr(_unwrap(call), "__code__", None)
    return code is not None and bool(code.co_flags & _CO_COROUTINE)


__all__ = ["accepts_lambda_context", "is_async_handler", "is_awaitable", "run_awaitable", "running_loop"]
