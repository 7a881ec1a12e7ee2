"""Event contracts: one envelope for every event, one payload model per event type.

Versioning rule: ``schema_version`` is ``MAJOR.MINOR``. An additive change (a new optional
field) bumps MINOR; anything else (removing, renaming or retyping a field, making one
required) is a new MAJOR with a new model. Readers accept every version listed in the
model's ``SUPPORTED_VERSIONS`` and dead-letter the rest, naming the versions they know.

>>> import json
>>> event = MessageSent.model_validate_json(json.dumps({
...     "event_id": "5f1c3a52-3d6a-4c37-9d8c-1d1c2f64b7a0", "type": "message.sent",
...     "schema_version": "1.0", "occurred_at": "2026-11-01T12:00:00Z", "producer": "messaging",
...     "subject_id": "u1", "payload": {"message_id": "m1", "thread_id": "t1",
...     "sender_id": "u1", "recipient_id": "u2", "text": "hello", "has_active_contract": False}}))
>>> event.payload.attachment_count
0
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal, Union
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]
ShortText = Annotated[str, Field(max_length=256)]
LongText = Annotated[str, Field(max_length=20_000)]
#: Every number has both bounds, within int64 (a test checks): an unbounded one let 10**400
#: through to the worker's outputs, where it failed as a processing error no replay could fix.
Money = Annotated[float, Field(ge=0, le=100_000_000, allow_inf_nan=False)]
Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
IpAddress = Annotated[str, Field(max_length=45, pattern=r"^[0-9a-fA-F:.]+$")]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
SchemaVersion = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]+$")]
#: A payment provider's fingerprint of a card or bank account (Stripe's ``fingerprint``, Adyen's
#: ``paymentAccountReference``...): an opaque token, the same for the same instrument, never the
#: number itself: not all digits (a card or account number is not a token).
PaymentFingerprint = Annotated[str, Field(min_length=8, max_length=64,
                                          pattern=r"^[A-Za-z0-9_-]*[A-Za-z_-][A-Za-z0-9_-]*$")]


class Contract(BaseModel):
    """Strict, closed models: no coercion ("3" is not 3), no unknown fields, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


# ---- payloads -------------------------------------------------------------------------------


class SignedUpPayload(Contract):
    user_id: Id
    account_type: Literal["client", "freelancer"]
    email: Email
    ip: IpAddress
    device_id: Id
    country: CountryCode
    user_agent: ShortText
    #: From the form's load to its submission: a month at most (a form left open that long is
    #: already odd).
    signup_duration_ms: Annotated[int, Field(ge=0, le=30 * 86_400_000)]
    username: Annotated[str, Field(min_length=1, max_length=64)]
    display_name: ShortText
    bio: Annotated[str, Field(max_length=5_000)] = ""
    has_photo: bool = False
    phone_verified: bool = False
    id_verified: bool = False


class JobPostPayload(Contract):
    job_id: Id
    client_id: Id
    title: Annotated[str, Field(min_length=1, max_length=300)]
    description: LongText
    budget_type: Literal["fixed", "hourly"]
    budget_amount: Money
    currency: CurrencyCode = "USD"
    skills: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] = []
    genai_restricted: bool = False


class MessagePayload(Contract):
    message_id: Id
    thread_id: Id
    sender_id: Id
    recipient_id: Id
    text: LongText
    has_active_contract: bool
    attachment_count: Annotated[int, Field(ge=0, le=100)] = 0


class ProposalPayload(Contract):
    proposal_id: Id
    job_id: Id
    freelancer_id: Id
    cover_letter: LongText
    bid_amount: Money
    connects_spent: Annotated[int, Field(ge=0, le=1_000)]
    ai_assisted: bool = False


