"""What a record handler declares: a ``lambda_context`` parameter, an ``async def`` body.

Read without importing ``inspect`` for plain functions (cold start); other callables are
inspected once, and the answer is held only as long as the handler lives.
"""

from __future__ import annotations

import functools
import weakref

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable


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


__all__ = ["accepts_lambda_context", "is_async_handler"]
