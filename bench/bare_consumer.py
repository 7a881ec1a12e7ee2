"""A faust worker that only consumes Vigil's input topics: the baseline for bench/e2e.py.

Same broker, same topics, same faust settings as the real worker; it decodes nothing and writes
nothing, and records when it saw the first and the last of ``BENCH_EXPECT`` messages. With
``BENCH_LATENCIES=path`` it also appends, every second, ``[produced_at, seconds to consume]``
of each message (the producer's timestamp to the agent seeing it): how fast events reach any
faust agent through this broker under the same load.
"""

from __future__ import annotations

import json
import os
import time

import faust

from pipeline.kafka.transport import broker_urls
from pipeline.settings import Settings
from pipeline.worker.run import faust_worker, quiet_gc
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
latencies_path = os.environ.get("BENCH_LATENCIES")
latencies: list[tuple[float, float]] = []


@app.agent(inputs)
async def consume(stream: faust.StreamT) -> None:
    async for event in stream.events():
        if latencies_path:
            produced = event.message.timestamp
            latencies.append((produced, time.time() - produced))
        seen["n"] += 1
        if seen["n"] == 1:
            seen["first"] = time.time()
        if seen["n"] == expect:
            with open(out_path, "w") as handle:
                json.dump({"first": seen["first"], "last": time.time(), "n": expect}, handle)


@app.timer(1.0)
async def write_latencies() -> None:
    if latencies_path and latencies:
        with open(latencies_path, "a") as handle:
            handle.writelines(json.dumps(pair) + "\n" for pair in latencies)
        latencies.clear()


if __name__ == "__main__":
    # In the run's state dir, as the real worker: faust's data folder stays out of the checkout.
    worker = faust_worker(app, loglevel="warning", workdir=str(settings.state_dir))
    quiet_gc()
    worker.execute_from_commandline()  # as the real worker runs
