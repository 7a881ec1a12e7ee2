"""The analysts' web console: server-rendered pages, forms with CSRF tokens, no inline script.

Everything shown goes through Jinja2 with autoescaping on and no ``|safe``: message and job-post
text, names and reasons are attacker-controlled and must render as text.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

from detectors.normalize import reveal
from pipeline.review.queue import (
    KINDS,
    OUTCOMES,
    SEVERITY_RANK,
    STATUSES,
    ReviewError,
    iso,
)
from pipeline.review.web import action_forms
from pipeline.review.web.auth import Session, csrf_ok
from pipeline.review.web.charts import WINDOWS, line_chart
from pipeline.review.web.deps import TEMPLATES, ApiError, Services, services
from pipeline.review.web.finding import (
    MAX_FILTERS,
    clean_query,
    filters_key,
    timeline_of,
)
from pipeline.review.web.masking import mask
from pipeline.review.web.models import stream_id_problem
from pipeline.review.web.names import names_for_cases
from pipeline.review.web.network import network_context

router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                   trim_blocks=True, lstrip_blocks=True)
templates = Jinja2Templates(env=_env)
COOKIE = "vigil_session"
SECURE_COOKIE = "__Host-vigil_session"
CASE_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
DETECTOR = re.compile(r"^[a-z0-9_.-]{1,128}$")
ENTITY_TYPES = ("user", "job_post", "message", "proposal")
SLA_STATES = ("ok", "due_soon", "breached")
SORTS = ("priority", "sla", "age", "updated")
SNOOZE_CHOICES = {"3600": "1 hour", "86400": "1 day", "604800": "7 days", "2592000": "30 days"}
PAGE_SIZE = 25
DONE = {"decided": "Decision recorded", "released": "Case released", "logged_out": "Logged out",
        "none_left": "No unclaimed case is waiting"}
FILTER_NAME = re.compile(r"^[\w .:-]{1,64}$")


def _when(value: str | float | None) -> str:
    if value in (None, ""):
        return "–"
    ts = value if isinstance(value, float | int) else datetime.fromisoformat(
        str(value).replace("Z", "+00:00")).timestamp()
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _span(seconds: float) -> str:
    seconds = abs(int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def _relative(value: str | None, now: float) -> str:
    if not value:
        return "–"
    ts = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return f"in {_span(ts - now)}" if ts > now else f"{_span(now - ts)} ago"


def _reveal(value: object) -> Markup:
    """Attacker-written text with its invisible characters (bidi controls, zero-width
    characters, soft hyphens...) shown as marked placeholders instead of themselves, so a
    right-to-left override cannot reverse what surrounds it, and its disguised look-alikes
    highlighted with what they read as. Built with markupsafe: every piece is escaped."""
    if not isinstance(value, str):
        return escape(value)
    out = []
    for piece in reveal(value):
        if piece.kind == "invisible":
            out.append(Markup('<span class="hidden-char" title="{}">⟦{}⟧</span>').format(
                piece.title, piece.label))
        elif piece.kind == "lookalike":
            out.append(Markup('<mark class="lookalike" title="{}">{}</mark>').format(
                piece.title, piece.text))
        else:
            out.append(escape(piece.text))
    return Markup("").join(out)


def _hidden_note(value: object) -> str:
    """"This text holds 1 invisible and 2 look-alike characters, marked below." or ""."""
    if not isinstance(value, str):
        return ""
    kinds = [p.kind for p in reveal(value)]
    counts = [f"{n} {what}" for n, what in ((kinds.count("invisible"), "invisible"),
                                            (kinds.count("lookalike"), "look-alike")) if n]
    if not counts:
        return ""
    total = kinds.count("invisible") + kinds.count("lookalike")
    return (f"This text holds {' and '.join(counts)} character{'s' if total != 1 else ''}, "
            "marked below.")


_env.filters["when"] = _when
_env.filters["span"] = _span
_env.filters["relative"] = _relative
_env.filters["reveal"] = _reveal
_env.filters["hidden_note"] = _hidden_note


def _secure(request: Request, svc: Services) -> bool:
    if svc.review.secure_cookies is not None:
        return svc.review.secure_cookies
    return request.url.scheme == "https"


async def _session(request: Request) -> Session | None:
    svc = services(request)
    # In secure mode only the __Host- cookie counts: another origin on this host (another port,
    # plain http) can set a plain-named cookie and so plant its own session in a browser.
    cookie = request.cookies.get(SECURE_COOKIE if _secure(request, svc) else COOKIE)
    return await svc.sessions.load(cookie)


def same_origin(request: Request) -> bool:
    """Whether a POST comes from this service's own pages: its ``Origin`` names this host and
    port (or, without one, ``Sec-Fetch-Site`` does not say otherwise: clients other than
    browsers send neither). Another origin on the same host fails, whatever its cookies."""
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site") in (None, "same-origin", "none")
    host = (request.headers.get("host") or "").lower()
    return origin != "null" and bool(host) and urlsplit(origin).netloc.lower() == host


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


def _render(request: Request, name: str, session: Session | None, code: int = 200,
            **context: Any) -> HTMLResponse:
    svc = services(request)
    return templates.TemplateResponse(request, name, {
        "who": session.principal if session else None,
        "csrf": session.csrf if session else "",
        "now": svc.clock(),
        **context,
    }, status_code=code)


def _error(request: Request, session: Session | None, status: int, message: str) -> HTMLResponse:
    return _render(request, "error.html", session, code=status, message=message)


async def not_found(request: Request) -> HTMLResponse:
    return _error(request, await _session(request), 404, "There is no such page.")


async def _form_session(request: Request) -> tuple[Session | None, dict[str, Any], Response | None]:
    """The session and form of a console POST, or the response refusing it (no session, or a
    missing or wrong CSRF token)."""
    session = await _session(request)
    form = dict(await request.form())
    if session is None:
        return None, form, RedirectResponse("/login", status_code=303)
    if not same_origin(request):
        return session, form, _error(request, session, 403,
                                     "This form was sent from another site; use the console itself.")
    if not csrf_ok(session.csrf, form.get("csrf_token")):
        return session, form, _error(request, session, 403,
                                     "The form's CSRF token is missing or wrong. Reload the page and try again.")
    return session, form, None


# ---- pages -----------------------------------------------------------------------------------


@router.get("/")
async def root() -> Response:
    return RedirectResponse("/queue", status_code=303)


async def _present_all(svc: Services, cases: list[dict[str, Any]],
                       masked: bool) -> list[dict[str, Any]]:
    """Times as RFC 3339; for engineers, personal data and each subject's names masked."""
    times = ("created_at", "updated_at", "due_at", "breached_at", "lease_until", "decided_at",
             "escalated_at")
    out = [{k: (iso(v) if k in times else v) for k, v in case.items()} for case in cases]
    if not masked:
        return out
    names = await names_for_cases(svc.redis, cases)
    return [mask(case, names=names.get(case["case_id"], ())) for case in out]


