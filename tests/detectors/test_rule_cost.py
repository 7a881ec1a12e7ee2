"""A rule's cost is bounded before a set is accepted (statically and measured on worst-case
events built from the contracts' limits) and watched at run time."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from detectors import ruleset
from detectors.cost import (
    MAX_COMPREHENSION_DEPTH,
    RULE_BUDGET_SECONDS,
    SAMPLE_EVERY,
    WATCH,
    Cost,
    bounds,
    deploy_limit,
    unbounded,
)
from detectors.errors import RuleSetInvalid
from detectors.examples import example_event
from detectors.rule import CompiledRule, comprehension_depth
from detectors.ruleset import (
    RuleSet,
    compile_file,
    default_sources,
    load_rules,
    measure_cost,
)
from pipeline.cli.main import app
from schemas.decode import decode_event_obj
from schemas.events import EVENT_MODELS

FILE = "job_post.skills_check.yaml"


def skills_rule(condition: str, **changes: object) -> str:
    """A job-post rule with ``condition``, whose examples hold for any of the conditions here."""
    return yaml.safe_dump({
        "id": "job_post.skills_check", "version": 1, "owner": "t-s",
        "description": "Checks a job post's skills against each other.",
        "event_types": ["job_post.created"], "condition": condition, "severity": "low",
        "score": 0.2, "reason": "skills", "examples": [
            {"name": "many skills", "expect": "flag", "payload": {"skills": ["a", "b", "c"]}},
            {"name": "no skills", "expect": "pass", "payload": {"skills": []}},
        ], **changes}, sort_keys=False)


#: The hardening report's rule: three nested comprehensions (36 s in shadow mode).
NESTED = ("size(payload.skills) > 1 && payload.skills.all(a, payload.skills.all(b, "
          "payload.skills.all(c, a + b + c != \"\")))")
#: Two levels (allowed), but each inner step copies and searches the description twice:
#: skills² × 40,000 characters, ~10 ms on the contracts' longest inputs.
DEAR = ("size(payload.skills) > 1 && payload.skills.all(a, payload.skills.all(b, "
        "!(a + payload.description + b + payload.description).contains(a + b + \"~\")))")


def refused(text: str) -> list[tuple[str, str, str]]:
    with pytest.raises(RuleSetInvalid) as error:
        load_rules({**default_sources(), FILE: text})
    return [(p.file, p.field, p.message) for p in error.value.problems]


def test_three_nested_comprehensions_are_refused_before_anything_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def measured(rule: CompiledRule) -> Cost:
        assert rule.id != "job_post.skills_check", "measured: the nesting is refused before"
        return measure_cost(rule)

    monkeypatch.setattr(ruleset, "measure_cost", measured)
    ((file, field, message),) = refused(skills_rule(NESTED))
    assert (file, field) == (FILE, "condition")
    assert message.startswith(f"comprehensions (all, exists, exists_one, map, filter) nest 3 "
                              f"deep; at most {MAX_COMPREHENSION_DEPTH} may nest")


def test_a_rule_dear_on_the_contracts_longest_inputs_is_refused_with_its_cost_and_the_budget() -> None:
    ((file, field, message),) = refused(skills_rule(DEAR))
    assert (file, field) == (FILE, "condition")
    # Grown are the fields it reads, and no others.
    assert "ms on a worst-case job_post.created (description: " in message
    assert "skills: " in message and "title" not in message
    assert (f"the budget is {deploy_limit() * 1e3:g} ms per evaluation before deploy "
            f"({RULE_BUDGET_SECONDS * 1e3:g} ms at run time") in message
    # Its own examples alone are cheap: only the worst case shows the cost.
    rule, problems = compile_file(FILE, skills_rule(DEAR))
    assert rule is not None and not problems


def test_the_same_search_without_the_nesting_is_accepted() -> None:
    cheap = ("size(payload.skills) > 1 && payload.skills.all(a, "
             "!(a + payload.description + payload.description).contains(a + \"~\"))")
    rules = load_rules({**default_sources(), FILE: skills_rule(cheap)})
    assert "job_post.skills_check" in rules.by_id


def test_every_packaged_rule_fits_the_budget_with_its_margin() -> None:
    for rule in load_rules().rules:
        cost = measure_cost(rule)
        assert cost.seconds < deploy_limit(), (rule.id, cost)


def test_conditions_and_reasons_are_bounded_in_length() -> None:
    long = " || ".join(["size(payload.skills) > 1"] * 100)
    ((_, field, message),) = refused(skills_rule(long))
    assert (field, message) == ("condition", "String should have at most 2000 characters")


@pytest.mark.parametrize(("source", "depth"), [
    ("payload.a.map(x, x).all(y, y > 0)", 1),  # chained, not nested
    ("payload.a.exists(x, payload.b.exists_one(y, x == y)) && payload.c.filter(z, z)", 2),
    ('payload.a.all(x, "y.all(b, c.all(d, 1))" != x) // .all(e, f.all(', 1),
    ("payload.a.all(x, (payload.b.all(y, (payload.c.all(z, x == y))))) ", 3),
])
def test_comprehension_depth_counts_nesting_only(source: str, depth: int) -> None:
    assert comprehension_depth(source) == depth


def test_every_text_and_list_an_event_contract_holds_is_bounded() -> None:
    # A rule reading a string or list the contract does not bound has no worst case.
    for event_type, model in EVENT_MODELS.items():
        assert unbounded(model.PAYLOAD_MODEL) == [], event_type
        assert {b.name for b in bounds(model.PAYLOAD_MODEL)} >= (
            {"text"} if event_type == "message.sent" else set())


def test_vigil_rules_validate_and_test_refuse_the_dear_rule(tmp_path: Path) -> None:
    for name, text in {**default_sources(), FILE: skills_rule(DEAR)}.items():
        (tmp_path / name).write_text(text)
    runner = CliRunner()
    validated = runner.invoke(app, ["rules", "validate", str(tmp_path)], env={"COLUMNS": "250"})
    assert validated.exit_code == 1
    assert "job_post.skills_check.yaml" in validated.output and "worst-case" in validated.output
    tested = runner.invoke(app, ["rules", "test", str(tmp_path)], env={"COLUMNS": "250"})
    assert tested.exit_code == 1
    assert "over budget" in tested.output and "1 failure(s)" in tested.output


# ---- run time ------------------------------------------------------------------------------


def unchecked(condition: str) -> RuleSet:
    """A set holding a rule that never went through the cost check (written to Redis by hand,
    or by an older Vigil)."""
    rule, problems = compile_file(FILE, skills_rule(condition))
    assert rule is not None, problems
    return RuleSet((rule,), "unchecked")


def big_job_post() -> object:
    return decode_event_obj(example_event("job_post.created", {
        "skills": [f"skill {i}" for i in range(50)], "description": "lorem ipsum " * 1600}))


def test_an_over_budget_rule_is_counted_logged_and_reported_at_run_time(
        caplog: pytest.LogCaptureFixture) -> None:
    rules, event = unchecked(DEAR), big_job_post()
    seen: list[tuple[str, float]] = []
    before = WATCH.counts.get("job_post.skills_check", 0)
    listener, WATCH.listener = WATCH.listener, lambda rule_id, s: seen.append((rule_id, s))
    try:
        (result,) = rules.evaluate(event, {})  # type: ignore[arg-type]
    finally:
        WATCH.listener = listener
    assert result.fired is True and result.skipped is None  # the result itself stands
    assert WATCH.counts["job_post.skills_check"] == before + 1
    ((rule_id, seconds),) = seen
    assert rule_id == "job_post.skills_check" and seconds > RULE_BUDGET_SECONDS
    assert "rule job_post.skills_check took" in caplog.text or before > 0


def test_run_time_timing_is_of_the_event_and_a_sample_not_of_every_rule() -> None:
    rules = load_rules()
    event = decode_event_obj(example_event("message.sent", {"text": "hello there"}))
    calls = 0
    listener, WATCH.listener = WATCH.listener, None
    budget, WATCH.budget = WATCH.budget, 0.0  # everything is over a zero budget
    slowest = dict(WATCH.counts)
    try:
        for _ in range(SAMPLE_EVERY):
            rules.evaluate(event, {})
            calls += 1
    finally:
        WATCH.budget, WATCH.listener = budget, listener
    per_rule = {k: v - slowest.get(k, 0) for k, v in WATCH.counts.items()}
    # Over a zero budget every event is over: each rule is timed on the first (attribution,
    # then at most once a second) and on the sampled one: 2 of 128, not 128.
    assert 1 <= per_rule["message.off_platform_payment"] <= 3
