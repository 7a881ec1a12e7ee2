"""The worker's link step: confirmations make a ring, and a reversed appeal takes its account's
confirmation back (the ring's next account opens nothing)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

from detectors.examples import example_event
from pipeline.stores.links import MemoryLinks
from pipeline.worker.batches import Done
from pipeline.worker.links import LinkStep
from schemas import decode_event_obj

START = datetime.now(timezone.utc) - timedelta(hours=1)


def signup(user: str, minute: int) -> dict[str, Any]:
    return example_event("user.signed_up", {"user_id": user, "device_id": "dev_shared"},
                         occurred_at=(START + timedelta(minutes=minute)).isoformat())


def decided(user: str, outcome: str, case_id: str, minute: int) -> dict[str, Any]:
    return example_event("review.decided", {"outcome": outcome, "case_id": case_id},
                         subject_id=user,
                         occurred_at=(START + timedelta(minutes=minute)).isoformat())


def ring_flags(step: LinkStep, *envelopes: dict[str, Any]) -> list[str]:
    done = [Done(None, decode_event_obj(e), None, [], False) for e in envelopes]
    asyncio.run(step.apply(done))
    return [f.detector_id for one in done for f in one.flags]


def test_a_reversed_appeal_takes_its_accounts_confirmation_back() -> None:
    step = LinkStep(MemoryLinks(ring_accounts=3, ring_confirmed=2), b"k" * 32)
    assert ring_flags(step, signup("u_a", 0), signup("u_b", 1), signup("u_c", 2)) == []
    assert ring_flags(step, decided("u_a", "confirmed_fraud", "cas_1", 3),
                      decided("u_b", "confirmed_fraud", "cas_2", 4)) == ["link.shared_device_ring"]
    # A legitimate decision on an ordinary case takes nothing back...
    assert ring_flags(step, decided("u_a", "legitimate", "cas_9", 5),
                      signup("u_d", 6)) == ["link.shared_device_ring"]
    # ...an upheld appeal (legitimate on the appeal's case) does.
    assert ring_flags(step, decided("u_b", "legitimate", "apl_1", 7)) == []
    assert ring_flags(step, signup("u_e", 8)) == []
