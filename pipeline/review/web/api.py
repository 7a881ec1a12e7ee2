"""The REST API under ``/api``: bearer tokens, role checks, JSON in and out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from detectors.models import MODEL_CLASSES
from pipeline.models.unlearning import unlearning_status
from pipeline.review.queue import ClaimResult, iso
from pipeline.review.web.auth import Principal
from pipeline.review.web.deps import ApiError, Services, services
from pipeline.review.web.masking import mask
from pipeline.review.web.models import (
    AuditPage,
    CaseDetail,
    CasePage,
    CaseSummary,
    ClaimOut,
    DecisionIn,
    DecisionOut,
    DetectorId,
    EntityType,
    Id,
    Kind,
    Me,
    NoteIn,
    Problem,
    ReassignIn,
    Severity,
    SlaState,
    SnoozeIn,
    Sort,
    Status,
    StreamId,
    ValidationProblem,
)
from pipeline.review.web.names import names_for_cases, names_for_entity

bearer = HTTPBearer(auto_error=False, description="A token from `vigil review add-user`.")
#: Every 4xx/5xx the API answers, as ``{"error": code, "message": text}``.
ERRORS: dict[int, tuple[type[Problem], str]] = {
    400: (Problem, "The body cannot be read: not UTF-8, too deeply nested, a number too long"),
    401: (Problem, "No or unknown token"),
    403: (Problem, "The role (or a service token's scope) may not do this"),
    404: (Problem, "No such case or snooze"),
    409: (Problem, "The case's state does not allow it (claimed by another, closed, ...)"),
    413: (Problem, "The body is larger than this route accepts"),
    422: (ValidationProblem, "Invalid input, with a message naming each field"),
    429: (Problem, "Too many requests; wait for Retry-After seconds"),
    503: (Problem, "Kafka did not take the event; retry"),
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route that can answer ``codes``."""
    return {code: {"model": ERRORS[code][0], "description": ERRORS[code][1]} for code in codes}


#: What a route taking a JSON body can answer besides its own errors.
BODY = (400, 401, 403, 413, 422)
router = APIRouter(prefix="/api")
_TIMES = ("created_at", "updated_at", "due_at", "breached_at", "lease_until", "decided_at",
          "escalated_at")


