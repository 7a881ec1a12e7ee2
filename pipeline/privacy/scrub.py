"""What erasure does to one stored value: pure functions over plain values, no Redis.

A :class:`Subject` is the erased person as the stores may spell them: their user id (replaced by
their pseudonym, so kept records still join up), their other identifiers (e-mail, IP, device
id, username, display name: replaced by :data:`ERASED`) and the texts they wrote (replaced by
:data:`ERASED`). :func:`scrub` rewrites any JSON-shaped value; :func:`owned` says whether a
record is the subject's own (their event, their content), which the inventory's ``delete``
rule removes whole rather than rewrites.

>>> ana = Subject("usr_1", "anon_x", identifiers=frozenset({"ana@example.com"}),
...               texts=frozenset({"pay me by gift card please"}))
>>> scrub({"subject_id": "usr_1", "to": "usr_12", "text": "pay me by gift card please",
...        "note": "ana@example.com wrote to usr_1:job"}, ana)
{'subject_id': 'anon_x', 'to': 'usr_12', 'text': '[erased]', 'note': '[erased] wrote to anon_x:job'}
>>> owned({"subject_id": "usr_1", "payload": {}}, ana), owned({"author": "usr_2"}, ana)
(True, False)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

#: What replaces an erased identifier or text.
ERASED = "[erased]"
#: A text shorter than this is replaced only where it is a whole value: a short phrase ("ok",
#: "thanks!") is also a part of other people's texts.
MIN_TEXT_IN_TEXT = 12
#: Payload fields that name the user who wrote or did what a record holds.
OWNER_FIELDS = ("subject_id", "author", "user_id", "sender_id", "freelancer_id", "client_id",
                "reporter_id")
#: Payload fields whose values are what a person wrote, and their identifiers.
TEXT_FIELDS = ("text", "cover_letter", "description", "title", "bio", "headline", "overview",
               "statement", "details")
IDENTIFIER_FIELDS = ("email", "ip", "device_id", "username", "display_name", "phone")
# An id or address is matched whole: usr_1 is not a part of usr_12, 10.0.0.1 not of 10.0.0.12.
_EDGE = r"[A-Za-z0-9_.@\-]"
_TOKEN = re.compile(_EDGE + "+")


@dataclass(frozen=True)
class Subject:
    user_id: str
    pseudonym: str
    identifiers: frozenset[str] = field(default_factory=frozenset)
    texts: frozenset[str] = field(default_factory=frozenset)
    #: Ids of their events: a key named by one (``vigil:sample:<event>``) is theirs.
    events: frozenset[str] = field(default_factory=frozenset)
    #: Ids of the cases about them: what indexes them by the user's e-mail, IP or device goes.
    cases: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def _whole(self) -> re.Pattern[str]:
        names = sorted({self.user_id, *self.identifiers} - {""}, key=len, reverse=True)
        return re.compile(f"(?<!{_EDGE})(" + "|".join(map(re.escape, names)) + f")(?!{_EDGE})")

    @cached_property
    def _long_texts(self) -> tuple[str, ...]:
        return tuple(sorted((t for t in self.texts if len(t) >= MIN_TEXT_IN_TEXT),
                            key=len, reverse=True))

    @cached_property
    def needles(self) -> tuple[str, ...]:
        """Substrings at least one of which any value that mentions the subject contains (a
        cheap first test; :meth:`mentions` decides)."""
        return tuple(n for n in {self.user_id, *self.identifiers, *self.texts} if n)

    def mentions(self, text: str) -> bool:
        """True if ``text`` holds anything of the subject: an id, an identifier or a text."""
        if not any(n in text for n in self.needles):
            return False
        return scrub_text(text, self) != text

    @cached_property
    def _id(self) -> re.Pattern[str]:
        return re.compile(f"(?<!{_EDGE}){re.escape(self.user_id)}(?!{_EDGE})")

    def ties(self, text: str) -> bool:
        """True if ``text`` names the subject by their user id or one of their event ids
        (matched whole). Their other identifiers and texts are erased only from records that
        do: a scam template sent word for word by many accounts stays in the others' cases,
        and an IP or device they shared with other accounts stays in those accounts' records
        (the evidence of a ring)."""
        if self.user_id in text and self._id.search(text) is not None:
            return True
        return self.has_event(text)

    def has_event(self, text: str) -> bool:
        """True if ``text`` holds one of their event ids (as a whole token)."""
        return bool(self.events) and any(t in self.events for t in _TOKEN.findall(text))

    def names_key(self, key: str) -> bool:
        """True if a Redis key's name is the subject's: it spells their id or an identifier,
        or one of its segments is one of their events."""
        return self.ties(key) or any(part in self.events for part in key.split(":"))

    def with_found(self, identifiers: Iterable[str], texts: Iterable[str],
                   events: Iterable[str] = (), cases: Iterable[str] = ()) -> Subject:
        return Subject(self.user_id, self.pseudonym,
                       self.identifiers | {i for i in identifiers if i},
                       self.texts | {t for t in texts if t and t.strip()},
                       self.events | {e for e in events if e},
                       self.cases | {c for c in cases if c})

    def about(self, case: Mapping[str, Any]) -> bool:
        """True if a case hash is about the subject (its entity or subject is their id)."""
        return self.user_id in (case.get("subject_id"), case.get("entity_id")) or \
            case.get("entity") == f"user:{self.user_id}"


def scrub_text(text: str, subject: Subject) -> str:
    """``text`` with the subject's texts and identifiers replaced, their id by their pseudonym.

    >>> scrub_text("user:usr_1 and usr_1b", Subject("usr_1", "anon_x"))
    'user:anon_x and usr_1b'
    """
    if text in subject.texts:
        return ERASED
    for written in subject._long_texts:
        if written in text:
            text = text.replace(written, ERASED)
    return subject._whole.sub(
        lambda m: subject.pseudonym if m[1] == subject.user_id else ERASED, text)


def scrub(value: Any, subject: Subject) -> Any:
    """A JSON-shaped value with every string (keys too) scrubbed (:func:`scrub_text`); a string
    holding JSON is scrubbed inside and written back as JSON."""
    if isinstance(value, str):
        inner = _json(value)
        if inner is not None:
            return json.dumps(scrub(inner, subject), separators=(",", ":"), ensure_ascii=False)
        return scrub_text(value, subject)
    if isinstance(value, Mapping):
        return {scrub_text(str(k), subject): scrub(v, subject) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, subject) for v in value]
    return value


def owned(record: Any, subject: Subject) -> bool:
    """True if ``record`` (an event, a stored content record, a sample) is the subject's own:
    its owner field (or its payload's) names them. A record that only mentions them, a
    message *to* them, is not: it is someone else's, and is rewritten instead."""
    if isinstance(record, str):
        record = _json(record)
    if not isinstance(record, Mapping):
        return False
    for holder in (record, record.get("payload"), _json(record.get("envelope"))):
        if isinstance(holder, Mapping):
            if any(holder.get(f) == subject.user_id for f in OWNER_FIELDS):
                return True
    return False


def found_in(record: Any, subject: Subject) -> tuple[set[str], set[str], set[str]]:
    """What an owned event (or a record holding one) gives away about its subject, to be
    looked for everywhere else: (identifiers, texts, event ids).

    >>> found_in({"event_id": "e1", "subject_id": "usr_1", "payload": {"email": "a@b.io",
    ...           "text": "hello there"}}, Subject("usr_1", "anon_x"))
    ({'a@b.io'}, {'hello there'}, {'e1'})
    """
    identifiers: set[str] = set()
    texts: set[str] = set()
    events: set[str] = set()
    if isinstance(record, str):
        record = _json(record)
    if not isinstance(record, Mapping) or not owned(record, subject):
        return identifiers, texts, events
    for holder in (record, _json(record.get("envelope"))):
        if not isinstance(holder, Mapping):
            continue
        if isinstance(holder.get("event_id"), str):
            events.add(holder["event_id"])
        if isinstance(holder.get("payload"), Mapping):
            holder = holder["payload"]
        for name in IDENTIFIER_FIELDS:
            if isinstance(holder.get(name), str) and holder[name].strip():
                identifiers.add(holder[name])
        for name in TEXT_FIELDS:
            if isinstance(holder.get(name), str) and holder[name].strip():
                texts.add(holder[name])
    return identifiers, texts, events


def _json(value: Any) -> Any:
    if not isinstance(value, str) or not value[:1] in ("{", "["):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None
