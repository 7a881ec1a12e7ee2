"""Ring cases: one case for accounts that share a device, and one decision for all of them.

The worker opens a ring's case with a ``link.shared_device_ring`` flag on the ring's oldest
account (:mod:`pipeline.worker.links`) once enough of a device's accounts are confirmed fraud,
its evidence naming the device's link key, members and confirmed members.
:func:`decide_ring` applies one analyst decision to every member through the same
:meth:`~pipeline.review.queue.actions.Actions.decide` a single case goes through (so each member
gets its own decision, label and, once actions land, platform actions): a member without an open
case gets one from a ``link.ring_member`` flag (idempotent by ring and member), is claimed by the
deciding analyst and decided. Each member's decision id derives from the bulk decision id, so a
retried bulk decision (a timeout, a member claimed by someone else meanwhile) replays the
members already decided and decides only the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from detectors import enforcement
from detectors.links import RING_DETECTOR, RING_MEMBER_DETECTOR, RING_VERSION
from pipeline.review.queue.actions import Actions, DecisionResult
from pipeline.review.queue.errors import CaseNotFound, InvalidDecision
from pipeline.review.queue.intake import Intake
from pipeline.review.queue.keys import K
from schemas.outputs import Flag, flag_id_for

#: The most accounts one bulk decision applies to (the link index keeps at most this many per
#: device by default, too).
MAX_MEMBERS = 50


@dataclass(frozen=True)
class RingDecision:
    """What a bulk decision did: one result per member, by member."""

    ring: str
    decisions: dict[str, DecisionResult]


def ring_of(case: Mapping[str, Any]) -> tuple[str, list[str]] | None:
    """The ring a case is for (its link key and members, from its ring flag), or None."""
    for flag in case.get("flags", []):
        if flag.get("detector_id") == RING_DETECTOR:
            evidence = flag.get("evidence") or {}
            return str(evidence.get("ring", "")), [str(m) for m in evidence.get("members", [])]
    return None


def confirmed_of(case: Mapping[str, Any]) -> list[str]:
    """The members of a ring's case confirmed as fraud when its flag was raised (the ring
    threshold's confirmations, :func:`detectors.links.is_ring`)."""
    for flag in case.get("flags", []):
        if flag.get("detector_id") == RING_DETECTOR:
            return [str(m) for m in (flag.get("evidence") or {}).get("confirmed", [])]
    return []


def member_decision_id(decision_id: str, member: str) -> str:
    """The id of a member's decision within a bulk decision: the same on every retry.

    >>> member_decision_id("dec_1", "u7") == member_decision_id("dec_1", "u7") != member_decision_id("dec_1", "u8")
    True
    """
    return f"{decision_id}.{hashlib.sha256(member.encode()).hexdigest()[:12]}"


class RingQueue(Intake, Actions):
    """The parts of the queue a bulk decision needs (:class:`ReviewQueue` has them all)."""


async def decide_ring(queue: RingQueue, case_id: str, analyst: str, outcome: str, *,
                      decision_id: str, policy_reason: str = "", notes: str = "",
                      lead: bool = False,
                      current: Callable[[str], Awaitable[list[str]]] | None = None,
                      actions: Sequence[tuple[str, int | None]] = ()) -> RingDecision:
    """Decide every member of ``case_id``'s ring as ``outcome``, each through ``queue.decide``.
    ``current``: the accounts the ring's device links now (the link index), joined to the
    members the ring's flag named. ``actions`` apply to each member (each member's own ids)."""
    queue.validate_decision(outcome, policy_reason)
    try:
        enforcement.validate("user", outcome, actions)
    except enforcement.InvalidAction as exc:  # before any member is decided
        raise InvalidDecision(str(exc)) from None
    case = await queue.case(case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    found = ring_of(case)
    if found is None:
        raise InvalidDecision(f"case {case_id} is not a ring's case")
    ring, members = found
    if current is not None:
        members = list(dict.fromkeys([*members, *await current(ring)]))
    members = members[:MAX_MEMBERS]
    anchor = str(case["entity_id"])
    flag = next(f for f in case["flags"] if f.get("detector_id") == RING_DETECTOR)
    done: dict[str, DecisionResult] = {}
    # The other members first, the ring's own case last: until it is decided, a retry finds it.
    for member in [m for m in members if m != anchor] + [anchor]:
        did = member_decision_id(decision_id, member)
        if member == anchor:
            target = case_id
        else:
            target = await _member_case(queue, ring, member, case_id, flag)
        if not await queue.redis.exists(f"{K}decision:{did}"):
            await queue.claim(target, analyst, lead=lead)
        done[member] = await queue.decide(
            target, analyst, outcome, policy_reason=policy_reason, decision_id=did, lead=lead,
            notes=notes or f"bulk decision {decision_id} on ring case {case_id}", actions=actions)
    return RingDecision(ring, done)


async def _member_case(queue: Intake, ring: str, member: str, ring_case: str,
                       ring_flag: Mapping[str, Any]) -> str:
    """The open case of ``member`` (one is opened by a ring-member flag if there is none)."""
    now = datetime.fromtimestamp(queue.clock(), timezone.utc)
    flag = Flag(
        flag_id=flag_id_for(f"ring:{ring}:{member}", RING_MEMBER_DETECTOR, RING_VERSION),
        event_id=ring_flag["event_id"], event_type=ring_flag["event_type"], subject_id=member,
        entity_type="user", entity_id=member, detector_id=RING_MEMBER_DETECTOR,
        detector_version=RING_VERSION, is_ai=False, mode="enforce", severity="high", score=1.0,
        reason=f"member of the ring of case {ring_case}",
        occurred_at=ring_flag["occurred_at"], flagged_at=now,
        evidence={"ring": ring, "ring_case": ring_case},
    )
    return (await queue.add_flag(flag)).case_id
