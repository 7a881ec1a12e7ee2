"""promtool validates the alerting and recording rules and runs their unit tests.

Unit tests live in deploy/prometheus/tests/*.yml: input series, then the alerts expected to be
firing (labels and rendered annotations) and expected NOT to be firing at given times. Every
alert must have both kinds of case; that check needs no promtool.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.deploy import PROMETHEUS, RULE_FILES, RULE_TESTS, alerts, load_yaml

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not found: install Debian's `prometheus` package (apt-get install prometheus)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=PROMETHEUS, capture_output=True, text=True,
                          timeout=120)


@needs_promtool
def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", *(str(p) for p in RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_check_config() -> None:
    """The compose stack's prometheus.yml, including the rule files it loads."""
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
@pytest.mark.parametrize("test_file", RULE_TESTS, ids=[p.name for p in RULE_TESTS])
def test_promtool_test_rules(test_file) -> None:
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_exist() -> None:
    assert RULE_TESTS, "no promtool unit tests under deploy/prometheus/tests/"
    for path in RULE_TESTS:
        spec = load_yaml(path)
        files = {(path.parent / f).resolve() for f in spec["rule_files"]}
        assert files == {p.resolve() for p in RULE_FILES}, \
            f"{path.name} must load recording.yml and alerts.yml"


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert not names - firing, f"alerts never tested firing: {sorted(names - firing)}"
    assert not names - quiet, f"alerts never tested NOT firing: {sorted(names - quiet)}"
    assert not (firing | quiet) - names, f"tests for unknown alerts: {sorted((firing | quiet) - names)}"
