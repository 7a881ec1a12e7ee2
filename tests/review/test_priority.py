"""The Lua priority (``lua/priority.lua``, the only code that computes a case's base priority)
and the priority Python shows (:meth:`QueueSettings.priority`) agree, on a real Redis: the sorted
set's order is the order by the shown priority at any moment."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator

import pytest
import redis as redis_lib
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.local.embedded import ServerProcess
from pipeline.review.queue import ReviewQueue
from pipeline.review.queue.policy import priority, priority_weights
from pipeline.review.queue.scripts import source
from pipeline.settings import QueueSettings
from tests.support.flags import flag
from tests.support.review import FakeClock

pytestmark = pytest.mark.integration

#: Runs the shared fragment on one case hash: ARGV = key, created_at, the seven weights.
PROBE = source("priority") + """
local w = {}
for i = 3, 9 do w[#w + 1] = tonumber(ARGV[i]) end
local base, zscore = priority(ARGV[1], w, tonumber(ARGV[2]))
return {string.format('%.17g', base), string.format('%.17g', zscore)}
"""
START = 1_767_600_000.0

weights = st.floats(0, 5000, allow_nan=False)
configs = st.builds(QueueSettings, severity_weight=weights, score_weight=weights,
                    report_weight=weights, report_cap=st.integers(0, 50), flag_weight=weights,
                    flag_cap=st.integers(0, 50), age_weight_per_hour=weights)
cases = st.fixed_dictionaries({
    "severity": st.integers(1, 4), "max_score": st.floats(0, 1, allow_nan=False),
    "report_count": st.integers(0, 100), "flag_count": st.integers(1, 500),
    "created_at": st.floats(START, START + 30 * 86400, allow_nan=False),
})


@pytest.fixture(scope="module")
def client(redis_server: ServerProcess) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        client.close()


def lua_priority(client: redis_lib.Redis, config: QueueSettings,
                 case: dict[str, float]) -> tuple[float, float]:
    """(base, sorted-set score) as the Lua fragment computes them for ``case``."""
    key = "vigil:test:priority"
    client.hset(key, mapping={k: repr(v) for k, v in case.items() if k != "created_at"})
    base, zscore = client.eval(PROBE, 0, key, repr(case["created_at"]),
                               *map(repr, priority_weights(config)))
    return float(base), float(zscore)


@settings(max_examples=200, deadline=None, database=None)
@given(config=configs, case=cases)
def test_lua_base_priority_follows_the_weights_and_caps(client: redis_lib.Redis,
                                                        config: QueueSettings,
                                                        case: dict[str, float]) -> None:
    base, _ = lua_priority(client, config, case)
    expected = (config.severity_weight * case["severity"] + config.score_weight * case["max_score"]
                + config.report_weight * min(case["report_count"], config.report_cap)
                + config.flag_weight * min(case["flag_count"], config.flag_cap))
    assert math.isclose(base, expected, rel_tol=1e-12, abs_tol=1e-9)


@settings(max_examples=200, deadline=None, database=None)
@given(config=configs, a=cases, b=cases, wait=st.floats(0, 60 * 86400, allow_nan=False))
def test_sorted_set_score_orders_cases_as_the_shown_priority(
        client: redis_lib.Redis, config: QueueSettings, a: dict[str, float], b: dict[str, float],
        wait: float) -> None:
    now = max(a["created_at"], b["created_at"]) + wait
    shown, scores = [], []
    for case in (a, b):
        base, zscore = lua_priority(client, config, case)
        shown.append(priority(config, base, case["created_at"], now))
        scores.append(zscore)
        # The score is the shown priority less what every case gains alike by ``now``.
        assert math.isclose(zscore + config.age_weight_per_hour * now / 3600, shown[-1],
                            rel_tol=1e-12, abs_tol=1e-6)
    if abs(shown[0] - shown[1]) > 1e-3:  # not a tie within rounding
        assert (scores[0] > scores[1]) == (shown[0] > shown[1])


async def test_the_queues_sorted_set_is_in_shown_priority_order(queue: ReviewQueue,
                                                                 clock: FakeClock) -> None:
    rng = random.Random(15)
    for n in range(40):
        entity = f"u{rng.randrange(25)}"
        detector = rng.choice(["message.off_platform_payment", "signup.shared_device_ring",
                               "report.user_report"])
        f, event = flag(entity, minutes=n * 3, detector=detector, dedup_seconds=0,
                        severity=rng.choice(["low", "medium", "high", "critical"]),
                        score=round(rng.random(), 3))
        assert (await queue.add_flag(f, event)).case_id
        clock.advance(rng.uniform(0, 4 * 3600))
    ids = [i.decode() for i in await queue.redis.zrevrange("vigil:queue", 0, -1)]
    assert len(ids) > 10
    for later in (0, 3600, 40 * 3600, 400 * 3600):
        now = clock.now + later
        shown = []
        for case_id in ids:
            base, created = await queue.redis.hmget(f"vigil:case:{case_id}", "priority_base",
                                                    "created_at")
            shown.append(priority(queue.config, float(base), float(created), now))
        assert all(x >= y - 1e-6 for x, y in itertools.pairwise(shown)), shown
