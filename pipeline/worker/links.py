"""The write stage's link step: each event's link keys into the index, and a flag per new ring.

One call in :meth:`pipeline.worker.worker.Worker.write`, before the batch's cases are written:
the events' keys (:func:`detectors.links.link_keys`, pure) go to the
:class:`~pipeline.stores.links.LinkIndex`, and a shared device that now has a ring's accounts
adds one ``link.shared_device_ring`` flag to the event that completed it. The flag's id derives
from the device alone, so the review queue adds it once (a redelivered batch, a restart, the
ring's next account change nothing) and the ring has one case: its oldest account's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from detectors.links import RING_DETECTOR, RING_VERSION, link_keys
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
        """Record ``done``'s links; append a ring's flag to the event that made it a ring."""
        items, owners = [], []
        for one in done:
            user, keys = link_keys(one.event, self.key, messages=self.messages)
            if keys:
                items.append((user, one.event.occurred_at.timestamp(), keys))
                owners.append(one)
        if not items:
            return
        rings = await self.index.observe(items)
        for device, members in rings:
            # The event that last showed this device completes the ring.
            one = next(o for o, (_, _, keys) in zip(reversed(owners), reversed(items))
                       if device in keys)
            one.flags.append(ring_flag(one, device, members))


def ring_flag(one: Done, device: str, members: list[str]) -> Flag:
    """The flag that opens (or joins) the ring's case, on its oldest account."""
    event = one.event
    return Flag(
        flag_id=flag_id_for(f"ring:{device}", RING_DETECTOR, RING_VERSION),
        event_id=event.id, event_type=event.type, subject_id=members[0],
        entity_type="user", entity_id=members[0], detector_id=RING_DETECTOR,
        detector_version=RING_VERSION, is_ai=False, mode="enforce", severity="high",
        score=1.0, reason=f"{len(members)} accounts share one device",
        occurred_at=event.occurred_at, flagged_at=datetime.now(timezone.utc),
        evidence={"ring": device, "kind": "device", "members": members},
    )


__all__ = ["LinkStep", "Ring", "ring_flag"]
