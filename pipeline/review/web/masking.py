"""Masking personal data for engineers: emails, phone numbers, IP addresses and names.

Structured fields are masked by name (``email``, ``ip``, ``display_name``, ...); every other string
has emails, IPv4 addresses and phone numbers masked where they appear in the text. Identifiers
(``*_id``), timestamps (``*_at``) and enum-like fields are left alone: they are pseudonymous and
engineers need them to debug rules.

>>> mask({"payload": {"email": "ann.lee@example.com", "display_name": "Ann Lee",
...       "text": "call +1 415 555 0199 or mail ann@x.io", "ip": "203.0.113.7"},
...       "event_id": "5f1c3a52-3d6a-4c37-9d8c-1d1c2f64b7a0", "occurred_at": "2026-01-05T10:00:00Z"})
... # doctest: +NORMALIZE_WHITESPACE
{'payload': {'email': 'a***@***.com', 'display_name': 'A***', 'text': 'call ***-**99 or mail a***@***.io',
 'ip': '***.***.***.***'}, 'event_id': '5f1c3a52-3d6a-4c37-9d8c-1d1c2f64b7a0', 'occurred_at': '2026-01-05T10:00:00Z'}
"""

from __future__ import annotations

import re
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.([A-Za-z]{2,})")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
PHONE = re.compile(r"(?<![\w(+-])[+(]?\d[\d\s().-]{7,}\d(?![\w-])")
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


def mask_text(text: str) -> str:
    """Emails, IPv4 addresses and phone numbers in free text.

    >>> mask_text("ping me: bob@mail.com / 10.1.2.3 / (415) 555-0199")
    'ping me: b***@***.com / ***.***.***.*** / ***-**99'
    """
    text = EMAIL.sub(_email, text)
    text = IPV4.sub("***.***.***.***", text)
    return PHONE.sub(_phone, text)


def _mask_value(key: str, value: str) -> str:
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
    return mask_text(value)


def mask(value: Any, key: str = "") -> Any:
    """A copy of ``value`` (JSON-like) with personal data masked."""
    if isinstance(value, dict):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, key) for v in value]
    if isinstance(value, str):
        return _mask_value(key, value)
    return value
