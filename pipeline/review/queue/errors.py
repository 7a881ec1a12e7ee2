"""What a review action can fail with; each error carries the HTTP status the API answers."""

from __future__ import annotations

from schemas.errors import VigilError


class ReviewError(VigilError):
    """A review action that cannot be done; ``status`` is the HTTP status the API answers."""

    status = 409
    code = "conflict"


class CaseNotFound(ReviewError):
    status, code = 404, "not_found"


class InvalidDecision(ReviewError):
    status, code = 422, "invalid_decision"


class ClaimConflict(ReviewError):
    """Someone else holds the case."""


class NotClaimed(ReviewError):
    """Deciding or releasing needs the caller to hold the claim."""


class CaseClosed(ReviewError):
    """The case was decided; decided cases never change."""


class LeadsOnly(ReviewError):
    status, code = 403, "forbidden"


class DecisionConflict(ReviewError):
    """A decision id was reused for another case."""


class NotTheOriginalDecider(ReviewError):
    """An appeal is heard by someone other than who took the decision appealed."""

    status, code = 403, "forbidden"
