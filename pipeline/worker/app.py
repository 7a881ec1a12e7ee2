"""The composition root: the worker's parts, built and wired into one faust app.

Delivery is at least once (the embedded broker has no Kafka transactions): offsets are committed
only after the producer is flushed, and every output is idempotent (feature counters keyed by
event id, flag ids derived from event and detector, a Lua script that adds each flag once), so a
redelivered event changes nothing. The stages are :class:`~pipeline.worker.worker.Worker`'s; what
a failure costs is :mod:`pipeline.worker.writer`'s and :mod:`pipeline.worker.parking`'s; the
timers are :mod:`pipeline.worker.timers`'. Nothing here runs anything: :func:`build_app` only
constructs, and takes the adapters a test or tool may want to choose (``rules``, ``redis``,
``models``) with the production ones as defaults.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import faust
from redis.asyncio import Redis

from detectors.models import default_models
from detectors.models.base import OnlineModel
from detectors.ruleset import load_rules
from detectors.sampling import Sampler
from pipeline.kafka.transport import broker_urls
from pipeline.models.learner import Learner
from pipeline.models.scorer import Scorer
from pipeline.models.training_log import TrainingLog
from pipeline.models.unlearning import Unlearner
from pipeline.privacy.erased import ErasedUsers
from pipeline.privacy.erasure import Eraser
from pipeline.privacy.plan import retained_families
from pipeline.review.queue import ReviewQueue
from pipeline.rules.live import LiveRules
from pipeline.rules.source import RuleSource
from pipeline.settings import Settings
from pipeline.stores import ledger
from pipeline.stores.consent import RedisConsentStore
from pipeline.stores.heartbeat import this_worker
from pipeline.stores.joins import JoinSettings
from pipeline.stores.links import RedisLinks
from pipeline.stores.state import RedisState
from pipeline.worker.auto_actions import AutoActions, load_auto_actions
from pipeline.worker.dead_letters import DeadLetters
from pipeline.worker.flag_log import FlagLog
from pipeline.worker.links import LinkStep
from pipeline.worker.outputs import RedisOutputs
from pipeline.worker.parking import Parking
from pipeline.worker.platform import PlatformStep
from pipeline.worker.privacy import PrivacyStep
from pipeline.worker.processor import Processor
from pipeline.worker.stats import WorkerStats
from pipeline.worker.timers import Timers
from pipeline.worker.worker import Worker
from pipeline.worker.writer import BatchWriter
from schemas.topics import INPUT_TOPICS, Topics, topic_plan


def build_app(settings: Settings, rules: RuleSource | None = None, *, redis: Redis | None = None,
              models: Sequence[OnlineModel] | None = None) -> faust.App:
    """A worker's faust app. ``rules``: the deployed rule set, hot-reloaded, unless given
    (:class:`~pipeline.rules.source.StaticRules`); ``models``: the default models when
    ``settings.models_enabled``."""
    app = faust_app(settings)
    if redis is None:
        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5,
                               health_check_interval=10)
    if rules is None:  # the deployed rule set, or the packaged library until one is deployed
        rules = LiveRules(redis, load_rules())
    if models is None:
        models = default_models(settings.model_key()) if settings.models_enabled else []
    scorer = Scorer(redis, models, input_ttl_seconds=settings.model_input_ttl,
                    report_ttl_seconds=settings.model_report_window)
    # The labelling sample: its random stratum and the models' picks (budget counted in Redis
    # by the write stage's script; the sampler keeps a cache of those counts).
    sampler = Sampler(settings.sampling_policy()) if models else None
    training_log = TrainingLog.from_settings(settings) if models else None
    learner = Learner(redis, scorer, RedisConsentStore(redis), training_log)
    unlearner = (Unlearner(learner, training_log, debounce=settings.unlearn_debounce)
                 if training_log is not None else None)
    stats = WorkerStats()
    dead_letters = DeadLetters(
        app.topic(Topics.DEAD_LETTERS, key_serializer="raw", value_serializer="raw"), stats)
    parking = Parking(dead_letters, functools.partial(ledger.forget, redis))
    clock_bound = settings.clock_bound()
    # Content digests are kept as long as the ledger keeps ids: a conflicting duplicate within
    # that window is dead-lettered (README, "Delivery guarantees").
    plan = topic_plan(settings.partitions)
    state = RedisState(redis, max_ahead=clock_bound.ahead, digest_ttl=settings.ledger_retention,
                       joins=JoinSettings(window=settings.join_window,
                                          max_held=settings.join_max_held,
                                          allowed_lateness=settings.allowed_lateness),
                       partitions={topic: plan[topic] for topic in INPUT_TOPICS})
    queue = ReviewQueue(redis, search_key=settings.model_key())
    eraser = Eraser(redis, settings.model_key(), settle=settings.erasure_settle,
                    retained=retained_families(settings.erasure_dropped))
    erased = ErasedUsers(settings.model_key())
    worker = Worker(
        state=state,
        processor=Processor(state, rules, scorer, policy_version=settings.policy_version,
                            sampler=sampler),
        rules=rules, learner=learner,
        writer=BatchWriter(RedisOutputs(redis, queue, scorer, sampler=sampler,
                                        pseudonym_key=settings.model_key()),
                           parking, stats),
        dead_letters=dead_letters, flag_log=FlagLog(app), parking=parking, stats=stats,
        # What the models saw is kept for flagged and sampled events (an analyst's decision
        # labels the events of a case), or for every scored event when labels come from
        # elsewhere; a message, proposal or job post's for the report window in any case.
        keep_all_inputs=settings.model_inputs == "all", clock_bound=clock_bound,
        links=LinkStep(RedisLinks.from_settings(settings, redis), settings.model_key(),
                       messages=settings.link_messages),
        platform=PlatformStep(queue, dead_letters, parking),
        auto_actions=AutoActions(queue, load_auto_actions(settings.auto_actions)),
        privacy=PrivacyStep(eraser, erased))
    # Subscribed; the input topics' records go to the worker a fetch at a time, not to an agent.
    app.topics.add(app.topic(*INPUT_TOPICS, key_serializer="raw", value_serializer="raw"))
    app.consumer.deliver_fetches(INPUT_TOPICS, worker.take, max_records=settings.batch_size,
                                 max_wait=settings.batch_wait)
    Timers(app, worker_id=this_worker(), stats=stats, rules=rules, scorer=scorer,
           learner=learner, redis=redis, ledger_retention=settings.ledger_retention,
           unlearner=unlearner, eraser=eraser, erased=erased).install()
    return app


def faust_app(settings: Settings) -> faust.App:
    """The faust app a worker runs in: consumer group, commits, producer and timers."""
    return faust.App(
        settings.app_id,
        broker=broker_urls(settings.kafka_bootstrap, idempotent=settings.idempotent_producer),
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.partitions,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_rebalance_timeout=settings.rebalance_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        broker_commit_interval=settings.commit_interval,
        producer_acks=-1,
        # A write stage publishes its batch's flags at once; with faust's 16 KiB batches the
        # sends queued behind a full batch each waited out a produce round trip (~100 ms for
        # 300 flags under load). One batch takes a write's flags (within the request limit).
        producer_max_batch_size=512 * 1024,
        worker_redirect_stdouts=False,
    )
