"""The privacy service's route: a user's data export (``GET /api/privacy/users/{user_id}``).

Only a service token holding the *privacy scope* (its event types name ``erasure.requested``,
which ``*`` never includes) may read it: the export holds the user's raw data. Erasure itself
is an event (``POST /api/events`` with ``erasure.requested``), so it is logged and replayable
like every other.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from pipeline.privacy.export import export
from pipeline.review.web.api import Service, Svc, responses
from pipeline.review.web.deps import ApiError

PRIVACY_TYPE = "erasure.requested"
router = APIRouter(prefix="/api/privacy")
UserId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]


@router.get("/users/{user_id}", responses=responses(401, 403, 422),
            summary="Everything Vigil holds about a user, as JSON (the privacy service only)")
async def user_export(user_id: UserId, who: Service, svc: Svc) -> dict[str, Any]:
    types = who.scope.event_types
    if types is None or PRIVACY_TYPE not in types:
        raise ApiError(403, "forbidden", f"only a token whose event types name {PRIVACY_TYPE} "
                                         "(the privacy scope) may export a user's data")
    return await export(svc.redis, user_id, svc.settings.model_key(), clock=svc.clock)
