"""What analysts do to cases: claim, release, reassign, decide, add notes, snooze detectors.

* ``claim``: exclusive, with a lease that expires if the analyst walks away; a second claimer is
  refused while the lease runs; the holder renews by claiming again.
* ``decide``: needs the claim; keyed by ``decision_id`` (same id, same result, one event). It closes
  the case (``escalate`` hands it to leads), appends to the audit stream and writes the
  ``review.decided`` event to an outbox in the same step; :class:`pipeline.review.web.relay.OutboxRelay`
  publishes it. A decided case is kept as it was; the entity's next flag opens a new case.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from pipeline import metrics
from pipeline.review.queue.appeals import Appeals
from pipeline.review.queue.base import as_float, as_str
from pipeline.review.queue.enforcement import script_argument, summary
from pipeline.review.queue.errors import (
    CaseClosed,
    CaseNotFound,
    ClaimConflict,
    DecisionConflict,
    InvalidDecision,
    LeadsOnly,
    NotClaimed,
    ReviewError,
)
from pipeline.review.queue.keys import K, case_key
from pipeline.review.queue.policy import (
    MAX_EVENT_IDS,
    iso,
    minute_of,
    validate_decision,
)
from schemas.actions import PlatformAction
from schemas.events import ReviewDecided

#: What an appeal's decision does to the decision appealed.
APPEAL_RESULT = {"confirmed_fraud": "upheld", "legitimate": "reversed", "escalate": "escalate"}


@dataclass(frozen=True)
class ClaimResult:
    case_id: str
    claimed_by: str
    lease_until: float
    #: ``claim``, ``renew`` or ``reassign``.
    action: str


@dataclass(frozen=True)
class DecisionResult:
    decision: dict[str, Any]
    #: True when this decision id was decided before: nothing changed, no second event.
    replayed: bool


def _refused(reply: list[Any], case_id: str, now: float) -> NoReturn:
    """Raise the error a script's refusal code (``reply[0]``) stands for."""
    code = as_str(reply[0])
    if code == "missing":
        raise CaseNotFound(f"no case {case_id}")
    if code == "closed":
        raise CaseClosed(f"case {case_id} is decided and closed")
    if code == "escalated":
        raise LeadsOnly(f"case {case_id} is escalated: only leads work escalated cases")
    if code == "already_escalated":
        raise CaseClosed(f"case {case_id} is already escalated")
    if code == "held":
        raise ClaimConflict(f"case {case_id} is claimed by {as_str(reply[1])} until "
                            f"{iso(as_float(reply[2]))}")
    if code == "not_claimed":
        holder = as_str(reply[1]) if len(reply) > 1 else ""
        raise NotClaimed(f"claim case {case_id} first" + (
            f" (claimed by {holder})" if holder and as_float(reply[2]) > now else ""))
    raise ReviewError(f"unexpected reply {code!r} for case {case_id}")


def _count(case: Mapping[str, Any], outcome: str) -> None:
    """Count a decision: every one, and a final one on a detection case per detector that
    flagged it (live precision), or as a labelling decision."""
    metrics.DECISIONS.labels(outcome).inc()
    if case.get("kind") == "appeal":
        metrics.APPEAL_DECISIONS.labels(APPEAL_RESULT[outcome]).inc()
    elif case.get("kind") == "labelling":
        metrics.LABELLING_DECISIONS.labels(outcome).inc()
    elif outcome != "escalate":
        for detector in case["detectors"]:
            metrics.DETECTOR_DECISIONS.labels(detector, outcome).inc()


def _decision(case_id: str, case: Mapping[str, Any], decision_id: str, analyst: str,
              outcome: str, policy_reason: str, notes: str, subject: str,
              now: float) -> tuple[dict[str, Any], ReviewDecided]:
    """The decision record a case keeps and the ``review.decided`` event it publishes (a
    labelling case's events are its samples')."""
    event_ids = case_event_ids(case)[:MAX_EVENT_IDS]
    event = ReviewDecided.model_validate({
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"vigil-decision:{decision_id}"),
        "type": "review.decided", "schema_version": "1.0",
        "occurred_at": datetime.fromtimestamp(now, UTC),
        "producer": "review-service", "subject_id": subject,
        "payload": {
            "decision_id": decision_id, "case_id": case_id,
            "entity_type": case["entity_type"], "entity_id": case["entity_id"],
            "outcome": outcome, "policy_reason": policy_reason,
            "event_ids": [uuid.UUID(e) for e in event_ids], "analyst_id": analyst,
        },
    })
    decision = {
        "decision_id": decision_id, "case_id": case_id, "entity": case["entity"],
        "entity_type": case["entity_type"], "entity_id": case["entity_id"],
        "subject_id": subject, "outcome": outcome, "policy_reason": policy_reason,
        "notes": notes, "analyst_id": analyst, "decided_at": iso(now),
        "event_id": str(event.event_id), "event_ids": event_ids,
        "flag_count": case["flag_count"], "kind": case.get("kind", "detection"),
        "opened_at": iso(case["created_at"]),
        "sla_breached": case["due_at"] is not None and case["due_at"] <= now,
    }
    return decision, event


