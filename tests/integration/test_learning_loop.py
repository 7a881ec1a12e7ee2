"""The learning loop on the embedded stack: sampled events open labelling cases, their decisions
teach the models, consent is the gate throughout, a restart neither repeats nor loses a sample,
the estimates cover the truth, reports label the reported content, and the worker samples what
``vigil replay`` samples."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest

from detectors.examples import example_event
from detectors.models import default_models
from detectors.sampling import draw
from pipeline.models.keys import APPLIED
from pipeline.offline.replay import replay_lines
from tests.support.labelling import (
    consent,
    decide,
    estimates,
    hours_ago,
    labelling_cases,
    message,
    publish,
    published_model,
    relay,
    samples,
)
from tests.support.stack import Stack
from tests.support.traffic import wait_caught_up, wait_processed
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
MODEL = "message.scam_model"
FINE = ["The second draft is in the shared folder", "Can we move our call to Thursday?",
        "I pushed the fixes to the staging branch", "The logo variants are attached"]


def test_a_sampled_event_opens_a_labelling_case_whose_decision_teaches_the_model(
        stack: Stack) -> None:
    stack.start_worker()
    events = [message("u_s", FINE[i % 4], i, contract=True) for i in range(3)]
    publish(stack, [consent("u_s", "opted_in", hours_ago(1)), *events])
    wait_processed(stack, {e["event_id"] for e in events})
    wait_caught_up(stack)
    # A cold model with no label asks about every consented event, within its budget.
    got = samples(stack)
    assert set(got) == {e["event_id"] for e in events}
    assert {s["reason"] for s in got.values()} <= {"cold_start", "random"}
    cases = labelling_cases(stack)
    assert len(cases) == 3 and not stack.client.zcard("vigil:queue")  # not detections
    first = events[0]["event_id"]
    assert decide(stack, lambda case: "legitimate" if case["samples"][0]["event_id"] == first
                  else None) == 1
    assert relay(stack) == 1
    wait_until(lambda: published_model(stack, MODEL).n_labels == 1, 60,
               message="the learner to learn the labelling case's decision")
    assert stack.client.scard(APPLIED) == 1


def test_an_opted_out_subject_is_never_sampled_and_never_learned_from(stack: Stack) -> None:
    stack.start_worker()
    publish(stack, [consent("u_in", "opted_in", hours_ago(2)),
                    consent("u_out", "opted_in", hours_ago(2)),
                    consent("u_out", "opted_out", hours_ago(1))])
    mine = [message(u, FINE[i % 4], i, contract=True) for i in range(4)
            for u in ("u_in", "u_out", "u_never")]
    publish(stack, mine)
    wait_processed(stack, {e["event_id"] for e in mine})
    wait_caught_up(stack)
    got = samples(stack)
    assert {e["subject_id"] for e in mine if e["event_id"] in got} == {"u_in"}
    # u_in opts out after being sampled: the decision on the case teaches nothing.
    publish(stack, [consent("u_in", "opted_out", hours_ago(0))])
    time.sleep(1.0)
    assert decide(stack, lambda case: "confirmed_fraud") == len(got)
    assert relay(stack) == len(got)
    wait_until(lambda: stack.client.scard(APPLIED) == len(got), 60,
               message="the learner to apply every decision")
    assert published_model(stack, MODEL).n_labels == 0


def test_a_restart_neither_repeats_nor_loses_a_sample(stack: Stack) -> None:
    users = [f"u_r{i}" for i in range(40)]
    consents = [consent(u, "opted_in", hours_ago(3)) for u in users[:30]]  # 10 never asked
    rng = random.Random(3)
    events = [message(rng.choice(users), FINE[i % 4] + f" ({i})", i,
                      at=hours_ago(2) + timedelta(seconds=i), contract=True, name="restart")
              for i in range(3000)]
    publish(stack, consents)
    worker = stack.start_worker("worker-a")
    publish(stack, events)
    wait_until(lambda: len(stack.ledger()) > 600, 60, message="the worker to be mid-stream")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(30)
    stack.start_worker("worker-b")
    wait_processed(stack, {e["event_id"] for e in events}, timeout=180)
    wait_caught_up(stack)
    got = samples(stack)
    seed, rate = stack.settings.sample_seed, stack.settings.sample_rate
    consented = {e["event_id"] for e in events if e["subject_id"] in users[:30]}
    expected_random = {e for e in consented if draw(seed, e) < rate}
    assert expected_random and {e for e, s in got.items() if s["reason"] == "random"} == expected_random
    assert set(got) <= consented
    # One case per sample, and the budget counted once per pick.
    cases = labelling_cases(stack)
    assert len(cases) == len(set(cases)) == len([s for s in got.values() if s["kind"] == "labelling"])
    # The budget is per day (UTC): the stream's 50 minutes may cross midnight.
    picks = Counter(s["day"] for s in got.values() if s["reason"] != "random")
    assert picks
    for day, n in picks.items():
        assert n <= stack.settings.sample_budget, day
        assert int(stack.client.get(f"vigil:sample_budget:{MODEL}:{day}") or 0) == n, day


def test_the_prevalence_estimate_on_traffic_with_known_truth_falls_within_its_interval(
        stack: Stack) -> None:
    # The sample is a fixed draw (event ids and the seed decide it), so this checks one draw
    # end to end: a 95 % interval misses the truth for one draw in twenty, which is why the
    # coverage itself is checked over hundreds of draws (tests/detectors/test_sampling.py).
    rng = random.Random(14)
    users = [f"u_p{i}" for i in range(300)]
    fraudsters = set(rng.sample(users, 30))
    scam = ["Send the deposit first and I will release the work",
            "Pay the registration fee to unlock the job today",
            "Transfer the fee before we start, it is refundable"]
    events = []
    for i in range(12_000):
        user = rng.choice(users)
        text = (rng.choice(scam) if user in fraudsters else rng.choice(FINE)) + f" #{i}"
        events.append(message(user, text, i, at=hours_ago(2) + timedelta(milliseconds=400 * i),
                              contract=user not in fraudsters, name="prevalence"))
    stack.start_worker()
    publish(stack, [consent(u, "opted_in", hours_ago(3)) for u in users])
    publish(stack, events)
    wait_processed(stack, {e["event_id"] for e in events}, timeout=240)
    wait_caught_up(stack)
    fraud_event = {e["event_id"]: e["subject_id"] in fraudsters for e in events}

    def truth(case: dict) -> str:
        ids = [f["event_id"] for f in case["flags"]] + [s["event_id"] for s in case["samples"]]
        return "confirmed_fraud" if any(fraud_event.get(e) for e in ids) else "legitimate"

    decide(stack, truth, kind="labelling")
    decide(stack, truth, kind="detection")
    est = estimates(stack)["prevalence"]["message.sent"]
    true_share = sum(fraud_event.values()) / len(fraud_event)
    assert est["decided"] >= 80
    assert est["low"] <= true_share <= est["high"], (true_share, est)
    assert est["high"] - est["low"] < 0.15


def test_a_decision_on_a_user_report_labels_the_reported_message(stack: Stack) -> None:
    stack.start_worker()
    scam = message("u_rep", "Send the money to my account first and we can start", 1,
                   contract=True, name="report")
    report = example_event("user_report.filed", {
        "reporter_id": "u_reporter", "target_type": "message", "target_id": "m1",
        "reason": "scam"}, event_id="7b7c2d0e-5d5f-4a37-9a53-0c3a1d1e0b77",
        subject_id="u_reporter")
    publish(stack, [consent("u_rep", "opted_in", hours_ago(1)), scam])
    wait_processed(stack, {scam["event_id"]})
    publish(stack, [report])
    wait_processed(stack, {report["event_id"]})
    wait_caught_up(stack)
    # The report joins the author's case (issue 19), which names the reported message.
    assert decide(stack, lambda case: "confirmed_fraud" if case["reported_content"]
                  else None, kind="detection") == 1
    assert relay(stack) == 1
    wait_until(lambda: published_model(stack, MODEL).n_positive == 1, 60,
               message="the learner to learn the reported message")


def test_the_worker_samples_what_replay_samples(single_partition_stack: Stack) -> None:
    stack = single_partition_stack
    users = [f"u_w{i}" for i in range(12)]
    consents = [consent(u, "opted_in", hours_ago(3)) for u in users[:8]]
    rng = random.Random(5)
    events = [message(rng.choice(users), FINE[i % 4] + f" {i}", i, name="parity",
                      at=hours_ago(2) + timedelta(seconds=i), contract=rng.random() < 0.8)
              for i in range(900)]
    for i in range(0, len(events), 37):  # a few that the payment rule flags
        events[i]["payload"]["text"] = "pay me on venmo instead, skip the fees"
        events[i]["payload"]["has_active_contract"] = False
    publish(stack, consents)
    stack.start_worker()
    publish(stack, events)
    wait_processed(stack, {e["event_id"] for e in events}, timeout=120)
    wait_caught_up(stack)
    lines = [json.dumps(e) for e in consents + events]
    offline = {r["event_id"]: r["review"]["reasons"] for r in replay_lines(
        lines, models=default_models(stack.settings.model_key()),
        sampling=stack.settings.sampling_policy())}
    expected = {e: reasons[-1] for e, reasons in offline.items()
                if reasons and reasons[-1] != "flag"}
    live = {e: s["reason"] for e, s in samples(stack).items()}
    assert live == expected and len(expected) > stack.settings.sample_budget
