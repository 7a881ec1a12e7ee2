"""The rule library: shipped rules prove themselves, broken rule sets are refused whole, and
valid sets evaluate as their YAML says."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path
from typing import Any

import cel
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.core import Context, decide
from detectors.errors import RuleProblem, RuleSetInvalid
from detectors.examples import example_event
from detectors.features import example_features
from detectors.results import DetectorResult
from detectors.rule import CompiledRule, program_reads
from detectors.ruleset import (
    RuleSet,
    compile_file,
    default_sources,
    load_rules,
    run_examples,
    sources_from_dir,
)
from schemas import decode_event_obj

#: The engine tests below run on a pinned copy of the library's first two rules, so the shipped
#: library can grow and be retuned (its own inline examples test it) without rewriting them.
FIXTURES = Path(__file__).parent / "rule_fixtures"
PAYMENT = "message.off_platform_payment.yaml"
DEVICE = "signup.shared_device_ring.yaml"

#: A valid extra rule used by the evaluation tests; its reason uses event, payload and features.
STRANGERS = "message.many_strangers.yaml"
STRANGERS_YAML = """\
id: message.many_strangers
version: 1
owner: trust-safety-tests
description: A sender writes to many people without a contract within an hour.
event_types: [message.sent]
condition: features.sender_strangers_1h >= 5
severity: medium
score: 0.5
reason: >-
  {{ event.subject_id }} messaged {{ features.sender_strangers_1h }} strangers in 1h,
  latest {{ payload.recipient_id }}, account age {{ features.account_age_seconds }}s
mode: enforce
examples:
  - name: five strangers in an hour
    expect: flag
    features: {sender_strangers_1h: 5}
  - name: four strangers in an hour
    expect: pass
    features: {sender_strangers_1h: 4}
"""

#: Valid (its examples pass), but its condition reads a payload key that does not exist
#: whenever a message has more than 50 attachments. Sorted before the payment rule.
BROKEN = "message.aaa_broken.yaml"
BROKEN_YAML = """\
id: message.aaa_broken
version: 1
owner: trust-safety-tests
description: Reads a payload field that does not exist for some messages.
event_types: [message.sent]
condition: 'payload.attachment_count > 50 ? payload.no_such_field == "x" : payload.text == "trigger"'
severity: low
score: 0.1
reason: triggered
examples:
  - name: the trigger word
    expect: flag
    payload: {text: trigger}
  - name: anything else
    expect: pass
    payload: {text: hello}
