"""Vigil's alert rules under a real Prometheus scraping a real worker and review service of an
embedded stack: what promtool's unit tests cannot show, because they are fed the series one
believes the processes export.

Time is scaled down in a test copy of the rules (``for:`` 3 s, 5-15 minute windows 15 s,
tests/support/prometheus.py); thresholds and expressions are the deployed ones.
"""

from __future__ import annotations

import os
import signal

import pytest
import redis as redis_lib

from detectors.ruleset import default_sources
from pipeline.local.embedded import free_port
from pipeline.rules.store import RuleStore
from tests.support.metrics import scrape
from tests.support.prometheus import (
    needs_prometheus,
    never_alerts,
    running_prometheus,
    wait_for_alert,
)
from tests.support.stack import Stack, with_settings
from tests.support.traffic import publish, simulated, wait_processed
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, needs_prometheus]


def test_lag_alerts_outlive_the_last_worker_and_a_deploy_raises_no_version_mismatch(
        stack: Stack) -> None:
    worker_port, review_port = free_port(), free_port()
    with_settings(stack, metrics_port=worker_port)
    worker = stack.start_worker()
    stack.start_review(review_port, VIGIL_REVIEW_SAMPLE_INTERVAL="1")
    jobs = {"vigil-worker": [f"127.0.0.1:{worker_port}"],
            "vigil-review": [f"127.0.0.1:{review_port}"]}
    with running_prometheus(stack.state_dir / "prometheus", jobs) as prometheus:
        wait_until(lambda: prometheus.targets_up() == {"vigil-worker": 1, "vigil-review": 1}, 30,
                   message="both targets scraped")
        first = simulated(200, seed=5)
        publish(stack, first)
        wait_processed(stack, {e["event_id"] for e in first})

        # A deploy: the worker switches to v1. Only workers export vigil_rules_version, so
        # the versions agree and VigilRulesVersionMismatch stays quiet.
        RuleStore(redis_lib.Redis.from_url(stack.settings.redis_url)).deploy(
            dict(default_sources()), author="oncall", message="first deploy")
        wait_until(lambda: scrape(worker_port)[0].get("vigil_rules_version{}") == 1, 30,
                   message="the worker to run v1")
        wait_until(lambda: prometheus.value("max(vigil_rules_version)") == 1, 10,
                   message="prometheus to see v1")
        assert prometheus.value('count(count_values("rules_version", vigil_rules_version))') == 1
        never_alerts(prometheus, "VigilRulesVersionMismatch", 6)

        # The last worker dies while events keep coming: the broker still knows the group's
        # lag (the review service reports it), so the stall alert goes off.
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        waiting = simulated(400, seed=6)
        publish(stack, waiting)
        wait_until(lambda: (prometheus.value("vigil:consumer_lag:sum") or 0) >= len(waiting), 30,
                   message="prometheus to see the lag of the events published since")
        (alert,) = wait_for_alert(prometheus, "VigilPipelineStalled", 60)
        assert alert["state"] in {"pending", "firing"}
        assert float(alert["value"]) >= len(waiting)
        assert prometheus.value('sum(vigil_consumer_group_lag{job="vigil-review"})') >= len(waiting)
