"""Appeals: the affected user contests a decision, and someone else hears it.

An ``appeal.filed`` event (from the platform, for the user) reopens the decision as a case of its
own kind, ``appeal``, in its own index (``vigil:appeals``, with its own SLA,
``VIGIL_REVIEW_APPEAL_SLA``): one per decision, idempotent by decision (``open_appeal.lua``). An
appeal for a decision whose subject is someone else, for a decision that restricted nothing or
decided an appeal itself, or past ``VIGIL_REVIEW_APPEAL_WINDOW_DAYS`` is refused with the
reason (the ingest endpoint answers 403 with it; the worker dead-letters such an event).

The original decider may not claim or decide it (:class:`NotTheOriginalDecider`, a 403, leads
too). Deciding it ``confirmed_fraud`` upholds the decision (its actions stay);
``legitimate`` reverses it: each original action's reversal is published (new ids derived from
the appeal's decision id) and the ``review.decided`` event, with the original decision's
events, is the corrected label the learner applies through its consent gate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from detectors import enforcement
from pipeline import metrics
from pipeline.review.queue.base import as_str
from pipeline.review.queue.enforcement import Enforcement
from pipeline.review.queue.errors import NotTheOriginalDecider
from pipeline.review.queue.keys import APPEAL_SETS, K, case_key
from schemas.actions import PlatformAction
from schemas.events import AppealFiled

#: An appeal case's base priority: high severity (appeals restrict a user until heard).
APPEAL_PRIORITY = 3000.0


def appeal_case_id(decision_id: str) -> str:
    """One appeal case per decision.

    >>> appeal_case_id("dec_1")
    'apl_b8cf2931467c2281c553'
    """
    return enforcement.APPEAL_CASE_PREFIX + hashlib.sha256(decision_id.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class AppealResult:
    """``opened``, ``duplicate`` or ``refused`` (with ``reason``)."""

    status: str
    case_id: str = ""
    reason: str = ""


class Appeals(Enforcement):
    """Filing appeals (the worker's side) and hearing them (the checks :meth:`decide` runs)."""

    async def file_appeal(self, event: AppealFiled) -> AppealResult:
        p = event.payload
        now = self.clock()
        envelope = event.model_dump_json()
        reply = await self.scripts.open_appeal(args=[
            p.appeal_id, p.decision_id, p.user_id, p.statement, appeal_case_id(p.decision_id),
            repr(now), repr(now + self.config.appeal_sla_seconds),
            self.config.appeal_window_days * 86400, repr(APPEAL_PRIORITY), str(event.event_id),
            envelope, repr(APPEAL_PRIORITY - self.config.age_weight_per_hour * now / 3600)])
        status = as_str(reply[0])
        metrics.APPEALS.labels(status).inc()
        if status == "refused":
            return AppealResult(status, reason=as_str(reply[1]))
        return AppealResult(status, case_id=as_str(reply[1]))

    async def appeal_refusal(self, user_id: str, decision_id: str) -> str | None:
        """Why ``user_id`` may not appeal ``decision_id`` (for the ingest endpoint), or None."""
        raw = await self.redis.get(f"{K}decision:{decision_id}")
        if raw is None:
            return f"there is no decision {decision_id}"
        if json.loads(raw).get("subject_id") != user_id:
            return (f"user {user_id} is not the subject of decision {decision_id}: only the "
                    "affected user may appeal it")
        return None

    async def check_hearer(self, case_id: str, analyst: str) -> None:
        """Refuse the original decider an appeal case (claim and decide both check)."""
        kind, decider = await self.redis.hmget(case_key(case_id), ["kind", "original_decider"])
        if kind is not None and as_str(kind) == "appeal" and decider is not None \
                and as_str(decider) == analyst:
            raise NotTheOriginalDecider(
                f"{analyst} took the decision appealed in case {case_id}; another reviewer "
                "must hear the appeal")

    async def case_detail(self, case_id: str) -> dict[str, Any] | None:
        """A case as :meth:`CaseViews.case_detail` gives it, with its actions and, for an
        appeal, what it appeals."""
        case = await super().case_detail(case_id)
        if case is None:
            return None
        case["actions"] = await self.case_actions(case_id)
        if case["kind"] == "appeal":
            case["appeal"] = await self.appeal_detail(case)
        return case

    async def appeal_detail(self, case: Mapping[str, Any]) -> dict[str, Any] | None:
        """What an appeal case shows: the appeal, the original decision, its actions, and the
        original case's flags and events (its evidence)."""
        raw = await self.redis.hgetall(case_key(case["case_id"]))
        fields = {as_str(k): as_str(v) for k, v in raw.items()}
        decision_id = fields.get("appeal_of")
        if not decision_id:
            return None
        original = await self.redis.get(f"{K}decision:{decision_id}")
        original_case = fields.get("original_case", "")
        detail = await self.case_detail(original_case) if original_case else None
        return {"appeal_id": fields.get("appeal_id"), "decision_id": decision_id,
                "statement": fields.get("appeal_statement", ""),
                "original_case": original_case,
                "original_decider": fields.get("original_decider"),
                "decision": json.loads(original) if original else None,
                "actions": await self.case_actions(original_case) if original_case else [],
                "flags": detail["flags"] if detail else [],
                "events": detail["events"] if detail else []}

    async def reversals(self, case: Mapping[str, Any], decision: Mapping[str, Any],
                        ) -> list[PlatformAction]:
        """What reversing an appeal publishes: the reversal of each original action."""
        raw = await self.redis.hmget(case_key(case["case_id"]), ["appeal_of", "original_case"])
        decision_id, original_case = (as_str(v) if v is not None else "" for v in raw)
        originals = await self.decision_actions(original_case, decision_id)
        return enforcement.reverse(
            originals, decision_id=decision["decision_id"], case_id=decision["case_id"],
            decided_by=decision["analyst_id"],
            issued_at=datetime.fromisoformat(decision["decided_at"]).astimezone(UTC))

    async def appeal_fields(self, case_id: str) -> dict[str, str]:
        raw = await self.redis.hmget(case_key(case_id), ["appeal_of", "appeal_event_ids"])
        return {"appeal_of": as_str(raw[0]) if raw[0] else "",
                "event_ids": as_str(raw[1]) if raw[1] else "[]"}

    async def export_enforcement(self) -> None:
        """The gauges of actions and appeals (the sampler calls this each round)."""
        metrics.ACTIONS_FAILED.set(await self.redis.scard(K + "actions:failed"))
        ids = [as_str(i) for i in await self.redis.zrange(APPEAL_SETS["open"], 0, -1)]
        metrics.APPEALS_OPEN.set(len(ids))
        pipe = self.redis.pipeline(transaction=False)
        for case_id in ids:
            pipe.hget(case_key(case_id), "due_at")
        now = self.clock()
        metrics.APPEAL_SLA_BREACHED.set(sum(1 for due in await pipe.execute()
                                            if due is not None and float(due) <= now))
