"""The write stage's link step: each event's link keys into the index, and a flag per new ring.

One call in :meth:`pipeline.worker.worker.Worker.write`, before the batch's cases are written:
the events' keys (:func:`detectors.links.link_keys`, pure) and the accounts the batch's
``review.decided`` events confirm as fraud (:func:`detectors.links.confirmed_subject`) go to the
:class:`~pipeline.stores.links.LinkIndex`, and a shared device that is now a ring (enough
accounts, enough of them confirmed: :func:`detectors.links.is_ring`) adds one
``link.shared_device_ring`` flag to the event that completed it: the last event of the batch
that showed the device, or else the decision that confirmed its member. So a ring whose second
confirmation comes after its fifth account opens its case when that decision reaches the worker
(``tns.decisions``), not only at the device's next account. The flag's id derives from the
device alone, so the review queue adds it once (a redelivered batch, a restart, the ring's next
account or confirmation change nothing) and the ring has one case: its oldest account's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from detectors.links import (
    RING_DETECTOR,
    RING_VERSION,
    confirmed_subject,
    link_keys,
    withdrawn_subject,
)
from pipeline.stores.links import LinkIndex, Ring
from pipeline.worker.batches import Done
from schemas.outputs import Flag, flag_id_for


class LinkStep:
    """Keeps the link index up to date from written events; ``key``: the models' hash key;
    ``messages``: link near-duplicate messages too, not only cover letters."""

    def __init__(self, index: LinkIndex, key: bytes, *, messages: bool = False) -> None:
        self.index = index
        self.key = key
        self.messages = messages

    async def apply(self, done: Sequence[Done]) -> None:
        """Record ``done``'s links and confirmations; append a ring's flag to the event that
        made it a ring."""
        items, owners, confirmed, deciders, withdrawn = [], [], [], [], []
        for one in done:
            user, keys = link_keys(one.event, self.key, messages=self.messages)
            if keys:
                items.append((user, one.event.occurred_at.timestamp(), keys))
                owners.append(one)
            elif (fraud := confirmed_subject(one.event)) is not None:
                confirmed.append((fraud, one.event.occurred_at.timestamp()))
                deciders.append(one)
            elif (cleared := withdrawn_subject(one.event)) is not None:
                withdrawn.append((cleared, one.event.occurred_at.timestamp()))
        if not items and not confirmed and not withdrawn:
            return
        for ring in await self.index.observe(items, confirmed, withdrawn):
            device, members, _ = ring
            # The event that last showed this device completes the ring; else a decision did.
            one = next((o for o, (_, _, keys) in zip(reversed(owners), reversed(items))
                        if device in keys), None)
            if one is None:
                one = next((o for o, (user, _) in zip(reversed(deciders), reversed(confirmed))
                            if user in members), deciders[-1])
            one.flags.append(ring_flag(one, ring))


def ring_flag(one: Done, ring: Ring) -> Flag:
    """The flag that opens (or joins) the ring's case, on its oldest account."""
    device, members, confirmed = ring
    event = one.event
    return Flag(
        flag_id=flag_id_for(f"ring:{device}", RING_DETECTOR, RING_VERSION),
        event_id=event.id, event_type=event.type, subject_id=members[0],
        entity_type="user", entity_id=members[0], detector_id=RING_DETECTOR,
        detector_version=RING_VERSION, is_ai=False, mode="enforce", severity="high",
        score=1.0, reason=(f"{len(members)} accounts share one device, "
                           f"{len(confirmed)} of them confirmed fraud"),
        occurred_at=event.occurred_at, flagged_at=datetime.now(timezone.utc),
        evidence={"ring": device, "kind": "device", "members": members,
                  "confirmed": confirmed},
    )


__all__ = ["LinkStep", "Ring", "ring_flag"]
