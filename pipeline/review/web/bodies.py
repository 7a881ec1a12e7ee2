"""Request bodies the service refuses with a 4xx and a reason instead of failing on them.

* :class:`BodyLimit`, an ASGI middleware: a body larger than its route's limit answers 413, from
  its ``Content-Length`` or, for a chunked body, as soon as the bytes read pass the limit (it is
  never buffered whole).
* :func:`parse_json`, the strict JSON reader of the ingest endpoint: UTF-8 only, no lone
  surrogates, no ``NaN``/``Infinity``, no duplicate keys, at most :data:`MAX_DEPTH` levels of
  nesting and :data:`MAX_DIGITS` digits in a number (Python's own reader raises
  ``ValueError``, ``RecursionError`` or ``UnicodeDecodeError`` on some of these: those were 500s).
* :func:`describe_unparsable`: what FastAPI's "error parsing the body" was, for its 400.

>>> parse_json(b'{"a": [1, 2.5, "x"]}')
{'a': [1, 2.5, 'x']}
>>> parse_json(b'{"a": 1, "a": 2}')
Traceback (most recent call last):
...
pipeline.review.web.bodies.BadBody: duplicate_key: key 'a' appears twice in one object
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Events are three levels deep; nothing legitimate comes near this.
MAX_DEPTH = 32
#: An int64 has 19 digits; a longer number is no field's value (and 4,300 make Python raise).
MAX_DIGITS = 24


class BadBody(ValueError):
    """A body that is not acceptable JSON; ``code`` and ``message`` become the 400 answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class BodyTooLarge(HTTPException):
    """Raised while a body is read past its limit; the app's error handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"a request body may have at most {limit} bytes here")
        self.limit = limit


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise BadBody("number_too_long", f"a number has {len(text)} digits; at most {MAX_DIGITS}")
    return int(text)


def _float(text: str) -> float:
    if len(text) > 64:
        raise BadBody("number_too_long", f"a number is {len(text)} characters long; at most 64")
    value = float(text)
    if not math.isfinite(value):
        raise BadBody("number_out_of_range", f"{text[:32]} is out of a double's range")
    return value


def _constant(name: str) -> Any:
    raise BadBody("not_json", f"{name} is not a JSON value")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BadBody("duplicate_key", f"key {key[:64]!r} appears twice in one object")
        out[key] = value
    return out


def _check_tree(value: Any) -> None:
    """Depth and lone surrogates, without recursion (a deep value must not raise itself)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise BadBody("too_deep", f"JSON is nested more than {MAX_DEPTH} levels deep")
            children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
            for key, child in children:
                if key is not None:
                    _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            _check_text(item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadBody("bad_text", f"a string holds a lone surrogate {text[exc.start]!r}, "
                                  "which is no character") from None


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON, or :class:`BadBody`; a syntax error stays a ``json.JSONDecodeError``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody("bad_encoding", f"the body is not UTF-8: byte {exc.start} "
                                      f"({raw[exc.start:exc.start + 1]!r}) {exc.reason}") from None
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant,
                           object_pairs_hook=_object)
    except RecursionError:
        raise BadBody("too_deep", f"JSON is nested more than {MAX_DEPTH} levels deep") from None
    _check_tree(value)
    return value


def describe_unparsable(cause: BaseException | None) -> str:
    """Why FastAPI could not read a JSON body (it answers 400 with a generic message).

    >>> describe_unparsable(RecursionError())
    'the JSON body is nested too deeply'
    """
    if isinstance(cause, UnicodeDecodeError):
        return f"the body is not UTF-8: byte {cause.start} {cause.reason}"
    if isinstance(cause, RecursionError):
        return "the JSON body is nested too deeply"
    if isinstance(cause, ValueError):
        return f"the JSON body cannot be read: {str(cause)[:200]}"
    return "the body cannot be read"


class BodyLimit:
    """Refuse request bodies over ``limit_for(path)`` bytes with 413, without reading them whole.

    The check happens when the app reads the body (a route that reads none is never refused);
    :class:`BodyTooLarge` is an ``HTTPException``, so the app's handler writes the answer.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            if declared is not None and declared > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 19 else 1 << 62
    return None
