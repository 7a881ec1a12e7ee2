"""Finding cases by case id, user id, job id (exact or prefix), e-mail, IP address or device.

The index is written at intake (``lua/search.lua``, in the same script as the flag, so a case is
findable the moment it exists) and bounded (``search_entries``, the oldest entries go first).
Ids are indexed as they are (the case hash holds them anyway) and match by prefix. An e-mail,
IP address or device id is indexed only as a digest of its normalised value keyed with the
models' secret hashing key (``VIGIL_MODEL_HASH_KEY``: the worker that writes the index and the
review service that reads it hold the same), so nobody without the key can try e-mails against
the index; those match exactly (an IP address also by its /24 or /16 network, also digested).

>>> terms_of({"type": "user.signed_up", "payload": {"email": "A@x.io"}}, b"k" * 16)
['email:a853fda9129a4091f8f631165a66d08d']
>>> guess_kinds("a@b.co"), guess_kinds("10.0.0.1"), guess_kinds("case_1")
(('email',), ('ip',), ('case', 'user', 'job', 'device'))
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from pipeline.review.queue.base import QueueBase, as_str

#: What a search may name: ids match by prefix, personal data exactly (digested).
KINDS = ("case", "user", "job", "email", "ip", "device")
PREFIX_KINDS = frozenset({"case", "user", "job"})
#: Ids of the contract's ``Id`` pattern: nothing else can have been indexed.
_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


def digest(kind: str, value: str, key: bytes) -> str:
    """A personal identifier as the index keeps it: a keyed digest of its normalised value
    (BLAKE2b takes keys of up to 64 bytes: a longer one is hashed down first)."""
    norm = value.strip().lower()
    if len(key) > 64:
        key = hashlib.blake2b(key).digest()
    return hashlib.blake2b(norm.encode(), key=key, person=kind.encode()[:16],
                           digest_size=16).hexdigest()


def _networks(ip: str) -> list[str]:
    """An IP address's /24 and /16 (IPv4) or /64 and /48 (IPv6) networks, as text."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return []
    sizes = (24, 16) if addr.version == 4 else (64, 48)
    return [str(ipaddress.ip_network(f"{addr}/{n}", strict=False)) for n in sizes]


def terms_of(event: Mapping[str, Any] | None, key: bytes) -> list[str]:
    """The search terms an event's envelope adds to its case (besides the case's ids, which
    the script adds): job ids, and digests of e-mail, IP address (and networks) and device."""
    if not event:
        return []
    payload = event.get("payload") or {}
    terms = []
    if payload.get("email"):
        terms.append("email:" + digest("email", str(payload["email"]), key))
    if payload.get("ip"):
        ip = str(payload["ip"])
        terms += ["ip:" + digest("ip", v, key) for v in (ip, *_networks(ip))]
    if payload.get("device_id"):
        terms.append("device:" + digest("device", str(payload["device_id"]), key))
    if payload.get("job_id"):
        terms.append("job:" + str(payload["job_id"]))
    return list(dict.fromkeys(terms))


def guess_kinds(query: str) -> tuple[str, ...]:
    """Which kinds a query with no kind given may be."""
    q = query.strip()
    if "@" in q and "." in q.rpartition("@")[2]:
        return ("email",)
    try:
        ipaddress.ip_network(q, strict=False)
        return ("ip",)
    except ValueError:
        return ("case", "user", "job", "device")


def lex_range(kind: str, query: str, prefix: bool, key: bytes) -> tuple[str, str] | None:
    """The ZRANGEBYLEX bounds of a query of one kind (None: it cannot match anything)."""
    q = query.strip()
    if kind in PREFIX_KINDS:
        if not _ID.match(q):
            return None
        return (f"[{kind}:{q}", f"[{kind}:{q}\xff") if prefix else (f"[{kind}:{q} ", f"[{kind}:{q} \xff")
    if kind == "ip":
        try:
            q = str(ipaddress.ip_network(q, strict=False)) if "/" in q else q
        except ValueError:
            return None
    term = f"{kind}:{digest(kind, q, key)} "
    return f"[{term}", f"[{term}\xff"


class Search(QueueBase):
    """Reading the case search index."""

    async def search(self, query: str, kind: str | None = None, *, prefix: bool = True,
                     limit: int = 50) -> list[dict[str, Any]]:
        """Summaries of the cases ``query`` finds (of ``kind``, or any it may be), newest
        index entries first; a case found several ways comes once."""
        found: dict[str, None] = {}
        for k in ((kind,) if kind else guess_kinds(query)):
            bounds = lex_range(k, query, prefix, self.search_key)
            if bounds is None:
                continue
            members = await self.redis.zrangebylex("vigil:search", *bounds, start=0, num=limit)
            for m in members:
                found.setdefault(as_str(m).rpartition(" ")[2], None)
        out = []
        for case_id in list(found)[:limit]:
            case = await self.summary(case_id)  # type: ignore[attr-defined]
            if case is not None:
                out.append(case)
        return out
