"""The late-event rule: an event that names an erased user is dropped, unprocessed.

After an erasure is requested, nothing about the user may be stored again: an event dated
before it (a late or redelivered one) or after it (the platform has deleted the account, so
one is a mistake) is counted (``vigil_events_of_erased_users_total``) and acknowledged without
being decided, written or dead-lettered (a dead letter keeps the raw bytes). Each worker holds
the erased users' pseudonyms in memory (:class:`ErasedUsers`, read again every timer tick when
their number changed), so the rule costs nothing while nobody is erased and one keyed hash per
user an event names otherwise. A worker learns of an erasure within a tick; what it wrote
meanwhile, the erasure's second pass removes (:mod:`pipeline.privacy.erasure`).

>>> from detectors.examples import example_event
>>> from schemas.decode import decode_event_obj
>>> sorted(set(named_users(decode_event_obj(example_event("message.sent")))))
['u_example', 'u_other']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from redis.asyncio import Redis

from detectors.privacy import subject_pseudonym
from pipeline.models.keys import ERASED
from schemas.events import Envelope

#: Payload fields that name a user (besides the envelope's ``subject_id``).
USER_FIELDS = ("user_id", "sender_id", "recipient_id", "client_id", "freelancer_id",
               "reporter_id")


def named_users(event: Envelope) -> Iterator[str]:
    yield event.subject_id
    payload = event.payload
    for name in USER_FIELDS:
        value = getattr(payload, name, None)
        if isinstance(value, str):
            yield value
    if getattr(payload, "target_type", None) == "user":
        yield payload.target_id  # type: ignore[attr-defined]
    if getattr(payload, "entity_type", None) == "user":
        yield payload.entity_id  # type: ignore[attr-defined]


class ErasedUsers:
    def __init__(self, hash_key: bytes) -> None:
        self.hash_key = hash_key
        self.pseudonyms: frozenset[str] = frozenset()
        self._pseudonym_of: dict[str, str] = {}

    def add(self, pseudonym: str) -> None:
        self.pseudonyms = self.pseudonyms | {pseudonym}

    async def refresh(self, redis: Redis) -> None:
        if await redis.zcard(ERASED) == len(self.pseudonyms):
            return
        members = await redis.zrange(ERASED, 0, -1)
        self.pseudonyms = frozenset(m.decode() if isinstance(m, bytes) else m for m in members)

    def names(self, event: Any) -> bool:
        """True if ``event`` names an erased user."""
        if not self.pseudonyms:
            return False
        return any(self.pseudonym(user) in self.pseudonyms for user in named_users(event))

    def pseudonym(self, user_id: str) -> str:
        found = self._pseudonym_of.get(user_id)
        if found is None:
            if len(self._pseudonym_of) > 100_000:
                self._pseudonym_of.clear()
            found = self._pseudonym_of[user_id] = subject_pseudonym(user_id, self.hash_key)
        return found
