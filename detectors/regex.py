"""Whether an RE2 pattern matches anywhere in a text, at the price of one call into RE2.

``re2``'s Python ``search()`` builds a match object, maps byte offsets back to characters and
runs a generator for every call; a rule's ``re2(name, text)`` only needs yes or no, and the
rule library asks it ~2 times per message. :func:`matcher` asks RE2 directly (the wrapper's
own compiled program and anchor), encoding each text once even when several patterns read it,
and falls back to ``search()`` if this ``re2`` build does not have them.

>>> import re2
>>> matches = matcher(re2.compile(r"(?i)\\bpay\\s*pal\\b"))
>>> matches("send it to my PayPal"), matches("paypalooza"), matches("é PayPal ü")
(True, False, True)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import re2

_UNANCHORED = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
_NO_MATCH = (-1, -1)


class _Utf8(threading.local):
    """The UTF-8 bytes of the last text this thread asked about (a rule's patterns read the
    same text)."""

    text: str | None = None
    data: bytes = b""

    def __call__(self, text: str) -> bytes:
        if text is not self.text:
            self.text, self.data = None, text.encode("utf-8")
            self.text = text
        return self.data


_utf8 = _Utf8()


def matcher(pattern: Any) -> Callable[[str], bool]:
    """A function telling whether ``pattern`` (compiled with ``re2.compile``) matches anywhere
    in a text: exactly ``pattern.search(text) is not None``."""
    regexp = getattr(pattern, "_regexp", None)
    if regexp is None or _UNANCHORED is None or not hasattr(regexp, "Match"):
        return lambda text: pattern.search(text) is not None

    def matches(text: str) -> bool:
        if not isinstance(text, str):
            return pattern.search(text) is not None
        data = _utf8(text)
        return regexp.Match(_UNANCHORED, data, 0, len(data))[0] != _NO_MATCH

    return matches
