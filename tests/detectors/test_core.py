"""``decide``: rules for the event type, AI detectors only with consent, failures contained."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from detectors.base import Detector
from detectors.consent import CONSENT_UNAVAILABLE, CURRENT_POLICY_VERSION, ConsentRecord
from detectors.core import Context, decide
from detectors.examples import example_event
from detectors.features import example_features
from detectors.results import DetectorResult
from detectors.ruleset import load_rules, sources_from_dir
from schemas import decode_event_obj
from schemas.events import Envelope

#: decide() on two known rules (a pinned copy of the first library rules); the shipped library
#: grows and is tested by its own inline examples.
RULES = load_rules(sources_from_dir(Path(__file__).parent / "rule_fixtures"))


class Recording(Detector):
    """Counts its calls so tests can tell "skipped" from "ran and did not fire"."""

    description: ClassVar[str] = "test detector"

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, event: Envelope, features: Mapping[str, Any]) -> DetectorResult:
        self.calls += 1
        return DetectorResult(self.id, self.version, self.is_ai, fired=True, score=0.9,
                              severity="medium", reason=f"{self.id} fired on {event.type}")


class AlwaysFiresAI(Recording):
    id = "test.ai_always_fires"
    version = "7"
    is_ai = True
    event_types = frozenset({"message.sent", "user.signed_up"})


class AlwaysFiresDeterministic(Recording):
    id = "test.deterministic_always_fires"
    version = "2"
    is_ai = False
    event_types = frozenset({"message.sent"})


class Raises(Recording):
    id = "test.raises"
    version = "1"
    is_ai = False
    event_types = frozenset({"message.sent"})

    def detect(self, event: Envelope, features: Mapping[str, Any]) -> DetectorResult:
        self.calls += 1
        raise ZeroDivisionError("model weights are all zero")


class ProposalsOnlyAI(Recording):
    id = "test.proposals_only"
    version = "1"
    is_ai = True
    event_types = frozenset({"proposal.submitted"})


def message(text: str = "See you on the call tomorrow.", contract: bool = False) -> Envelope:
    return decode_event_obj(example_event("message.sent", {"text": text, "has_active_contract": contract}))


def consent(state: str = "opted_in", policy: str = CURRENT_POLICY_VERSION,
            before: timedelta = timedelta(days=3)) -> ConsentRecord:
    at = message().occurred_at - before
    return ConsentRecord(state, policy, at, "evt_consent_1")  # type: ignore[arg-type]


def by_id(decision: Any) -> dict[str, DetectorResult]:
    return {r.detector_id: r for r in decision.results}


# ---- rules -----------------------------------------------------------------------------------


def test_decide_runs_the_rules_for_the_event_type() -> None:
    event = message("pay me on venmo first")
    decision = decide(event, Context(features=example_features("message.sent")), RULES)
    assert decision.event_id == str(event.event_id)
    assert decision.event_type == "message.sent"
    assert [r.detector_id for r in decision.results] == ["message.off_platform_payment"]
    (finding,) = decision.findings
    assert finding.detector_id == "message.off_platform_payment"
    assert (finding.entity_type, finding.entity_id) == ("user", event.subject_id)


def test_decide_runs_no_rule_of_another_event_type() -> None:
    signup = decode_event_obj(example_event("user.signed_up"))
    features = {**example_features("user.signed_up"), "device_accounts_24h": 5}
    decision = decide(signup, Context(features=features), RULES)
    assert [r.detector_id for r in decision.results] == ["signup.shared_device_ring"]
    assert [r.detector_id for r in decision.findings] == ["signup.shared_device_ring"]


def test_decide_on_a_clean_message_finds_nothing() -> None:
    decision = decide(message(), Context(), RULES)
    assert decision.findings == () and decision.shadow_hits == ()
    assert len(decision.results) == 1 and decision.results[0].skipped is None


def test_job_post_findings_open_a_case_for_the_job() -> None:
    from detectors.ruleset import case_entity

    job = decode_event_obj(example_event("job_post.created", {"job_id": "job_77"}))
    assert case_entity(job) == ("job_post", "job_77")
    report = decode_event_obj(example_event("user_report.filed", {"target_type": "message",
                                                                  "target_id": "msg_9"}))
    assert case_entity(report) == ("message", "msg_9")


# ---- AI detectors and consent ----------------------------------------------------------------


@pytest.mark.parametrize(("given", "why"), [
    (None, "never asked"),
    (consent("opted_out"), "opted out"),
    (CONSENT_UNAVAILABLE, "unavailable"),
    (consent(policy="2025-06"), "2025-06"),
    (consent(before=-timedelta(minutes=5)), "after the event"),
])
def test_ai_detector_is_skipped_without_consent(given: Any, why: str) -> None:
    ai = AlwaysFiresAI()
    decision = decide(message(), Context(consent=given), RULES, [ai])
    result = by_id(decision)[ai.id]
    assert ai.calls == 0, "an AI detector must not even see the data without consent"
    assert result.fired is False
    assert result.is_ai is True
    assert result.skipped is not None and result.skipped.startswith("no_consent: ")
    assert why in result.skipped
    assert result.consent is None
    assert (result.detector_id, result.detector_version) == (ai.id, "7")
    assert decision.findings == ()


def test_ai_detector_runs_with_consent_and_records_it() -> None:
    ai = AlwaysFiresAI()
    rec = consent()
    event = message()
    decision = decide(event, Context(consent=rec), RULES, [ai])
    result = by_id(decision)[ai.id]
    assert ai.calls == 1
    assert result.fired is True and result.skipped is None
    assert result.consent == rec.audit()
    assert result.consent["event_id"] == "evt_consent_1"
    assert result.consent["policy_version"] == CURRENT_POLICY_VERSION
    assert (result.entity_type, result.entity_id) == ("user", event.subject_id)
    assert result.reason == "test.ai_always_fires fired on message.sent"
    assert [r.detector_id for r in decision.findings] == [ai.id]


def test_ai_detector_allowed_by_a_policy_version_given_in_the_context() -> None:
    ai = AlwaysFiresAI()
    context = Context(consent=consent(policy="2027-01"), policy_version="2027-01")
    assert by_id(decide(message(), context, RULES, [ai]))[ai.id].fired


@pytest.mark.parametrize("given", [None, consent("opted_out"), CONSENT_UNAVAILABLE, consent()])
def test_deterministic_detector_runs_regardless_of_consent(given: Any) -> None:
    plain = AlwaysFiresDeterministic()
    result = by_id(decide(message(), Context(consent=given), RULES, [plain]))[plain.id]
    assert plain.calls == 1
    assert result.fired is True and result.skipped is None
    assert result.consent is None


def test_a_raising_detector_is_reported_and_the_others_still_run() -> None:
    ai, raises, plain = AlwaysFiresAI(), Raises(), AlwaysFiresDeterministic()
    decision = decide(message("send it via zelle"), Context(consent=consent()), RULES,
                      [raises, ai, plain])
    results = by_id(decision)
    failed = results["test.raises"]
    assert failed.fired is False
    assert failed.skipped is not None and failed.skipped.startswith("error: ")
    assert "ZeroDivisionError" in failed.skipped and "model weights are all zero" in failed.skipped
    assert results[ai.id].fired and results[plain.id].fired
    assert results["message.off_platform_payment"].fired
    assert {r.detector_id for r in decision.findings} == {
        ai.id, plain.id, "message.off_platform_payment"}


def test_detectors_of_other_event_types_are_not_run() -> None:
    other, ai = ProposalsOnlyAI(), AlwaysFiresAI()
    decision = decide(message(), Context(consent=consent()), RULES, [other, ai])
    assert other.calls == 0
    assert "test.proposals_only" not in by_id(decision)
    assert ai.calls == 1


def test_results_keep_rules_first_then_models_in_the_given_order() -> None:
    models = [AlwaysFiresDeterministic(), AlwaysFiresAI()]
    decision = decide(message(), Context(consent=consent()), RULES, models)
    assert [r.detector_id for r in decision.results] == [
        "message.off_platform_payment", "test.deterministic_always_fires", "test.ai_always_fires"]
