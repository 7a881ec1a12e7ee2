"""Settings are declared once: the environment reads them, child processes get them back, and
the README's table is generated from the same declarations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.settings import (
    SETTINGS_CLASSES,
    QueueSettings,
    ReviewSettings,
    Settings,
    SettingsInvalid,
    variable_names,
    variable_of,
)
from pipeline.settings_table import settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_table() -> str:
    text = README.read_text()
    match = re.search(r"<!-- settings-table[^>]*-->\n(.*?)<!-- /settings-table -->", text, re.S)
    assert match, "README.md lost its generated settings table markers"
    return match.group(1)


def test_readme_table_is_the_declarations() -> None:
    assert _readme_table() == settings_table(), "run `python -m pipeline.settings_table --write README.md`"


def test_every_declared_variable_is_in_the_readme() -> None:
    listed = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", _readme_table(), re.M))
    assert listed == variable_names()
    assert {"KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "VIGIL_REVIEW_RELAY_INTERVAL",
            "VIGIL_REVIEW_SLA", "VIGIL_FETCH_MAX_WAIT_MS"} <= listed


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in variable_names():
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


CHANGED = {
    Settings: dict(kafka_bootstrap="k1:9092,k2:9092", redis_url="redis://r:6379/2",
                   state_dir=Path("/tmp/v"), partitions=12, create_topics=False,
                   models_enabled=False, model_inputs="all", batch_wait=0.25,
                   idempotent_producer=True, log_level="warning", fetch_max_wait_ms=50),
    ReviewSettings: dict(host="0.0.0.0", port=9000, secret="s3cret", secure_cookies=False,
                         relay_interval=0.2),
    QueueSettings: dict(sla_seconds={"critical": 1800, "high": 7200, "medium": 86400,
                                     "low": 259200},
                        lease_seconds=300, policy_reasons=("spam", "phishing"), flag_cap=7),
}


@pytest.mark.parametrize("cls", SETTINGS_CLASSES, ids=lambda c: c.__name__)
def test_env_for_a_child_process_reads_back_the_same_settings(
        cls: type, clean_env: pytest.MonkeyPatch) -> None:
    changed = cls(**CHANGED[cls])
    assert changed != cls()
    for name, value in changed.env().items():
        clean_env.setenv(name, value)
    assert cls.from_env() == changed


def test_variables_override_defaults_and_empty_ones_count_as_unset(
        clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("VIGIL_PARTITIONS", "8")
    clean_env.setenv("VIGIL_MODELS", "0")
    clean_env.setenv("VIGIL_BATCH_SIZE", "")
    clean_env.setenv("VIGIL_REVIEW_SLA", "critical=30m")
    clean_env.setenv("VIGIL_REVIEW_LEASE", "5m")
    settings, queue = Settings.from_env(), QueueSettings.from_env()
    assert (settings.partitions, settings.models_enabled, settings.batch_size) == (8, False, 200)
    assert queue.sla_seconds == {"critical": 1800, "high": 14400, "medium": 86400, "low": 259200}
    assert queue.lease_seconds == 300
    assert ReviewSettings.from_env().queue == queue


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("VIGIL_PARTITIONS", "four", "VIGIL_PARTITIONS: Input should be a valid integer"),
    ("VIGIL_PARTITIONS", "0", "VIGIL_PARTITIONS: Input should be greater than or equal to 1"),
    ("VIGIL_MODEL_INPUTS", "some", "VIGIL_MODEL_INPUTS: Input should be 'flagged' or 'all'"),
    ("VIGIL_CREATE_TOPICS", "maybe", "VIGIL_CREATE_TOPICS: Input should be a valid boolean"),
    ("REDIS_URL", "", None),
    ("VIGIL_MODEL_HASH_KEY", "short", "VIGIL_MODEL_HASH_KEY: String should have at least 16"),
])
def test_a_variable_that_does_not_parse_is_named(
        clean_env: pytest.MonkeyPatch, variable: str, value: str, message: str | None) -> None:
    clean_env.setenv(variable, value)
    if message is None:
        assert Settings.from_env() == Settings()
        return
    with pytest.raises(SettingsInvalid, match=re.escape(message)):
        Settings.from_env()


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("VIGIL_REVIEW_SLA", "urgent=1h", "VIGIL_REVIEW_SLA: Value error, unknown severity 'urgent'"),
    ("VIGIL_REVIEW_LEASE", "soon", "VIGIL_REVIEW_LEASE: Value error, 'soon' is not a duration"),
    ("VIGIL_REVIEW_PORT", "70000", "VIGIL_REVIEW_PORT: Input should be less than or equal to 65535"),
])
def test_review_variables_that_do_not_parse_are_named(
        clean_env: pytest.MonkeyPatch, variable: str, value: str, message: str) -> None:
    clean_env.setenv(variable, value)
    cls = QueueSettings if variable in ("VIGIL_REVIEW_SLA", "VIGIL_REVIEW_LEASE") else ReviewSettings
    with pytest.raises(SettingsInvalid, match=re.escape(message)):
        cls.from_env()


def test_replace_validates_and_reads_no_environment(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings(partitions=2)
    clean_env.setenv("VIGIL_APP_ID", "from-env")
    assert settings.replace(metrics_port=9400).app_id == "vigil"
    with pytest.raises(ValueError):
        settings.replace(partitions=0)
    with pytest.raises(ValueError):  # frozen
        settings.partitions = 3  # type: ignore[misc]


def test_variable_names_follow_the_prefix_or_the_alias() -> None:
    assert variable_of(Settings, "models_enabled") == "VIGIL_MODELS"
    assert variable_of(ReviewSettings, "relay_interval") == "VIGIL_REVIEW_RELAY_INTERVAL"
    assert variable_of(QueueSettings, "sla_seconds") == "VIGIL_REVIEW_SLA"


def test_a_command_with_a_bad_variable_stops_before_starting_anything(
        clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pipeline.cli.main import app

    clean_env.setenv("VIGIL_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["status"], env={"VIGIL_REVIEW_LEASE": "whenever"})
    assert result.exit_code == 2
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "VIGIL_REVIEW_LEASE: Value error, 'whenever' is not a duration" in said
    assert not any(tmp_path.iterdir())  # nothing was started or written


@pytest.mark.parametrize("module", ["pipeline.worker", "pipeline.review"])
def test_a_service_with_a_bad_variable_exits_naming_it(module: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in variable_names()}
    env.update(VIGIL_STATE_DIR=str(tmp_path), VIGIL_BATCH_SIZE="many")
    done = subprocess.run([sys.executable, "-m", module], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "VIGIL_BATCH_SIZE: Input should be a valid integer" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_labelling_sample_settings_make_the_samplers_policy() -> None:
    settings = Settings(sample_rates="message.sent=0.02, user.signed_up=0.5", sample_budget=7)
    policy = settings.sampling_policy()
    assert policy.rate_for("message.sent") == 0.02 and policy.rate_for("job_post.created") == 0.01
    assert policy.daily_budget == 7 and policy.seed == Settings().sample_seed
    assert Settings().sample_rate > 0 and Settings().sample_budget > 0  # on by default
    with pytest.raises(ValueError):
        Settings(sample_rates="message.sent=2")
