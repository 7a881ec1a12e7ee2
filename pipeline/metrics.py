"""Prometheus metrics of workers and the review service, defined once.

Each process exports its own metrics only: every collector is registered in the registry of the
process that updates it, :data:`WORKER` (``vigil worker``'s ``/metrics``) or :data:`REVIEW` (the
review service's), never in ``prometheus_client``'s global one. A review service that exported
the worker's metrics too reported ``vigil_rules_version 0`` next to the workers' real version,
and VigilRulesVersionMismatch fired after every deploy. A test checks that every collector here
is in exactly one of the two.

Label values are ids of detectors, topics, event types, reasons and outcomes: never user ids,
emails or any other personal data (a test checks a scrape for that).
"""

from __future__ import annotations

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

#: The worker's metrics (and the queue writes it makes): served on ``VIGIL_METRICS_PORT``.
WORKER = CollectorRegistry(auto_describe=True)
#: The review service's metrics: served on its ``/metrics``.
REVIEW = CollectorRegistry(auto_describe=True)
for _registry in (WORKER, REVIEW):  # the process's own CPU, memory and GC figures, in both
    for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        _registry.register(_collector)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

# ---- worker: input ---------------------------------------------------------------------------
EVENTS = Counter("vigil_events_total", "Valid events processed (each once: see redelivered)",
                 ["topic", "type"], registry=WORKER)
EVENTS_REDELIVERED = Counter(
    "vigil_events_redelivered_total",
    "Valid events Kafka delivered again after a restart or rebalance (their digest was seen), "
    "decided again and written idempotently; not counted in vigil_events_total", ["topic"],
    registry=WORKER)
DEAD_LETTERS = Counter("vigil_dead_letters_total", "Inputs sent to tns.dead_letters",
                       ["topic", "kind"], registry=WORKER)
LINK_ERRORS = Counter("vigil_link_errors_total",
                      "Write stages whose events' links the link index did not record (a bug)",
                      registry=WORKER)
DEAD_LETTER_SEND_FAILURES = Counter(
    "vigil_dead_letter_send_failures_total",
    "Dead letters the producer did not take at once, by what followed: retried (a transient "
    "error; the record's partition waits), minimal (the letter was refused and replaced by one "
    "without the original) or undelivered (taken, then not delivered)", ["outcome"],
    registry=WORKER)
for _outcome in ("retried", "minimal", "undelivered"):  # every series exists from the start
    DEAD_LETTER_SEND_FAILURES.labels(_outcome)
# ---- worker: event time and joins that wait (pipeline.stores.joins) --------------------------
LATE_EVENTS = Counter("vigil_late_events_total",
                      "Events dated behind their topic's low watermark: late (counted in their "
                      "windows) or too_late (past the allowed lateness: decided, counted in none)",
                      ["lateness"], registry=WORKER)
JOINS_HELD = Counter("vigil_joins_held_total",
                     "Events held for a join partner not seen yet (decided at once, and again "
                     "when it arrives)", registry=WORKER)
DECIDED_LATE = Counter("vigil_decided_late_total",
                       "Events decided again: their join partner arrived (partner_arrived), an "
                       "earlier-dated event of a counter's entity came in (counted_late), or "
                       "deciding them again failed (error)", ["reason"], registry=WORKER)
JOINS_UNMATCHED = Counter("vigil_joins_unmatched_total",
                          "Held events let go without their partner: the join window ended "
                          "(window_ended) or the books were full (book_full)", ["reason"],
                          registry=WORKER)
for _kind in ("late", "too_late"):
    LATE_EVENTS.labels(_kind)
for _reason in ("partner_arrived", "counted_late", "error"):
    DECIDED_LATE.labels(_reason)
for _reason in ("window_ended", "book_full"):
    JOINS_UNMATCHED.labels(_reason)
