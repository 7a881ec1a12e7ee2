"""Data minimisation for model inputs: keyed hashes for identifiers, masked contact details.

Pure functions. The hashing key is always passed in (the composition root reads it from its
secret store), so the same identifier hashes the same across workers, restarts and replays,
yet cannot be reversed by anyone without the key (unlike a plain hash of an email address).

>>> mask_text("mail me: ana.silva@example.com or +351 912 345 678, see https://x.io/p @ana_s")
'mail me: <EMAIL> or <PHONE>, see <URL> <HANDLE>'
>>> keyed_hash("u42", b"k" * 32) == keyed_hash("u42", b"k" * 32) != keyed_hash("u43", b"k" * 32)
True
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import re2

from detectors.errors import NotMinimised

#: Placeholders :func:`mask_text` puts in place of what it removes.
PLACEHOLDERS = ("<EMAIL>", "<URL>", "<IP>", "<PHONE>", "<HANDLE>", "<NUM>")

# One alternation, tried left to right at each position, so an email is not half-eaten as a
# handle and a URL's digits are not a phone number. RE2: linear time on hostile input.
_TLDS = "com|net|org|io|co|me|ly|gg|to|us|uk|info|biz|xyz|app|dev|link|site|online|shop|ru|cn|br|in|de|fr|it|es|pt"
_CONTACT = re2.compile(
    r"(?P<EMAIL>[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})"
    r"|(?P<URL>(?i:https?://|www\.)[^\s<>\"]+"
    rf"|\b[A-Za-z0-9][A-Za-z0-9\-]*(?:\.[A-Za-z0-9\-]+)*\.(?i:{_TLDS})\b(?:/[^\s<>\"]*)?)"
    r"|(?P<IP>\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b)"
    r"|(?P<PHONE>\+?\(?\d[\d\s().\-]{6,}\d)"
    r"|(?P<HANDLE>@[A-Za-z0-9_][A-Za-z0-9_.]{1,})"
    r"|(?P<NUM>\d{5,})"
)
# A cheap pre-check: most texts hold none of these characters' combinations, and a plain
# search is several times faster than a substitution with a callback.
_ANY = re2.compile(r"@|\d{5}|\d[\d\s().\-]{6,}\d|\.[A-Za-z]{2}|://")

HASH_CHARS = 16  # 64 bits of HMAC-SHA256: collisions are negligible at marketplace scale


def keyed_hash(value: str, key: bytes, *, chars: int = HASH_CHARS) -> str:
    """HMAC-SHA256 of ``value`` under ``key``, hex, truncated to ``chars`` characters.

    >>> len(keyed_hash("ana@example.com", b"secret-key-0123456789abcdef"))
    16
    """
    if not key:
        raise ValueError("keyed_hash needs a non-empty key")
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:chars]


#: What an erased or pseudonymised person is called wherever a record of them is kept.
PSEUDONYM_PREFIX = "anon_"


def subject_pseudonym(user_id: str, key: bytes) -> str:
    """The pseudonym records kept about ``user_id`` carry after erasure (decisions, actions, the
    audit trail, models' training logs): a keyed hash, so it cannot be turned back into the id
    without the key, yet the same user gets the same pseudonym in every store and every run.

    >>> subject_pseudonym("usr_1", b"k" * 32).startswith(PSEUDONYM_PREFIX)
    True
    >>> subject_pseudonym("usr_1", b"k" * 32) == subject_pseudonym("usr_1", b"k" * 32)
    True
    """
    return PSEUDONYM_PREFIX + keyed_hash("subject:" + user_id, key, chars=20)


def _placeholder(match: Any) -> str:
    for name in ("EMAIL", "URL", "IP", "PHONE", "HANDLE", "NUM"):
        if match.group(name) is not None:
            return f"<{name}>"
    return "<NUM>"  # unreachable: one group always matches


def mask_text(text: str) -> str:
    """``text`` with emails, URLs, IP addresses, phone numbers, @handles and long digit runs replaced.

    >>> mask_text("call 0906 170 1461 or text WIN to 87121, ip 10.0.0.1")
    'call <PHONE> or text WIN to <NUM>, ip <IP>'
    >>> mask_text("nothing to hide here")
    'nothing to hide here'
    """
    if not text or not _ANY.search(text):
        return text
    return _CONTACT.sub(_placeholder, text)


def _strings(value: Any) -> Iterator[str]:
    """Every key and leaf value of a nested structure, as text."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)


_EMAIL_LIKE = re2.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+\.[A-Za-z]{2,}")
_IP_LIKE = re2.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|\b[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){2,7}\b")


def assert_minimised(x: Mapping[str, Any], raw_identifiers: Iterable[str]) -> None:
    """Raise :class:`NotMinimised` if any raw identifier, or anything email- or IP-shaped,
    appears (case-insensitively, as a substring) in a key or value of ``x``.

    >>> assert_minimised({"w:hello": 0.5}, ["ana@example.com"])
    >>> assert_minimised({"w:ana@example.com": 0.5}, [])
    Traceback (most recent call last):
    ...
    detectors.errors.NotMinimised: model input holds an email address: 'w:ana@example.com'
    """
    needles = [r.lower() for r in raw_identifiers if r]
    for text in _strings(x):
        low = text.lower()
        for needle in needles:
            if needle in low:
                raise NotMinimised(f"model input holds the raw identifier {needle!r}: {text!r}")
        if _EMAIL_LIKE.search(text):
            raise NotMinimised(f"model input holds an email address: {text!r}")
        if _IP_LIKE.search(text):
            raise NotMinimised(f"model input holds an IP address: {text!r}")
