"""Platform actions a decision takes, from the vocabulary in ``actions.yaml``; pure.

The vocabulary is data: per action, which entity types it may target, whether it restricts (and
so needs a statement of reasons), whether it takes a duration and how long at most, and the
action that reverses it. :func:`validate` checks what an analyst chose; :func:`plan` turns a
decision and its choices into :class:`schemas.actions.PlatformAction` records with their
statements; :func:`reverse` gives the reversals an appeal's reversed decision publishes. The
review queue stores and publishes them (``pipeline.review.queue.enforcement``).

>>> v = vocabulary()
>>> v.specs["suspend_account"].reversal, v.specs["suspend_account"].duration
('reinstate_account', 'required')
>>> validate("user", "confirmed_fraud", [("suspend_account", None)])
Traceback (most recent call last):
...
detectors.enforcement.InvalidAction: suspend_account needs duration_days (1 to 365)
>>> validate("job_post", "confirmed_fraud", [("ban", None)])
Traceback (most recent call last):
...
detectors.enforcement.InvalidAction: ban applies to user, not job_post; for a job_post: remove_job_post
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import yaml

from schemas.actions import (
    Ground,
    PlatformAction,
    Redress,
    Restriction,
    StatementOfReasons,
    action_id_for,
    render_statement,
    reversal_id_for,
)
from schemas.errors import VigilError

#: An appeal's case id starts with this (one appeal case per decision): a decision on such a
#: case hears an appeal, and ``legitimate`` reverses the decision appealed.
APPEAL_CASE_PREFIX = "apl_"

#: The most actions one decision takes.
MAX_ACTIONS = 10
#: Detectors that are people, not automated means: a user report.
HUMAN_DETECTORS = frozenset({"report.user_report"})


class InvalidAction(VigilError, ValueError):
    """An action that is unknown, for another entity type, or with a wrong duration."""


@dataclass(frozen=True)
class ActionSpec:
    name: str
    label: str
    entity_types: tuple[str, ...]
    restrictive: bool
    category: str
    #: ``required``, ``optional`` or ``none``.
    duration: str
    max_days: int
    choices_days: tuple[int, ...]
    reversal: str
    description: str


@dataclass(frozen=True)
class Vocabulary:
    version: int
    specs: dict[str, ActionSpec]

    def for_entity(self, entity_type: str) -> list[ActionSpec]:
        return [s for s in self.specs.values() if entity_type in s.entity_types]


def parse_vocabulary(text: str) -> Vocabulary:
    """A vocabulary from its YAML; a wrong entry raises :class:`InvalidAction` naming it."""
    doc = yaml.safe_load(text)
    specs = {}
    for name, raw in doc["actions"].items():
        duration = raw.get("duration", "none")
        if duration not in ("required", "optional", "none"):
            raise InvalidAction(f"{name}: duration must be required, optional or none")
        max_days = int(raw.get("max_days", 0))
        if duration != "none" and max_days < 1:
            raise InvalidAction(f"{name}: an action with a duration needs max_days")
        specs[name] = ActionSpec(
            name=name, label=raw.get("label", name), entity_types=tuple(raw["entity_types"]),
            restrictive=bool(raw["restrictive"]), category=raw.get("category", "none"),
            duration=duration, max_days=max_days,
            choices_days=tuple(int(d) for d in raw.get("choices_days", ())),
            reversal=raw["reversal"], description=raw["description"])
    return Vocabulary(int(doc["version"]), specs)


@functools.cache
def vocabulary() -> Vocabulary:
    """The shipped vocabulary (``detectors/actions.yaml``)."""
    return parse_vocabulary((resources.files(__package__) / "actions.yaml").read_text("utf-8"))


def validate(entity_type: str, outcome: str, chosen: Sequence[tuple[str, int | None]],
             vocab: Vocabulary | None = None) -> list[tuple[str, int | None]]:
    """The chosen ``(action, duration_days)`` pairs, checked (each action once); raises
    :class:`InvalidAction` with what is wrong."""
    vocab = vocab or vocabulary()
    if chosen and outcome != "confirmed_fraud":
        raise InvalidAction(f"actions go with a confirmed_fraud decision, not {outcome}")
    if len(chosen) > MAX_ACTIONS:
        raise InvalidAction(f"at most {MAX_ACTIONS} actions per decision")
    seen: set[str] = set()
    for name, days in chosen:
        spec = vocab.specs.get(name)
        if spec is None:
            raise InvalidAction(f"unknown action {name!r}; for a {entity_type}: "
                                + ", ".join(s.name for s in vocab.for_entity(entity_type)))
        if entity_type not in spec.entity_types:
            raise InvalidAction(f"{name} applies to {', '.join(spec.entity_types)}, not "
                                f"{entity_type}; for a {entity_type}: "
                                + ", ".join(s.name for s in vocab.for_entity(entity_type)))
        if name in seen:
            raise InvalidAction(f"{name} is chosen twice")
        seen.add(name)
        if spec.duration == "none" and days is not None:
            raise InvalidAction(f"{name} takes no duration")
        if spec.duration == "required" and days is None:
            raise InvalidAction(f"{name} needs duration_days (1 to {spec.max_days})")
        if days is not None and not 1 <= days <= spec.max_days:
            raise InvalidAction(f"{name} lasts 1 to {spec.max_days} days, not {days}")
    return list(chosen)


def facts(flags: Iterable[Mapping[str, Any]]) -> tuple[list[str], bool, bool]:
    """The facts a statement relies on (one line per detector and event type, no content),
    whether a user report was one, and whether automated means detected any."""
    lines: dict[str, None] = {}
    notice = automated = False
    for flag in flags:
        detector = str(flag.get("detector_id", ""))
        if detector in HUMAN_DETECTORS:
            notice = True
            lines[f"a report from another user about this {flag.get('entity_type', 'account')}"] = None
            continue
        automated = True
        what = "model" if flag.get("is_ai") else "rule"
        lines[f"{flag.get('event_type', 'an event')} of {str(flag.get('occurred_at', ''))[:10]}"
              f" matched {what} {detector}"] = None
    return list(lines), notice, automated


@dataclass(frozen=True)
class Context:
    """What a decision's actions are built from (the decision record's fields)."""

    decision_id: str
    case_id: str
    entity_type: str
    entity_id: str
    subject_id: str
    policy_reason: str
    decided_by: str
    issued_at: datetime
    flags: Sequence[Mapping[str, Any]] = ()
    automated_decision: bool = False
    appeal_days: int = 180


def _statement(spec: ActionSpec, ctx: Context, action_id: str, days: int | None,
               ) -> StatementOfReasons:
    found, notice, automated = facts(ctx.flags)
    fields: dict[str, Any] = dict(
        statement_id=f"sor_{action_id.replace('-', '')[:24]}", action_id=action_id,
        decision_id=ctx.decision_id, case_id=ctx.case_id, subject_id=ctx.subject_id,
        restriction=Restriction(
            action=spec.name, category=spec.category, description=spec.description,  # type: ignore[arg-type]
            entity_type=ctx.entity_type, entity_id=ctx.entity_id, duration_days=days,  # type: ignore[arg-type]
            starts_at=ctx.issued_at,
            ends_at=ctx.issued_at + timedelta(days=days) if days else None),
        facts=found, based_on_notice=notice, automated_detection=automated,
        automated_decision=ctx.automated_decision,
        ground=Ground(policy_reason=ctx.policy_reason,
                      explanation=f"the terms of use forbid {ctx.policy_reason.replace('_', ' ')}"),
        redress=Redress(
            appeal=(f"You can appeal within {ctx.appeal_days} days from your account's "
                    f"notifications (decision {ctx.decision_id}); a person who did not take "
                    "this decision reviews it."),
            out_of_court=("You can refer the dispute to a certified out-of-court dispute "
                          "settlement body (DSA Art. 21)."),
            judicial="You can also seek redress before the courts."),
        issued_at=ctx.issued_at, text="")
    draft = StatementOfReasons(**fields)
    return draft.model_copy(update={"text": render_statement(draft)})


def plan(ctx: Context, chosen: Sequence[tuple[str, int | None]],
         vocab: Vocabulary | None = None) -> list[PlatformAction]:
    """The actions of a decision (already :func:`validate`-d), each restrictive one with its
    statement of reasons; ids derive from the decision id, action and target."""
    vocab = vocab or vocabulary()
    _found, _notice, automated = facts(ctx.flags)
    out = []
    for name, days in chosen:
        spec = vocab.specs[name]
        action_id = action_id_for(ctx.decision_id, name, ctx.entity_type, ctx.entity_id)
        out.append(PlatformAction(
            action_id=action_id, action=name, kind="apply", entity_type=ctx.entity_type,  # type: ignore[arg-type]
            entity_id=ctx.entity_id, subject_id=ctx.subject_id, duration_days=days,
            restrictive=spec.restrictive, decision_id=ctx.decision_id, case_id=ctx.case_id,
            policy_reason=ctx.policy_reason, decided_by=ctx.decided_by,
            automated_detection=automated, automated_decision=ctx.automated_decision,
            issued_at=ctx.issued_at,
            statement=_statement(spec, ctx, action_id, days) if spec.restrictive else None))
    return out


def reverse(originals: Iterable[Mapping[str, Any]], *, decision_id: str, case_id: str,
            decided_by: str, issued_at: datetime,
            vocab: Vocabulary | None = None) -> list[PlatformAction]:
    """The reversal of each original action (records as :meth:`PlatformAction.model_dump`
    gives them), published when an appeal reverses the decision that took them."""
    vocab = vocab or vocabulary()
    out = []
    for original in originals:
        if original.get("kind") != "apply":
            continue
        spec = vocab.specs.get(str(original["action"]))
        out.append(PlatformAction(
            action_id=reversal_id_for(decision_id, str(original["action_id"])),
            action=spec.reversal if spec else f"undo_{original['action']}", kind="reverse",
            reverses=str(original["action_id"]), entity_type=original["entity_type"],
            entity_id=str(original["entity_id"]), subject_id=str(original["subject_id"]),
            restrictive=False, decision_id=decision_id, case_id=case_id,
            policy_reason=str(original.get("policy_reason", "")), decided_by=decided_by,
            automated_detection=bool(original.get("automated_detection")),
            automated_decision=False, issued_at=issued_at))
    return out
