"""``vigil rules``: validate and test offline; deploy, history, rollback, show and backtest against
the stack's real Redis (found through REDIS_URL / KAFKA_BOOTSTRAP_SERVERS, as in production)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from detectors.ruleset import default_sources
from pipeline.cli.main import app
from pipeline.rules.store import RuleStore
from pipeline.sim import generate, truth_record
from tests.support.stack import Stack

runner = CliRunner()
WIDE = {"COLUMNS": "220"}  # rich tables at full width, so cells are not cut


def library_copy(folder: Path, **changes: dict[str, object]) -> Path:
    """The packaged library in ``folder``, with top-level fields of some files changed."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in default_sources().items():
        stem = name.removesuffix(".yaml").replace(".", "__")
        if stem in changes:
            data = yaml.safe_load(text)
            data.update(changes[stem])
            text = yaml.safe_dump(data, sort_keys=False)
        (folder / name).write_text(text)
    return folder


def invoke(*args: str) -> object:
    return runner.invoke(app, ["rules", *args], env=WIDE)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def oncall_against(stack: Stack, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The CLI pointed at the stack as on-call engineer ``oncall-ana``; returns the library as
    shipped and a copy with connects_burn tuned (v2, threshold 70)."""
    monkeypatch.setenv("REDIS_URL", stack.settings.redis_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", stack.settings.kafka_bootstrap)
    monkeypatch.setenv("VIGIL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("USER", "oncall-ana")
    shipped = library_copy(tmp_path / "v1")
    tuned = library_copy(tmp_path / "v2", proposal__connects_burn={
        "version": 2, "condition": "features.freelancer_connects_1h >= 70"})
    return shipped, tuned


def test_validate_names_file_and_field_of_a_broken_rule_and_exits_1(tmp_path: Path) -> None:
    folder = library_copy(tmp_path / "rules", proposal__burst={"score": 1.5},
                          signup__disposable_email={"event_types": ["user.signed_in"]})
    result = invoke("validate", str(folder))
    assert result.exit_code == 1, result.output
    out = flat(result.output)
    assert re.search(r"proposal\.burst\.yaml │ score │ .*1", out), out
    assert re.search(r"signup\.disposable_email\.yaml │ event_types │ unknown event type 'user.signed_in'", out), out


def test_validate_accepts_the_library() -> None:
    result = invoke("validate")
    assert result.exit_code == 0, result.output
    assert f"{len(default_sources())} rule(s) valid" in result.output


def test_test_runs_every_example_of_the_library_and_passes() -> None:
    result = invoke("test")
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output and "behave as stated" in result.output
    assert "a project about a PayPal checkout is not a payment request" in flat(result.output)


def test_test_fails_on_an_example_that_does_not_behave(tmp_path: Path) -> None:
    folder = library_copy(tmp_path / "rules",
                          proposal__burst={"condition": "features.freelancer_proposals_10m >= 6"})
    result = invoke("test", str(folder))
    assert result.exit_code == 1
    out = flat(result.output)
    assert "FAIL" in out and "the fifth proposal in ten minutes" in out


@pytest.mark.integration
def test_deploy_history_rollback_show_and_backtest_against_redis(
        stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped, tuned = oncall_against(stack, tmp_path, monkeypatch)

    first = invoke("deploy", str(shipped), "--message", "initial library")
    assert first.exit_code == 0, first.output
    assert "rule set v1" in first.output
    second = invoke("deploy", str(tuned), "-m", "catch Connects burns earlier", "--author", "bo")
    assert second.exit_code == 0, second.output
    assert "v2" in second.output and "~proposal.connects_burn" in second.output
    again = invoke("deploy", str(tuned), "-m", "same again")
    assert again.exit_code == 0 and "no change" in again.output

    refused = invoke("deploy", str(library_copy(tmp_path / "bad", proposal__burst={"score": 7})),
                     "-m", "typo")
    assert refused.exit_code == 1 and "nothing changed" in flat(refused.output)
    store = RuleStore(stack.client)
    assert store.current_version() == 2

    # The live set is now v2: a backtest of the shipped folder shows the threshold difference.
    sims = list(generate(seed=5, count=1200, fraud_rate=0.2))
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    events.write_text("".join(json.dumps(s.envelope) + "\n" for s in sims))
    truth.write_text("".join(json.dumps(truth_record(s)) + "\n" for s in sims if s.scenario))
    report_path = tmp_path / "report.json"
    backtested = invoke("backtest", "--events", str(events), "--labels", str(truth),
                        "--rules", str(shipped), "--json", str(report_path))
    assert backtested.exit_code == 0, backtested.output
    report = json.loads(report_path.read_text())
    assert report["live_source"].startswith("deployed v2")
    connects = next(r for r in report["rules"] if r["rule_id"] == "proposal.connects_burn")
    assert connects["status"] == "changed" and connects["only_candidate"] == 0
    assert connects["live_hits"] >= connects["hits"]
    assert "proposal.connects_burn" in backtested.output and "changed v2→v1" in backtested.output

    rolled = invoke("rollback", "1", "-m", "70 is too noisy")
    assert rolled.exit_code == 0, rolled.output
    assert "rule set v3" in rolled.output and "rollback of v1" in rolled.output
    assert store.current().fingerprint == store.get(1).fingerprint  # type: ignore[union-attr]

    history = invoke("history")
    assert history.exit_code == 0, history.output
    rows = [line for line in history.output.splitlines() if re.search(r"│ v\d", line)]
    assert [re.search(r"v(\d)", r).group(1) for r in rows] == ["3", "2", "1"]  # type: ignore[union-attr]
    assert "oncall-ana" in rows[0] and "rollback of v1" in rows[0] and "70 is too noisy" in rows[0]
    assert "bo" in rows[1] and "~proposal.connects_burn" in rows[1]

    shown = invoke("show", "2")
    assert shown.exit_code == 0, shown.output
    assert "catch Connects burns earlier" in shown.output
    assert re.search(r"proposal\.connects_burn\s+│ 2 ", shown.output), shown.output
    assert "shadow" in shown.output  # signup.subnet_signup_burst runs in shadow
    assert invoke("show", "9").exit_code == 1


@pytest.mark.integration
def test_deploy_records_a_backtest_and_history_show_and_rollback_carry_its_expectations(
        stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from detectors.ruleset import load_rules, sources_from_dir
    from pipeline.offline.backtest import backtest_expectation

    shipped, tuned = oncall_against(stack, tmp_path, monkeypatch)
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(s.envelope) + "\n"
                              for s in generate(seed=5, count=1200, fraud_rate=0.2)))
    store = RuleStore(stack.client)

    # v1: backtested on the sample as it deploys.
    first = invoke("deploy", str(shipped), "-m", "initial library", "--backtest-events", str(events))
    assert first.exit_code == 0, first.output
    expected = backtest_expectation(events, load_rules(sources_from_dir(shipped)))
    assert store.get(1).backtest == expected
    payment = expected.rules["message.off_platform_payment"]
    assert payment.hits > 0 and payment.events < expected.events
    out = flat(first.output)
    assert "rule set v1" in out and f"{expected.events} events" in out
    assert re.search(rf"message\.off_platform_payment │ enforce │ {payment.hits} / {payment.events} │", out), out

    # v2: from the report `vigil rules backtest --json` saved - of these very rules only.
    report = tmp_path / "report.json"
    assert invoke("backtest", "--events", str(events), "--rules", str(tuned),
                  "--json", str(report)).exit_code == 0
    refused = invoke("deploy", str(shipped), "-m", "wrong report", "--backtest-report", str(report))
    assert refused.exit_code == 1 and "not of the one being deployed" in flat(refused.output)
    second = invoke("deploy", str(tuned), "-m", "catch Connects burns earlier",
                    "--backtest-report", str(report))
    assert second.exit_code == 0, second.output
    from_report = store.get(2).backtest
    assert from_report == backtest_expectation(events, load_rules(sources_from_dir(tuned)))
    connects = from_report.rules["proposal.connects_burn"]  # type: ignore[union-attr]
    assert connects.hits >= expected.rules["proposal.connects_burn"].hits

    # v3: an emergency fix without a backtest goes ahead, recorded as such.
    emergency = library_copy(tmp_path / "v3", proposal__connects_burn={"version": 3, "mode": "shadow"})
    third = invoke("deploy", str(emergency), "-m", "emergency: shadow Connects")
    assert third.exit_code == 0, third.output
    assert "no backtest recorded" in flat(third.output) and store.get(3).backtest is None

    history = invoke("history")
    assert history.exit_code == 0, history.output
    rows = {re.search(r"│ v(\d)", line).group(1): line  # type: ignore[union-attr]
            for line in history.output.splitlines() if re.search(r"│ v\d", line)}
    assert "none" in rows["3"]
    assert f"{expected.events} events, {len(expected.rules)} rules" in rows["2"]
    assert f"{expected.events} events, {len(expected.rules)} rules" in rows["1"]

    shown = invoke("show", "1")
    assert shown.exit_code == 0, shown.output
    out = flat(shown.output)
    assert f"backtest: {events} sha256 {expected.sample_sha256[:12]}: {expected.events} events" in out
    share = f"{payment.hits / payment.events * 100:.3g}%"
    assert re.search(rf"message\.off_platform_payment │ \d+ │ enforce .* │ {payment.hits} / "
                     rf"{payment.events} │ {re.escape(share)}", out), out
    none = invoke("show", "3")
    assert none.exit_code == 0 and "backtest: none" in flat(none.output)

    # A rollback to v1 runs v1's rules with v1's expectations.
    rolled = invoke("rollback", "1", "-m", "shadowing was too much")
    assert rolled.exit_code == 0, rolled.output
    assert store.get(4).backtest == expected
    assert f"{payment.hits} / {payment.events}" in flat(invoke("show").output)

    # What runs can be exported, to backtest it again on recent traffic.
    exported = invoke("export", str(tmp_path / "inforce"), "--version", "2")
    assert exported.exit_code == 0, exported.output
    assert sources_from_dir(tmp_path / "inforce") == sources_from_dir(tuned)
