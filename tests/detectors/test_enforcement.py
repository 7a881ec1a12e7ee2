"""The action vocabulary and what a decision's actions carry, pure: ids, statements of reasons
(the DSA Art. 17 fields, as data and text), reversals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from detectors.enforcement import (
    Context,
    InvalidAction,
    parse_vocabulary,
    plan,
    reverse,
    validate,
    vocabulary,
)
from schemas.actions import StatementOfReasons, reversal_id_for

NOW = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)
RULE_FLAG = {"detector_id": "message.off_platform_payment", "event_type": "message.sent",
             "occurred_at": "2026-01-05T11:00:00Z", "is_ai": False, "entity_type": "user"}
REPORT_FLAG = {"detector_id": "report.user_report", "event_type": "user_report.filed",
               "occurred_at": "2026-01-05T11:30:00Z", "is_ai": False, "entity_type": "user"}


def ctx(**changes: object) -> Context:
    base = dict(decision_id="dec_1", case_id="case_1", entity_type="user", entity_id="u1",
                subject_id="u1", policy_reason="payment_fraud", decided_by="ana", issued_at=NOW,
                flags=[RULE_FLAG])
    return Context(**{**base, **changes})  # type: ignore[arg-type]


def test_every_action_of_the_vocabulary_has_a_reversal_and_a_known_entity_type() -> None:
    v = vocabulary()
    assert {s.name for s in v.for_entity("user")} >= {
        "warn", "require_identity_verification", "restrict_messaging", "suspend_account",
        "hold_payouts", "ban"}
    assert [s.name for s in v.for_entity("job_post")] == ["remove_job_post"]
    assert [s.name for s in v.for_entity("proposal")] == ["hide_proposal"]
    assert [s.name for s in v.for_entity("message")] == ["hide_message"]
    for spec in v.specs.values():
        assert spec.reversal and spec.reversal not in v.specs
        assert set(spec.entity_types) <= {"user", "job_post", "message", "proposal"}
        assert all(1 <= d <= spec.max_days for d in spec.choices_days)


def test_a_restrictive_action_carries_its_statement_of_reasons() -> None:
    [action] = plan(ctx(flags=[RULE_FLAG, REPORT_FLAG]), [("suspend_account", 30)])
    s = action.statement
    assert isinstance(s, StatementOfReasons)
    assert (s.restriction.category, s.restriction.duration_days) == ("account", 30)
    assert s.restriction.ends_at == NOW + timedelta(days=30)
    assert s.based_on_notice and s.automated_detection and not s.automated_decision
    assert s.ground.policy_reason == "payment_fraud"
    assert "appeal within 180 days" in s.redress.appeal
    assert s.facts == ["message.sent of 2026-01-05 matched rule message.off_platform_payment",
                       "a report from another user about this user"]
    for needed in ("the account is suspended", "2026-02-04", "payment_fraud",
                   "including a report from another user", "out-of-court", "dec_1"):
        assert needed in s.text


def test_a_warning_has_no_statement_and_a_report_alone_is_not_automated_detection() -> None:
    [warn] = plan(ctx(flags=[REPORT_FLAG]), [("warn", None)])
    assert warn.statement is None and not warn.restrictive
    [ban] = plan(ctx(flags=[REPORT_FLAG]), [("ban", None)])
    assert ban.statement is not None and not ban.automated_detection
    assert "People reported or reviewed" in ban.statement.text
    assert "until it is reversed" in ban.statement.text


def test_reversals_name_what_they_undo_with_ids_of_their_own() -> None:
    originals = [a.model_dump(mode="json") for a in
                 plan(ctx(), [("suspend_account", 7), ("hold_payouts", None)])]
    undone = reverse(originals, decision_id="dec_2", case_id="apl_1", decided_by="bea",
                     issued_at=NOW)
    assert [(r.action, r.kind, r.reverses) for r in undone] == [
        ("reinstate_account", "reverse", originals[0]["action_id"]),
        ("release_payouts", "reverse", originals[1]["action_id"])]
    assert undone[0].action_id == reversal_id_for("dec_2", originals[0]["action_id"])
    assert reverse([r.model_dump(mode="json") for r in undone], decision_id="dec_3",
                   case_id="apl_1", decided_by="bea", issued_at=NOW) == []  # no reversal of one


@pytest.mark.parametrize(("chosen", "message"), [
    ([("warn", None)] * 2, "warn is chosen twice"),
    ([("hold_payouts", 181)], "hold_payouts lasts 1 to 180 days, not 181"),
    ([("warn", None)] * 11, "at most 10 actions"),
])
def test_validation_says_what_is_wrong(chosen, message: str) -> None:
    with pytest.raises(InvalidAction, match=message):
        validate("user", "confirmed_fraud", chosen)


def test_a_vocabulary_entry_with_a_duration_needs_its_bound() -> None:
    with pytest.raises(InvalidAction, match="needs max_days"):
        parse_vocabulary("version: 1\nactions:\n  x: {entity_types: [user], restrictive: true, "
                         "duration: required, reversal: y, description: d}\n")