"""


# ---- helpers ---------------------------------------------------------------------------------


def engine_sources() -> dict[str, str]:
    return sources_from_dir(FIXTURES)


def sources(**extra: str) -> dict[str, str]:
    out = engine_sources()
    out.update({name.replace("__", "."): text for name, text in extra.items()})
    return out


def replaced(srcs: dict[str, str], file_name: str, old: str, new: str) -> dict[str, str]:
    assert srcs[file_name].count(old) == 1, f"{old!r} must occur once in {file_name}"
    return {**srcs, file_name: srcs[file_name].replace(old, new)}


def edited(srcs: dict[str, str], file_name: str, **changes: Any) -> dict[str, str]:
    """Change top-level fields of one rule through YAML (not text surgery)."""
    data = yaml.safe_load(srcs[file_name])
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return {**srcs, file_name: yaml.safe_dump(data, sort_keys=False)}


def problems(srcs: dict[str, str]) -> list[RuleProblem]:
    with pytest.raises(RuleSetInvalid) as info:
        load_rules(srcs)
    assert info.value.problems, "a refused set must say why"
    for problem in info.value.problems:
        assert problem.file and problem.field and problem.message
        assert str(problem) in str(info.value)
    return info.value.problems


def only_problem(srcs: dict[str, str], file_name: str, field: str, *needles: str) -> RuleProblem:
    found = problems(srcs)
    matching = [p for p in found if p.file == file_name and p.field == field]
    assert matching, f"no problem for {file_name}:{field} in {found}"
    for needle in needles:
        assert any(needle in p.message for p in matching), (needle, matching)
    # Only the broken file is blamed; the valid ones beside it are not.
    assert {p.file for p in found} == {file_name}, found
    return matching[0]


def message(payload: dict[str, Any] | None = None, **envelope: Any) -> Any:
    return decode_event_obj(example_event("message.sent", payload, **envelope))


def signup(payload: dict[str, Any] | None = None) -> Any:
    return decode_event_obj(example_event("user.signed_up", payload))


def results_by_id(decision: Any) -> dict[str, Any]:
    return {r.detector_id: r for r in decision.results}


# ---- the shipped library ---------------------------------------------------------------------


def test_shipped_library_loads_and_has_both_rules() -> None:
    rules = load_rules()
    assert {"message.off_platform_payment", "signup.shared_device_ring"} <= set(rules.by_id)
    assert len(rules.rules) == len(default_sources())


@pytest.mark.parametrize("rule", load_rules().rules, ids=lambda r: r.id)
def test_shipped_rule_inline_examples_behave_as_stated(rule: Any) -> None:
    outcomes = run_examples(rule)
    assert len(outcomes) >= len(rule.spec.examples) >= 2
    assert {o.expect for o in outcomes} == {"flag", "pass"}
    failed = [o for o in outcomes if not o.passed]
    assert not failed, failed


def test_run_examples_reports_what_each_example_actually_did() -> None:
    outcomes = run_examples(load_rules().by_id["message.off_platform_payment"])
    got = {o.name: o.got for o in outcomes}
    assert got["asks to be paid through PayPal before any contract"] == "flag"
    assert got["payment talk inside an active contract is allowed"] == "pass"
    flagged = [o for o in outcomes if o.got == "flag"]
    assert all(o.detail for o in flagged)  # the rendered reason


# ---- refusals --------------------------------------------------------------------------------


def test_refuses_invalid_yaml() -> None:
    srcs = {**engine_sources(), PAYMENT: engine_sources()[PAYMENT] + "\n  broken: [unclosed\n"}
    only_problem(srcs, PAYMENT, "(file)", "not valid YAML")


def test_refuses_a_file_that_is_not_a_mapping() -> None:
    only_problem({**engine_sources(), PAYMENT: "- just\n- a list\n"}, PAYMENT, "(file)", "mapping")


@pytest.mark.parametrize("field", ["owner", "condition", "severity", "examples"])
def test_refuses_missing_required_field(field: str) -> None:
    only_problem(edited(engine_sources(), PAYMENT, **{field: None}), PAYMENT, field, "required")


def test_refuses_out_of_range_score() -> None:
    only_problem(edited(engine_sources(), PAYMENT, score=1.5), PAYMENT, "score", "1")


def test_refuses_cel_syntax_error_in_condition() -> None:
    srcs = edited(engine_sources(), PAYMENT, condition="payload.text == && true")
    only_problem(srcs, PAYMENT, "condition", "CEL syntax error")


def test_refuses_cel_syntax_error_in_reason_placeholder() -> None:
    srcs = edited(engine_sources(), DEVICE, reason="{{ features.device_accounts_24h + }} accounts")
    only_problem(srcs, DEVICE, "reason", "not valid CEL")


def test_refuses_regex_that_re2_cannot_compile() -> None:
    patterns = yaml.safe_load(engine_sources()[PAYMENT])["patterns"]
    # Lookahead is fine for Python's re but not for RE2 (no backtracking features).
    srcs = edited(engine_sources(), PAYMENT, patterns={**patterns, "contact": r"whats(?=app)"})
    problem = only_problem(srcs, PAYMENT, "patterns.contact", "not a valid RE2 regex")
    assert "contact" in problem.field


def test_refuses_re2_call_to_an_undeclared_pattern() -> None:
    srcs = edited(engine_sources(), PAYMENT,
                  condition='!payload.has_active_contract && re2("undeclared", payload.text)')
    only_problem(srcs, PAYMENT, "condition", "'undeclared'", "not declared under patterns")


def test_refuses_re2_find_of_an_undeclared_pattern_in_the_reason() -> None:
    srcs = edited(engine_sources(), PAYMENT, reason='found {{ re2_find("iban", payload.text) }}')
    only_problem(srcs, PAYMENT, "reason", "'iban'", "not declared under patterns")


def test_refuses_unknown_variable() -> None:
    srcs = edited(engine_sources(), PAYMENT, condition="!payload.has_active_contract && user.banned")
    only_problem(srcs, PAYMENT, "condition", "unknown variable 'user'")


def test_comprehension_variables_are_not_unknown_variables() -> None:
    srcs = edited(engine_sources(), PAYMENT, condition=(
        '!payload.has_active_contract && ["paypal ", "whatsapp", "@gmail.com"]'
        '.exists(w, lower(payload.text).contains(w))'))
    load_rules(srcs)  # would raise if `w` were taken for an unknown variable


@pytest.mark.parametrize("condition", [
    'payload.text.matches("(?i)venmo")',
    'matches(payload.text, "(?i)venmo")',
])
def test_refuses_cel_matches_pointing_to_re2(condition: str) -> None:
    srcs = edited(engine_sources(), PAYMENT, condition=condition)
    problem = only_problem(srcs, PAYMENT, "condition", "matches() is not allowed")
    assert "re2(" in problem.message


def test_refuses_duplicate_rule_id() -> None:
    srcs = {**engine_sources(), "message.off_platform_payment.yml": engine_sources()[PAYMENT]}
    found = problems(srcs)
    duplicate = [p for p in found if p.field == "id" and "duplicate" in p.message]
    assert len(duplicate) == 1
    # One of the two files is blamed, and the message names the other.
    other = {PAYMENT, "message.off_platform_payment.yml"} - {duplicate[0].file}
    assert other.pop() in duplicate[0].message


def test_refuses_rule_id_that_differs_from_its_file_name() -> None:
    srcs = engine_sources()
    srcs["message.renamed.yaml"] = srcs.pop(PAYMENT)
    only_problem(srcs, "message.renamed.yaml", "id", "message.off_platform_payment", "message.renamed")


def test_refuses_malformed_rule_id() -> None:
    srcs = engine_sources()
    text = srcs.pop(PAYMENT).replace("id: message.off_platform_payment", "id: Message-Payment")
    only_problem({**srcs, "Message-Payment.yaml": text}, "Message-Payment.yaml", "id")


def test_refuses_unknown_event_type() -> None:
    srcs = edited(engine_sources(), PAYMENT, event_types=["message.sent", "message.edited"])
    only_problem(srcs, PAYMENT, "event_types", "unknown event type 'message.edited'")


def test_refuses_unknown_feature_in_an_example() -> None:
    srcs = replaced(engine_sources(), DEVICE,
                    "features: {device_accounts_24h: 3, ip24_accounts_1h: 3}",
                    "features: {device_accounts_24h: 3, ip24_accounts_1h: 3, device_accounts_7d: 9}")
    only_problem(srcs, DEVICE, "examples.0.features", "unknown feature 'device_accounts_7d'")


def test_refuses_example_that_passes_but_says_it_flags() -> None:
    data = yaml.safe_load(engine_sources()[PAYMENT])
    data["examples"].append({"name": "an innocent question", "expect": "flag",
                             "payload": {"text": "Is the brief final?", "has_active_contract": False}})
    srcs = {**engine_sources(), PAYMENT: yaml.safe_dump(data, sort_keys=False)}
    only_problem(srcs, PAYMENT, "examples", "'an innocent question' should flag but got pass")


def test_refuses_example_that_flags_but_says_it_passes() -> None:
    data = yaml.safe_load(engine_sources()[DEVICE])
    data["examples"].append({"name": "a fourth account", "expect": "pass",
                             "features": {"device_accounts_24h": 4, "ip24_accounts_1h": 1}})
    srcs = {**engine_sources(), DEVICE: yaml.safe_dump(data, sort_keys=False)}
    only_problem(srcs, DEVICE, "examples", "'a fourth account' should pass but got flag")


def test_refuses_example_whose_event_is_not_valid() -> None:
    data = yaml.safe_load(engine_sources()[PAYMENT])
    data["examples"].append({"name": "contract as a string", "expect": "pass",
                             "payload": {"has_active_contract": "yes"}})
    srcs = {**engine_sources(), PAYMENT: yaml.safe_dump(data, sort_keys=False)}
    only_problem(srcs, PAYMENT, "examples", "should pass but got invalid", "has_active_contract")


def test_refuses_rule_without_a_pass_example() -> None:
    data = yaml.safe_load(engine_sources()[DEVICE])
    data["examples"] = [e for e in data["examples"] if e["expect"] == "flag"]
    assert len(data["examples"]) >= 2
    srcs = {**engine_sources(), DEVICE: yaml.safe_dump(data, sort_keys=False)}
    only_problem(srcs, DEVICE, "examples", "must pass")


def test_refuses_rule_without_a_flag_example() -> None:
    data = yaml.safe_load(engine_sources()[DEVICE])
    data["examples"] = [e for e in data["examples"] if e["expect"] == "pass"]
    srcs = {**engine_sources(), DEVICE: yaml.safe_dump(data, sort_keys=False)}
    only_problem(srcs, DEVICE, "examples", "must flag")


def test_reports_every_broken_file_at_once() -> None:
    srcs = edited(engine_sources(), PAYMENT, condition="payload.text ==")
    srcs = edited(srcs, DEVICE, event_types=["user.signed_in"])
    found = problems(srcs)
    assert {(p.file, p.field) for p in found} >= {(PAYMENT, "condition"), (DEVICE, "event_types")}


# ---- evaluating valid sets -------------------------------------------------------------------


def test_changed_threshold_evaluates_differently() -> None:
    srcs = replaced(engine_sources(), DEVICE, "features.device_accounts_24h >= 3",
                    "features.device_accounts_24h >= 4")
    srcs = replaced(srcs, DEVICE, "features: {device_accounts_24h: 3, ip24_accounts_1h: 3}",
                    "features: {device_accounts_24h: 4, ip24_accounts_1h: 3}")
    stricter, shipped = load_rules(srcs), load_rules(engine_sources())
    features = {**example_features("user.signed_up"), "device_accounts_24h": 3, "ip24_accounts_1h": 1}
    event = signup()
    assert [r.detector_id for r in decide(event, Context(features), shipped).findings] == [
        "signup.shared_device_ring"]
    assert decide(event, Context(features), stricter).findings == ()
    four = {**features, "device_accounts_24h": 4}
    assert len(decide(event, Context(four), stricter).findings) == 1


def test_shadow_rule_fires_as_shadow_hit_not_finding() -> None:
    srcs = {**engine_sources(), STRANGERS: STRANGERS_YAML.replace("mode: enforce", "mode: shadow")}
    rules = load_rules(srcs)
    features = {**example_features("message.sent"), "sender_strangers_1h": 7}
    decision = decide(message(), Context(features), rules)
    assert decision.findings == ()
    assert [r.detector_id for r in decision.shadow_hits] == ["message.many_strangers"]
    hit = decision.shadow_hits[0]
    assert hit.mode == "shadow" and hit.fired and hit.score == 0.5


def test_shadow_rule_that_does_not_match_is_not_a_hit() -> None:
    srcs = {**engine_sources(), STRANGERS: STRANGERS_YAML.replace("mode: enforce", "mode: shadow")}
    features = {**example_features("message.sent"), "sender_strangers_1h": 2}
    decision = decide(message(), Context(features), load_rules(srcs))
    assert decision.shadow_hits == () and decision.findings == ()


@pytest.mark.parametrize("spelling", ["mode: off", 'mode: "off"'])
def test_off_rule_is_skipped_and_never_fires(spelling: str) -> None:
    # Unquoted, YAML 1.1 reads `off` as false; a rule author writes it that way all the same.
    srcs = {**engine_sources(), STRANGERS: STRANGERS_YAML.replace("mode: enforce", spelling)}
    rules = load_rules(srcs)
    features = {**example_features("message.sent"), "sender_strangers_1h": 50}
    result = results_by_id(decide(message(), Context(features), rules))["message.many_strangers"]
    assert result.fired is False
    assert result.mode == "off"
    assert result.skipped and "off" in result.skipped
    # Its examples were still checked as if enforced.
    assert all(o.passed for o in run_examples(rules.by_id["message.many_strangers"]))


def test_runtime_error_is_reported_and_other_rules_still_run() -> None:
    rules = load_rules({**engine_sources(), BROKEN: BROKEN_YAML})
    assert [r.id for r in rules.for_type("message.sent")][0] == "message.aaa_broken"
    event = message({"text": "send it to my venmo please", "has_active_contract": False,
                     "attachment_count": 60})
    decision = decide(event, Context(example_features("message.sent")), rules)
    by_id = results_by_id(decision)
    broken = by_id["message.aaa_broken"]
    assert broken.fired is False
    assert broken.skipped is not None and broken.skipped.startswith("error:")
    assert "no_such_field" in broken.skipped
    assert by_id["message.off_platform_payment"].fired
    assert [r.detector_id for r in decision.findings] == ["message.off_platform_payment"]


def test_rule_with_runtime_error_still_works_where_it_can() -> None:
    rules = load_rules({**engine_sources(), BROKEN: BROKEN_YAML})
    result = results_by_id(decide(message({"text": "trigger"}), Context({}), rules))
    assert result["message.aaa_broken"].fired and result["message.aaa_broken"].skipped is None


def test_missing_feature_at_runtime_is_an_error_result() -> None:
    results = load_rules(engine_sources()).evaluate(signup(), {"ip24_accounts_1h": 1})
    assert len(results) == 1
    assert results[0].skipped is not None and results[0].skipped.startswith("error:")
    assert not results[0].fired


def test_reason_template_is_filled_from_event_payload_and_features() -> None:
    rules = load_rules({**engine_sources(), STRANGERS: STRANGERS_YAML})
    features = {**example_features("message.sent"), "sender_strangers_1h": 6,
                "account_age_seconds": 1209600.0}
    event = message({"sender_id": "u_spammer", "recipient_id": "u_target"})
    result = results_by_id(decide(event, Context(features), rules))["message.many_strangers"]
    assert result.fired
    assert result.reason == ("u_spammer messaged 6 strangers in 1h, latest u_target, "
                             "account age 1209600s")


def test_reason_of_shipped_device_rule_names_both_counts() -> None:
    features = {**example_features("user.signed_up"), "device_accounts_24h": 4, "ip24_accounts_1h": 7}
    (finding,) = decide(signup(), Context(features), load_rules(engine_sources())).findings
    assert finding.reason == ("4 accounts signed up from one device in 24h "
                              "(7 from the same /24 network in the last hour)")


def test_reason_of_payment_rule_quotes_the_matched_words() -> None:
    event = message({"text": "Just pay me with Zelle or western  union", "has_active_contract": False})
    (finding,) = decide(event, Context({}), load_rules(engine_sources())).findings
    assert '("Zelle")' in finding.reason
    contact = message({"text": "add me on Telegram", "has_active_contract": False})
    (finding,) = decide(contact, Context({}), load_rules(engine_sources())).findings
    assert '("Telegram")' in finding.reason


def test_passing_rule_has_empty_reason_and_zero_score() -> None:
    (result,) = load_rules(engine_sources()).evaluate(message({"text": "see you tomorrow"}), {})
    assert not result.fired and result.reason == "" and result.score == 0.0


def test_fingerprint_is_stable_for_the_same_sources() -> None:
    assert load_rules().fingerprint == load_rules(default_sources()).fingerprint
    assert load_rules(dict(reversed(list(default_sources().items())))).fingerprint == \
        load_rules().fingerprint


def test_fingerprint_changes_when_any_source_changes() -> None:
    base = load_rules(engine_sources()).fingerprint
    reworded = replaced(engine_sources(), DEVICE, "owner: trust-safety-accounts",
                        "owner: trust-safety-accounts-2")
    assert load_rules(reworded).fingerprint != base
    added = {**engine_sources(), STRANGERS: STRANGERS_YAML}
    assert load_rules(added).fingerprint not in {base, load_rules(reworded).fingerprint}


def test_rules_only_run_for_their_event_types() -> None:
    rules = load_rules(engine_sources())
    assert [r.id for r in rules.for_type("user.signed_up")] == ["signup.shared_device_ring"]
    assert rules.for_type("review.decided") == ()
    proposal = decode_event_obj(example_event("proposal.submitted"))
    assert rules.evaluate(proposal, {}) == []


# ---- contexts hold only what the rules read --------------------------------------------------


@pytest.mark.parametrize(("source", "reads"), [
    ("payload.text", {"payload": {"text"}}),
    ("payload . text == 'a' && has(payload.sender_id)", {"payload": {"text", "sender_id"}}),
    ("event.payload.text", {"event": {"payload"}}),
    ("features.x.exists(d, d == payload.y)", {"features": {"x"}, "payload": {"y"}}),
    # Any other use reads the variable whole.
    ("payload.text + payload['sender_id']", {"payload": None}),
    ("size(features) > 0", {"features": None}),
    ("'text' in payload", {"payload": None}),
    ("payload.size() > 1", {"payload": None}),
    ("features.exists(k, k == 'a')", {"features": None}),
    ("[1].exists(payload, payload > 0)", {"payload": None}),
    ('payload.text == "the payload"', {"payload": None}),
    ("payload.text // payload\n == 'a'", {"payload": None}),
    # A field of something else, not the variable; inside a string it adds a harmless field.
    ("features.a.payload", {"features": {"a"}}),
    ('payload.text == "x.features"', {"payload": {"text"}}),
    ('payload.text == "payload.x"', {"payload": {"text", "x"}}),
])
def test_program_reads_counts_only_plain_field_selects_as_fields(
        source: str, reads: dict[str, set[str] | None]) -> None:
    assert program_reads(cel.compile(source)) == {
        name: None if fields is None else frozenset(fields) for name, fields in reads.items()}


#: (condition, reason) pairs that need more than the fields a naive scan would find, or
#: exactly the fields and their absence. Every one must behave as with everything converted.
TRICKY_RULES = [
    # The reason reads fields no condition reads, in all three variables.
    ("features.sender_strangers_1h >= 1",
     "{{ event.subject_id }} to {{ payload.recipient_id }}, "
     "{{ int(features.account_age_seconds) }}s"),
    ("has(payload.text) && !has(payload.no_such_field) && has(features.sender_strangers_1h)",
     "has"),
    ("!has(features.sender_strangers_1h)", "no count"),
    ("size(features) == 2", "{{ size(features) }} features"),
    ('"text" in payload && !("nope" in payload)', "in"),
    ('payload["has_active_contract"] == false', '{{ payload["sender_id"] }}'),
    ('features.exists(k, k == "sender_strangers_1h")', "exists"),
    ('[payload.text].exists(features, features == "hello")', "bound"),
    ('payload.text != "payload" && payload.recipient_id != "features.x"', "{{ payload.text }}"),
    ('event.type == "message.sent" && size(event) > 3',
     "{{ event.event_id }} at {{ event.occurred_at }}"),
    ("event.payload.text == payload.text", "{{ event.payload.sender_id }}"),
    ("payload.size() >= 6", "{{ size(payload) }} fields"),
    ("features.sender_strangers_1h >= 0 // a comment ending in a dot.\n && payload.text != ''",
     "{{ payload.thread_id }}"),
    ('payload.no_such_field == "x"', "never"),
    ("features.not_supplied > 1", "never"),
]


def adhoc_rules(pairs: list[tuple[str, str]]) -> RuleSet:
    """Message rules made of (condition, reason) pairs, compiled without running examples."""
    compiled = []
    for i, (condition, reason) in enumerate(pairs):
        rule_id = f"message.case_{i:02d}"
        text = yaml.safe_dump({
            "id": rule_id, "version": 1, "owner": "tests",
            "description": "A rule made up for a test.", "event_types": ["message.sent"],
            "condition": condition, "severity": "low", "score": 0.5, "reason": reason,
            "examples": [{"name": "a", "expect": "flag"}, {"name": "b", "expect": "pass"}],
        })
        rule, found = compile_file(f"{rule_id}.yaml", text)
        assert rule is not None, found
        compiled.append(rule)
    return RuleSet(tuple(compiled), "adhoc")


def with_everything_converted(rule: CompiledRule, event: Any,
                              features: dict[str, Any]) -> tuple[Any, str]:
    """(fired, reason), or ("error", why): the rule run on the whole envelope, payload and features,
    as rules were evaluated before contexts held only what they read."""
    data = event.model_dump(mode="json")
    context = cel.Context(variables={"event": data, "payload": data["payload"],
                                     "features": dict(features)})
    context.add_function("re2", lambda name, text: rule.patterns[name].search(text) is not None)
    context.add_function("lower", lambda text: text.lower())
    try:
        fired = rule.program.execute(context)
        reason = "".join(part if isinstance(part, str) else str(part.execute(context))
                         for part in rule.reason_parts) if fired else ""
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"
    return fired, reason


@pytest.mark.parametrize("features", [
    {"sender_strangers_1h": 3, "account_age_seconds": 86400.0},
    {},
    {**example_features("message.sent"), "sender_strangers_1h": 0},
], ids=["two features", "no features", "every feature"])
@pytest.mark.parametrize("payload", [
    {"text": "hello", "has_active_contract": False, "sender_id": "u_a", "recipient_id": "u_b"},
    {"text": "payload", "has_active_contract": True, "attachment_count": 3},
], ids=["no contract", "contract"])
def test_minimal_context_evaluates_as_if_everything_were_converted(
        payload: dict[str, Any], features: dict[str, Any]) -> None:
    event = message(payload)
    # Together, some rules make others' variables whole; alone, each gets just what it reads.
    for pairs in [TRICKY_RULES, *([pair] for pair in TRICKY_RULES)]:
        rules = adhoc_rules(pairs)
        got = [("error", r.skipped.removeprefix("error: ")) if r.skipped else (r.fired, r.reason)
               for r in rules.evaluate(event, features)]
        assert got == [with_everything_converted(rule, event, features) for rule in rules.rules]


def test_tricky_rules_do_fire_and_do_fail_where_they_should() -> None:
    # So that the comparison above is not vacuous.
    rules = adhoc_rules(TRICKY_RULES)
    event = message({"text": "hello", "has_active_contract": False, "recipient_id": "u_b"})
    results = rules.evaluate(event, {"sender_strangers_1h": 3, "account_age_seconds": 86400.0})
    fired = {r.detector_id for r in results if r.fired}
    assert {f"message.case_{i:02d}" for i in (0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)} <= fired
    assert results[0].reason.endswith("to u_b, 86400s")
    assert results[3].reason == "2 features"
    assert [r.detector_id for r in results if r.skipped] == ["message.case_13", "message.case_14"]


def test_a_result_is_the_dataclass_it_would_be_if_built_field_by_field() -> None:
    rules = load_rules({**engine_sources(), STRANGERS: STRANGERS_YAML})
    features = {**example_features("message.sent"), "sender_strangers_1h": 6}
    event = message({"text": "hi", "recipient_id": "u_b"})
    quiet = rules.evaluate(event, {**features, "sender_strangers_1h": 1})
    loud = rules.evaluate(event, features)
    assert [r.fired for r in quiet] == [False, False] and [r.fired for r in loud] == [True, False]
    for got in quiet + loud:
        built = DetectorResult(**{f.name: getattr(got, f.name) for f in fields(DetectorResult)})
        assert got == built and vars(got) == vars(built) and type(got) is DetectorResult
    # What the rule engine always built for a rule that did not fire.
    assert quiet[0] == DetectorResult(
        detector_id="message.many_strangers", detector_version="1", is_ai=False, fired=False,
        mode="enforce", score=0.0, severity="medium", reason="", entity_type="user",
        entity_id="u_example", dedup_seconds=3600)
    assert quiet[0].evidence is not loud[0].evidence


def test_threads_evaluating_at_once_get_their_own_results() -> None:
    rules = load_rules({**engine_sources(), STRANGERS: STRANGERS_YAML})
    cases = [(message({"text": f"msg {i}", "recipient_id": f"u_{i}"}),
              {**example_features("message.sent"), "sender_strangers_1h": i % 9})
             for i in range(40)]
    alone = [rules.evaluate(event, features) for event, features in cases]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda case: rules.evaluate(*case), cases * 5))
    assert together == alone * 5


#: Loaded once for the 300 examples below (loading compiles every rule: ~0.1 s a time).
_LIBRARY = load_rules()


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200) | st.sampled_from([
    "send the deposit to my PayPal", "pay me via zelle now", "paypalooza", "my WhatsApp +44 7700 900123",
    "email jobs.hr@gmail.com", "ça coûte 5 € — payé par PayPal", "", "\U0001f4b8 venmo is @me"]))
def test_the_fast_re2_matcher_agrees_with_search_for_every_library_pattern(text: str) -> None:
    from detectors.regex import matcher
    for rule in _LIBRARY.rules:
        for name, pattern in rule.patterns.items():
            assert matcher(pattern)(text) == (pattern.search(text) is not None), (rule.id, name)


def test_rules_see_the_payload_fields_exactly_as_a_json_dump_gives_them() -> None:
    from pipeline.sim import generate  # the simulator's traffic: every event type

    rules = load_rules()
    for sim in generate(seed=3, count=600, fraud_rate=0.3):
        event = decode_event_obj(sim.envelope)
        plan = rules._plans.get(event.type)
        if plan is None:
            continue
        assert plan.envelope(event, None) == event.model_dump(mode="json", include=plan.include)


def test_rules_read_through_flat_variables_decide_exactly_as_through_the_maps() -> None:
    import dataclasses

    from detectors.features import assemble, plan_features
    from detectors.ruleset import _Evaluator
    from pipeline.sim import generate
    from pipeline.stores.features import MemoryFeatureStore

    rules, store = load_rules(), MemoryFeatureStore()
    assert all(plan.flat for plan in rules._plans.values())  # the library reads field by field
    maps = {kind: _Evaluator(dataclasses.replace(plan, flat=None))
            for kind, plan in rules._plans.items()}
    fired = 0
    for sim in generate(seed=5, count=3000, fraud_rate=0.3):
        event = decode_event_obj(sim.envelope)
        features = assemble(event, store.execute_sync(plan_features(event)))
        if event.type not in maps:
            continue
        flat = rules.evaluate(event, features)
        assert flat == maps[event.type].evaluate(event, features)
        fired += sum(r.fired for r in flat)
    assert fired > 50  # reasons rendered through flat variables too


def test_a_rule_using_a_variable_whole_reads_the_maps_and_a_missing_field_errs_as_before() -> None:
    from detectors.ruleset import _Evaluator, _Plan

    whole = _rule_from("message.sent", 'size(features) > 0 && "payload.text" != payload.text')
    assert _Plan.of((whole,)).flat is None
    unknown = _rule_from("message.sent", "features.no_such_feature > 1")
    plan = _Plan.of((unknown,))
    assert plan.flat is not None
    event = decode_event_obj(example_event("message.sent", {"text": "hi"}))
    (result,) = _Evaluator(plan).evaluate(event, example_features("message.sent"))
    assert result.skipped and "no_such_feature" in result.skipped  # the maps' error, not a stale value


def _rule_from(event_type: str, condition: str) -> CompiledRule:
    from detectors.rule import RuleSpec, compile_rule

    spec = RuleSpec.model_validate({
        "id": "message.probe", "version": 1, "owner": "t", "description": "a probe of the engine",
        "event_types": [event_type], "condition": condition, "severity": "low", "score": 0.1,
        "reason": "probe", "mode": "enforce",
        "examples": [{"name": "a", "expect": "flag", "payload": {}},
                     {"name": "b", "expect": "pass", "payload": {}}]})
    rule, problems = compile_rule(spec)
    assert rule is not None, problems
    return rule
