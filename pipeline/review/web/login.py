"""Console log-in and log-out: a token exchanged for a session, defended against login CSRF and
guessing.

* The login form carries a random token that must match a cookie (double submit). In secure mode
  the cookie is ``__Host-vigil_login_csrf`` (Secure, ``Path=/``, no Domain), which no other
  origin on the host can set, and only that name is read; a POST whose ``Origin`` is another
  origin is refused before anything else. Together they close login CSRF: another site cannot
  log a browser in as someone else.
* Failed logins are audited (``login_failed``: client address, reason, the user when the token
  is a known one such as a rotated token or a service token; never the token) and throttled by
  a token bucket per client address and per user name: after
  ``VIGIL_REVIEW_LOGIN_FAILURES_PER_MINUTE`` failures the form answers 429 with Retry-After,
  even for a right token, until the bucket has refilled. Successful logins are audited too.
"""

from __future__ import annotations

import json
import re
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from pipeline.review.queue.keys import K
from pipeline.review.web.auth import csrf_ok
from pipeline.review.web.console import (
    COOKIE,
    SECURE_COOKIE,
    _form_session,
    _render,
    _secure,
    same_origin,
)
from pipeline.review.web.deps import Services, services

router = APIRouter(include_in_schema=False)
LOGIN_CSRF = "vigil_login_csrf"
SECURE_LOGIN_CSRF = "__Host-vigil_login_csrf"
SAFE_NEXT = re.compile(r"^/(?![/\\])[A-Za-z0-9/_.~%?=&+-]*$")


def _safe_next(value: str | None) -> str:
    """Only a path on this site (no scheme, host, ``//`` or control characters) is followed.

    >>> _safe_next("/cases/c1?done=x"), _safe_next("//evil.example"), _safe_next("/\t/evil")
    ('/cases/c1?done=x', '/queue', '/queue')
    """
    if value and len(value) < 512 and SAFE_NEXT.match(value):
        return value
    return "/queue"


def _login_form(request: Request, status: int, nxt: str, error: str | None,
                retry_after: int = 0) -> Response:
    """The login page with a fresh form token, and its cookie."""
    svc = services(request)
    token = secrets.token_urlsafe(32)
    response = _render(request, "login.html", None, code=status, login_csrf=token, next=nxt,
                       error=error)
    if _secure(request, svc):
        response.set_cookie(SECURE_LOGIN_CSRF, token, max_age=3600, path="/", httponly=True,
                            samesite="strict", secure=True)
    else:
        response.set_cookie(LOGIN_CSRF, token, max_age=3600, path="/login", httponly=True,
                            samesite="strict")
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def _audit(svc: Services, actor: str, action: str, details: dict[str, str]) -> None:
    await svc.redis.xadd(K + "audit", {"at": repr(svc.clock()), "actor": actor, "action": action,
                                       "case_id": "", "details": json.dumps(details)})


class Throttle:
    """The failed-login buckets of one client address and, once known, one user."""

    def __init__(self, svc: Services, client: str) -> None:
        self.svc, self.client = svc, client
        per_minute = svc.review.login_failures_per_minute
        self.rate, self.burst = per_minute / 60, per_minute

    async def wait(self, user: str | None = None) -> int:
        """Seconds until a login may be tried (0: now)."""
        name = f"login:user:{user}" if user else f"login:addr:{self.client}"
        admission = await self.svc.buckets.peek(name, rate=self.rate, burst=self.burst)
        return admission.retry_after

    async def failed(self, user: str | None, reason: str) -> None:
        names = [f"login:addr:{self.client}"] + ([f"login:user:{user}"] if user else [])
        for name in names:
            await self.svc.buckets.take(name, rate=self.rate, burst=self.burst)
        await _audit(self.svc, user or "unknown", "login_failed",
                     {"client": self.client, "reason": reason})


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    return _login_form(request, 200, _safe_next(next), None)


@router.post("/login")
async def login(request: Request) -> Response:
    svc = services(request)
    form = dict(await request.form())
    nxt = _safe_next(str(form.get("next") or ""))
    secure = _secure(request, svc)
    expected = request.cookies.get(SECURE_LOGIN_CSRF if secure else LOGIN_CSRF)
    if not same_origin(request) or not expected or not csrf_ok(expected, form.get("csrf_token")):
        return _login_form(request, 403, nxt, "The login form expired. Please try again.")
    throttle = Throttle(svc, request.client.host if request.client else "unknown")
    too_many = "Too many failed logins; try again in {} s."
    if wait := await throttle.wait():
        return _login_form(request, 429, nxt, too_many.format(wait), wait)
    token = str(form.get("token") or "").strip()
    principal = await svc.users.authenticate(token)
    user = principal.name if principal else await svc.users.retired_owner(token)
    if user and (wait := await throttle.wait(user)):
        return _login_form(request, 429, nxt, too_many.format(wait), wait)
    if principal is None:
        await throttle.failed(user, "rotated or revoked token" if user else "unknown token")
        return _login_form(request, 401, nxt, "Unknown or revoked token.")
    if principal.role == "service":
        await throttle.failed(user, "service token")
        return _login_form(request, 403, nxt,
                           "Service tokens publish events only; they cannot use the console.")
    session = await svc.sessions.create(principal)
    await _audit(svc, principal.name, "login", {"client": throttle.client})
    response = RedirectResponse(nxt, status_code=303)
    response.set_cookie(SECURE_COOKIE if secure else COOKIE, session.cookie,
                        max_age=svc.review.session_seconds, path="/", httponly=True,
                        samesite="strict", secure=secure)
    response.delete_cookie(SECURE_LOGIN_CSRF if secure else LOGIN_CSRF,
                           path="/" if secure else "/login", secure=secure)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session, _form, refused = await _form_session(request)
    if refused:
        return refused
    assert session is not None
    await services(request).sessions.destroy(session.cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    response.delete_cookie(SECURE_COOKIE, path="/", secure=True)
    return response
