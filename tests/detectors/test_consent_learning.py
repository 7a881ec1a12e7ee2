"""Consent-gated learning: no interleaving of consent changes, events and labels lets an AI
detector score or learn from a subject who had not opted in when the event happened, or who
opted out since."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as event_note
from hypothesis import strategies as st

from detectors.base import Detector
from detectors.consent import CONSENT_UNAVAILABLE, CURRENT_POLICY_VERSION, ConsentRecord
from detectors.core import Context, decide, learn_from_label, learning_gate, observe_unlabelled
from detectors.examples import example_event
from detectors.models import ScamMessageModel
from detectors.results import DetectorResult
from detectors.ruleset import load_rules
from schemas import decode_event_obj
from schemas.events import Envelope

NO_RULES = load_rules({})
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
SUBJECTS = ("u_a", "u_b")
KEY = b"test-hash-key-0123456789abcdef"


class Spy(Detector):
    """An AI detector that records every event it scored and every input it learned from."""

    id: ClassVar[str] = "test.spy"
    version: ClassVar[str] = "1"
    is_ai: ClassVar[bool] = True
    description: ClassVar[str] = "records what it sees"
    event_types: ClassVar[frozenset[str]] = frozenset({"message.sent"})

    def __init__(self) -> None:
        self.scored: list[str] = []
        self.learned: list[str] = []
        self.observed: list[str] = []

    def detect(self, event: Envelope, features: Mapping[str, Any]) -> DetectorResult:
        self.scored.append(str(event.event_id))
        return DetectorResult(self.id, self.version, True, fired=False, score=0.5,
                              model_input={"event": str(event.event_id)})

    def learn(self, x: dict[str, Any], label: bool) -> None:
        self.learned.append(x["event"])

    def observe(self, x: dict[str, Any]) -> None:
        self.observed.append(x["event"])


@dataclass(frozen=True)
class Published:
    record: ConsentRecord
    subject: str
    order: int


def in_force(history: list[Published], subject: str, at: datetime | None) -> Published | None:
    """The subject's change in force at ``at`` (None: the latest), among those published so far."""
    mine = [p for p in history if p.subject == subject and (at is None or p.record.changed_at <= at)]
    return max(mine, key=lambda p: (p.record.changed_at, p.order)) if mine else None


def as_of(history: list[Published], subject: str, at: datetime | None) -> ConsentRecord | None:
    found = in_force(history, subject, at)
    return found.record if found else None


steps = st.lists(st.one_of(
    # a consent change, possibly back-dated a few minutes (published after it took effect)
    # (opting in under the current policy is the likelier draw, so labels do get learned)
    st.tuples(st.just("consent"), st.sampled_from(SUBJECTS),
              st.sampled_from(["opted_in", "opted_in", "opted_in", "opted_out"]),
              st.sampled_from([CURRENT_POLICY_VERSION] * 3 + ["2025-06"]), st.integers(0, 3)),
    # an event; True: the consent store cannot be read for it
    st.tuples(st.just("event"), st.sampled_from(SUBJECTS), st.sampled_from([False] * 5 + [True])),
    # a label for an earlier event (chosen by index), true or false, store readable or not
    st.tuples(st.just("label"), st.integers(0, 30), st.booleans(), st.sampled_from([False] * 5 + [True])),
), max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(*[st.booleans() for _ in SUBJECTS]), steps)
def test_no_interleaving_lets_a_model_score_or_learn_without_consent(
        opted_in_first: tuple[bool, ...], plan: list[tuple]) -> None:
    spy, real = Spy(), ScamMessageModel(KEY)
    # Some subjects opted in before the story starts (else most stories begin unasked).
    history = [Published(ConsentRecord("opted_in", CURRENT_POLICY_VERSION, T0 - timedelta(days=1),
                                       f"c_first_{s}"), s, -1)
               for s, first in zip(SUBJECTS, opted_in_first) if first]
    events: list[tuple[Envelope, str, DetectorResult]] = []
    allowed_to_score: set[str] = set()
    expected_learned: list[str] = []
    for i, step in enumerate(plan):
        now = T0 + timedelta(minutes=10 * i)
        if step[0] == "consent":
            _, subject, state, policy, back = step
            rec = ConsentRecord(state, policy, now - timedelta(minutes=10 * back), f"c{i}")
            history.append(Published(rec, subject, i))
        elif step[0] == "event":
            _, subject, unreadable = step
            event = decode_event_obj(example_event(
                "message.sent", {"sender_id": subject, "text": f"hello {i}"},
                event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"e{i}")), occurred_at=now.isoformat()))
            consent = CONSENT_UNAVAILABLE if unreadable else as_of(history, subject, now)
            results = decide(event, Context(consent=consent), NO_RULES, [spy, real]).results
            if not unreadable and consent is not None and consent.state == "opted_in" \
                    and consent.policy_version == CURRENT_POLICY_VERSION:
                allowed_to_score.add(str(event.event_id))
            events.append((event, subject, results[0]))
            assert results[1].model_input is None or str(event.event_id) in allowed_to_score
        elif events:
            _, k, label, unreadable = step
            event, subject, result = events[k % len(events)]
            then = as_of(history, subject, event.occurred_at)
            latest = CONSENT_UNAVAILABLE if unreadable else as_of(history, subject, None)
            before = len(spy.learned)
            outcome = learn_from_label(spy, result.model_input, label, consent_at_event=then,
                                       consent_now=latest, event_time=event.occurred_at)
            observe_unlabelled(spy, result.model_input, consent_at_event=then,
                               consent_now=latest, event_time=event.occurred_at)
            # What the rule promises, stated independently of the implementation:
            opted_in_then = (then is not None and then.state == "opted_in"
                             and then.policy_version == CURRENT_POLICY_VERSION)
            current = in_force(history, subject, event.occurred_at)
            changed_since = [p.record for p in history if p.subject == subject and current
                             and (p.record.changed_at, p.order) > (current.record.changed_at, current.order)]
            opted_out_since = any(r.state == "opted_out" for r in changed_since)
            event_note(f"label: {outcome.reason.split(' (')[0]}")
            if outcome.learned:
                assert opted_in_then and not opted_out_since and not unreadable
                assert outcome.consent == then.audit()
                expected_learned.append(str(event.event_id))
            else:
                assert len(spy.learned) == before
                assert outcome.reason.startswith(("no_consent:", "no_input:"))
            # And it is not vacuous: with consent then and no change since, it does learn.
            if (opted_in_then and not changed_since and not unreadable and latest == then
                    and result.model_input is not None):
                assert outcome.learned, outcome.reason
    assert set(spy.scored) <= allowed_to_score
    assert spy.scored == [e for e, _, r in events if r.skipped is None for e in [str(e.event_id)]]
    assert spy.learned == expected_learned
    assert set(spy.learned) <= allowed_to_score and set(spy.observed) <= set(spy.learned)


