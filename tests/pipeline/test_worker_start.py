"""What a worker insists on before it starts: a real model hash key outside the embedded stack
(identifier hashing keyed by a constant printed in the repository protects nothing), and its
metrics port on loopback unless told otherwise (the rest of the stack listens on loopback)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.local.embedded import free_port
from pipeline.settings import DEVELOPMENT_HASH_KEY
from tests.support.metrics import scrape
from tests.support.paths import REPO
from tests.support.stack import Stack, with_settings
from tests.support.waiting import wait_until


def _start(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("VIGIL_", "KAFKA_", "REDIS_"))}
    # Nothing listens on port 9: a worker that got past its checks would hang or fail later,
    # never exit at once with the message below.
    return subprocess.run([sys.executable, "-m", "pipeline.worker"], cwd=REPO,
                          env={**clean, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
                               "REDIS_URL": "redis://127.0.0.1:9/0", **env},
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("key", [None, DEVELOPMENT_HASH_KEY, "CHANGE_ME-a-placeholder-key"],
                         ids=["unset", "development key", "placeholder"])
def test_a_worker_outside_the_embedded_stack_refuses_to_start_without_a_real_key(
        key: str | None) -> None:
    result = _start({"VIGIL_MODEL_HASH_KEY": key} if key else {})
    assert result.returncode != 0
    assert "refusing to start" in result.stderr and "VIGIL_MODEL_HASH_KEY" in result.stderr
    assert "secrets.token_hex(32)" in result.stderr, result.stderr


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_a_worker_with_a_real_key_starts_and_serves_metrics_on_loopback_only(stack: Stack) -> None:
    port = free_port()
    with_settings(stack, embedded=False, model_hash_key=secrets.token_hex(32), metrics_port=port)
    stack.start_worker()
    wait_until(lambda: _listening_addresses(port), 20, message="the metrics port to listen")
    assert _listening_addresses(port) == {"0100007F"}, "metrics must listen on 127.0.0.1 only"
    # Its own metrics only, and the known series from the start (before any input).
    samples, text = scrape(port)
    assert samples['vigil_dead_letters_total{kind="processing_error",topic="marketplace.messages"}'] == 0
    assert samples['vigil_events_total{topic="marketplace.signups",type="user.signed_up"}'] == 0
    assert "vigil_queue_depth" not in text and "vigil_decisions_total" not in text
