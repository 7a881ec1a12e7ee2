"""A real Prometheus server (Debian's ``prometheus`` package) scraping processes of a test stack
and evaluating Vigil's rules, for what promtool's unit tests cannot show: which series the
processes really export, and what the rules make of them.

The rules are a **test copy** of deploy/prometheus/{recording,alerts}.yml with time scaled down
so a test takes seconds, not the rules' minutes: every ``for:`` becomes :data:`FOR`, the range
windows of 5, 10 and 15 minutes become :data:`WINDOW`, and every group is evaluated each second.
Thresholds and expressions are otherwise the deployed ones.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.local.embedded import free_port
from tests.support.deploy import RULE_FILES
from tests.support.waiting import wait_until

PROMETHEUS = shutil.which("prometheus")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="the prometheus server is not installed: install Debian's `prometheus` package "
           "(apt-get install prometheus; .ci/run does when it runs as root)")

FOR = "3s"
WINDOW = "15s"
_WINDOWS = re.compile(r"\[(5|10|15)m\]")


def scaled_rules(directory: Path) -> list[Path]:
    """The deployed rule files with time scaled down (see the module docstring)."""
    out = []
    for path in RULE_FILES:
        spec = yaml.safe_load(path.read_text())
        for group in spec["groups"]:
            group["interval"] = "1s"
            for rule in group["rules"]:
                rule["expr"] = _WINDOWS.sub(f"[{WINDOW}]", rule["expr"])
                if "for" in rule:
                    rule["for"] = FOR
        target = directory / path.name
        target.write_text(yaml.safe_dump(spec, sort_keys=False))
        out.append(target)
    return out


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def _get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=5) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self._get("/api/v1/query", query=expr)["result"]

    def value(self, expr: str) -> float | None:
        """The value of an expression that yields at most one sample (None: none)."""
        result = self.query(expr)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def alerts(self, name: str) -> list[dict]:
        """Alerts named ``name`` that are pending or firing now."""
        return [a for a in self._get("/api/v1/alerts")["alerts"] if a["labels"]["alertname"] == name]

    def targets_up(self) -> dict[str, int]:
        """{job: targets up}."""
        up: dict[str, int] = {}
        for target in self._get("/api/v1/targets")["activeTargets"]:
            job = target["labels"]["job"]
            up[job] = up.get(job, 0) + (target["health"] == "up")
        return up


@contextmanager
def running_prometheus(directory: Path, jobs: Mapping[str, list[str]]) -> Iterator[Prometheus]:
    """Prometheus on loopback scraping ``jobs`` ({job name: ["127.0.0.1:port", ...]}) every
    second with the scaled rules; stopped on exit."""
    assert PROMETHEUS is not None
    directory.mkdir(parents=True, exist_ok=True)
    rules = scaled_rules(directory)
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rules],
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}
                           for job, targets in jobs.items()],
    }
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    log = open(directory / "prometheus.log", "ab")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={directory / 'prometheus.yml'}",
         f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--storage.tsdb.retention.time=1h", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Prometheus(f"http://127.0.0.1:{port}")
    try:
        def ready() -> bool:
            assert process.poll() is None, f"prometheus exited; see {directory / 'prometheus.log'}"
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as response:
                    return response.status == 200
            except OSError:
                return False
        wait_until(ready, 30, message="prometheus to be ready")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_for_alert(server: Prometheus, name: str, timeout: float) -> list[dict]:
    found: list[dict] = []

    def seen() -> bool:
        found[:] = server.alerts(name)
        return bool(found)
    wait_until(seen, timeout, interval=0.5, message=f"alert {name} to be pending or firing")
    return found


def never_alerts(server: Prometheus, name: str, seconds: float) -> None:
    """Assert that ``name`` is neither pending nor firing at any moment for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not server.alerts(name), f"{name} went off: {server.alerts(name)}"
        time.sleep(0.5)
