"""What Vigil asks the platform to do: :class:`PlatformAction` on ``tns.actions``, each restrictive
one with its :class:`StatementOfReasons` for the affected user.

An action's ``action_id`` is a UUID derived from the decision id, the action and its target
(:func:`action_id_for`), so a decision retried, replayed or relayed twice publishes the same id:
a platform service carries an action out once per id. A reversal (an appeal reversed the
decision) is an action of its own, with its own derived id, that names the action it undoes.

The statement of reasons carries what the EU Digital Services Act (Art. 17(3)) asks of online
platforms: what was restricted and for how long (a), the facts relied on and whether a notice
(a user report) was one (b), whether automated means detected or decided it (c), the ground (d)
and the redress open to the user (e, f). It is data (``model_dump``) and text (``text``).

>>> action_id_for("dec_1", "suspend_account", "user", "u1") == action_id_for(
...     "dec_1", "suspend_account", "user", "u1")
True
>>> action_id_for("dec_1", "suspend_account", "user", "u1") != action_id_for(
...     "dec_2", "suspend_account", "user", "u1")
True
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EntityType = Literal["user", "job_post", "message", "proposal"]
#: The kinds of restriction Art. 17(3)(a) names (none: a warning restricts nothing).
Category = Literal["visibility", "monetary", "service", "account", "none"]
ActionName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]
#: How long an action lasts: whole days (None: until reversed, or it has no duration).
Days = Annotated[int, Field(ge=1, le=3650)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def action_id_for(decision_id: str, action: str, entity_type: str, entity_id: str) -> str:
    """The idempotency key of an action: the same decision always yields the same id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL,
                          f"vigil-action:{decision_id}:{action}:{entity_type}:{entity_id}"))


def reversal_id_for(decision_id: str, original_action_id: str) -> str:
    """The id of the reversal of ``original_action_id`` that decision ``decision_id`` (an
    appeal's) publishes: the same on every retry of that decision."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL,
                          f"vigil-reversal:{decision_id}:{original_action_id}"))


class Restriction(_Record):
    """What was restricted, how, and for how long (Art. 17(3)(a))."""

    action: ActionName
    category: Category
    description: str
    entity_type: EntityType
    entity_id: str
    duration_days: Days | None
    starts_at: AwareDatetime
    #: None: until reversed (or the action has no duration).
    ends_at: AwareDatetime | None
    territorial_scope: str = "worldwide"


class Ground(_Record):
    """Why (Art. 17(3)(d)): the marketplace's terms (a contractual ground), by policy reason."""

    type: Literal["contractual", "legal"] = "contractual"
    policy_reason: str
    explanation: str


class Redress(_Record):
    """How the user can contest it (Art. 17(3)(f))."""

    appeal: str
    out_of_court: str
    judicial: str


class StatementOfReasons(_Record):
    """The statement of reasons sent with every restrictive action."""

    schema_version: Literal["1.0"] = "1.0"
    statement_id: str
    action_id: str
    decision_id: str
    case_id: str
    #: The user the statement is for (the account restricted, or the author of the content).
    subject_id: str
    restriction: Restriction
    #: The facts and circumstances relied on (events and what detection found in them; no
    #: event content, which the user has and the log should not keep).
    facts: list[str]
    #: Whether a notice (a user report) was among the facts.
    based_on_notice: bool
    #: Whether automated means detected what the decision is about (a rule or a model).
    automated_detection: bool
    #: Whether the decision itself was taken by automated means (an automatic action).
    automated_decision: bool
    ground: Ground
    redress: Redress
    issued_at: AwareDatetime
    text: str


class PlatformAction(_Record):
    """One action for a platform service to carry out and acknowledge (``action.applied`` or
    ``action.failed`` with this ``action_id``), keyed on ``tns.actions`` by ``subject_id``."""

    schema_version: Literal["1.0"] = "1.0"
    action_id: str
    action: ActionName
    #: ``apply``: carry it out; ``reverse``: undo ``reverses`` (an appeal reversed it).
    kind: Literal["apply", "reverse"]
    reverses: str | None = None
    entity_type: EntityType
    entity_id: str
    subject_id: str
    duration_days: Days | None = None
    restrictive: bool
    decision_id: str
    case_id: str
    policy_reason: str
    #: Who decided it: an analyst's name, or ``automatic:<detector id>``.
    decided_by: str
    automated_detection: bool
    automated_decision: bool
    issued_at: AwareDatetime
    statement: StatementOfReasons | None = None


def render_statement(s: StatementOfReasons) -> str:
    """The statement as the user reads it (its ``text``), from its fields."""
    r = s.restriction
    until = (f"until {r.ends_at:%Y-%m-%d %H:%M} UTC ({r.duration_days} days)" if r.ends_at
             else "until it is reversed")
    how = ("Automated means detected the activity" if s.automated_detection
           else "People reported or reviewed the activity")
    decided = ("the decision was taken by automated means and will be reviewed by a person"
               if s.automated_decision else "a person in our trust and safety team decided")
    facts = "\n".join(f"  - {fact}" for fact in s.facts) or "  - (none recorded)"
    return (
        f"Statement of reasons {s.statement_id}\n"
        f"What we did: {r.description} ({r.action}, {r.category} restriction, "
        f"{r.territorial_scope}), from {r.starts_at:%Y-%m-%d %H:%M} UTC {until}.\n"
        f"Why: our terms of use, policy {s.ground.policy_reason}: {s.ground.explanation}\n"
        f"Facts we relied on{' (including a report from another user)' if s.based_on_notice else ''}:\n"
        f"{facts}\n"
        f"Automated means: {how}; {decided}.\n"
        f"Your options: {s.redress.appeal} {s.redress.out_of_court} {s.redress.judicial}\n"
        f"Reference: decision {s.decision_id}, action {s.action_id}.\n"
    )
