"""The backtest: per-rule hits, precision and recall against ground truth, shadow rules counted but
not enforced, and the difference between a candidate rule set and the live one."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from detectors.examples import example_event
from detectors.ruleset import load_rules
from pipeline.local.embedded import free_port
from pipeline.offline.backtest import backtest, backtest_file, live_rule_set, read_labels
from pipeline.offline.replay import replay_lines
from pipeline.sim import SCENARIOS, generate, truth_record

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)

KEYWORD = """\
id: message.venmo_keyword
version: 1
owner: tests
description: Flags any message naming Venmo (deliberately naive, so it has a false positive).
event_types: [message.sent]
labels: [off_platform_payment]
condition: re2("venmo", payload.text)
patterns: {venmo: '(?i)\\bvenmo\\b'}
severity: high
score: 0.8
reason: names Venmo
examples:
  - {name: venmo, expect: flag, payload: {text: "pay me on venmo"}}
  - {name: plain, expect: pass, payload: {text: "hello"}}
"""

BURST = """\
id: proposal.burst_test
version: {version}
owner: tests
description: Flags a freelancer's proposals from the Nth within ten minutes.
event_types: [proposal.submitted]
labels: [proposal_spam]
condition: features.freelancer_proposals_10m >= {threshold}
severity: medium
score: 0.5
reason: burst
examples:
  - {{name: many, expect: flag, features: {{freelancer_proposals_10m: 9}}}}
  - {{name: one, expect: pass, features: {{freelancer_proposals_10m: 1}}}}
"""

FAST_SIGNUP = """\
id: signup.fast_test
version: 1
owner: tests
description: Shadow rule flagging signups faster than five seconds.
event_types: [user.signed_up]
labels: [fake_account_ring]
condition: payload.signup_duration_ms < 5000
severity: low
score: 0.3
reason: fast
mode: shadow
examples:
  - {name: fast, expect: flag, payload: {signup_duration_ms: 2000}}
  - {name: slow, expect: pass, payload: {signup_duration_ms: 40000}}
