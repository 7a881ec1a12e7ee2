"""A faust worker that only consumes Vigil's input topics: the baseline for bench/e2e.py.

Same broker, same topics, same faust settings as the real worker; it decodes nothing and writes
nothing, and records when it saw the first and the last of ``BENCH_EXPECT`` messages.
"""

from __future__ import annotations

import json
import os
import time

import faust

from pipeline.config import Settings
from pipeline.worker import broker_urls, faust_worker
from schemas.topics import INPUT_TOPICS

settings = Settings.from_env()
expect = int(os.environ["BENCH_EXPECT"])
out_path = os.environ["BENCH_OUT"]

app = faust.App(
    settings.app_id, broker=broker_urls(settings.kafka_bootstrap), store="memory://",
    web_enabled=False, consumer_auto_offset_reset="earliest",
    broker_session_timeout=settings.session_timeout,
    broker_rebalance_timeout=settings.rebalance_timeout,
    broker_heartbeat_interval=settings.heartbeat_interval,
    broker_commit_interval=settings.commit_interval, worker_redirect_stdouts=False,
)
inputs = app.topic(*INPUT_TOPICS, key_serializer="raw", value_serializer="raw")
seen = {"n": 0, "first": 0.0}


@app.agent(inputs)
async def consume(stream: faust.StreamT) -> None:
    async for _ in stream.events():
        seen["n"] += 1
        if seen["n"] == 1:
            seen["first"] = time.time()
        if seen["n"] == expect:
            with open(out_path, "w") as handle:
                json.dump({"first": seen["first"], "last": time.time(), "n": expect}, handle)


if __name__ == "__main__":
    faust_worker(app, loglevel="warning").execute_from_commandline()  # as the real worker runs
