"""Automatic actions, pure: which flags act, with what ids and statement, and what a wrong
configuration is told."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from detectors.auto_actions import default_auto_actions, parse_auto_actions, plan_auto
from detectors.enforcement import InvalidAction

NOW = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)
CONFIG = parse_auto_actions("""
version: 1
auto_actions:
  - {detector: message.off_platform_payment, min_score: 0.8, action: restrict_messaging,
     duration_days: 7, policy_reason: off_platform_payment}
""")


def flag(**changes: object) -> dict:
    return {"flag_id": "flg_1", "detector_id": "message.off_platform_payment", "score": 0.85,
            "mode": "enforce", "entity_type": "user", "entity_id": "u1", "subject_id": "u1",
            "event_type": "message.sent", "occurred_at": "2026-01-05T11:00:00Z",
            "is_ai": False, **changes}


def test_a_flag_above_the_score_acts_with_ids_from_its_flag_id() -> None:
    [action] = plan_auto(CONFIG, flag(), "case_1", NOW)
    [again] = plan_auto(CONFIG, flag(), "case_1", NOW)
    assert action.action_id == again.action_id
    assert plan_auto(CONFIG, flag(flag_id="flg_2"), "case_1", NOW)[0].action_id != action.action_id
    assert action.automated_decision and action.automated_detection
    assert action.statement is not None and action.statement.automated_decision
    assert action.statement.restriction.duration_days == 7


@pytest.mark.parametrize("changes", [{"score": 0.79}, {"mode": "shadow"},
                                     {"detector_id": "other.rule"},
                                     {"entity_type": "job_post", "entity_id": "j1"}])
def test_below_the_score_in_shadow_another_detector_or_entity_takes_nothing(changes) -> None:
    assert plan_auto(CONFIG, flag(**changes), "case_1", NOW) == []


@pytest.mark.parametrize(("text", "message"), [
    ("auto_actions: [{detector: d, min_score: 0.5, action: nope, policy_reason: spam}]",
     "unknown action 'nope'"),
    ("auto_actions: [{detector: d, min_score: 2, action: warn, policy_reason: spam}]",
     "min_score is between 0 and 1"),
    ("auto_actions: [{detector: d, min_score: 0.5, action: suspend_account, policy_reason: spam}]",
     "suspend_account needs duration_days"),
    ("auto_actions: [{detector: d, action: warn, policy_reason: spam}]", "min_score is required"),
])
def test_a_wrong_configuration_names_its_entry(text: str, message: str) -> None:
    with pytest.raises(InvalidAction, match=message):
        parse_auto_actions(text)


def test_the_shipped_configuration_takes_no_automatic_action() -> None:
    assert default_auto_actions() == []