async def principal(request: Request,
                    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    if creds is None:
        raise ApiError(401, "unauthenticated", "send Authorization: Bearer <token>",
                       {"WWW-Authenticate": "Bearer"})
    found = await services(request).users.authenticate(creds.credentials)
    if found is None:
        raise ApiError(401, "unauthenticated", "unknown or revoked token",
                       {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return found


def require(permission: str, what: str) -> Any:
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.can(permission):
            raise ApiError(403, "forbidden", f"role {who.role} may not {what}")
        return who
    return Depends(check)


Reader = Annotated[Principal, require("read_cases", "read cases")]
Worker = Annotated[Principal, require("work_cases", "work cases")]
Lead = Annotated[Principal, require("lead", "do this (leads only)")]
Service = Annotated[Principal, require("publish", "publish events (services only)")]
Svc = Annotated[Services, Depends(services)]


def present(case: dict[str, Any], who: Principal,
            names: Iterable[str] = ()) -> dict[str, Any]:
    """Times as RFC 3339; personal data (and the subject's ``names``) masked for engineers."""
    out = {k: (iso(v) if k in _TIMES else v) for k, v in case.items()}
    if who.masked:
        out = mask(out, names=names)
        out["masked"] = True
    return out


def _snooze_out(snooze: dict[str, Any]) -> dict[str, Any]:
    return {**snooze, "expires_at": iso(snooze["expires_at"]), "created_at": iso(snooze["created_at"])}


def _claim_out(result: ClaimResult) -> ClaimOut:
    return ClaimOut(case_id=result.case_id, claimed_by=result.claimed_by,
                    lease_until=iso(result.lease_until) or "",
                    action=result.action)  # type: ignore[arg-type]


@router.get("/me", response_model=Me, responses=responses(401), summary="Who the token belongs to")
async def me(who: Annotated[Principal, Depends(principal)]) -> Me:
    return Me(name=who.name, role=who.role)


@router.get("/policy-reasons", response_model=list[str], responses=responses(401, 403),
            summary="Policy reasons a confirmed_fraud decision must name one of")
async def policy_reasons(_who: Reader, svc: Svc) -> list[str]:
    return list(svc.queue.config.policy_reasons)


@router.get("/cases", response_model=CasePage, responses=responses(401, 403, 422), summary="List, filter and sort cases")
async def list_cases(
    who: Reader, svc: Svc,
    status: Status = "open",
    kind: Kind = "detection",
    entity_type: EntityType | None = None,
    entity_id: Id | None = None,
    severity: Severity | None = None,
    detector: Annotated[str | None, Query(max_length=128, pattern=r"^[a-z0-9_.-]+$")] = None,
    sla: SlaState | None = None,
    claimed: Annotated[str | None, Query(pattern="^(mine|claimed|unclaimed)$")] = None,
    sort: Sort = "priority",
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    items, total = await svc.queue.list_cases(
        status=status, kind=kind, entity_type=entity_type, entity_id=entity_id, severity=severity,
        detector=detector, sla=sla, claimed=claimed, viewer=who.name, sort=sort, offset=offset,
        limit=limit)
    names = await names_for_cases(svc.redis, items) if who.masked else {}
    return CasePage(items=[CaseSummary(**present(c, who, names.get(c["case_id"], ())))
                           for c in items], total=total,
                    offset=offset, limit=limit,
                    next_offset=offset + limit if offset + limit < total else None)


@router.get("/cases/{case_id}", response_model=CaseDetail,
            responses=responses(401, 403, 404, 422),
            summary="One case with its flags, events, notes, decisions and consent state")
async def get_case(case_id: Id, who: Reader, svc: Svc) -> dict[str, Any]:
    case = await svc.queue.case_detail(case_id)
    if case is None:
        raise ApiError(404, "not_found", f"no case {case_id}")
    names = await names_for_cases(svc.redis, [case]) if who.masked else {}
    return present(case, who, names.get(case_id, ()))


@router.post("/cases/{case_id}/claim", response_model=ClaimOut,
             responses=responses(401, 403, 404, 409, 422),
             summary="Claim a case (or renew your claim) for the lease time")
async def claim(case_id: Id, who: Worker, svc: Svc) -> ClaimOut:
    return _claim_out(await svc.queue.claim(case_id, who.name, lead=who.is_lead))


@router.post("/cases/{case_id}/release", status_code=204,
             responses=responses(401, 403, 404, 409, 422), summary="Give a claimed case back")
async def release(case_id: Id, who: Worker, svc: Svc) -> None:
    await svc.queue.release(case_id, who.name, lead=who.is_lead)


@router.post("/cases/{case_id}/decision", response_model=DecisionOut,
             responses=responses(*BODY, 404, 409),
             summary="Decide a case you hold (idempotent by decision_id / Idempotency-Key)")
async def decide(case_id: Id, body: DecisionIn, who: Worker, svc: Svc,
                 idempotency_key: Annotated[str | None, Header(max_length=128,
                                                               pattern=r"^[A-Za-z0-9_.:@-]+$")] = None
                 ) -> DecisionOut:
    if body.decision_id and idempotency_key and body.decision_id != idempotency_key:
        raise ApiError(422, "invalid_request", "decision_id and Idempotency-Key differ")
    result = await svc.queue.decide(case_id, who.name, body.outcome,
                                    policy_reason=body.policy_reason, notes=body.notes,
                                    decision_id=body.decision_id or idempotency_key,
                                    lead=who.is_lead, actions=body.chosen())
    if not result.replayed:
        svc.relay.wake.set()
    return DecisionOut(decision=result.decision, replayed=result.replayed)


@router.post("/cases/{case_id}/notes", status_code=201, responses=responses(*BODY, 404), summary="Add a note to a case")
async def add_note(case_id: Id, body: NoteIn, who: Worker, svc: Svc) -> dict[str, Any]:
    return await svc.queue.add_note(case_id, who.name, body.text)


@router.post("/cases/{case_id}/reassign", response_model=ClaimOut,
             responses=responses(*BODY, 404, 409),
             summary="Hand a case to another analyst (leads)")
async def reassign(case_id: Id, body: ReassignIn, who: Lead, svc: Svc) -> ClaimOut:
    target = await svc.users.get(body.analyst)
    if target is None or not target.can("work_cases"):
        raise ApiError(422, "invalid_request", f"{body.analyst} is not an analyst or lead")
    case = await svc.queue.summary(case_id)
    if case is not None and case["status"] == "escalated" and not target.is_lead:
        raise ApiError(422, "invalid_request", "an escalated case can only go to a lead")
    return _claim_out(await svc.queue.reassign(case_id, body.analyst, by=who.name))


@router.get("/snoozes", responses=responses(401, 403, 422), summary="Snoozes in force for an entity")
async def list_snoozes(entity_type: EntityType, entity_id: Id, who: Reader,
                       svc: Svc) -> list[dict[str, Any]]:
    snoozes = [_snooze_out(s) for s in await svc.queue.snoozes(entity_type, entity_id)]
    if who.masked:  # a reason is free text: it can name the subject, a handle, an address
        names = await names_for_entity(svc.redis, entity_type, entity_id)
        snoozes = [mask(s, names=names) for s in snoozes]
    return snoozes


@router.post("/snoozes", status_code=201, responses=responses(*BODY),
             summary="Snooze a detector for one entity: its flags there are suppressed (counted)")
async def snooze(body: SnoozeIn, who: Worker, svc: Svc) -> dict[str, Any]:
    s = await svc.queue.snooze(body.entity_type, body.entity_id, body.detector_id,
                               body.duration_seconds, by=who.name, reason=body.reason)
    return _snooze_out(s)


@router.delete("/snoozes/{entity_type}/{entity_id}/{detector_id}", status_code=204,
               responses=responses(401, 403, 404, 422),
               summary="End a snooze")
async def unsnooze(entity_type: EntityType, entity_id: Id, detector_id: DetectorId, who: Worker,
                   svc: Svc) -> None:
    if not await svc.queue.unsnooze(entity_type, entity_id, detector_id, by=who.name):
        raise ApiError(404, "not_found", f"no snooze of {detector_id} on {entity_type}:{entity_id}")


@router.get("/audit", response_model=AuditPage, responses=responses(401, 403, 422), summary="The audit log, newest first (leads)")
async def audit(_who: Lead, svc: Svc, case_id: Id | None = None,
                before: StreamId | None = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> AuditPage:
    items, cursor = await svc.queue.audit(limit=limit, before=before, case_id=case_id)
    return AuditPage(items=items, next_before=cursor)


@router.get("/stats", responses=responses(401, 403), summary="Queue depth, SLA breaches, suppressed flags and decisions")
async def stats(_who: Reader, svc: Svc) -> dict[str, Any]:
    return await svc.queue.queue_stats()


@router.get("/estimates", responses=responses(401, 403),
            summary="Estimated prevalence and recall (random labelling sample, 95 % intervals) "
                    "and live precision per detector")
async def estimates(_who: Reader, svc: Svc) -> dict[str, Any]:
    return await svc.queue.estimates()


@router.get("/models/unlearning", responses=responses(401, 403),
            summary="Per model: every erasure and withdrawal its published state excludes, up "
                    "to when, and what still waits (README, Unlearning)")
async def models_unlearning(_who: Reader, svc: Svc) -> dict[str, Any]:
    return {"models": await unlearning_status(svc.redis, [cls.id for cls in MODEL_CLASSES])}