PROCESSING = Histogram("vigil_event_processing_seconds",
                       "Wall time to process one event (context, decide, apply)",
                       buckets=LATENCY_BUCKETS, registry=WORKER)
EVENT_TO_FLAG = Histogram("vigil_event_to_flag_seconds",
                          "From the event's occurred_at to its flag being published",
                          buckets=LATENCY_BUCKETS, registry=WORKER)
BATCH_EVENTS = Histogram("vigil_batch_events",
                         "Records per micro-batch (one fetch, at most VIGIL_BATCH_SIZE)",
                         buckets=(1, 2, 5, 10, 25, 50, 100, 200, 500, 1000), registry=WORKER)
REDIS_ROUND_TRIP = Histogram(
    "vigil_redis_round_trip_seconds",
    "A batch's Redis work, from being sent to its reply being read, by step: state (feature "
    "windows and consent, before deciding) or write (cases, ledger, model inputs)",
    ["step"], buckets=LATENCY_BUCKETS, registry=WORKER)
STAGES = ("prepare", "decide", "write", "finish", "publish")
STAGE_SECONDS = Histogram(
    "vigil_stage_seconds",
    "Where a batch's time goes between its fetch and its cases, per stage call: prepare "
    "(decode, send the state script), decide (await the state, the core), write (await the "
    "links, send cases, ledger and labels to Redis), finish (await that write's replies, "
    "labels learned, platform answers, actions, then publish), publish (flags to tns.flags, "
    "within finish); "
    "phase waited (queued for the stage while it was busy with the batches before; for "
    "prepare, the prepared fetch held until decide had room, no more fetched meanwhile) or ran",
    ["stage", "phase"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=WORKER)
for _stage in STAGES:
    for _phase in ("waited", "ran"):
        STAGE_SECONDS.labels(_stage, _phase)
CONSUMER_LAG = Gauge("vigil_consumer_lag", "Messages behind the end of each assigned partition",
                     ["topic", "partition"], registry=WORKER)

# ---- worker: detection -----------------------------------------------------------------------
DETECTOR_HITS = Counter("vigil_detector_hits_total", "Detector results that fired",
                        ["detector", "mode"], registry=WORKER)
FLAGS_PUBLISHED = Counter("vigil_flags_published_total", "Flags sent to tns.flags", ["detector"],
                          registry=WORKER)
FLAGS_PUBLISH_FAILED = Counter("vigil_flags_publish_failed_total",
                               "Flags Kafka did not take into tns.flags (their cases exist)",
                               registry=WORKER)
AI_SKIPPED = Counter("vigil_ai_skipped_total",
                     "AI detector runs skipped by the consent gate", ["detector", "reason"],
                     registry=WORKER)
DETECTOR_ERRORS = Counter("vigil_detector_errors_total", "Detector runs that failed", ["detector"],
                          registry=WORKER)
RULES_VERSION = Gauge("vigil_rules_version", "Deployed rule-set version the worker runs",
                      registry=WORKER)
RULES_RELOADS = Counter("vigil_rules_reloads_total", "Rule-set reloads", ["result"],
                        registry=WORKER)
RULE_OVER_BUDGET = Counter("vigil_rule_over_budget_total",
                           "Rule evaluations that took longer than the per-evaluation cost budget "
                           "(detectors.cost.RULE_BUDGET_SECONDS)", ["detector"], registry=WORKER)
# What the deployment in force expects of its rules (LiveRules keeps these in step with it).
RULE_EVENT_TYPES = Gauge("vigil_rule_event_types",
                         "1 per event type a rule of the set in force applies to (a mapping for "
                         "PromQL: events of a rule's types)", ["detector", "type"], registry=WORKER)
RULE_BACKTEST_HIT_RATIO = Gauge("vigil_rule_backtest_hit_ratio",
                                "Hits per event of the rule's event types in the backtest recorded "
                                "with the deployment in force (only rules it covered)",
                                ["detector", "mode"], registry=WORKER)
RULE_BACKTEST_EVENTS = Gauge("vigil_rule_backtest_events",
                             "Events of the rule's event types in that backtest's sample",
                             ["detector", "mode"], registry=WORKER)

# ---- models ----------------------------------------------------------------------------------
MODEL_ERROR_RATE = Gauge("vigil_model_error_rate", "Recent error rate of an online model on labels",
                         ["detector"], registry=WORKER)
MODEL_DRIFTS = Counter("vigil_model_drift_total", "Concept drifts detected in a model's error",
                       ["detector"], registry=WORKER)
MODEL_LABELS = Counter("vigil_model_labels_total", "Labels offered to online models",
                       ["detector", "result"], registry=WORKER)
MODEL_OBSERVED = Counter("vigil_model_observed_total",
                         "Unlabelled inputs offered to models with an unsupervised part",
                         ["detector", "result"], registry=WORKER)
MODEL_VERSION = Gauge("vigil_model_version", "Model snapshot version in use", ["detector"],
                      registry=WORKER)
MODEL_LABEL_SOURCES = Counter(
    "vigil_model_label_sources_total",
    "Labels models learned, by where the label came from: flag (a flag's case), sample (a "
    "labelling case), report (a decision on a user report about the content), bootstrap",
    ["detector", "source"], registry=WORKER)
MODEL_PUBLISH_CONFLICTS = Counter(
    "vigil_model_publish_conflicts_total",
    "Learner rounds started over because another learner published first (a rebalance)",
    ["round"], registry=WORKER)
MODEL_UNLEARNED_UP_TO = Gauge(
    "vigil_model_unlearned_up_to_timestamp_seconds",
    "The latest erasure or withdrawal (its time) the model's published state excludes, with "
    "every one before it (0: none recorded yet)", ["detector"], registry=WORKER)
MODEL_UNLEARNING_PENDING = Gauge(
    "vigil_model_unlearning_pending",
    "Erasures and withdrawals recorded that the model's published state does not exclude yet",
    ["detector"], registry=WORKER)
MODEL_UNLEARNED = Counter(
    "vigil_model_unlearned_total",
    "Training-log entries taken out of a model, by why (request: an erasure or withdrawal; "
    "retention: the log's retention or cap) and how (exact: subtracted; rebuild)",
    ["detector", "why", "method"], registry=WORKER)

# ---- data rights ---------------------------------------------------------------------------
ERASURES = Counter("vigil_erasures_total",
                   "Erasures by stage: requested (recorded), pass (a pass over the keyspace "
                   "done), done (audited)", ["stage"], registry=WORKER)
ERASURES_PENDING = Gauge("vigil_erasures_pending",
                         "Erasures requested and not done yet (the owner of tns.privacy runs "
                         "them)", registry=WORKER)
EVENTS_OF_ERASED = Counter("vigil_events_of_erased_users_total",
                           "Events dropped unprocessed because they name an erased user (the "
                           "late-event rule), by topic", ["topic"], registry=WORKER)

# ---- review queue writes (by the worker) -----------------------------------------------------
QUEUE_FLAGS = Counter("vigil_queue_flags_total",
                      "Flags offered to the review queue, by what happened to them",
                      ["detector", "result"], registry=WORKER)
SAMPLES = Counter("vigil_samples_total",
                  "Events the labelling sampler sent to review, by reason (random, uncertainty, "
                  "cold_start) and what the queue did (opened, linked, duplicate, flagged, "
                  "budget, error)", ["type", "reason", "result"], registry=WORKER)
FLAG_TO_CASE = Histogram("vigil_flag_to_case_seconds", "From a flag's creation to its case write",
                         buckets=LATENCY_BUCKETS, registry=WORKER)

# ---- review service --------------------------------------------------------------------------
QUEUE_DEPTH = Gauge("vigil_queue_depth", "Open cases", ["severity"], registry=REVIEW)
QUEUE_OLDEST_AGE = Gauge("vigil_queue_oldest_age_seconds", "Age of the oldest open case",
                         registry=REVIEW)
SLA_BREACHED = Gauge("vigil_sla_breached_cases", "Open cases past their SLA due time",
                     ["severity"], registry=REVIEW)
DECISIONS = Counter("vigil_decisions_total", "Analyst decisions", ["outcome"], registry=REVIEW)

# ---- consumer group lag, from the broker (the review service; outlives the workers) ---------
GROUP_LAG = Gauge("vigil_consumer_group_lag",
                  "Messages between the consumer group's committed offset and the end of each "
                  "input partition, read from the broker (reported while no worker runs)",
                  ["group", "topic", "partition"], registry=REVIEW)
GROUP_LAG_SAMPLES = Counter("vigil_consumer_group_lag_samples_total",
                            "Reads of the group's committed offsets and partition ends, by result "
                            "(ok, failed: the lag series are dropped until a read succeeds)",
                            ["result"], registry=REVIEW)

DETECTOR_DECISIONS = Counter(
    "vigil_detector_decisions_total",
    "Final decisions (confirmed_fraud or legitimate) on detection cases, per detector that "
    "flagged the case: live precision is confirmed over both", ["detector", "outcome"], registry=REVIEW)
LABELLING_DECISIONS = Counter("vigil_labelling_decisions_total",
                              "Decisions on labelling cases (sampled, not detections)",
                              ["outcome"], registry=REVIEW)
# From the random labelling sample's decisions (review service; detectors.estimates).
PREVALENCE = Gauge("vigil_fraud_prevalence_estimate",
                   "Estimated share of fraud among consented events of a type (random sample, "
                   "Horvitz-Thompson weights), with its 95 % Wilson interval's bounds",
                   ["type", "bound"], registry=REVIEW)
RECALL = Gauge("vigil_detector_recall_estimate",
               "Estimated share of a type's fraud a detector flags (random sample), with its "
               "95 % Wilson interval's bounds; detector \"any\": every detector together",
               ["detector", "type", "bound"], registry=REVIEW)
SAMPLE_DECIDED = Gauge("vigil_random_sample_decided",
                       "Decided events of the random labelling sample, per type (the "
                       "estimates' sample size)", ["type"], registry=REVIEW)
LABELLING_OPEN = Gauge("vigil_labelling_cases_open", "Open labelling cases (not detections)", registry=REVIEW)

# ---- platform actions and appeals ------------------------------------------------------------
ACTION_RESULTS = Counter("vigil_action_results_total",
                         "Platform services' acknowledgements of actions (action.applied / "
                         "action.failed), by action and result (applied, failed, duplicate, "
                         "stale, unknown: dead-lettered)", ["action", "result"], registry=WORKER)
APPEALS = Counter("vigil_appeals_total",
                  "appeal.filed events by result (opened, duplicate, refused: dead-lettered)",
                  ["result"], registry=WORKER)
ACTIONS_PUBLISHED = Counter("vigil_actions_published_total",
                            "Platform actions the relay published to tns.actions, by kind "
                            "(apply, reverse)", ["kind"], registry=REVIEW)
ACTIONS_FAILED = Gauge("vigil_actions_failed",
                       "Platform actions whose latest acknowledgement is action.failed",
                       registry=REVIEW)
APPEAL_DECISIONS = Counter("vigil_appeal_decisions_total",
                           "Decisions on appeal cases: upheld, reversed, escalate",
                           ["result"], registry=REVIEW)
APPEALS_OPEN = Gauge("vigil_appeal_cases_open", "Open appeal cases", registry=REVIEW)
APPEAL_SLA_BREACHED = Gauge("vigil_appeal_sla_breached_cases",
                            "Open appeal cases past their appeal SLA (VIGIL_REVIEW_APPEAL_SLA)",
                            registry=REVIEW)
