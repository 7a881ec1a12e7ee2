"""Automatic actions: per detector (rule or model id), an action taken when it flags above a
score, with a case for human review afterwards; pure.

The configuration is versioned data (``detectors/auto_actions.yaml``, or the file
``VIGIL_AUTO_ACTIONS`` names), checked against the action vocabulary when it is loaded. An
automatic action's decision id derives from the flag id, so its action id does too: a
redelivered event, whose flag id is the same, takes no second action.

>>> config = parse_auto_actions('''
... version: 1
... auto_actions:
...   - {detector: message.off_platform_payment, min_score: 0.8, action: restrict_messaging,
...      duration_days: 7, policy_reason: off_platform_payment}
... ''')
>>> [(a.detector, a.action, a.duration_days) for a in config]
[('message.off_platform_payment', 'restrict_messaging', 7)]
>>> parse_auto_actions("version: 1\\nauto_actions: [{detector: d, min_score: 0.5, action: ban, duration_days: 3, policy_reason: spam}]")
Traceback (most recent call last):
...
detectors.enforcement.InvalidAction: auto action 1 (d): ban takes no duration
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import yaml

from detectors import enforcement
from detectors.enforcement import InvalidAction
from schemas.actions import PlatformAction


@dataclass(frozen=True)
class AutoAction:
    detector: str
    min_score: float
    action: str
    duration_days: int | None
    policy_reason: str


def parse_auto_actions(text: str) -> list[AutoAction]:
    """The automatic actions of a YAML document; :class:`InvalidAction` names a wrong entry."""
    doc = yaml.safe_load(text) or {}
    out = []
    vocab = enforcement.vocabulary()
    for n, raw in enumerate(doc.get("auto_actions") or [], start=1):
        where = f"auto action {n} ({raw.get('detector', '?')})"
        try:
            item = AutoAction(detector=str(raw["detector"]), min_score=float(raw["min_score"]),
                              action=str(raw["action"]), duration_days=raw.get("duration_days"),
                              policy_reason=str(raw["policy_reason"]))
        except KeyError as exc:
            raise InvalidAction(f"{where}: {exc.args[0]} is required") from None
        spec = vocab.specs.get(item.action)
        if spec is None:
            raise InvalidAction(f"{where}: unknown action {item.action!r}")
        if not 0 <= item.min_score <= 1:
            raise InvalidAction(f"{where}: min_score is between 0 and 1")
        try:
            enforcement.validate(spec.entity_types[0], "confirmed_fraud",
                                 [(item.action, item.duration_days)])
        except InvalidAction as exc:
            raise InvalidAction(f"{where}: {exc}") from None
        out.append(item)
    return out


def default_auto_actions() -> list[AutoAction]:
    """The shipped configuration (``detectors/auto_actions.yaml``)."""
    return parse_auto_actions(
        (resources.files(__package__) / "auto_actions.yaml").read_text("utf-8"))


def auto_decision_id(flag_id: str) -> str:
    """The decision an automatic action stands for: one per flag.

    >>> auto_decision_id("flg_1")
    'auto_flg_1'
    """
    return f"auto_{flag_id}"


def plan_auto(configured: Sequence[AutoAction], flag: Mapping[str, Any], case_id: str,
              issued_at: datetime) -> list[PlatformAction]:
    """The automatic actions a written flag takes (none in shadow mode, below the score, or
    for an entity the action does not apply to)."""
    if flag.get("mode") != "enforce":
        return []
    vocab = enforcement.vocabulary()
    out: list[PlatformAction] = []
    for item in configured:
        if item.detector != flag["detector_id"] or float(flag["score"]) < item.min_score:
            continue
        if flag["entity_type"] not in vocab.specs[item.action].entity_types:
            continue
        ctx = enforcement.Context(
            decision_id=auto_decision_id(str(flag["flag_id"])), case_id=case_id,
            entity_type=str(flag["entity_type"]), entity_id=str(flag["entity_id"]),
            subject_id=str(flag["subject_id"]), policy_reason=item.policy_reason,
            decided_by=f"automatic:{item.detector}", issued_at=issued_at, flags=[flag],
            automated_decision=True)
        out += enforcement.plan(ctx, [(item.action, item.duration_days)])
    return out
