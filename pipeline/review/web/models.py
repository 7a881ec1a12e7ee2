"""Request and response bodies of the review API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]
UserName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
DetectorId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[a-z0-9_.-]+$")]
EntityType = Literal["user", "job_post", "message", "proposal"]
Severity = Literal["low", "medium", "high", "critical"]
Status = Literal["open", "escalated", "closed"]
#: ``detection``: flags and reports; ``labelling``: events sampled for a label, not detections.
Kind = Literal["detection", "labelling", "appeal"]
SlaState = Literal["ok", "due_soon", "breached"]
Sort = Literal["priority", "sla", "age", "updated"]
Outcome = Literal["confirmed_fraud", "legitimate", "escalate"]
_U64 = 2**64 - 1


def stream_id_problem(value: str) -> str | None:
    """What is wrong with ``value`` as a Redis stream id cursor (``ms-seq``), or ``None``.

    >>> stream_id_problem("1767600000000-0"), stream_id_problem("0-0")
    (None, 'a cursor is a stream id after 0-0 (the next_before of the previous page)')
    """
    ms, dash, seq = value.partition("-")
    if not (dash and ms.isdigit() and seq.isdigit() and ms.isascii() and seq.isascii()):
        return "a cursor is a stream id, digits-digits (the next_before of the previous page)"
    if int(ms) > _U64 or int(seq) > _U64:
        return "a cursor's two numbers are at most 2**64-1 each"
    if int(ms) == int(seq) == 0:
        return "a cursor is a stream id after 0-0 (the next_before of the previous page)"
    return None


def _stream_id(value: str) -> str:
    problem = stream_id_problem(value)
    if problem:
        raise ValueError(problem)
    return value


#: A page cursor: a Redis stream id that Redis accepts as an exclusive end.
StreamId = Annotated[str, Field(max_length=41, pattern=r"^[0-9]{1,20}-[0-9]{1,20}$"),
                     AfterValidator(_stream_id)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActionIn(Body):
    #: One of the vocabulary's actions for the case's entity type (``detectors/actions.yaml``).
    action: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]
    #: Required for actions with a duration (suspend_account, restrict_messaging), refused for
    #: the others; at most the action's ``max_days``.
    duration_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class DecisionIn(Body):
    outcome: Outcome
    #: Required for confirmed_fraud: one of GET /api/policy-reasons.
    policy_reason: Annotated[str, Field(max_length=64)] = ""
    notes: Annotated[str, Field(max_length=5000)] = ""
    #: The idempotency key (the Idempotency-Key header works too); generated when absent.
    decision_id: Id | None = None
    #: Platform actions, with a confirmed_fraud decision only (published to tns.actions).
    actions: Annotated[list[ActionIn], Field(max_length=10)] = []

    def chosen(self) -> list[tuple[str, int | None]]:
        return [(a.action, a.duration_days) for a in self.actions]


class NoteIn(Body):
    text: Annotated[str, Field(min_length=1, max_length=5000)]


class ReassignIn(Body):
    analyst: UserName


class SnoozeIn(Body):
    entity_type: EntityType
    entity_id: Id
    detector_id: DetectorId
    duration_seconds: Annotated[int, Field(ge=60, le=30 * 86400)]
    reason: Annotated[str, Field(max_length=500)] = ""


class CaseSummary(BaseModel):
    case_id: str
    #: ``labelling``: sampled for labelling, not a detection (no SLA, not in the queue's figures).
    kind: Kind = "detection"
    entity: str
    entity_type: str
    entity_id: str
    subject_id: str | None
    status: Status
    severity: Severity
    max_score: float
    flag_count: int
    report_count: int
    suppressed_count: int
    detectors: list[str]
    top_reason: str
    top_detector: str
    priority: float
    created_at: str
    updated_at: str
    age_seconds: float
    #: None for a labelling case (no SLA).
    due_at: str | None
    sla_state: Literal["ok", "due_soon", "breached", "met", "none"]
    sample_count: int = 0
    breached_at: str | None
    claimed_by: str | None
    lease_until: str | None
    outcome: Outcome | None
    decision_id: str | None
    decided_by: str | None
    decided_at: str | None
    escalated_at: str | None
    #: An appeal case's decision appealed, its case and who took it.
    appeal_of: str | None = None
    original_case: str | None = None
    original_decider: str | None = None


class CasePage(BaseModel):
    items: list[CaseSummary]
    total: int
    offset: int
    limit: int
    next_offset: int | None


class CaseDetail(CaseSummary):
    flags: list[dict[str, Any]]
    #: A labelling case's sampled event: why (``reason``), with what inclusion probability.
    samples: list[dict[str, Any]] = []
    suppressed_flags: list[dict[str, Any]]
    events: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    earlier_decisions: list[dict[str, Any]]
    consent: dict[str, Any] | None
    snoozes: list[dict[str, Any]]
    #: Platform actions decided on this case, each with its state (pending, applied, failed).
    actions: list[dict[str, Any]] = []
    #: An appeal case's appeal: the original decision, its actions, flags and events.
    appeal: dict[str, Any] | None = None
    masked: bool = False


class ClaimOut(BaseModel):
    case_id: str
    claimed_by: str
    lease_until: str
    action: Literal["claim", "renew", "reassign"]


class DecisionOut(BaseModel):
    decision: dict[str, Any]
    replayed: bool


class AuditPage(BaseModel):
    items: list[dict[str, Any]]
    next_before: str | None


class IngestEntry(BaseModel):
    id: str
    at: str
    publisher: str
    event_id: str
    type: str
    producer: str
    subject_id: str
    outcome: Literal["published", "refused", "failed"]
    reason: str


class IngestLogPage(BaseModel):
    items: list[IngestEntry]
    next_before: str | None


class Me(BaseModel):
    name: str
    role: str


class Published(BaseModel):
    event_id: str
    topic: str


class Problem(BaseModel):
    error: str
    message: str


class ValidationProblem(Problem):
    """A 422 for input that does not fit the schema: ``detail`` names each field."""

    detail: list[dict[str, Any]] = []
