"""The `vigil` command line: simulate, replay, publish, up/down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.local.stack import StackState, alive
from tests.support.paths import REPO
from tests.support.stack import Stack

runner = CliRunner()


def simulate_files(tmp_path: Path, count: int = 800) -> tuple[Path, Path]:
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    result = runner.invoke(app, ["simulate", "--count", str(count), "--seed", "4",
                                 "--fraud-rate", "0.15", "--out", str(events), "--truth", str(truth)])
    assert result.exit_code == 0, result.output
    return events, truth


def test_simulate_writes_events_and_ground_truth_for_the_labelled_ones(tmp_path: Path) -> None:
    events, truth = simulate_files(tmp_path)
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    labels = [json.loads(line) for line in truth.read_text().splitlines()]
    assert len(lines) == 800
    ids = {e["event_id"] for e in lines}
    assert labels and all(label["event_id"] in ids and label["scenario"] for label in labels)


def test_live_traffic_is_the_files_traffic_on_the_marketplace_clock(stack: Stack) -> None:
    """`vigil simulate --rate` publishes the same events as `--count` with the same seed, with
    the same gaps between event times (a 2 s mean), however fast it publishes: the rules see
    the per-user rates a backtest sees."""
    from datetime import datetime

    from pipeline.cli.main import simulate_live
    from pipeline.sim import generate
    from schemas.topics import INPUT_TOPICS
    from tests.support.kafka import read_topic

    def at(event: dict) -> float:
        return datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00")).timestamp()

    assert simulate_live(stack.settings, rate=500, count=400, duration=None, seed=4,
                         fraud_rate=0.15) == 400
    live = sorted((json.loads(r.value) for topic in INPUT_TOPICS
                   for r in read_topic(stack.settings.kafka_bootstrap, topic)), key=at)
    file = [s.envelope for s in generate(seed=4, count=400, fraud_rate=0.15)]
    assert sorted(e["event_id"] for e in live) == sorted(e["event_id"] for e in file)
    span = at(live[-1]) - at(live[0])
    assert span == pytest.approx(at(file[-1]) - at(file[0]), abs=0.01)
    assert span > 200  # minutes of marketplace time, published in about a second


def test_replay_writes_one_result_line_per_event_and_reports_bad_lines(tmp_path: Path) -> None:
    events, _ = simulate_files(tmp_path, count=1000)
    lines = events.read_text().splitlines()
    broken = lines[:10] + ["{not json", json.dumps({"type": "nope"})] + lines[10:]
    source = tmp_path / "mixed.jsonl"
    source.write_text("\n".join(broken) + "\n")
    out = tmp_path / "findings.jsonl"
    result = runner.invoke(app, ["replay", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "line 11" in result.output and "line 12" in result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["event_id"] for r in records] == [json.loads(line)["event_id"] for line in lines]
    messages = [r for r in records if r["type"] == "message.sent"]
    assert messages and all(
        {"detector_id", "detector_version", "is_ai", "fired", "score"} <= set(res)
        for r in messages for res in r["results"])
    assert any(res["fired"] and res["reason"] for r in records for res in r["results"])


@pytest.mark.integration
def test_publish_validates_each_line_and_sends_the_good_ones(tmp_path: Path, stack: Stack,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    events, _ = simulate_files(tmp_path, count=50)
    lines = events.read_text().splitlines()
    source = tmp_path / "with_bad.jsonl"
    source.write_text("\n".join(lines[:5] + ['{"type": "message.sent"}'] + lines[5:]) + "\n")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", stack.settings.kafka_bootstrap)
    monkeypatch.setenv("REDIS_URL", stack.settings.redis_url)
    result = runner.invoke(app, ["publish", str(source)])
    assert result.exit_code == 2, result.output
    assert "line 6" in result.output
    assert "published 50 event(s); 1 invalid line(s) skipped" in result.output


@pytest.mark.integration
def test_up_starts_the_embedded_stack_and_down_stops_everything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")}
    env.update(VIGIL_STATE_DIR=str(tmp_path / "state"), VIGIL_SESSION_TIMEOUT="3",
               VIGIL_REBALANCE_TIMEOUT="3")
    vigil = [sys.executable, "-m", "pipeline.cli.main"]
    started = subprocess.run([*vigil, "up"], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=120)
    state = StackState.load(tmp_path / "state")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert state is not None and {"kafka", "redis", "worker-1", "review"} <= set(state.pids)
        assert state.kafka_bootstrap in started.stdout and "worker(s) consuming" in started.stdout
        assert all(alive(pid) for pid in state.pids.values())
        # The review console answers, and the printed analyst token logs in.
        url = state.urls["review console"]
        assert url in started.stdout
        token = Path(state.urls["analyst token"]).read_text().strip()
        assert token in started.stdout
        request = urllib.request.Request(url + "api/me", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["role"] == "analyst"
        again = subprocess.run([*vigil, "up"], cwd=REPO, env=env, capture_output=True, text=True,
                               timeout=60)
        assert again.returncode != 0 and "already running" in again.stdout + again.stderr
    finally:
        stopped = subprocess.run([*vigil, "down"], cwd=REPO, env=env, capture_output=True,
                                 text=True, timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    assert not any(alive(pid) for pid in state.pids.values())
    assert StackState.load(tmp_path / "state") is None