class ConsentPayload(Contract):
    user_id: Id
    ai_features: Literal["opted_in", "opted_out"]
    policy_version: Annotated[str, Field(min_length=1, max_length=32)]
    changed_at: AwareDatetime
    #: With ``opted_out``: the user also asks that what the models learned from their past
    #: events be undone (README, "Unlearning"); an opt-out alone only stops future learning.
    undo_learning: bool = False

    @field_validator("changed_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(timezone.utc)

    @model_validator(mode="after")
    def _undo_only_with_opt_out(self) -> ConsentPayload:
        if self.undo_learning and self.ai_features != "opted_out":
            raise ValueError("undo_learning is only valid with ai_features 'opted_out': undoing "
                             "past learning withdraws consent")
        return self


class ReportPayload(Contract):
    reporter_id: Id
    target_type: Literal["user", "job_post", "message", "proposal"]
    target_id: Id
    reason: Literal[
        "scam", "off_platform_payment", "spam", "fake_account", "harassment",
        "inappropriate_content", "ai_policy_violation", "other",
    ]
    details: Annotated[str, Field(max_length=5_000)] = ""


#: The total a profile has earned (freelancers) or spent (clients), in the bands a marketplace
#: shows publicly ("$10K+ earned"), not the amount.
MoneyBand = Literal["none", "1+", "100+", "1k+", "10k+", "100k+", "1m+"]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


class ProfileUpdatedPayload(Contract):
    """The marketplace profile a freelancer or client maintains, *whole*, as it is after the
    change (event-carried state: a reader needs no earlier event). Published when the profile
    is first created after signup and on every later edit, and when the platform changes what
    it shows (a new badge, a job success score, a verification).

    Freelancer fields stay at their defaults on a client's profile and the client ones on a
    freelancer's. ``display_name`` is the name the profile shows; it is only ever used to mask
    the user's own name out of the texts, never as a feature.
    """

    user_id: Id
    account_type: Literal["client", "freelancer"]
    display_name: ShortText = ""
    #: The one-line title under the name ("Senior React developer").
    headline: Annotated[str, Field(max_length=150)] = ""
    #: The profile's free-text overview.
    overview: Annotated[str, Field(max_length=5_000)] = ""
    skills: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] = []
    #: The freelancer's asking rate, None when not set (clients, fixed-price only).
    hourly_rate: Annotated[float, Field(ge=0, le=10_000)] | None = None
    currency: CurrencyCode = "USD"
    #: The location the profile shows.
    country: CountryCode | None = None
    portfolio_items: Annotated[int, Field(ge=0, le=10_000)] = 0
    #: Contracts completed on the platform (freelancers).
    completed_jobs: Count = 0
    #: The platform's job success score, None until the freelancer has enough contracts.
    job_success_score: Annotated[int, Field(ge=0, le=100)] | None = None
    #: Mean star rating of the reviews received, None without any.
    rating: Annotated[float, Field(ge=1, le=5)] | None = None
    reviews: Count = 0
    badge: Literal["none", "rising_talent", "top_rated", "top_rated_plus", "expert_vetted"] = "none"
    total_earnings_band: MoneyBand = "none"
    #: Users who follow (saved) this profile, and profiles this user follows.
    followers: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0
    following: Count = 0
    has_photo: bool = False
    has_video_intro: bool = False
    identity_verified: bool = False
    phone_verified: bool = False
    payment_verified: bool = False
    #: Client history: jobs posted, freelancers hired, total spent.
    jobs_posted: Count = 0
    hires: Count = 0
    total_spent_band: MoneyBand = "none"
    #: Since 1.1: the provider's fingerprint of the payout account a freelancer is paid to.
    payout_fingerprint: PaymentFingerprint | None = None
    #: Since 1.1: the provider's fingerprint of a client's verified payment method.
    payment_fingerprint: PaymentFingerprint | None = None


class DecisionPayload(Contract):
    """An analyst's decision on a case; the labels online models learn from."""

    decision_id: Id
    case_id: Id
    entity_type: Literal["user", "job_post", "message", "proposal"]
    entity_id: Id
    outcome: Literal["confirmed_fraud", "legitimate", "escalate"]
    policy_reason: ShortText = ""
    event_ids: Annotated[list[UUID], Field(max_length=1_000)]
    analyst_id: Id


class ActionAppliedPayload(Contract):
    """A platform service carried out an action of ``tns.actions`` (or its reversal)."""

    action_id: UUID
    #: The user the action is about: the action's ``subject_id``.
    user_id: Id
    service: Id
    details: ShortText = ""


class ActionFailedPayload(Contract):
    """A platform service could not carry out an action: why, for the case and the alert."""

    action_id: UUID
    user_id: Id
    service: Id
    reason: Annotated[str, Field(min_length=1, max_length=1_000)]


class AppealPayload(Contract):
    """The affected user contests a decision, through the platform."""

    appeal_id: Id
    decision_id: Id
    #: The user appealing: must be the decision's subject.
    user_id: Id
    statement: Annotated[str, Field(max_length=5_000)] = ""


