"""Hostile rule files (YAML alias bombs, deep nesting, huge or undecodable files) are refused
quickly, as problems naming file and field, by ``load_rules`` and ``vigil rules validate``."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from typer.testing import CliRunner

from detectors.errors import RuleSetInvalid
from detectors.rulefile import MAX_FILE_CHARS, MAX_NESTING
from detectors.ruleset import default_sources, load_rules, sources_from_dir
from pipeline.cli.main import app

RULE = "message.off_platform_payment.yaml"
T = TypeVar("T")


def billion_laughs() -> str:
    """The packaged rule with an example whose text is 9**9 (387 million) "lol"s by alias.
    Before rule files refused aliases, validating it took 46 s and 3 GB, then MemoryError."""
    levels = ['lol0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"lol{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    definitions = "".join(f"      {line}\n" for line in levels)
    bomb = ("  - name: bomb\n    expect: pass\n    payload:\n      has_active_contract: false\n"
            + definitions + "      text: *l8\n")
    return default_sources()[RULE].replace("examples:\n", "examples:\n" + bomb, 1)


def with_file(text: str) -> dict[str, str]:
    return {**default_sources(), RULE: text}


def refusal(sources: dict[str, str]) -> list[tuple[str, str, str]]:
    with pytest.raises(RuleSetInvalid) as refused:
        load_rules(sources)
    return [(p.file, p.field, p.message) for p in refused.value.problems]


def peak_bytes(call: Callable[[], T]) -> tuple[T, int]:
    """``call()``'s result and the most memory Python held while it ran: a bomb that was
    expanded, even briefly, shows here (387 million strings), whatever the machine's speed."""
    tracemalloc.start()
    try:
        return call(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_billion_laughs_is_refused_without_being_expanded() -> None:
    sources = {RULE: billion_laughs()}  # alone: what is measured is the bomb's refusal
    problems, peak = peak_bytes(lambda: refusal(sources))
    assert problems == [(RULE, "examples.0.payload.lol0",
                         "YAML anchors (&l0) are not allowed in rule files: write the value out")]
    assert peak < 20 * 1024 * 1024


def test_an_alias_alone_and_a_merge_key_are_refused_too() -> None:
    # An alias to an anchor defined in another document cannot exist, so only the alias is seen
    # when the anchor is on a key YAML reads first; the merge key is an alias as well.
    source = default_sources()[RULE]
    merged = source.replace("severity: high", "severity: high\n<<: *defaults", 1)
    ((file, field, message),) = refusal(with_file(merged))
    assert (file, field) == (RULE, "<<")
    assert "YAML aliases (*defaults) are not allowed" in message


@pytest.mark.parametrize("style", ["flow", "block"])
def test_very_deep_nesting_is_a_problem_report_not_a_traceback(style: str) -> None:
    depth = 20_000 if style == "flow" else 100  # within the size limit
    if style == "flow":
        value = "[" * depth + "1" + "]" * depth
    else:
        value = "".join(f"\n{'  ' * (i + 4)}k{i}:" for i in range(depth)) + " 1"
    source = default_sources()[RULE].replace(
        "examples:\n", f"examples:\n  - name: deep\n    expect: pass\n    payload:\n      x: {value}\n", 1)
    ((file, field, message),), peak = peak_bytes(lambda: refusal(with_file(source)))
    assert peak < 50 * 1024 * 1024  # refused while reading, not after building the nest
    assert file == RULE and field.startswith("examples.0.payload.x")
    assert message == f"nested more than {MAX_NESTING} levels deep; a rule file is much flatter"


def test_a_rule_file_too_long_or_not_utf8_is_a_problem_of_that_file(tmp_path: Path) -> None:
    (tmp_path / "proposal.burst.yaml").write_text(default_sources()["proposal.burst.yaml"])
    (tmp_path / RULE).write_text("# " + "x" * (4 * MAX_FILE_CHARS))
    (tmp_path / "signup.scripted_signup.yaml").write_bytes(b"id: signup.scripted_signup\n\xff\xfe")
    sources = sources_from_dir(tmp_path)
    assert len(sources[RULE]) == MAX_FILE_CHARS + 1  # read no further than that
    problems = refusal(sources)
    assert (RULE, "(file)", f"a rule file is at most {MAX_FILE_CHARS:,} characters; this one is "
                            "longer") in problems
    assert ("signup.scripted_signup.yaml", "(file)",
            "not UTF-8 text (an undecodable byte on line 2)") in problems


def test_vigil_rules_validate_reports_an_alias_bomb_as_a_problem_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / RULE).write_text(billion_laughs())
    result, peak = peak_bytes(lambda: CliRunner().invoke(
        app, ["rules", "validate", str(tmp_path)], env={"COLUMNS": "220"}))
    assert peak < 50 * 1024 * 1024
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "1 problem(s)" in result.output
    assert "examples.0.payload.lol0" in result.output
    assert "YAML anchors (&l0) are not allowed in rule files" in result.output