@router.get("/queue")
async def queue_page(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _login_redirect(request)
    who = session.principal
    if not who.can("read_cases"):
        return _error(request, session, 403, f"Role {who.role} cannot read cases.")
    q = request.query_params
    filters = {k: (q.get(k) or None) for k in ("status", "entity_type", "severity", "detector",
                                                "sla", "claimed", "sort", "kind")}
    allowed = {"status": STATUSES, "entity_type": ENTITY_TYPES, "severity": tuple(SEVERITY_RANK),
               "sla": SLA_STATES, "claimed": ("mine", "claimed", "unclaimed"), "sort": SORTS,
               "kind": KINDS}
    for key, values in allowed.items():
        if filters[key] is not None and filters[key] not in values:
            return _error(request, session, 400,
                          f"Unknown {key} filter; use one of: {', '.join(values)}.")
    if filters["detector"] is not None and not DETECTOR.match(filters["detector"]):
        return _error(request, session, 400, "A detector id has lower-case letters, digits, '.', '_' and '-'.")
    try:
        page = max(1, int(q.get("page") or 1))
    except ValueError:
        return _error(request, session, 400, "page must be a number.")
    svc = services(request)
    status = filters["status"] or "open"
    kind = filters["kind"] or "detection"
    items, total = await svc.queue.list_cases(
        status=status, kind=kind, entity_type=filters["entity_type"], severity=filters["severity"],
        detector=filters["detector"], sla=filters["sla"], claimed=filters["claimed"],
        viewer=who.name, sort=filters["sort"] or "priority", offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE)
    base = {k: v for k, v in filters.items() if v}
    done = DONE.get(q.get("done") or "")
    done_case = q.get("case") if q.get("case") and CASE_ID.match(q.get("case") or "") else None
    return _render(
        request, "queue.html", session,
        cases=await _present_all(svc, items, who.masked), total=total, page=page,
        pages=max(1, -(-total // PAGE_SIZE)), filters=filters, status=status, kind=kind,
        detectors=await svc.queue.known_detectors(), entity_types=ENTITY_TYPES,
        severities=tuple(SEVERITY_RANK), sla_states=SLA_STATES, sorts=SORTS, statuses=STATUSES,
        prev_url="/queue?" + urlencode({**base, "page": page - 1}) if page > 1 else None,
        next_url="/queue?" + urlencode({**base, "page": page + 1}) if page * PAGE_SIZE < total else None,
        done=done, done_case=done_case, query=urlencode(base),
        saved=sorted((k.decode(), v.decode()) for k, v in
                     (await svc.redis.hgetall(filters_key(who.name))).items()),
    )


async def _case_page(request: Request, session: Session, case_id: str, *, status: int = 200,
                     error: str | None = None, notice: str | None = None) -> Response:
    who = session.principal
    if not who.can("read_cases"):
        return _error(request, session, 403, f"Role {who.role} cannot read cases.")
    if not CASE_ID.match(case_id):
        return _error(request, session, 404, "There is no such case.")
    svc = services(request)
    case = await svc.queue.case_detail(case_id)
    if case is None:
        return _error(request, session, 404, "There is no such case.")
    shown, = await _present_all(svc, [case], who.masked)
    timeline = await timeline_of(svc, case, who.masked)
    # What the analyst typed survives a refusal (a decision without its policy reason, ...).
    kept = getattr(request.state, "kept", {})
    return _render(request, "case.html", session, code=status, case=shown, timeline=timeline,
                   kept=kept, **await network_context(svc, case, who),
                   error=error, notice=notice, outcomes=OUTCOMES,
                   policy_reasons=svc.queue.config.policy_reasons,
                   decision_id=f"dec_{uuid.uuid4().hex}", snooze_choices=SNOOZE_CHOICES,
                   action_choices=action_forms.choices(case["entity_type"]))


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: str) -> Response:
    session = await _session(request)
    if session is None:
        return _login_redirect(request)
    notice = {"claimed": "You hold this case.", "renew": "Your claim was renewed.",
              "noted": "Note added.", "snoozed": "Detector snoozed for this subject.",
              "reassign": "Case reassigned.", "escalated": "Case escalated to leads.",
              "ring": "The ring was decided: one decision per account."}.get(
        request.query_params.get("done") or "")
    return await _case_page(request, session, case_id, notice=notice)


async def _case_action(request: Request, case_id: str, action: str) -> Response:
    session, form, refused = await _form_session(request)
    if refused:
        return refused
    assert session is not None
    who = session.principal
    if not who.can("work_cases") or (action == "reassign" and not who.is_lead):
        return _error(request, session, 403, f"Role {who.role} may not {action} cases.")
    if not CASE_ID.match(case_id):
        return _error(request, session, 404, "There is no such case.")
    queue = services(request).queue
    back = f"/cases/{case_id}"
    request.state.kept = {k: str(v)[:5000] for k, v in form.items()
                          if k in ("notes", "text", "policy_reason")
                          or k.startswith(("act_", "days_"))}
    try:
        if action == "claim":
            result = await queue.claim(case_id, who.name, lead=who.is_lead)
            return RedirectResponse(f"{back}?done={result.action}", status_code=303)
        if action == "release":
            await queue.release(case_id, who.name, lead=who.is_lead)
            return RedirectResponse(f"/queue?done=released&case={case_id}", status_code=303)
        if action == "decide":
            outcome = str(form.get("outcome") or "")
            decision_id = str(form.get("decision_id") or "") or None
            if decision_id is not None and not CASE_ID.match(decision_id):
                return await _case_page(request, session, case_id, status=422, error="Invalid decision id.")
            notes = str(form.get("notes") or "")
            if len(notes) > 5000:
                return await _case_page(request, session, case_id, status=422,
                                        error="Notes are limited to 5000 characters.")
            await queue.decide(case_id, who.name, outcome,
                               policy_reason=str(form.get("policy_reason") or "") if outcome == "confirmed_fraud" else "",
                               notes=notes, decision_id=decision_id, lead=who.is_lead,
                               actions=action_forms.chosen(form))
            services(request).relay.wake.set()
            if outcome == "escalate":
                return RedirectResponse(f"{back}?done=escalated", status_code=303)
            return RedirectResponse(f"/queue?done=decided&case={case_id}", status_code=303)
        if action == "notes":
            text = str(form.get("text") or "").strip()
            if not text or len(text) > 5000:
                return await _case_page(request, session, case_id, status=422,
                                        error="A note needs 1 to 5000 characters.")
            await queue.add_note(case_id, who.name, text)
            return RedirectResponse(f"{back}?done=noted", status_code=303)
        if action == "snooze":
            detector = str(form.get("detector_id") or "")
            seconds = str(form.get("duration_seconds") or "")
            case = await queue.summary(case_id)
            if case is None:
                return _error(request, session, 404, "There is no such case.")
            if detector not in case["detectors"] or seconds not in SNOOZE_CHOICES:
                return await _case_page(request, session, case_id, status=422,
                                        error="Pick one of the case's detectors and a duration.")
            await queue.snooze(case["entity_type"], case["entity_id"], detector, int(seconds),
                               by=who.name, reason=str(form.get("reason") or "")[:500])
            return RedirectResponse(f"{back}?done=snoozed", status_code=303)
        if action == "reassign":
            target = await services(request).users.get(str(form.get("analyst") or ""))
            if target is None or not target.can("work_cases"):
                return await _case_page(request, session, case_id, status=422,
                                        error="Reassign to an existing analyst or lead.")
            case = await queue.summary(case_id)
            if case is not None and case["status"] == "escalated" and not target.is_lead:
                return await _case_page(request, session, case_id, status=422,
                                        error="An escalated case can only go to a lead.")
            await queue.reassign(case_id, target.name, by=who.name)
            return RedirectResponse(f"{back}?done=reassign", status_code=303)
    except ReviewError as exc:
        if exc.status == 404:
            return _error(request, session, 404, "There is no such case.")
        return await _case_page(request, session, case_id, status=exc.status, error=str(exc))
    return _error(request, session, 404, "There is no such action.")


@router.post("/cases/{case_id}/{action}")
async def case_action(request: Request, case_id: str, action: str) -> Response:
    if action not in ("claim", "release", "decide", "notes", "snooze", "reassign"):
        return _error(request, await _session(request), 404, "There is no such action.")
    return await _case_action(request, case_id, action)


@router.get("/search")
async def search_page(request: Request) -> Response:
    """Cases found by case id, user id, job id, e-mail, IP address or device."""
    session = await _session(request)
    if session is None:
        return _login_redirect(request)
    who = session.principal
    if not who.can("read_cases"):
        return _error(request, session, 403, f"Role {who.role} cannot read cases.")
    query = (request.query_params.get("q") or "").strip()[:254]
    svc = services(request)
    found = await svc.queue.search(query, limit=PAGE_SIZE) if query else []
    return _render(request, "search.html", session, query=query,
                   cases=await _present_all(svc, found, who.masked))


@router.post("/claim-next")
async def claim_next_page(request: Request) -> Response:
    """Claim the highest-priority case nobody holds and open it."""
    session, _form, refused = await _form_session(request)
    if refused:
        return refused
    assert session is not None
    who = session.principal
    if not who.can("work_cases"):
        return _error(request, session, 403, f"Role {who.role} may not claim cases.")
    result = await services(request).queue.claim_next(who.name, lead=who.is_lead)
    if result is None:
        return RedirectResponse("/queue?done=none_left", status_code=303)
    return RedirectResponse(f"/cases/{result.case_id}?done=claimed", status_code=303)


@router.post("/filters")
async def save_filter_page(request: Request) -> Response:
    """Save the queue page's current filters under a name (per analyst)."""
    session, form, refused = await _form_session(request)
    if refused:
        return refused
    assert session is not None
    name = str(form.get("name") or "").strip()
    if not FILTER_NAME.match(name):
        return _error(request, session, 422, "A filter name has 1 to 64 letters, digits, spaces, '.', ':' or '-'.")
    try:
        query = clean_query(str(form.get("query") or "")[:1000])
    except ApiError as exc:
        return _error(request, session, 422, exc.message)
    key = filters_key(session.principal.name)
    redis = services(request).redis
    if not await redis.hexists(key, name) and await redis.hlen(key) >= MAX_FILTERS:
        return _error(request, session, 422, f"At most {MAX_FILTERS} saved filters.")
    await redis.hset(key, name, query)
    return RedirectResponse("/queue?" + query, status_code=303)


@router.get("/overview")
async def overview(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _login_redirect(request)
    if not session.principal.can("read_cases"):
        return _error(request, session, 403, f"Role {session.principal.role} cannot read cases.")
    window = request.query_params.get("window") or "6h"
    if window not in WINDOWS:
        return _error(request, session, 400, f"window must be one of {', '.join(WINDOWS)}.")
    svc = services(request)
    span, step = WINDOWS[window]
    now = int(svc.clock())
    end = (now // step + 1) * step
    start = end - span
    series = await svc.queue.series(start)
    charts = [
        line_chart("Queue depth (open and escalated cases)", series["queue_depth"], start=start,
                   end=end, step=step, gauge=True),
        line_chart("Flags per detector", series["flags"], start=start, end=end, step=step),
        line_chart("Decisions", series["decisions"], start=start, end=end, step=step),
        line_chart("SLA breaches (new)", series["sla_breaches"], start=start, end=end, step=step),
        line_chart("Open cases past their SLA", series["sla_breached"], start=start, end=end,
                   step=step, gauge=True),
    ]
    stats = await svc.queue.queue_stats()
    return _render(request, "overview.html", session, charts=charts, stats=stats, window=window,
                   windows=tuple(WINDOWS), step=step, estimates=await svc.queue.estimates())


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _login_redirect(request)
    if not session.principal.is_lead:
        return _error(request, session, 403, "Only leads see the audit log.")
    before = request.query_params.get("before")
    if before and (problem := stream_id_problem(before)):
        return _error(request, session, 400, f"Invalid cursor: {problem}.")
    items, cursor = await services(request).queue.audit(limit=100, before=before)
    return _render(request, "audit.html", session, items=items, cursor=cursor)