def case_event_ids(case: Mapping[str, Any]) -> list[str]:
    """The events behind a case: its flags', its samples' and the content its reports named
    (so a decision labels what the models saw of a reported message), once each, in order."""
    return list(dict.fromkeys([*(f["event_id"] for f in case["flags"]),
                               *(x["event_id"] for x in case.get("samples", [])),
                               *(c["event_id"] for c in case.get("reported_content", [])),
                               *case.get("appeal_event_ids", [])]))


class Actions(Appeals):
    """Claims, decisions, notes and snoozes; each is one Lua script or one MULTI."""

    async def claim(self, case_id: str, analyst: str, *, lead: bool = False) -> ClaimResult:
        """Claim (or renew the claim on) a case for ``lease_seconds``."""
        await self.check_hearer(case_id, analyst)
        now = self.clock()
        reply = await self.scripts.claim(args=[case_id, analyst, repr(now), self.config.lease_seconds,
                                               "1" if lead else "0", "claim", analyst, "{}"])
        if as_str(reply[0]) != "ok":
            _refused(reply, case_id, self.clock())
        return ClaimResult(case_id, analyst, float(as_str(reply[1])), as_str(reply[2]))

    async def claim_next(self, analyst: str, *, lead: bool = False,
                         scan: int = 1000) -> ClaimResult | None:
        """Claim the highest-priority case nobody holds (escalated ones first for a lead), in
        one script: two analysts asking at once get different cases. None: there is none
        among the first ``scan``."""
        reply = await self.scripts.claim_next(args=[analyst, repr(self.clock()),
                                                    self.config.lease_seconds,
                                                    "1" if lead else "0", scan])
        if as_str(reply[0]) != "ok":
            return None
        return ClaimResult(as_str(reply[1]), analyst, float(as_str(reply[2])), "claim")

    async def reassign(self, case_id: str, to: str, *, by: str) -> ClaimResult:
        """A lead hands the case (and a fresh lease) to another analyst, whoever held it."""
        await self.check_hearer(case_id, to)
        now = self.clock()
        details = json.dumps({"to": to})
        reply = await self.scripts.claim(args=[case_id, to, repr(now), self.config.lease_seconds,
                                               "1", "reassign", by, details])
        if as_str(reply[0]) != "ok":
            _refused(reply, case_id, self.clock())
        return ClaimResult(case_id, to, float(as_str(reply[1])), "reassign")

    async def release(self, case_id: str, analyst: str, *, lead: bool = False) -> None:
        reply = await self.scripts.release(args=[case_id, analyst, repr(self.clock()),
                                                 "1" if lead else "0"])
        if as_str(reply[0]) != "ok":
            _refused(reply, case_id, self.clock())

    def validate_decision(self, outcome: str, policy_reason: str) -> None:
        validate_decision(outcome, policy_reason, self.config.policy_reasons)

    async def decide(self, case_id: str, analyst: str, outcome: str, *, policy_reason: str = "",
                     notes: str = "", decision_id: str | None = None, lead: bool = False,
                     actions: Sequence[tuple[str, int | None]] = (),
                     automated: bool = False) -> DecisionResult:
        """Decide a claimed case; the same ``decision_id`` returns the first result unchanged.
        ``actions``: ``(action, duration_days)`` from the vocabulary, for the case's entity
        (:mod:`detectors.enforcement`); ``automated``: an automatic action decided it."""
        decision_id = decision_id or f"dec_{uuid.uuid4().hex}"
        for _attempt in range(10):
            existing = await self.redis.get(f"{K}decision:{decision_id}")
            if existing:
                return self._replayed(json.loads(existing), case_id)
            case = await self.case(case_id)
            if case is None:
                raise CaseNotFound(f"no case {case_id}")
            await self.check_hearer(case_id, analyst)
            if case["kind"] == "appeal" and outcome == "confirmed_fraud" and not policy_reason:
                policy_reason = await self._appealed_reason(case)
            self.validate_decision(outcome, policy_reason)
            now = self.clock()
            subject = case["subject_id"] or await self._subject_for(case)
            decision, event = _decision(case_id, case, decision_id, analyst, outcome,
                                        policy_reason, notes, subject, now)
            planned = await self._actions_of(case, decision, actions, automated)
            if planned:
                decision["actions"] = [summary(a) for a in planned]
            # An upheld appeal teaches nothing new: the label it would publish was learned.
            upheld = case["kind"] == "appeal" and outcome == "confirmed_fraud"
            reply = await self.scripts.decide(args=[
                case_id, decision_id, analyst, "1" if lead else "0", repr(now), case["flag_count"],
                outcome, json.dumps(decision, sort_keys=True), event.model_dump_json(), subject,
                minute_of(now), json.dumps(decision["event_ids"]), script_argument(planned),
                "1" if upheld else "0",
            ])
            code = as_str(reply[0])
            if code == "ok":
                _count(case, outcome)
                return DecisionResult(decision, replayed=False)
            if code == "dup":
                return self._replayed(json.loads(reply[1]), case_id)
            if code != "stale":  # a flag joined while we read: read again
                _refused(reply, case_id, self.clock())
        raise ReviewError(f"case {case_id} kept changing; try again")

    async def _actions_of(self, case: Mapping[str, Any], decision: dict[str, Any],
                          actions: Sequence[tuple[str, int | None]],
                          automated: bool) -> list[PlatformAction]:
        """A decision's actions: the chosen ones, or on an appeal case none (upheld: the
        original's stay) or the reversal of each original action (reversed)."""
        if case["kind"] != "appeal":
            return self.plan_actions(case, decision, actions, automated_decision=automated)
        if actions:
            raise InvalidDecision("an appeal's decision takes no actions of its own: upholding "
                                  "keeps the original's, reversing undoes them")
        decision["appeal_of"] = case["appeal_of"]
        decision["appeal"] = APPEAL_RESULT[decision["outcome"]]
        if decision["outcome"] != "legitimate":
            return []
        return await self.reversals(case, decision)

    async def _appealed_reason(self, case: Mapping[str, Any]) -> str:
        raw = await self.redis.get(f"{K}decision:{case['appeal_of']}")
        return str(json.loads(raw).get("policy_reason", "")) if raw else ""

    @staticmethod
    def _replayed(decision: dict[str, Any], case_id: str) -> DecisionResult:
        if decision["case_id"] != case_id:
            raise DecisionConflict(f"decision id {decision['decision_id']} was used for case "
                                   f"{decision['case_id']}")
        return DecisionResult(decision, replayed=True)

    async def add_note(self, case_id: str, author: str, text: str) -> dict[str, Any]:
        if not await self.redis.exists(case_key(case_id)):
            raise CaseNotFound(f"no case {case_id}")
        now = self.clock()
        note = {"author": author, "text": text, "at": iso(now)}
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(f"{K}case_notes:{case_id}", json.dumps(note))
        pipe.xadd(K + "audit", {"at": repr(now), "actor": author, "action": "note",
                                "case_id": case_id, "details": json.dumps({"text": text})})
        await pipe.execute()
        return note

    async def snooze(self, entity_type: str, entity_id: str, detector_id: str, seconds: int,
                     *, by: str, reason: str = "") -> dict[str, Any]:
        """Suppress ``detector_id``'s flags on this entity for ``seconds`` (counted, not lost)."""
        now = self.clock()
        snooze = {"detector_id": detector_id, "expires_at": now + seconds, "by": by,
                  "reason": reason, "created_at": now}
        entity = f"{entity_type}:{entity_id}"
        pipe = self.redis.pipeline(transaction=True)
        await self.scripts.snooze(keys=[f"{K}snooze:{entity}"],
                                  args=[detector_id, json.dumps(snooze), seconds], client=pipe)
        pipe.xadd(K + "audit", {"at": repr(now), "actor": by, "action": "snooze", "case_id": "",
                                "details": json.dumps({"entity": entity, **snooze})})
        await pipe.execute()
        return {**snooze, "entity": entity}

    async def unsnooze(self, entity_type: str, entity_id: str, detector_id: str, *, by: str) -> bool:
        entity = f"{entity_type}:{entity_id}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(f"{K}snooze:{entity}", detector_id)
        pipe.xadd(K + "audit", {"at": repr(self.clock()), "actor": by, "action": "unsnooze",
                                "case_id": "", "details": json.dumps({"entity": entity,
                                                                      "detector_id": detector_id})})
        removed, _ = await pipe.execute()
        return bool(removed)
