"""Finding work under ``/api``: search, claim next, the subject's timeline, saved filters.

Saved filters are per analyst: a name and the queue page's query string, at most
:data:`MAX_FILTERS` each (a hash ``vigil:saved_filters:<analyst>``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from pipeline.review.queue import iso
from pipeline.review.web.api import Reader, Svc, Worker, present, responses
from pipeline.review.web.deps import ApiError
from pipeline.review.web.masking import mask
from pipeline.review.web.models import Body, CaseSummary, ClaimOut, Id
from pipeline.review.web.names import names_for_cases

router = APIRouter(prefix="/api")
MAX_FILTERS = 50
#: The queue page's filters a saved filter may hold (anything else is refused, not stored).
FILTER_FIELDS = frozenset({"status", "kind", "entity_type", "entity_id", "severity", "detector",
                           "sla", "claimed", "sort"})
SearchKind = Literal["case", "user", "job", "email", "ip", "device"]
FilterName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w .:-]+$")]


class SearchPage(BaseModel):
    items: list[CaseSummary]


class SavedFilterIn(Body):
    name: FilterName
    #: The queue page's query string (``status=open&severity=high``).
    query: Annotated[str, Field(max_length=1000)]


class SavedFilter(BaseModel):
    name: str
    query: str


class Timeline(BaseModel):
    subject_id: str | None
    events: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    masked: bool = False


def filters_key(analyst: str) -> str:
    return f"vigil:saved_filters:{analyst}"


@router.get("/search", response_model=SearchPage, responses=responses(401, 403, 422),
            summary="Find cases by case id, user id, job id (exact or prefix), e-mail, IP or device")
async def search(who: Reader, svc: Svc,
                 q: Annotated[str, Query(min_length=1, max_length=254)],
                 kind: SearchKind | None = None, exact: bool = False,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> SearchPage:
    items = await svc.queue.search(q, kind, prefix=not exact, limit=limit)
    names = await names_for_cases(svc.redis, items) if who.masked else {}
    return SearchPage(items=[CaseSummary(**present(c, who, names.get(c["case_id"], ())))
                             for c in items])


@router.post("/claim-next", response_model=ClaimOut, responses=responses(401, 403, 404),
             summary="Claim the highest-priority case nobody holds (404: none is left)")
async def claim_next(who: Worker, svc: Svc) -> ClaimOut:
    result = await svc.queue.claim_next(who.name, lead=who.is_lead)
    if result is None:
        raise ApiError(404, "not_found", "no unclaimed case is waiting")
    return ClaimOut(case_id=result.case_id, claimed_by=result.claimed_by,
                    lease_until=iso(result.lease_until) or "", action="claim")


async def timeline_of(svc: Any, case: dict[str, Any], masked: bool) -> dict[str, Any]:
    """The case subject's history and the decisions on it (masked for engineers)."""
    subject = case.get("subject_id")
    events = await svc.queue.timeline(subject) if subject else []
    decisions = case.get("earlier_decisions", []) + case.get("decisions", [])
    out = {"subject_id": subject, "events": events,
           "decisions": sorted(decisions, key=lambda d: d.get("decided_at") or "", reverse=True)}
    if masked:
        names = await names_for_cases(svc.redis, [case])
        out = {**mask(out, names=names.get(case["case_id"], ())), "masked": True}
    return out


@router.get("/cases/{case_id}/timeline", response_model=Timeline,
            responses=responses(401, 403, 404, 422),
            summary="The case subject's recent events (consent state as of each) and decisions")
async def timeline(case_id: Id, who: Reader, svc: Svc) -> dict[str, Any]:
    case = await svc.queue.case_detail(case_id)
    if case is None:
        raise ApiError(404, "not_found", f"no case {case_id}")
    return await timeline_of(svc, case, who.masked)


@router.get("/filters", response_model=list[SavedFilter], responses=responses(401, 403),
            summary="Your saved queue filters")
async def list_filters(who: Reader, svc: Svc) -> list[SavedFilter]:
    raw = await svc.redis.hgetall(filters_key(who.name))
    return sorted((SavedFilter(name=k.decode(), query=v.decode()) for k, v in raw.items()),
                  key=lambda f: f.name)


def clean_query(query: str) -> str:
    """The query string with only the queue's filters, or :class:`ApiError` 422."""
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=False)
    unknown = sorted({k for k, _ in pairs} - FILTER_FIELDS)
    if unknown:
        raise ApiError(422, "invalid_request", f"not a queue filter: {', '.join(unknown)}")
    return urlencode(pairs)


@router.put("/filters", response_model=SavedFilter, responses=responses(400, 401, 403, 413, 422),
            summary="Save (or replace) one of your queue filters")
async def save_filter(body: SavedFilterIn, who: Reader, svc: Svc) -> SavedFilter:
    key = filters_key(who.name)
    query = clean_query(body.query)
    if not await svc.redis.hexists(key, body.name) and await svc.redis.hlen(key) >= MAX_FILTERS:
        raise ApiError(422, "invalid_request", f"at most {MAX_FILTERS} saved filters")
    await svc.redis.hset(key, body.name, query)
    return SavedFilter(name=body.name, query=query)


@router.delete("/filters/{name}", status_code=204, responses=responses(401, 403, 404, 422),
               summary="Delete one of your saved filters")
async def delete_filter(name: FilterName, who: Reader, svc: Svc) -> None:
    if not await svc.redis.hdel(filters_key(who.name), name):
        raise ApiError(404, "not_found", f"no saved filter {json.dumps(name)}")
