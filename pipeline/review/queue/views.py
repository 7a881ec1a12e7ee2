"""Read models: what the console and the API show of cases, snoozes and the audit log."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from pipeline.review.queue.base import QueueBase, as_float, as_str
from pipeline.review.queue.keys import APPEAL_SETS, STATUS_SET, K, case_key
from pipeline.review.queue.labelling import LABELLING_SET
from pipeline.review.queue.policy import (
    REPORT_DETECTOR,
    REPORT_EVENT,
    SEVERITY_NAME,
    iso,
    priority,
    sla_state,
)
from pipeline.stores.consent import PREFIX as CONSENT_PREFIX

_SUMMARY_FIELDS = ("case_id", "entity", "entity_type", "entity_id", "subject_id", "status",
                   "created_at", "updated_at", "severity", "max_score", "flag_count",
                   "report_count", "suppressed_count", "detectors", "due_at", "breached_at",
                   "claimed_by", "lease_until", "priority_base", "top_reason", "top_detector",
                   "outcome", "decision_id", "decided_by", "decided_at", "escalated_at", "kind",
                   "sample_count", "appeal_of", "original_case", "original_decider")
#: The case kinds and the sorted sets that hold each kind's cases by status.
KINDS = ("detection", "labelling", "appeal")
_SETS = {"detection": STATUS_SET, "labelling": LABELLING_SET, "appeal": APPEAL_SETS}
#: How :meth:`CaseViews.list_cases` sorts open and escalated cases.
_ORDER: dict[str, Callable[[dict[str, Any]], tuple]] = {
    "priority": lambda c: (-c["priority"], c["created_at"]),
    "sla": lambda c: (c["due_at"] or c["created_at"], -c["priority"]),
    "age": lambda c: (c["created_at"], -c["priority"]),
    "updated": lambda c: (-(c["decided_at"] or c["updated_at"]), -c["priority"]),
}


def _closed_order(c: Mapping[str, Any]) -> tuple:
    """Closed cases by priority: newest decision first."""
    return (-(c["decided_at"] or 0.0),)


def _keep(c: Mapping[str, Any], *, entity_type: str | None, entity_id: str | None,
          severity: str | None, detector: str | None, sla: str | None, claimed: str | None,
          viewer: str | None) -> bool:
    """Whether a case summary passes the filters of :meth:`CaseViews.list_cases`."""
    return ((entity_type is None or c["entity_type"] == entity_type)
            and (entity_id is None or c["entity_id"] == entity_id)
            and (severity is None or c["severity"] == severity)
            and (detector is None or detector in c["detectors"])
            and (sla is None or c["sla_state"] == sla)
            and (claimed is None
                 or (claimed == "unclaimed" and c["claimed_by"] is None)
                 or (claimed == "claimed" and c["claimed_by"] is not None)
                 or (claimed == "mine" and c["claimed_by"] == viewer)))


class CaseViews(QueueBase):
    """Cases as the analysts see them."""

    def _summary(self, raw: Mapping[str, Any], now: float) -> dict[str, Any]:
        c = {as_str(k): as_str(v) for k, v in raw.items() if v is not None}
        rank = int(as_float(c.get("severity")))
        severity = SEVERITY_NAME.get(rank, "low")
        created = as_float(c.get("created_at"), now)
        due = as_float(c.get("due_at"), now)
        lease_until = as_float(c.get("lease_until"))
        status = c.get("status", "open")
        breached_at = as_float(c.get("breached_at")) or None
        holder = c.get("claimed_by") or None
        kind = c.get("kind") or "detection"
        if kind == "labelling":  # not a detection: no SLA
            state, due_at = "none", None
        elif status == "closed":
            state, due_at = ("breached" if breached_at else "met"), due
        elif kind == "appeal":  # an SLA of its own
            state, due_at = sla_state(self.config, due, "appeal", now), due
        else:
            state, due_at = sla_state(self.config, due, severity, now), due
        base = as_float(c.get("priority_base"))
        return {
            "case_id": c.get("case_id", ""),
            "kind": kind,
            "entity": c.get("entity", ""),
            "entity_type": c.get("entity_type") or c.get("entity", ":").split(":", 1)[0],
            "entity_id": c.get("entity_id") or c.get("entity", ":").split(":", 1)[-1],
            "subject_id": c.get("subject_id") or None,
            "status": status,
            "severity": severity,
            "max_score": round(as_float(c.get("max_score")), 4),
            "flag_count": int(as_float(c.get("flag_count"))),
            "report_count": int(as_float(c.get("report_count"))),
            "suppressed_count": int(as_float(c.get("suppressed_count"))),
            "detectors": [d for d in c.get("detectors", "").split(",") if d],
            "top_reason": c.get("top_reason", ""),
            "top_detector": c.get("top_detector", ""),
            "created_at": created,
            "updated_at": as_float(c.get("updated_at"), created),
            "age_seconds": max(0.0, (as_float(c.get("decided_at")) or now) - created),
            "priority": round(priority(self.config, base, created, now)
                              if status != "closed" else base, 1),
            "due_at": due_at,
            "sla_state": state,
            "sample_count": int(as_float(c.get("sample_count"))),
            "breached_at": breached_at,
            "claimed_by": holder if holder and lease_until > now else None,
            "lease_until": lease_until if holder and lease_until > now else None,
            "outcome": c.get("outcome") or None,
            "decision_id": c.get("decision_id") or None,
            "decided_by": c.get("decided_by") or None,
            "decided_at": as_float(c.get("decided_at")) or None,
            "escalated_at": as_float(c.get("escalated_at")) or None,
            "appeal_of": c.get("appeal_of") or None,
            "original_case": c.get("original_case") or None,
            "original_decider": c.get("original_decider") or None,
        }

    async def summary(self, case_id: str) -> dict[str, Any] | None:
        raw = await self.redis.hgetall(case_key(case_id))
        if not raw:
            return None
        return self._summary(raw, self.clock())

    async def case(self, case_id: str) -> dict[str, Any] | None:
        """A case's state and its flags."""
        summary = await self.summary(case_id)
        if summary is None:
            return None
        summary["flags"] = await self._flags(f"{case_key(case_id)}:flags")
        summary["samples"] = await self._samples(f"{case_key(case_id)}:samples")
        # Messages and proposals users reported, joined to their author's case (add_flags.lua).
        summary["reported_content"] = [
            json.loads(r) for r in await self.redis.lrange(f"{K}case_content:{case_id}", 0, -1)]
        if summary["kind"] == "appeal":  # the events of the decision appealed
            raw = await self.redis.hget(case_key(case_id), "appeal_event_ids")
            summary["appeal_event_ids"] = json.loads(raw) if raw else []
        return summary

    async def _samples(self, list_key: str) -> list[dict[str, Any]]:
        """A labelling case's samples: why each event was sampled, with what probability."""
        ids = [as_str(e) for e in await self.redis.lrange(list_key, 0, -1)]
        out = []
        for event_id in ids:
            raw = await self.redis.hget(f"{K}sample:{event_id}", "sample")
            if raw:
                out.append(json.loads(raw))
        return out

    async def _flags(self, list_key: str) -> list[dict[str, Any]]:
        ids = [as_str(f) for f in await self.redis.lrange(list_key, 0, -1)]
        if not ids:
            return []
        return [json.loads(f) for f in await self.redis.mget([f"{K}flag:{i}" for i in ids]) if f]

    async def case_detail(self, case_id: str) -> dict[str, Any] | None:
        """Everything an analyst needs: flags, the events behind them, rule reasons and model
        explanations (in the flags), suppressed hits, notes, decisions, the subject's consent
        state and earlier decisions on the entity and the subject, active snoozes."""
        case = await self.case(case_id)
        if case is None:
            return None
        event_ids = list(dict.fromkeys([*(f["event_id"] for f in case["flags"]),
                                        *(x["event_id"] for x in case["samples"]),
                                        *(c["event_id"] for c in case["reported_content"])]))
        stored = await self.redis.mget([f"{K}event:{e}" for e in event_ids]) if event_ids else []
        case["events"] = [
            json.loads(raw) if raw else {"event_id": e, "stored": False}
            for e, raw in zip(event_ids, stored)
        ]
        case["suppressed_flags"] = await self._flags(f"{K}case_suppressed:{case_id}")
        reasons = await self.redis.hmget(K + "flag_suppressed",
                                         [f["flag_id"] for f in case["suppressed_flags"]] or ["-"])
        for f, why in zip(case["suppressed_flags"], reasons):
            f["suppressed"] = as_str(why) if why else None
        case["notes"] = [json.loads(n) for n in await self.redis.lrange(f"{K}case_notes:{case_id}", 0, -1)]
        case["decisions"] = [json.loads(d) for d in
                             await self.redis.lrange(f"{K}case_decisions:{case_id}", 0, -1)]
        subject = case["subject_id"] or await self._subject_for(case)
        case["subject_id"] = subject
        case["earlier_decisions"] = await self._earlier_decisions(case_id, case["entity"], subject)
        case["consent"] = await self.consent(subject) if subject else None
        case["snoozes"] = await self.snoozes(case["entity_type"], case["entity_id"])
        return case

    async def _earlier_decisions(self, case_id: str, entity: str,
                                 subject: str) -> list[dict[str, Any]]:
        """Decisions on the entity or the subject in other cases than ``case_id``, newest first."""
        earlier: dict[str, dict[str, Any]] = {}
        lists = [f"{K}entity_decisions:{entity}"]
        if subject:
            lists.append(f"{K}subject_decisions:{subject}")
        for key in lists:
            for raw in await self.redis.lrange(key, 0, -1):
                d = json.loads(raw)
                if d["case_id"] != case_id:
                    earlier[d["decision_id"]] = d
        return sorted(earlier.values(), key=lambda d: d["decided_at"], reverse=True)

    async def consent(self, user_id: str) -> dict[str, Any]:
        """The subject's AI-features consent: the change in force now and the history."""
        history = [json.loads(m) for m in await self.redis.zrevrange(CONSENT_PREFIX + user_id, 0, 49)]
        return {"user_id": user_id, "current": history[0] if history else None, "history": history}

    async def _subject_for(self, case: Mapping[str, Any]) -> str:
        """The user a case is about when no flag said: a reported message's or proposal's
        author once the worker has seen it, a job post's client (from the feature store's job
        profile), else the entity id."""
        if case["entity_type"] == "user":
            return str(case["entity_id"])
        for f in case.get("flags", []):
            if f.get("event_type") != REPORT_EVENT and f.get("detector_id") != REPORT_DETECTOR:
                return str(f["subject_id"])
        if case["entity_type"] in ("message", "proposal"):
            # A report that came before the content: its author, once the worker saw it.
            author = await self.redis.hget(
                f"{K}content:{case['entity_type']}:{case['entity_id']}", "author")
            if author:
                return as_str(author)
        if case["entity_type"] == "job_post":
            raw = await self.redis.get(f"{K}f:job:{case['entity_id']}")
            if raw:
                client = json.loads(raw).get("client_id")
                if client:
                    return str(client)
        return str(case["entity_id"])

    async def open_cases(self, limit: int = 50) -> list[dict[str, Any]]:
        """The highest-priority open cases, with their flags."""
        ids = await self.redis.zrevrange(K + "queue", 0, limit - 1)
        return [c for c in [await self.case(as_str(i)) for i in ids] if c]

    async def queue_depth(self) -> int:
        return await self.redis.zcard(K + "queue")

    async def list_cases(self, *, status: str = "open", kind: str = "detection",
                         entity_type: str | None = None,
                         severity: str | None = None, detector: str | None = None,
                         sla: str | None = None, claimed: str | None = None,
                         viewer: str | None = None, entity_id: str | None = None,
                         sort: str = "priority", offset: int = 0,
                         limit: int = 50) -> tuple[list[dict[str, Any]], int]:
        """One page of case summaries and the number of matches.

        Open and escalated cases are read whole (a review queue holds thousands, not millions)
        and filtered here; closed cases are read newest first in chunks. ``kind``: detection
        cases (flags and reports) or labelling cases (sampled events), each in its own index.
        """
        index = _SETS[kind][status]
        now = self.clock()
        matched: list[dict[str, Any]] = []
        chunk = 500
        start = 0
        while True:
            ids = [as_str(i) for i in
                   await self.redis.zrevrange(index, start, start + chunk - 1)]
            if not ids:
                break
            pipe = self.redis.pipeline(transaction=False)
            for i in ids:
                pipe.hmget(case_key(i), _SUMMARY_FIELDS)
            for values in await pipe.execute():
                if values[0] is None:
                    continue
                c = self._summary(dict(zip(_SUMMARY_FIELDS, values)), now)
                if _keep(c, entity_type=entity_type, entity_id=entity_id, severity=severity,
                         detector=detector, sla=sla, claimed=claimed, viewer=viewer):
                    matched.append(c)
            start += chunk
            if status == "closed" and sort in ("priority", "updated") and len(matched) >= offset + limit:
                # Closed cases come newest first; enough for this page (the total is a floor).
                break
        if status != "closed" or sort != "updated":
            matched.sort(key=_closed_order if status == "closed" and sort == "priority"
                         else _ORDER[sort])
        return matched[offset:offset + limit], len(matched)

    async def known_detectors(self) -> list[str]:
        return sorted(as_str(d) for d in await self.redis.hkeys(K + "stats:flags_by_detector"))

    async def snoozes(self, entity_type: str, entity_id: str) -> list[dict[str, Any]]:
        """Snoozes in force for the entity."""
        now = self.clock()
        raw = await self.redis.hgetall(f"{K}snooze:{entity_type}:{entity_id}")
        out = [json.loads(v) for v in raw.values()]
        return sorted((s for s in out if s["expires_at"] > now), key=lambda s: s["detector_id"])

    async def audit(self, *, limit: int = 50, before: str | None = None,
                    case_id: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Audit entries newest first; pass the returned cursor as ``before`` for the next page."""
        out: list[dict[str, Any]] = []
        end = f"({before}" if before else "+"
        while len(out) < limit:
            batch = await self.redis.xrevrange(K + "audit", max=end, min="-", count=max(limit, 200))
            if not batch:
                return out, None
            for entry_id, fields in batch:
                end = f"({as_str(entry_id)}"
                entry = {as_str(k): as_str(v) for k, v in fields.items()}
                if case_id and entry.get("case_id") != case_id:
                    continue
                details = entry.get("details") or "{}"
                out.append({"id": as_str(entry_id), "at": iso(as_float(entry.get("at"))),
                            "actor": entry.get("actor"), "action": entry.get("action"),
                            "case_id": entry.get("case_id") or None,
                            "details": json.loads(details)})
                if len(out) == limit:
                    return out, out[-1]["id"]
        return out, None