"""


def rules(threshold: int = 3, version: int = 1, **extra: str) -> Any:
    sources = {
        "message.venmo_keyword.yaml": KEYWORD,
        "proposal.burst_test.yaml": BURST.format(threshold=threshold, version=version),
        "signup.fast_test.yaml": FAST_SIGNUP,
    }
    sources.update(extra)
    return load_rules(sources)


def event(n: int, event_type: str, payload: dict[str, Any], scenario: str | None = None,
          ) -> tuple[dict[str, Any], str | None]:
    env = example_event(event_type, payload, event_id=str(uuid.uuid5(uuid.NAMESPACE_OID, str(n))),
                        occurred_at=(T0 + timedelta(seconds=30 * n)).isoformat())
    return env, scenario


def tiny_stream() -> list[tuple[dict[str, Any], str | None]]:
    """Hand-checkable: what each rule should do is noted per event."""
    return [
        # venmo rule: hits 1 (labelled) and 2 (benign), misses 3; 4 is clean.
        event(1, "message.sent", {"text": "Pay me via Venmo first", "has_active_contract": False},
              "off_platform_payment"),
        event(2, "message.sent", {"text": "Venmo integration for my shop?"}),
        event(3, "message.sent", {"text": "add me on telegram", "has_active_contract": False},
              "off_platform_payment"),
        event(4, "message.sent", {"text": "hello"}),
        # A report labelled off_platform_payment: not a message, so not in the venmo rule's recall.
        event(5, "user_report.filed", {"target_type": "message", "target_id": "m1"},
              "off_platform_payment"),
        # One spammer, 4 proposals within 2 minutes (counts 1..4), and one benign proposal.
        *[event(6 + i, "proposal.submitted",
                {"freelancer_id": "u_spam", "proposal_id": f"p{i}", "job_id": f"j{i}"},
                "proposal_spam") for i in range(4)],
        event(10, "proposal.submitted", {"freelancer_id": "u_ok", "proposal_id": "p9"}),
        # The shadow rule fires on the labelled fast signup only.
        event(11, "user.signed_up", {"user_id": "u_bot", "signup_duration_ms": 2000},
              "fake_account_ring"),
        event(12, "user.signed_up", {"user_id": "u_person", "signup_duration_ms": 40000}),
    ]


def lines_and_labels(stream: list[tuple[dict[str, Any], str | None]]) -> tuple[list[str], dict[str, str]]:
    lines = [json.dumps(env) for env, _ in stream]
    labels = {env["event_id"]: scenario for env, scenario in stream if scenario}
    return lines, labels


def test_precision_and_recall_per_rule_on_a_hand_checked_stream() -> None:
    lines, labels = lines_and_labels(tiny_stream())
    report = backtest(lines, rules(threshold=3), rules(threshold=3), labels=labels)

    venmo = report.row("message.venmo_keyword")
    assert (venmo.enforce_hits, venmo.labelled_hits) == (2, 1)
    assert venmo.precision == 0.5
    # Labelled off_platform_payment messages: events 1 and 3 (the report is another type).
    assert (venmo.target_hits, venmo.target_events, venmo.recall) == (1, 2, 0.5)

    burst = report.row("proposal.burst_test")
    assert (burst.enforce_hits, burst.precision) == (2, 1.0)  # the 3rd and 4th proposal
    assert (burst.target_hits, burst.target_events, burst.recall) == (2, 4, 0.5)

    assert report.events == 12 and report.invalid == 0 and report.labelled_events == 8
    assert all(row.status == "unchanged" and row.only_candidate == row.only_live == 0
               for row in report.rows)


def test_shadow_rule_hits_are_counted_but_never_enforced() -> None:
    lines, labels = lines_and_labels(tiny_stream())
    report = backtest(lines, rules(), rules(), labels=labels)

    fast = report.row("signup.fast_test")
    assert fast.mode == "shadow"
    assert (fast.shadow_hits, fast.enforce_hits) == (1, 0)
    assert (fast.precision, fast.recall) == (1.0, 1.0)
    # Nothing enforced flags the ring signup: it would open no case.
    ring = {s.scenario: s for s in report.scenarios}["fake_account_ring"]
    assert (ring.events, ring.caught) == (1, 0)
    # Enforced flags: venmo events 1 and 2, proposals 3 and 4; not the shadow hit.
    assert report.flagged == 4 and report.flagged_labelled == 3


def test_diff_finds_events_only_the_live_threshold_flags() -> None:
    lines, labels = lines_and_labels(tiny_stream())
    live = rules(threshold=2, version=1)
    candidate = rules(threshold=3, version=2)

    report = backtest(lines, candidate, live, labels=labels)

    burst = report.row("proposal.burst_test")
    assert burst.status == "changed" and (burst.live_version, burst.version) == (1, 2)
    assert (burst.enforce_hits, burst.live_hits) == (2, 3)
    assert (burst.only_candidate, burst.only_live) == (0, 1)
    second_proposal = json.loads(lines[6])["event_id"]
    assert burst.only_live_examples == (second_proposal,)
    assert (burst.recall, burst.live_recall) == (0.5, 0.75)
    assert report.row("message.venmo_keyword").status == "unchanged"


def test_live_version_without_labels_is_scored_against_the_candidates_labels() -> None:
    lines, labels = lines_and_labels(tiny_stream())
    unlabelled = BURST.format(threshold=2, version=1).replace("labels: [proposal_spam]\n", "")
    live = rules(**{"proposal.burst_test.yaml": unlabelled})
    assert live.by_id["proposal.burst_test"].spec.labels == []

    burst = backtest(lines, rules(threshold=3, version=2), live, labels=labels).row(
        "proposal.burst_test")

    assert (burst.recall, burst.live_recall) == (0.5, 0.75)


def test_diff_reports_added_removed_and_unbumped_edits() -> None:
    lines, labels = lines_and_labels(tiny_stream())
    live = rules()
    candidate_sources = dict(live.sources)
    del candidate_sources["signup.fast_test.yaml"]
    candidate_sources["message.venmo_keyword.yaml"] = KEYWORD.replace("score: 0.8", "score: 0.7")
    candidate_sources["message.hello_test.yaml"] = KEYWORD.replace(
        "message.venmo_keyword", "message.hello_test").replace(
        "re2(\"venmo\", payload.text)", "payload.text == \"hello\"").replace(
        "{name: plain, expect: pass, payload: {text: \"hello\"}}",
        "{name: plain, expect: pass, payload: {text: \"bye\"}}").replace(
        "{name: venmo, expect: flag, payload: {text: \"pay me on venmo\"}}",
        "{name: hello, expect: flag, payload: {text: \"hello\"}}")

    report = backtest(lines, load_rules(candidate_sources), live, labels=labels)

    added = report.row("message.hello_test")
    assert added.status == "added" and added.only_candidate == added.enforce_hits == 1
    removed = report.row("signup.fast_test")
    assert removed.status == "removed" and removed.only_live == removed.live_hits == 1
    assert report.row("message.venmo_keyword").status == "edited"


def test_scores_a_simulated_file_exactly_as_a_recount_of_replay() -> None:
    sims = list(generate(seed=3, count=1500, fraud_rate=0.15))
    lines = [json.dumps(s.envelope) for s in sims]
    labels = read_labels(json.dumps(truth_record(s)) for s in sims if s.scenario)
    library = load_rules()

    report = backtest(lines, library, library, labels=labels)

    hits: Counter[str] = Counter()
    labelled: Counter[str] = Counter()
    for record in replay_lines(lines, rules=library):
        for result in record["results"]:
            if result["fired"]:
                hits[result["detector_id"]] += 1
                labelled[result["detector_id"]] += record["event_id"] in labels
    assert sum(hits.values()) > 0
    for row in report.rows:
        assert row.hits == hits[row.rule_id], row.rule_id
        assert row.labelled_hits == labelled[row.rule_id], row.rule_id
        if row.hits:
            assert row.precision == labelled[row.rule_id] / hits[row.rule_id]
    assert report.events == 1500 and report.labelled_events == len(labels)


def test_backtest_file_reads_events_and_truth(tmp_path: Path) -> None:
    lines, labels = lines_and_labels(tiny_stream())
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([*lines, "{not json"]) + "\n")
    truth = tmp_path / "truth.jsonl"
    truth.write_text("".join(json.dumps({"event_id": k, "scenario": v}) + "\n"
                             for k, v in labels.items()))
    report = backtest_file(events, rules(), rules(), labels=truth)
    assert report.invalid == 1 and report.events == 12
    assert report.row("message.venmo_keyword").precision == 0.5
    as_json = json.loads(json.dumps(report.as_dict()))
    assert {r["rule_id"] for r in as_json["rules"]} == {
        "message.venmo_keyword", "proposal.burst_test", "signup.fast_test"}


def test_without_labels_there_is_no_precision_or_recall() -> None:
    lines, _ = lines_and_labels(tiny_stream())
    report = backtest(lines, rules(), rules())
    venmo = report.row("message.venmo_keyword")
    assert venmo.enforce_hits == 2 and venmo.precision is None and venmo.recall is None


def test_live_rule_set_falls_back_to_the_packaged_library_without_redis() -> None:
    rules_in_force, source = live_rule_set(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    assert rules_in_force.fingerprint == load_rules().fingerprint
    assert source.startswith("packaged library") and "unreachable" in source


@pytest.mark.parametrize("rule", load_rules().rules, ids=lambda r: r.id)
def test_library_rules_name_simulator_scenarios_as_labels(rule: Any) -> None:
    assert rule.spec.labels, "a library rule says which abuse it targets"
    assert set(rule.spec.labels) <= set(SCENARIOS)
