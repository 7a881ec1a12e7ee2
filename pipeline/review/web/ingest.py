"""``POST /api/events``: services publish marketplace events; ``GET /api/ingest-log``: leads see
who published what.

In order, a request is: authenticated (a service token), admitted by its token's rate limit
(429 with Retry-After; bad bodies count too), read up to ``VIGIL_REVIEW_INGEST_MAX_BYTES``
(413), parsed strictly (400), validated against its contract (422), checked against the token's
scope of event types and producer names (403), and published to Kafka (503 if Kafka refuses).
Every event that got as far as its scope check is recorded in the ingest log, published or not.
The log is :class:`pipeline.review.web.ingest_log.IngestLog`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from pipeline.review.web.api import Lead, Service, Svc, responses
from pipeline.review.web.auth import Principal
from pipeline.review.web.bodies import BadBody, parse_json
from pipeline.review.web.deps import ApiError, Services
from pipeline.review.web.ingest_log import Outcome
from pipeline.review.web.models import IngestLogPage, Published, StreamId, UserName

router = APIRouter(prefix="/api")


async def _admit(svc: Services, who: Principal) -> None:
    admission = await svc.buckets.take(f"ingest:{who.name}", rate=svc.review.ingest_rate,
                                       burst=svc.review.ingest_burst)
    if not admission.allowed:
        raise ApiError(429, "rate_limited",
                       f"token {who.name} may publish {svc.review.ingest_rate:g} events per "
                       f"second (bursts of {svc.review.ingest_burst}); retry in "
                       f"{admission.retry_after} s", {"Retry-After": str(admission.retry_after)})


def _decode(raw: bytes) -> Any:
    from schemas.decode import decode_event_obj
    from schemas.errors import InvalidEvent

    try:
        return decode_event_obj(parse_json(raw))
    except BadBody as exc:
        raise ApiError(400, exc.code, exc.message) from None
    except json.JSONDecodeError as exc:
        raise ApiError(422, "bad_json", f"body is not JSON: {exc.msg} at {exc.pos}") from None
    except InvalidEvent as exc:
        raise ApiError(422, exc.kind, exc.reason) from None


async def _platform_refusal(svc: Services, event: Any) -> str | None:
    """Why the queue would refuse a platform event (so the service hears it now, not as a
    dead letter later): an appeal of someone else's decision, an acknowledgement of an action
    that was not published to that user."""
    if event.type == "appeal.filed":
        return await svc.queue.appeal_refusal(event.payload.user_id, event.payload.decision_id)
    if event.type in ("action.applied", "action.failed"):
        return await svc.queue.action_refusal(str(event.payload.action_id), event.payload.user_id)
    return None


@router.post("/events", status_code=202, response_model=Published,
             summary="Publish one marketplace event (services): validated, then sent to Kafka",
             responses=responses(400, 401, 403, 413, 422, 429, 503))
async def ingest(request: Request, who: Service, svc: Svc) -> Published:
    from pipeline.kafka.publisher import PublishError
    from schemas.errors import InvalidEvent
    from schemas.topics import TOPIC_BY_TYPE

    await _admit(svc, who)
    event = _decode(await request.body())  # BodyLimit stops it at the limit
    log = svc.ingest_log
    refusal = who.scope.refusal(event.type, event.producer) or await _platform_refusal(svc, event)
    if refusal is not None:
        await log.record(at=svc.clock(), publisher=who.name, event=event, outcome="refused",
                         reason=refusal)
        raise ApiError(403, "forbidden", refusal)
    publisher = svc.ingest_publisher()

    def send() -> None:
        publisher.publish(event)
        publisher.flush(timeout=15)

    try:
        await asyncio.to_thread(send)
    except PublishError as exc:
        await log.record(at=svc.clock(), publisher=who.name, event=event, outcome="failed",
                         reason=str(exc))
        raise ApiError(503, "unavailable", str(exc)) from None
    except InvalidEvent as exc:  # dated past the workers' clock bound, or too large serialised
        await log.record(at=svc.clock(), publisher=who.name, event=event, outcome="refused",
                         reason=str(exc))
        raise ApiError(422, exc.kind, exc.reason) from None
    await log.record(at=svc.clock(), publisher=who.name, event=event, outcome="published")
    return Published(event_id=str(event.event_id), topic=TOPIC_BY_TYPE[event.type])


@router.get("/ingest-log", response_model=IngestLogPage, responses=responses(401, 403, 422),
            summary="Who published which event through POST /api/events, newest first (leads)")
async def ingest_log(_who: Lead, svc: Svc, publisher: UserName | None = None,
                     outcome: Outcome | None = None, before: StreamId | None = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100) -> IngestLogPage:
    items, cursor = await svc.ingest_log.read(limit=limit, before=before, publisher=publisher,
                                              outcome=outcome)
    return IngestLogPage(items=items, next_before=cursor)
