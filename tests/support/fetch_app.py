"""A faust app on Vigil's transport for tests/pipeline/test_kafka_transport.py: topic ``t.fetched``
is delivered a fetch at a time to a handler that logs each fetch (one JSON line) and acks it
unless ``FETCH_ACK=0``; topic ``t.agent`` goes to an ordinary agent that logs each message.
Run as ``python -m tests.support.fetch_app worker``; importing it does nothing."""

from __future__ import annotations

import json
import os

import faust

from pipeline.kafka.transport import Fetched, broker_urls
from pipeline.worker.run import faust_worker


def main() -> None:
    log_path = os.environ["FETCH_LOG"]
    ack = os.environ.get("FETCH_ACK", "1") == "1"
    app = faust.App(os.environ.get("FETCH_GROUP", "fetch-test"),
                    broker=broker_urls(os.environ["KAFKA_BOOTSTRAP_SERVERS"]), store="memory://",
                    web_enabled=False, consumer_auto_offset_reset="earliest",
                    broker_session_timeout=3, broker_rebalance_timeout=3,
                    broker_heartbeat_interval=0.5, broker_commit_interval=0.3)
    fetched_topic = app.topic("t.fetched", key_serializer="raw", value_serializer="raw")
    agent_topic = app.topic("t.agent", key_serializer="raw", value_serializer="raw")
    app.topics.add(fetched_topic)

    def log(entry: dict) -> None:
        with open(log_path, "a") as handle:
            handle.write(json.dumps(entry) + "\n")

    async def handle(fetched: Fetched) -> None:
        log({"kind": "fetch", "records": [[r.partition, r.offset, r.value.decode()]
                                          for r in fetched.records]})
        if ack:
            fetched.ack()

    app.consumer.deliver_fetches(["t.fetched"], handle,
                                 max_records=int(os.environ.get("FETCH_MAX", "7")),
                                 max_wait=float(os.environ.get("FETCH_WAIT", "0")))

    @app.agent(agent_topic)
    async def one_by_one(stream: faust.StreamT) -> None:
        async for event in stream.events():
            log({"kind": "agent", "value": event.message.value.decode()})

    # Beside the log (the test's tmp_path), so faust's data folder does not land in the checkout.
    workdir = os.path.dirname(os.path.abspath(log_path))
    faust_worker(app, loglevel="info", workdir=workdir).execute_from_commandline()


if __name__ == "__main__":
    main()
