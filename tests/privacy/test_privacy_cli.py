"""``vigil privacy erase | export | status`` on the embedded Redis, as an operator runs them.

The stores are seeded as the worker and the queue write them (a feature window of the user's
events, their flagged event, their consent history, a case about them, a bystander's message to
them); the end-to-end run through Kafka and the worker is tests/privacy/test_erasure_live.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis as redis_lib
from typer.testing import CliRunner

from detectors.privacy import subject_pseudonym
from pipeline.cli.main import app
from pipeline.privacy.erasure import DONE

KEY = "cli-test-hash-key-0123456789abcdef"
USER, OTHER = "usr_cli_9", "usr_cli_bystander"
PSEUDONYM = subject_pseudonym(USER, KEY.encode())
EMAIL = "cli.nine@example.com"


@pytest.fixture
def runner(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name, value in {"REDIS_URL": redis_url, "VIGIL_STATE_DIR": str(tmp_path),
                        "VIGIL_MODEL_HASH_KEY": KEY, "VIGIL_ERASURE_SETTLE": "0"}.items():
        monkeypatch.setenv(name, value)
    return CliRunner()


def seed(client: redis_lib.Redis) -> None:
    event = {"event_id": "evt_cli_1", "type": "user.signed_up", "subject_id": USER,
             "payload": {"user_id": USER, "email": EMAIL, "ip": "192.0.2.44",
                         "device_id": "dev_cli_44"}}
    client.zadd(f"vigil:f:user:{USER}:events", {"evt_cli_1": 1.0})
    client.set("vigil:event:evt_cli_1", json.dumps(event))
    client.zadd(f"vigil:consent:{USER}", {json.dumps({"ai_features": "opted_in", "v": 1}): 1.0})
    client.hset("vigil:case:c_cli", mapping={"case_id": "c_cli", "entity_id": f"user:{USER}",
                                             "status": "closed"})
    client.set("vigil:content:message:m_to", json.dumps(
        {"subject_id": OTHER, "payload": {"sender_id": OTHER, "recipient_id": USER,
                                          "text": "see you at the 4pm call"}}))
    client.zadd("vigil:f:device:dev_cli_44:accounts", {USER: 1.0})


def test_export_then_erase_then_status(runner: CliRunner, redis_url: str, tmp_path: Path) -> None:
    client = redis_lib.Redis.from_url(redis_url)
    seed(client)
    out = tmp_path / "export.json"
    made = runner.invoke(app, ["privacy", "export", USER, "--out", str(out)])
    assert made.exit_code == 0, made.output
    export = json.loads(out.read_text())
    assert export["pseudonym"] == PSEUDONYM and EMAIL in export["identifiers"]
    assert {"user feature windows", "flagged event", "consent history", "case",
            "accounts per device", "content of a message or proposal"} <= set(export["records"])
    [message] = export["records"]["content of a message or proposal"]
    assert message["value"] is None  # the bystander's record: listed, not shown

    erased = runner.invoke(app, ["privacy", "erase", USER, "--requested-by", "desk:kim",
                                 "--request-id", "dsr_cli"])
    assert erased.exit_code == 0, erased.output
    assert f"erased: {PSEUDONYM}" in erased.output
    everything = b" ".join([*client.keys("*"), *(client.get(k) or b"" for k in client.keys("*")
                                                 if client.type(k) == b"string")])
    assert USER.encode() not in everything and EMAIL.encode() not in everything
    assert not client.exists("vigil:event:evt_cli_1", f"vigil:f:user:{USER}:events")
    assert client.hget("vigil:case:c_cli", "entity_id") == f"user:{PSEUDONYM}".encode()
    assert json.loads(client.get("vigil:content:message:m_to"))["payload"]["recipient_id"] == \
        PSEUDONYM

    again = runner.invoke(app, ["privacy", "erase", USER, "--requested-by", "desk:kim",
                                "--request-id", "dsr_cli"])
    assert again.exit_code == 0, again.output
    audits = [f for _, f in client.xrange("vigil:audit") if f[b"action"] == b"privacy.erase"]
    assert len(audits) == 1 and json.loads(client.hget(DONE, PSEUDONYM))["request_ids"] == [
        "dsr_cli"]
    status = runner.invoke(app, ["privacy", "status"])
    assert "under way: 0, done: 1, erased users: 1" in status.output


def test_erase_needs_to_know_who_asked(runner: CliRunner) -> None:
    result = runner.invoke(app, ["privacy", "erase", USER])
    assert result.exit_code == 2 and "--requested-by" in result.output