class ErasurePayload(Contract):
    """A privacy service asks that everything Vigil keeps about a user be erased
    (:mod:`pipeline.privacy.erasure`). Only a token with the privacy scope may publish it."""

    user_id: Id
    #: The privacy service's id for the request: a request sent twice is erased once.
    request_id: Id
    #: Who asked (the person or system on whose behalf the service sends it), for the audit.
    requested_by: Annotated[str, Field(min_length=1, max_length=200)]
    reason: Annotated[str, Field(max_length=1_000)] = ""


# ---- envelopes ------------------------------------------------------------------------------


def _pin_versions(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """JSON Schema: ``schema_version`` is one of the versions the reader knows, so a producer
    validating against the schema is refused what the worker would dead-letter."""
    versions = getattr(model, "SUPPORTED_VERSIONS", None)
    if versions is not None and "schema_version" in schema.get("properties", {}):
        schema["properties"]["schema_version"]["enum"] = sorted(versions)
    # A payload field new in a minor version is refused (absent or null only) on earlier ones.
    for name, since in getattr(model, "ADDED", {}).items():
        earlier = sorted(v for v in versions or () if _version(v) < _version(since))
        schema.setdefault("allOf", []).append({
            "if": {"properties": {"schema_version": {"enum": earlier}}},
            "then": {"properties": {"payload": {"properties": {name: {"type": "null"}}}}}})


class Envelope(Contract):
    """Fields every event carries. ``subject_id`` is the Kafka key: the user whose behaviour it is."""

    model_config = ConfigDict(**Contract.model_config, json_schema_extra=_pin_versions)

    #: Which payload field must equal ``subject_id`` (None: not checked).
    SUBJECT_FIELD: ClassVar[str | None] = None
    SUPPORTED_VERSIONS: ClassVar[frozenset[str]] = frozenset({"1.0"})
    #: The payload model, for tools that need it without an instance.
    PAYLOAD_MODEL: ClassVar[type[Contract]]

    event_id: UUID
    type: str
    schema_version: SchemaVersion
    occurred_at: AwareDatetime
    producer: Annotated[str, Field(min_length=1, max_length=64)]
    subject_id: Id

    @cached_property
    def id(self) -> str:
        """``event_id`` as text: the form every key, ledger entry and flag id uses (kept once
        made; a worker needs it several times per event)."""
        return str(self.event_id)

    @cached_property
    def digest(self) -> str:
        """The first 16 hex digits of the SHA-256 of the event's canonical JSON (the model's
        field order, UTC times): the same event re-serialised by another producer (or by a
        replay) has the same digest; a different event under the same id has another."""
        return hashlib.sha256(self.__pydantic_serializer__.to_json(self)).hexdigest()[:16]

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(timezone.utc)

    @model_validator(mode="after")
    def _check_version_and_subject(self) -> Envelope:
        if self.schema_version not in self.SUPPORTED_VERSIONS:
            known = ", ".join(sorted(self.SUPPORTED_VERSIONS))
            raise ValueError(
                f"schema_version {self.schema_version} of {self.type} is not known to this "
                f"reader (it knows {known})"
            )
        if self.SUBJECT_FIELD is not None:
            expected = getattr(self.payload, self.SUBJECT_FIELD)  # type: ignore[attr-defined]
            if expected != self.subject_id:
                raise ValueError(
                    f"subject_id {self.subject_id!r} must equal payload.{self.SUBJECT_FIELD} "
                    f"({expected!r}) for {self.type}"
                )
        return self


class UserSignedUp(Envelope):
    SUBJECT_FIELD = "user_id"
    PAYLOAD_MODEL = SignedUpPayload
    type: Literal["user.signed_up"]
    payload: SignedUpPayload


class JobPostCreated(Envelope):
    SUBJECT_FIELD = "client_id"
    PAYLOAD_MODEL = JobPostPayload
    type: Literal["job_post.created"]
    payload: JobPostPayload


class MessageSent(Envelope):
    SUBJECT_FIELD = "sender_id"
    PAYLOAD_MODEL = MessagePayload
    type: Literal["message.sent"]
    payload: MessagePayload


class ProposalSubmitted(Envelope):
    SUBJECT_FIELD = "freelancer_id"
    PAYLOAD_MODEL = ProposalPayload
    type: Literal["proposal.submitted"]
    payload: ProposalPayload


class ConsentChanged(Envelope):
    SUBJECT_FIELD = "user_id"
    PAYLOAD_MODEL = ConsentPayload
    #: 1.1 added ``undo_learning`` (optional: a 1.0 event is a 1.1 event without it).
    SUPPORTED_VERSIONS = frozenset({"1.0", "1.1"})
    type: Literal["consent.changed"]
    payload: ConsentPayload

    @model_validator(mode="after")
    def _undo_learning_is_1_1(self) -> ConsentChanged:
        if self.payload.undo_learning and self.schema_version == "1.0":
            raise ValueError("payload.undo_learning is a field of consent.changed 1.1: publish "
                             "the event as schema_version 1.1")
        return self

    @model_validator(mode="after")
    def _changed_before_published(self) -> ConsentChanged:
        # The gate orders a subject's records by changed_at: one dated after its own event
        # (a wrong clock, a forged year 9999) would outrank every real change made later.
        if self.payload.changed_at > self.occurred_at:
            raise ValueError(
                f"payload.changed_at {self.payload.changed_at.isoformat()} is after the event's "
                f"occurred_at {self.occurred_at.isoformat()}: a change is published after it is made")
        return self


class UserReportFiled(Envelope):
    SUBJECT_FIELD = "reporter_id"
    PAYLOAD_MODEL = ReportPayload
    type: Literal["user_report.filed"]
    payload: ReportPayload


class ProfileUpdated(Envelope):
    SUBJECT_FIELD = "user_id"
    PAYLOAD_MODEL = ProfileUpdatedPayload
    SUPPORTED_VERSIONS = frozenset({"1.0", "1.1"})
    #: Payload fields added by a minor version: an event of an earlier version must not carry them.
    ADDED: ClassVar[dict[str, str]] = {"payout_fingerprint": "1.1", "payment_fingerprint": "1.1"}
    type: Literal["profile.updated"]
    payload: ProfileUpdatedPayload

    @model_validator(mode="after")
    def _fields_of_its_version(self) -> ProfileUpdated:
        mine = _version(self.schema_version)
        for name, since in self.ADDED.items():
            if getattr(self.payload, name) is not None and mine < _version(since):
                raise ValueError(f"payload.{name} is new in schema_version {since}; this "
                                 f"{self.type} says {self.schema_version}")
        return self


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


class ReviewDecided(Envelope):
    # The subject of a decision is the decided entity's user, which the review service knows.
    PAYLOAD_MODEL = DecisionPayload
    type: Literal["review.decided"]
    payload: DecisionPayload


class ActionApplied(Envelope):
    SUBJECT_FIELD = "user_id"
    PAYLOAD_MODEL = ActionAppliedPayload
    type: Literal["action.applied"]
    payload: ActionAppliedPayload


class ActionFailed(Envelope):
    SUBJECT_FIELD = "user_id"
    PAYLOAD_MODEL = ActionFailedPayload
    type: Literal["action.failed"]
    payload: ActionFailedPayload


class AppealFiled(Envelope):
    SUBJECT_FIELD = "user_id"
    PAYLOAD_MODEL = AppealPayload
    type: Literal["appeal.filed"]
    payload: AppealPayload


class ErasureRequested(Envelope):
    SUBJECT_FIELD = "user_id"
    PAYLOAD_MODEL = ErasurePayload
    type: Literal["erasure.requested"]
    payload: ErasurePayload


#: The platform's answers to Vigil: acknowledgements of actions, and appeals.
PLATFORM_EVENTS = (ActionApplied, ActionFailed, AppealFiled)

EVENT_MODELS: dict[str, type[Envelope]] = {
    model.model_fields["type"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in (
        UserSignedUp, JobPostCreated, MessageSent, ProposalSubmitted,
        ConsentChanged, UserReportFiled, ReviewDecided, ProfileUpdated,
        ActionApplied, ActionFailed, AppealFiled, ErasureRequested,
    )
}

Event = Annotated[
    Union[
        UserSignedUp, JobPostCreated, MessageSent, ProposalSubmitted,
        ConsentChanged, UserReportFiled, ReviewDecided, ProfileUpdated,
        ActionApplied, ActionFailed, AppealFiled, ErasureRequested,
    ],
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
