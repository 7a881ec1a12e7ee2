"""Events a platform service sends back about actions and appeals, valid against the contracts."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from schemas.decode import decode_event_obj
from schemas.events import ActionApplied, ActionFailed, AppealFiled


def _at(at: datetime | None) -> str:
    return (at or datetime.now(timezone.utc)).isoformat().replace("+00:00", "Z")


def ack(action: dict[str, Any], *, failed: str = "", at: datetime | None = None,
        event_id: str | None = None, service: str = "accounts") -> ActionApplied | ActionFailed:
    """``action.applied`` (or ``action.failed`` with the reason ``failed``) for an action record."""
    payload: dict[str, Any] = {"action_id": action["action_id"], "user_id": action["subject_id"],
                               "service": service}
    if failed:
        payload["reason"] = failed
    return decode_event_obj({  # type: ignore[return-value]
        "event_id": event_id or str(uuid.uuid4()),
        "type": "action.failed" if failed else "action.applied", "schema_version": "1.0",
        "occurred_at": _at(at), "producer": service, "subject_id": action["subject_id"],
        "payload": payload})


def appeal(decision_id: str, user: str, *, statement: str = "I did nothing wrong",
           appeal_id: str | None = None, at: datetime | None = None) -> AppealFiled:
    return decode_event_obj({  # type: ignore[return-value]
        "event_id": str(uuid.uuid4()), "type": "appeal.filed", "schema_version": "1.0",
        "occurred_at": _at(at), "producer": "appeals", "subject_id": user,
        "payload": {"appeal_id": appeal_id or f"apl-{uuid.uuid4().hex[:8]}",
                    "decision_id": decision_id, "user_id": user, "statement": statement}})
