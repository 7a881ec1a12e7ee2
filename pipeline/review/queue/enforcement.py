"""A decision's platform actions in the queue: planned with the decision, kept with their state.

:meth:`Enforcement.plan_actions` checks what the analyst chose against the vocabulary
(:mod:`detectors.enforcement`; a wrong choice is :class:`InvalidDecision`, a 422) and builds the
action records; ``decide.lua`` stores each under ``vigil:action:<id>`` (``record``, ``state``
``pending``, ``case_id``) and in the actions' outbox in the same step as the decision, once per
action id. A platform service's ``action.applied`` / ``action.failed`` comes back through Kafka;
the worker hands it to :meth:`acknowledge` (``ack_action.lua``): idempotent by event id, and
an older acknowledgement never overwrites a newer one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from detectors import enforcement
from pipeline.review.queue.base import as_float, as_str
from pipeline.review.queue.errors import InvalidDecision
from pipeline.review.queue.keys import K
from pipeline.review.queue.policy import iso
from pipeline.review.queue.views import CaseViews
from schemas.actions import PlatformAction
from schemas.events import ActionApplied, ActionFailed

#: What a decision record keeps of each action (the transparency report reads these).
_SUMMARY = ("action_id", "action", "kind", "reverses", "entity_type", "entity_id",
            "duration_days", "restrictive", "automated_detection", "automated_decision")
ACTION_STATES = ("pending", "applied", "failed")


def action_key(action_id: str) -> str:
    """Where an action's record, state and acknowledgements are kept.

    >>> action_key("a1")
    'vigil:action:a1'
    """
    return f"{K}action:{action_id}"


def summary(action: PlatformAction) -> dict[str, Any]:
    return action.model_dump(mode="json", include=set(_SUMMARY))


def script_argument(actions: Sequence[PlatformAction]) -> str:
    """``decide.lua``'s ARGV[13]: [id, record JSON, id it reverses or ''] per action."""
    return json.dumps([[a.action_id, a.model_dump_json(), a.reverses or ""] for a in actions])


@dataclass(frozen=True)
class AckResult:
    """What an acknowledgement did: ``applied``, ``failed`` (state changed), ``duplicate`` (this
    event was seen), ``stale`` (a newer acknowledgement is in force) or ``unknown`` (no such
    action: the event is dead-lettered with ``reason``)."""

    status: str
    action: str = ""
    reason: str = ""


class Enforcement(CaseViews):
    """Actions: planning them with a decision, their state, acknowledgements."""

    def plan_actions(self, case: Mapping[str, Any], decision: Mapping[str, Any],
                     chosen: Sequence[tuple[str, int | None]], *,
                     automated_decision: bool = False) -> list[PlatformAction]:
        """The actions of a decision about to be recorded; :class:`InvalidDecision` if the
        choice does not fit the vocabulary or the case's entity."""
        try:
            checked = enforcement.validate(case["entity_type"], decision["outcome"], chosen)
        except enforcement.InvalidAction as exc:
            raise InvalidDecision(str(exc)) from None
        if not checked:
            return []
        ctx = enforcement.Context(
            decision_id=decision["decision_id"], case_id=decision["case_id"],
            entity_type=case["entity_type"], entity_id=case["entity_id"],
            subject_id=decision["subject_id"], policy_reason=decision["policy_reason"],
            decided_by=decision["analyst_id"],
            issued_at=datetime.fromisoformat(decision["decided_at"]).astimezone(UTC),
            flags=case.get("flags", []), automated_decision=automated_decision,
            appeal_days=self.config.appeal_window_days)
        return enforcement.plan(ctx, checked)

    async def case_actions(self, case_id: str) -> list[dict[str, Any]]:
        """A case's actions in the order decided, each with its state and acknowledgements."""
        ids = [as_str(i) for i in await self.redis.lrange(f"{K}case_actions:{case_id}", 0, -1)]
        pipe = self.redis.pipeline(transaction=False)
        for action_id in ids:
            pipe.hgetall(action_key(action_id))
        out = []
        for raw in await pipe.execute():
            if raw:
                out.append(_action_view({as_str(k): as_str(v) for k, v in raw.items()}))
        return out

    async def decision_actions(self, case_id: str, decision_id: str) -> list[dict[str, Any]]:
        """The action records (as published) that decision ``decision_id`` took on its case."""
        return [a["record"] for a in await self.case_actions(case_id)
                if a["record"]["decision_id"] == decision_id]

    async def add_auto_actions(self, actions: Sequence[PlatformAction]) -> int:
        """Record automatic actions (each on its flag's case, in the outbox, audited); returns
        how many were new (an action id seen before changes nothing)."""
        if not actions:
            return 0
        items = [[a.action_id, a.model_dump_json(), a.case_id,
                  json.dumps({**summary(a), "decision_id": a.decision_id,
                              "policy_reason": a.policy_reason, "decided_by": a.decided_by})]
                 for a in actions]
        return int(await self.scripts.auto_actions(args=[repr(self.clock()), json.dumps(items)]))

    async def action_refusal(self, action_id: str, user_id: str) -> str | None:
        """Why an acknowledgement of ``action_id`` for ``user_id`` would be refused, or None."""
        raw = await self.redis.hget(action_key(action_id), "record")
        if raw is None or json.loads(raw).get("subject_id") != user_id:
            return f"no action {action_id} was published to user {user_id}"
        return None

    async def acknowledge(self, event: ActionApplied | ActionFailed) -> AckResult:
        """Record a platform service's acknowledgement of an action on its case."""
        state = "applied" if event.type == "action.applied" else "failed"
        reason = getattr(event.payload, "reason", "")
        reply = await self.scripts.ack_action(args=[
            str(event.payload.action_id), str(event.event_id), state, reason,
            event.payload.service, repr(event.occurred_at.timestamp()), repr(self.clock()),
            event.payload.user_id])
        status = as_str(reply[0])
        if status == "unknown":
            return AckResult("unknown", reason=f"no action {event.payload.action_id} was "
                                               "published to this user")
        return AckResult(status, action=as_str(reply[1]) if len(reply) > 1 else "")


def _action_view(raw: Mapping[str, str]) -> dict[str, Any]:
    record = json.loads(raw["record"])
    acks = json.loads(raw.get("acks") or "[]")
    return {"action_id": record["action_id"], "action": record["action"], "kind": record["kind"],
            "state": raw.get("state", "pending"), "reason": raw.get("reason", ""),
            "service": raw.get("service", ""), "reversed_by": raw.get("reversed_by") or None,
            "updated_at": iso(as_float(raw.get("updated_at"))), "acks": acks,
            "record": record}