# ---- the learning rule's truth table -------------------------------------------------------

AT = T0 + timedelta(days=1)
IN = ConsentRecord("opted_in", CURRENT_POLICY_VERSION, T0, "c_in")
OUT_LATER = ConsentRecord("opted_out", CURRENT_POLICY_VERSION, AT + timedelta(hours=1), "c_out")
IN_AGAIN = ConsentRecord("opted_in", CURRENT_POLICY_VERSION, AT + timedelta(hours=2), "c_in2")
OLD_POLICY = ConsentRecord("opted_in", "2025-06", T0, "c_old")
NEW_POLICY_NOW = ConsentRecord("opted_in", "2027-01", AT + timedelta(hours=1), "c_new")
AFTER_EVENT = ConsentRecord("opted_in", CURRENT_POLICY_VERSION, AT + timedelta(minutes=1), "c_late")


@pytest.mark.parametrize(("then", "now", "allowed", "why"), [
    (IN, IN, True, "opted_in"),
    (None, IN, False, "never asked (at the event)"),
    (CONSENT_UNAVAILABLE, IN, False, "unavailable (at the event)"),
    (OLD_POLICY, OLD_POLICY, False, "policy 2025-06"),
    (AFTER_EVENT, AFTER_EVENT, False, "consent given after the event"),
    (IN, OUT_LATER, False, "opted out since the event"),
    (IN, None, False, "current consent state unavailable"),
    (IN, CONSENT_UNAVAILABLE, False, "current consent state unavailable"),
    (IN, NEW_POLICY_NOW, False, "consent now under policy 2027-01"),
    (IN, IN_AGAIN, False, "consent changed since the event"),
])
def test_learning_gate_truth_table(then: Any, now: Any, allowed: bool, why: str) -> None:
    gate = learning_gate(then, now, event_time=AT)
    assert gate.allowed is allowed
    assert why in gate.reason
    assert allowed or gate.reason.startswith("no_consent: ")


def test_a_refused_label_leaves_the_model_untouched() -> None:
    model = ScamMessageModel(KEY)
    blob = model.snapshot()
    outcome = learn_from_label(model, {"w:hi": 1.0}, True, consent_at_event=IN,
                               consent_now=OUT_LATER, event_time=AT)
    assert not outcome.learned and outcome.reason == "no_consent: opted out since the event"
    assert outcome.as_dict() == {"model": model.id, "learned": False,
                                 "reason": "no_consent: opted out since the event", "label": True}
    assert model.snapshot() == blob


def test_an_allowed_label_teaches_and_records_the_consent_and_state() -> None:
    model = ScamMessageModel(KEY)
    outcome = learn_from_label(model, {"w:hi": 1.0}, True, consent_at_event=IN, consent_now=IN,
                               event_time=AT)
    assert outcome.learned and outcome.reason == "learned"
    assert outcome.consent == IN.audit() and outcome.state_version == "1.1"
    assert model.n_labels == 1


def test_a_failing_model_is_an_error_outcome_not_an_exception() -> None:
    class Broken(Spy):
        def learn(self, x: dict[str, Any], label: bool) -> None:
            raise RuntimeError("disk full")

    outcome = learn_from_label(Broken(), {"event": "e"}, False, consent_at_event=IN,
                               consent_now=IN, event_time=AT)
    assert not outcome.learned and outcome.reason == "error: RuntimeError: disk full"
