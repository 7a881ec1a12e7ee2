"""Routes of the network view and of ring cases: the API's and the console's.

``GET /api/cases/{id}/network``: the case subject's linked accounts up to two hops (the data the
case page draws); ``POST /api/cases/{id}/ring-decision``: one decision for every member of a
ring case, recorded per member through the queue's ordinary decision path
(:func:`pipeline.review.queue.rings.decide_ring`); ``POST /cases/{id}/ring-decision``: the same
from the console's form. Included before the console's router, whose ``/cases/{id}/{action}``
would otherwise take the form's path.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from pipeline.review.queue import ReviewError
from pipeline.review.queue.errors import InvalidDecision
from pipeline.review.queue.rings import decide_ring
from pipeline.review.web import action_forms, console
from pipeline.review.web.api import BODY, Reader, Svc, Worker, responses
from pipeline.review.web.auth import Principal
from pipeline.review.web.deps import ApiError, Services, services
from pipeline.review.web.models import DecisionIn, Id
from pipeline.review.web.network import link_index, network_for_case

router = APIRouter()


class NetworkNode(BaseModel):
    user_id: str
    #: Links between the case's subject and this account (0: the subject).
    hops: int
    open_case: str | None
    #: Past decisions on this account, by outcome.
    decisions: dict[str, int]
    #: Flags on the account's open case.
    flags: int


class NetworkEdge(BaseModel):
    a: str
    b: str
    #: What the two accounts share: device, ip, ip24, domain, text.
    kinds: list[str]


class NetworkOut(BaseModel):
    center: str
    nodes: list[NetworkNode]
    edges: list[NetworkEdge]
    #: True when the network had more accounts than ``max_nodes``.
    truncated: bool
    #: The ring this case is for (its link key and members), if it is a ring's case.
    ring: dict[str, Any] | None = None
    masked: bool = False


class RingDecisionOut(BaseModel):
    ring: str
    #: Each member's decision (the record a single decision returns), by member.
    decisions: dict[str, dict[str, Any]]
    #: Members whose decision was decided before (a retried bulk decision).
    replayed: list[str]


@router.get("/api/cases/{case_id}/network", response_model=NetworkOut,
            responses=responses(401, 403, 404, 422),
            summary="The case subject's linked accounts up to two hops, with their cases")
async def get_network(case_id: Id, who: Reader, svc: Svc,
                      max_nodes: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    case = await svc.queue.case(case_id)
    if case is None:
        raise ApiError(404, "not_found", f"no case {case_id}")
    return await network_for_case(svc, case, who, max_nodes)


async def _decide(svc: Services, case_id: str, who: Principal, body: DecisionIn) -> RingDecisionOut:
    links = link_index(svc)
    result = await decide_ring(svc.queue, case_id, who.name, body.outcome,
                               decision_id=body.decision_id or f"dec_{uuid.uuid4().hex}",
                               policy_reason=body.policy_reason, notes=body.notes,
                               lead=who.is_lead, current=links.members,
                               actions=body.chosen())
    svc.relay.wake.set()
    return RingDecisionOut(ring=result.ring,
                           decisions={m: r.decision for m, r in result.decisions.items()},
                           replayed=[m for m, r in result.decisions.items() if r.replayed])


@router.post("/api/cases/{case_id}/ring-decision", response_model=RingDecisionOut,
             responses=responses(*BODY, 404, 409),
             summary="Decide every member of a ring case (one decision per member; idempotent "
                     "by decision_id)")
async def ring_decision(case_id: Id, body: DecisionIn, who: Worker, svc: Svc) -> RingDecisionOut:
    return await _decide(svc, case_id, who, body)


class _Form(BaseModel):
    outcome: str = Field(max_length=32)
    policy_reason: str = Field("", max_length=64)
    notes: str = Field("", max_length=5000)
    decision_id: str = Field("", max_length=128)


@router.post("/cases/{case_id}/ring-decision", include_in_schema=False)
async def ring_decision_form(request: Request, case_id: str) -> Response:
    session, form, refused = await console._form_session(request)
    if refused:
        return refused
    assert session is not None
    who = session.principal
    if not who.can("work_cases"):
        return console._error(request, session, 403, f"Role {who.role} may not decide cases.")
    if not console.CASE_ID.match(case_id):
        return console._error(request, session, 404, "There is no such case.")
    try:
        body = DecisionIn.model_validate({
            "outcome": form.get("outcome") or "", "notes": str(form.get("notes") or ""),
            "policy_reason": str(form.get("policy_reason") or ""),
            "decision_id": str(form.get("decision_id") or "") or None,
            "actions": [{"action": a, "duration_days": d} for a, d in action_forms.chosen(form)]})
    except InvalidDecision as exc:
        return await console._case_page(request, session, case_id, status=422, error=str(exc))
    except ValueError:
        return await console._case_page(request, session, case_id, status=422,
                                        error="Pick an outcome (and a policy reason for fraud); "
                                              "notes are limited to 5000 characters.")
    try:
        result = await _decide(services(request), case_id, who, body)
    except InvalidDecision as exc:
        return await console._case_page(request, session, case_id, status=422, error=str(exc))
    except ReviewError as exc:
        if exc.status == 404:
            return console._error(request, session, 404, "There is no such case.")
        return await console._case_page(request, session, case_id, status=exc.status,
                                        error=str(exc))
    return RedirectResponse(f"/cases/{case_id}?done=ring&members={len(result.decisions)}",
                            status_code=303)
