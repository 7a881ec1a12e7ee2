"""The review service: one FastAPI app serving the REST API, the web console and ``/metrics``.

Build it with :func:`create_app`; ``python -m pipeline.review`` runs it under uvicorn
(:func:`pipeline.review.web.serve.serve`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline import metrics
from pipeline.kafka.group_lag import GroupLagReader
from pipeline.kafka.publisher import Publisher
from pipeline.privacy.erased import ErasedUsers
from pipeline.review.queue import ReviewError, ReviewQueue
from pipeline.review.web import (
    api,
    console,
    finding,
    ingest,
    login,
    privacy,
    rings,
    sampler,
)
from pipeline.review.web.auth import SessionStore, UserStore
from pipeline.review.web.bodies import BodyLimit, describe_unparsable
from pipeline.review.web.deps import STATIC, TEMPLATES, ApiError, Services, services
from pipeline.review.web.ingest_log import IngestLog
from pipeline.review.web.limits import TokenBuckets
from pipeline.review.web.relay import OutboxRelay
from pipeline.settings import ReviewSettings, Settings
from schemas.topics import INPUT_TOPICS

log = logging.getLogger("vigil.review")
#: No inline script or style anywhere; scripts, styles and images come from this origin only.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
#: Swagger UI sets inline styles on its own elements; its scripts still come from /static only.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
DESCRIPTION = (
    "The review queue: cases grouped per entity, claims with leases, decisions that "
    "publish `review.decided` events. Authenticate with `Authorization: Bearer <token>` "
    "(`vigil review add-user NAME --role ROLE` prints one). Errors are "
    '`{"error": code, "message": text}`; a 429 says in `Retry-After` when to try again.')

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(settings: Settings | None = None, *, review: ReviewSettings | None = None,
               clock: Callable[[], float] = time.time,
               publisher: Callable[[], Publisher] | None = None,
               background: bool = True) -> FastAPI:
    """The review service for ``settings`` (Redis and Kafka addresses).

    ``publisher`` makes the Kafka publisher (default: :class:`pipeline.kafka.publisher.Publisher` on
    ``settings.kafka_bootstrap``); ``background=False`` runs no outbox relay or sampler (tests
    drive them); ``clock`` gives epoch seconds.
    """
    settings = settings or Settings.from_env()
    review = review or ReviewSettings.from_env()
    make_publisher = publisher or _default_publisher(settings)
    app = FastAPI(title="Vigil review API", version="1.0", description=DESCRIPTION,
                  lifespan=_lifespan(settings, review, clock, make_publisher, background),
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    # Inside the security-headers middleware (added later, so outside): BodyTooLarge must rise
    # in the app's own frames, where the error handlers answer it, not in a middleware's task.
    app.add_middleware(BodyLimit, limit_for=lambda path: (
        review.ingest_max_bytes if path == "/api/events" else review.body_max_bytes))
    _add_security_headers(app)
    _add_error_handlers(app)
    _add_routes(app)
    return app


def _default_publisher(settings: Settings) -> Callable[[], Publisher]:
    # Consent changes that services send through the ingest endpoint are written through to
    # the registry before Kafka, so an opt-out is in force at once (pipeline.kafka.publisher).
    return lambda: Publisher(settings.kafka_bootstrap, client_id="vigil-review",
                             consent_registry=settings.redis_url,
                             clock_bound=settings.clock_bound())


def _services(settings: Settings, review: ReviewSettings, clock: Callable[[], float],
              make_publisher: Callable[[], Publisher]) -> Services:
    """The composition root: every collaborator the routers use, on one Redis client."""
    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5,
                           health_check_interval=10)
    queue = ReviewQueue(redis, review.queue, clock, search_key=settings.model_key())
    users = UserStore(redis)
    return Services(settings, review, redis, queue, users,
                    SessionStore(redis, users, review.session_seconds, review.secret),
                    OutboxRelay(queue, make_publisher), make_publisher, clock,
                    TokenBuckets(redis, clock), IngestLog(redis, review.ingest_log_max,
                                                         ErasedUsers(settings.model_key())))


def _lifespan(settings: Settings, review: ReviewSettings, clock: Callable[[], float],
              make_publisher: Callable[[], Publisher], background: bool) -> Lifespan:
    """Build the services on start-up, run the outbox relay and the sampler (``background``),
    stop them and close everything on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = _services(settings, review, clock, make_publisher)
        app.state.services = svc
        sampler.start_series()
        tasks = []
        if background:
            lag = functools.partial(GroupLagReader, settings.kafka_bootstrap, settings.app_id,
                                    INPUT_TOPICS, read_tail=settings.embedded)
            tasks = [asyncio.create_task(svc.relay.run(review.relay_interval)),
                     asyncio.create_task(sampler.Sampler(svc.queue, review.sample_interval,
                                                         lag_reader=lag).run())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await svc.aclose()

    return lifespan


def _add_security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable) -> Response:
        response: Response = await call_next(request)
        path = request.url.path
        response.headers["Content-Security-Policy"] = DOCS_CSP if path == "/docs" else CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if not path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response


def _problem(status: int, code: str, message: str,
             headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _describe(errors: list[dict]) -> str:
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def _add_error_handlers(app: FastAPI) -> None:
    """Every API error as ``{"error": code, "message": text}``; a console page that is not
    there as the console's own 404 page."""

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> Response:
        return _problem(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(ReviewError)
    async def review_error(_request: Request, exc: ReviewError) -> Response:
        return _problem(exc.status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        errors = jsonable_encoder(exc.errors(), exclude={"input", "ctx", "url"})
        return JSONResponse({"error": "invalid_request", "message": _describe(errors),
                             "detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or exc.status_code != 404:
            if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI read no body
                return _problem(400, "bad_body", describe_unparsable(exc.__cause__))
            code = {404: "not_found", 405: "method_not_allowed", 413: "oversized"}.get(
                exc.status_code, "error")
            return _problem(exc.status_code, code, str(exc.detail), exc.headers)
        return await console.not_found(request)


def _add_routes(app: FastAPI) -> None:
    """The routers, static files, the API docs, ``/healthz`` and ``/metrics``."""
    app.include_router(api.router)
    app.include_router(finding.router)
    app.include_router(rings.router)  # before the console's /cases/{id}/{action}
    app.include_router(ingest.router)
    app.include_router(privacy.router)
    app.include_router(login.router)
    app.include_router(console.router)
    app.mount("/static/swagger", StaticFiles(directory=_swagger_dir()), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse((TEMPLATES / "docs.html").read_text())

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> dict[str, str]:
        await services(request).redis.ping()
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        # This process's metrics only, as the sampler left them: a scrape reads no case (it
        # read every open case before, per scrape and replica).
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
        return Response(generate_latest(metrics.REVIEW), media_type=CONTENT_TYPE_LATEST)


def _swagger_dir() -> str:
    """Swagger UI 5 (it reads OpenAPI 3.1), as shipped inside the ``fastapi-offline`` wheel."""
    import fastapi_offline
    return str(Path(fastapi_offline.__file__).resolve().parent / "static")
