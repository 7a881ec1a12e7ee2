"""The consent gate fails closed, and the consent registry answers what applied at a time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.consent import (
    CONSENT_UNAVAILABLE,
    CURRENT_POLICY_VERSION,
    ConsentRecord,
    consent_gate,
)
from detectors.examples import example_event
from pipeline.stores.consent import MemoryConsentStore
from schemas import ConsentChanged, decode_event_obj

EVENT_AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
BEFORE = EVENT_AT - timedelta(days=10)


def record(state: str = "opted_in", policy: str = CURRENT_POLICY_VERSION,
           changed_at: datetime = BEFORE) -> ConsentRecord:
    return ConsentRecord(state, policy, changed_at, "evt_consent")  # type: ignore[arg-type]


# ---- the gate's truth table ------------------------------------------------------------------


def test_opted_in_under_the_current_policy_is_allowed() -> None:
    rec = record()
    gate = consent_gate(rec, at=EVENT_AT)
    assert gate.allowed is True
    assert gate.reason == "opted_in"
    assert gate.record is rec


def test_consent_at_the_exact_event_time_counts() -> None:
    assert consent_gate(record(changed_at=EVENT_AT), at=EVENT_AT).allowed is True


def test_opted_out_is_refused() -> None:
    gate = consent_gate(record("opted_out"), at=EVENT_AT)
    assert gate.allowed is False
    assert gate.reason.startswith("no_consent:")
    assert "opted out" in gate.reason


def test_never_asked_is_refused() -> None:
    gate = consent_gate(None, at=EVENT_AT)
    assert gate.allowed is False
    assert gate.reason == "no_consent: never asked"
    assert gate.record is None


def test_unavailable_consent_state_is_refused() -> None:
    gate = consent_gate(CONSENT_UNAVAILABLE, at=EVENT_AT)
    assert gate.allowed is False
    assert gate.reason.startswith("no_consent:")
    assert "unavailable" in gate.reason


@pytest.mark.parametrize("policy", ["2025-06", "2026-02", ""])
def test_consent_under_another_policy_version_is_refused(policy: str) -> None:
    gate = consent_gate(record(policy=policy), at=EVENT_AT)
    assert gate.allowed is False
    assert gate.reason.startswith("no_consent:")
    assert CURRENT_POLICY_VERSION in gate.reason


def test_policy_version_is_compared_with_the_one_given() -> None:
    rec = record(policy="2027-01")
    assert consent_gate(rec, policy_version="2027-01", at=EVENT_AT).allowed is True
    assert CURRENT_POLICY_VERSION != "2027-01"
    assert consent_gate(rec, at=EVENT_AT).allowed is False


def test_record_changed_after_the_event_is_refused() -> None:
    gate = consent_gate(record(changed_at=EVENT_AT + timedelta(seconds=1)), at=EVENT_AT)
    assert gate.allowed is False
    assert gate.reason.startswith("no_consent:")
    assert "after the event" in gate.reason


def test_audit_record_says_what_allowed_the_scoring() -> None:
    audit = record().audit()
    assert audit == {"state": "opted_in", "policy_version": CURRENT_POLICY_VERSION,
                     "changed_at": BEFORE.isoformat(), "event_id": "evt_consent"}


# ---- the registry and the gate together ------------------------------------------------------

BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)
POLICIES = [CURRENT_POLICY_VERSION, "2025-06", "2026-02"]


def consent_event(user: str, state: str, policy: str, changed_at: datetime) -> ConsentChanged:
    return decode_event_obj(example_event(  # type: ignore[return-value]
        "consent.changed",
        {"user_id": user, "ai_features": state, "policy_version": policy,
         "changed_at": changed_at.isoformat()},
        occurred_at=changed_at.isoformat(),
    ))


changes = st.lists(
    st.tuples(st.sampled_from(["u_1", "u_2"]), st.sampled_from(["opted_in", "opted_out"]),
              st.sampled_from(POLICIES), st.integers(0, 1000)),
    max_size=25,
    unique_by=lambda c: (c[0], c[3]),  # one change per user per instant: "latest" is defined
)


@settings(max_examples=200, deadline=None)
@given(history=changes, asked_at=st.lists(st.integers(-5, 1005), min_size=1, max_size=10),
       shuffle=st.randoms(use_true_random=False), redeliver=st.booleans())
def test_registry_returns_the_latest_change_at_or_before_the_time(
        history: list[tuple[str, str, str, int]], asked_at: list[int],
        shuffle: object, redeliver: bool) -> None:
    events = [consent_event(u, s, p, BASE + timedelta(minutes=m)) for u, s, p, m in history]
    arrival = list(events) + (events[: len(events) // 2] if redeliver else [])
    shuffle.shuffle(arrival)  # type: ignore[attr-defined]  # out of order, maybe twice

    async def run() -> None:
        store = MemoryConsentStore()
        for e in arrival:
            await store.record(e)
        for user in ("u_1", "u_2", "u_never"):
            for minute in asked_at:
                at = BASE + timedelta(minutes=minute)
                got = await store.as_of(user, at)
                applicable = [(m, s, p) for u, s, p, m in history if u == user and m <= minute]
                if not applicable:
                    assert got is None
                    assert consent_gate(got, at=at).allowed is False
                    continue
                m, state, policy = max(applicable)
                assert got is not None
                assert (got.state, got.policy_version) == (state, policy)
                assert got.changed_at == BASE + timedelta(minutes=m)
                gate = consent_gate(got, at=at)
                assert gate.allowed is (state == "opted_in" and policy == CURRENT_POLICY_VERSION)

    asyncio.run(run())


async def test_registry_keeps_history_so_an_older_event_sees_older_consent() -> None:
    store = MemoryConsentStore()
    await store.record(consent_event("u_1", "opted_in", CURRENT_POLICY_VERSION, BASE))
    await store.record(consent_event("u_1", "opted_out", CURRENT_POLICY_VERSION,
                                     BASE + timedelta(days=2)))
    on_day_one = BASE + timedelta(days=1)
    assert consent_gate(await store.as_of("u_1", on_day_one), at=on_day_one).allowed
    on_day_three = BASE + timedelta(days=3)
    rec = await store.as_of("u_1", on_day_three)
    assert rec is not None and rec.state == "opted_out"
    assert not consent_gate(rec, at=on_day_three).allowed
    assert await store.as_of("u_1", BASE - timedelta(seconds=1)) is None
