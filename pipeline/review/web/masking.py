"""Masking personal data for engineers: emails, phone numbers, IP addresses, messenger handles
and names.

Structured fields are masked by name (``email``, ``ip``, ``display_name``, ...); every other string
has emails, messenger links (``t.me/...``, ``wa.me/...``, ``skype:...``) and ``@handles``, IPv6
and IPv4 addresses, phone numbers and the ``names`` given (the case subject's own username and
display name, see :mod:`.names`) masked where they appear in the text. Identifiers (``*_id``),
timestamps (``*_at``) and enum-like fields are left alone: they are pseudonymous and engineers
need them to debug rules. Names Vigil does not hold (someone else's, or a subject whose signup
the queue never saw) are not recognised in free text.

>>> mask({"payload": {"email": "ann.lee@example.com", "display_name": "Ann Lee",
...       "text": "call +1 415 555 0199 or mail ann@x.io", "ip": "203.0.113.7"},
...       "event_id": "5f1c3a52-3d6a-4c37-9d8c-1d1c2f64b7a0", "occurred_at": "2026-01-05T10:00:00Z"})
... # doctest: +NORMALIZE_WHITESPACE
{'payload': {'email': 'a***@***.com', 'display_name': 'A***', 'text': 'call ***-**99 or mail a***@***.io',
 'ip': '***.***.***.***'}, 'event_id': '5f1c3a52-3d6a-4c37-9d8c-1d1c2f64b7a0', 'occurred_at': '2026-01-05T10:00:00Z'}
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.([A-Za-z]{2,})")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
PHONE = re.compile(r"(?<![\w(+-])[+(]?\d[\d\s().-]{7,}\d(?![\w-])")
#: Candidates only: two to seven colons, hex groups, an optional dotted tail and zone; each
#: candidate must parse as an IPv6 address (so ``10:00:00`` and ``std::vector`` stay).
IPV6 = re.compile(r"(?<![\w:.%])(?:[0-9A-Fa-f]{0,4}:){2,7}"
                  r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:%[\w.-]+)?(?![\w:])")
#: Messenger links (Telegram, WhatsApp, Messenger, Signal, LINE, Discord invites).
MESSENGER_LINK = re.compile(
    r"(?<![\w.-])((?:https?://)?(?:www\.)?(?:t\.me|telegram\.(?:me|dog)|wa\.me|m\.me|"
    r"signal\.me|line\.me|discord\.gg|(?:api|chat)\.whatsapp\.com))/[^\s,;()\[\]<>\"']+",
    re.IGNORECASE)
#: Messenger URI schemes and "skype: name"-style mentions.
MESSENGER_URI = re.compile(r"(?<![\w.-])(skype|viber|whatsapp|tg|sgnl|wechat|weixin)(://|:\s*)"
                           r"[^\s,;()\[\]<>\"']+", re.IGNORECASE)
HANDLE = re.compile(r"(?<![\w@.+-])@([A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?)")
NAME_KEYS = frozenset({"name", "display_name", "username", "full_name", "first_name", "last_name",
                       "legal_name", "reporter_name"})
EMAIL_KEYS = frozenset({"email", "email_address"})
IP_KEYS = frozenset({"ip", "ip_address", "client_ip"})
PHONE_KEYS = frozenset({"phone", "phone_number", "mobile"})
LEFT_ALONE = frozenset({"type", "schema_version", "producer", "severity", "status", "outcome",
                        "mode", "entity", "entity_type", "detector", "detectors", "policy_reason",
                        "sla_state", "country", "currency", "action", "account_type"})


def _email(match: re.Match[str]) -> str:
    return f"{match.group(0)[0]}***@***.{match.group(1)}"


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if len(digits) < 9:  # too short for a phone number: a count, an amount
        return match.group(0)
    return "***-**" + digits[-2:]


def _ipv6(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv6Address(match.group(0).split("%", 1)[0])
    except ValueError:
        return match.group(0)
    return "****:****::"


@lru_cache(maxsize=256)
def _name_pattern(names: frozenset[str]) -> re.Pattern[str] | None:
    """One pattern for ``names``: each whole (any case, any run of spaces) and, for names of
    several words, each word of three letters or more."""
    variants: set[str] = set()
    for name in names:
        words = name.split()
        if len("".join(words)) >= 2:
            variants.add(r"\s+".join(map(re.escape, words)))
        if len(words) > 1:
            variants.update(re.escape(w) for w in words if len(w) >= 3)
    if not variants:
        return None
    alternatives = "|".join(sorted(variants, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def mask_text(text: str, names: Iterable[str] = ()) -> str:
    """Emails, messenger links and handles, IP addresses, phone numbers and ``names`` in free
    text.

    >>> mask_text("ping me: bob@mail.com / 10.1.2.3 / (415) 555-0199")
    'ping me: b***@***.com / ***.***.***.*** / ***-**99'
    >>> mask_text("Ann here: t.me/ann_l, @ann_l, 2001:db8::1", names={"Ann Lee"})
    'A*** here: t.me/***, @a***, ****:****::'
    """
    text = EMAIL.sub(_email, text)
    text = MESSENGER_LINK.sub(lambda m: f"{m.group(1)}/***", text)
    text = MESSENGER_URI.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = HANDLE.sub(lambda m: f"@{m.group(1)[0]}***", text)
    text = IPV6.sub(_ipv6, text)
    text = IPV4.sub("***.***.***.***", text)
    text = PHONE.sub(_phone, text)
    pattern = _name_pattern(frozenset(names))
    return pattern.sub(lambda m: f"{m.group(0)[0]}***", text) if pattern else text


def _mask_value(key: str, value: str, names: frozenset[str]) -> str:
    if key in NAME_KEYS:
        return f"{value[:1]}***" if value else value
    if key in EMAIL_KEYS:
        return EMAIL.sub(_email, value) if EMAIL.search(value) else "***"
    if key in IP_KEYS:
        return "***.***.***.***" if "." in value else "****:****::"
    if key in PHONE_KEYS:
        return PHONE.sub(_phone, value) if PHONE.search(value) else "***"
    if key in LEFT_ALONE or key.endswith(("_id", "_ids", "_at")) or key == "id":
        return value
    return mask_text(value, names)


def mask(value: Any, key: str = "", *, names: Iterable[str] = ()) -> Any:
    """A copy of ``value`` (JSON-like) with personal data masked, ``names`` in every text."""
    return _mask(value, key, frozenset(names))


def _mask(value: Any, key: str, names: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, str(k), names) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key, names) for v in value]
    if isinstance(value, str):
        return _mask_value(key, value, names)
    return value
