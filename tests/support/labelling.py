"""The learning loop through a running stack: the labelling samples and cases the worker wrote,
analysts deciding cases (the review queue's own code), the outbox relay publishing the
decisions, and the models as the learner last published them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from redis.asyncio import Redis

from detectors.examples import example_event
from detectors.models import default_models
from pipeline.kafka.publisher import Publisher
from pipeline.models.keys import snapshot_key, version_key
from pipeline.review.queue import ReviewQueue
from pipeline.review.web.relay import OutboxRelay
from tests.support.review import run_sync
from tests.support.stack import Stack


def consent(user: str, state: str, at: datetime) -> dict:
    return example_event("consent.changed", {"user_id": user, "ai_features": state,
                                             "changed_at": at.isoformat()},
                         event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"c:{user}:{state}:{at}")),
                         occurred_at=at.isoformat())


def message(user: str, text: str, n: int, at: datetime | None = None, *,
            contract: bool = False, name: str = "") -> dict:
    at = at or datetime.now(timezone.utc)
    return example_event("message.sent", {"sender_id": user, "text": text, "message_id": f"m{n}",
                                          "has_active_contract": contract},
                         event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"msg:{name}:{user}:{n}")),
                         occurred_at=at.isoformat())


def publish(stack: Stack, events: list[dict]) -> None:
    """Publish with the consent registry written through, as services do."""
    with Publisher(stack.settings.kafka_bootstrap,
                   consent_registry=stack.settings.redis_url) as publisher:
        for event in events:
            publisher.publish(event)


def samples(stack: Stack) -> dict[str, dict[str, Any]]:
    """Every sample the worker recorded: event id -> the sample, its case and kind."""
    client = stack.client
    out = {}
    for key in client.scan_iter("vigil:sample:*"):
        raw = {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
        out[key.decode().removeprefix("vigil:sample:")] = {
            **orjson.loads(raw["sample"]), "case_id": raw["case_id"], "kind": raw["kind"]}
    return out


def labelling_cases(stack: Stack) -> list[str]:
    return [c.decode() for c in stack.client.zrange("vigil:labelling", 0, -1)]


def decide(stack: Stack, outcome_of: Callable[[dict[str, Any]], str | None], *,
           kind: str = "labelling") -> int:
    """Claim and decide every open case of ``kind`` whose ``outcome_of(case)`` is an outcome
    (the case as :meth:`ReviewQueue.case` returns it); returns how many were decided."""
    async def run() -> int:
        redis = Redis.from_url(stack.settings.redis_url)
        try:
            queue = ReviewQueue(redis)
            decided = 0
            while True:
                cases, _ = await queue.list_cases(kind=kind, offset=0, limit=200)
                todo = []
                for summary in cases:
                    case = await queue.case(summary["case_id"])
                    outcome = outcome_of(case) if case else None
                    if outcome:
                        todo.append((summary["case_id"], outcome))
                for case_id, outcome in todo:
                    await queue.claim(case_id, "alice")
                    await queue.decide(case_id, "alice", outcome, policy_reason=(
                        "spam" if outcome == "confirmed_fraud" else ""))
                    decided += 1
                if len(todo) < len(cases) or not todo:
                    return decided
        finally:
            await redis.aclose()
    return run_sync(run)


def relay(stack: Stack) -> int:
    """Publish every decision waiting in the outbox to tns.decisions (the service's relay)."""
    async def run() -> int:
        redis = Redis.from_url(stack.settings.redis_url)
        try:
            queue = ReviewQueue(redis)
            return await OutboxRelay(queue, lambda: Publisher(stack.settings.kafka_bootstrap)).run_once()
        finally:
            await redis.aclose()
    return run_sync(run)


def estimates(stack: Stack) -> dict[str, Any]:
    """What the review service reports: prevalence, recall, precision (``ReviewQueue.estimates``)."""
    async def run() -> dict[str, Any]:
        redis = Redis.from_url(stack.settings.redis_url)
        try:
            return await ReviewQueue(redis).estimates()
        finally:
            await redis.aclose()
    return run_sync(run)


def published_model(stack: Stack, model_id: str) -> Any:
    """The model as the learner last published it (a fresh one before any snapshot)."""
    client = stack.client
    model = next(m for m in default_models(stack.settings.model_key())
                 if m.id == model_id)
    version = int(client.get(version_key(model_id)) or 0)
    if version:
        model.restore(client.get(snapshot_key(model_id, version)))
    return model


def hours_ago(hours: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=hours)
