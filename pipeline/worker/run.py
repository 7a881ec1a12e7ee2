"""Running a worker as a process: ``python -m pipeline.worker`` and ``vigil worker``."""

from __future__ import annotations

import gc
import logging
from typing import Any

import faust

from pipeline import metrics
from pipeline.settings import MissingSecret, Settings
from pipeline.worker.app import build_app
from schemas.topics import topic_plan

log = logging.getLogger("vigil.worker")


def faust_worker(app: faust.App, **options: Any) -> faust.Worker:
    """A faust worker for a service: quiet, stdout left alone, and no terminal spinner.

    faust keeps a spinner at log levels of WARNING and above and, to feed it, sets the root
    logger to DEBUG: every debug line of faust and aiokafka would become a log record.

    >>> faust_worker(faust.App("doctest", broker="memory://"), loglevel="warning").spinner is None
    True
    """
    worker = faust.Worker(app, quiet=True, redirect_stdouts=False, **options)
    worker.spinner = None
    return worker


def quiet_gc() -> None:
    """Keep the cyclic garbage collector out of the way of a long-running worker.

    Everything imported and built so far lives as long as the process: frozen, the collector
    stops scanning it (a full collection of ~175,000 start-up objects took 100-160 ms, a stall
    every few seconds under load). And a young collection every 700 allocations, Python's
    default, ran ~1,000 times in 20,000 events for ~170 ms; every 20,000 it runs a few times
    (almost everything an event allocates is freed by reference counting before then).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def run_worker(settings: Settings | None = None) -> None:
    """Run one worker until it is stopped (SIGTERM or Ctrl-C)."""
    from prometheus_client import start_http_server

    from pipeline.kafka.admin import create_topics

    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.models_enabled:
        try:  # before anything starts: no worker hashes identifiers under a public key
            settings.model_key()
        except MissingSecret as exc:
            log.critical("refusing to start: %s", exc)
            raise SystemExit(f"vigil worker: refusing to start: {exc}") from None
    if settings.create_topics:
        create_topics(settings.kafka_bootstrap,
                      topic_plan(settings.partitions))
    if settings.metrics_port:  # the worker's own metrics only (not the review service's)
        start_http_server(settings.metrics_port, addr=settings.metrics_host,
                          registry=metrics.WORKER)
        log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    app = build_app(settings)
    worker = faust_worker(app, loglevel=settings.log_level, workdir=str(settings.state_dir))
    quiet_gc()
    worker.execute_from_commandline()
