"""Prometheus metrics of workers and the review service, defined once.

Label values are ids of detectors, topics, event types, reasons and outcomes: never user ids,
emails or any other personal data (a test checks a scrape for that).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

# ---- worker: input ---------------------------------------------------------------------------
EVENTS = Counter("vigil_events_total", "Valid events processed", ["topic", "type"])
DEAD_LETTERS = Counter("vigil_dead_letters_total", "Inputs sent to tns.dead_letters", ["topic", "kind"])
PROCESSING = Histogram("vigil_event_processing_seconds",
                       "Wall time to process one event (context, decide, apply)",
                       buckets=LATENCY_BUCKETS)
EVENT_TO_FLAG = Histogram("vigil_event_to_flag_seconds",
                          "From the event's occurred_at to its flag being published",
                          buckets=LATENCY_BUCKETS)
BATCH_EVENTS = Histogram("vigil_batch_events",
                         "Records per micro-batch (one fetch, at most VIGIL_BATCH_SIZE)",
                         buckets=(1, 2, 5, 10, 25, 50, 100, 200, 500, 1000))
REDIS_ROUND_TRIP = Histogram(
    "vigil_redis_round_trip_seconds",
    "A batch's Redis work, from being sent to its reply being read, by step: state (feature "
    "windows and consent, before deciding) or write (cases, ledger, model inputs)",
    ["step"], buckets=LATENCY_BUCKETS)
CONSUMER_LAG = Gauge("vigil_consumer_lag", "Messages behind the end of each assigned partition",
                     ["topic", "partition"])

# ---- worker: detection -----------------------------------------------------------------------
DETECTOR_HITS = Counter("vigil_detector_hits_total", "Detector results that fired",
                        ["detector", "mode"])
FLAGS_PUBLISHED = Counter("vigil_flags_published_total", "Flags sent to tns.flags", ["detector"])
FLAGS_PUBLISH_FAILED = Counter("vigil_flags_publish_failed_total",
                               "Flags Kafka did not take into tns.flags (their cases exist)")
AI_SKIPPED = Counter("vigil_ai_skipped_total",
                     "AI detector runs skipped by the consent gate", ["detector", "reason"])
DETECTOR_ERRORS = Counter("vigil_detector_errors_total", "Detector runs that failed", ["detector"])
RULES_VERSION = Gauge("vigil_rules_version", "Deployed rule-set version the worker runs")
RULES_RELOADS = Counter("vigil_rules_reloads_total", "Rule-set reloads", ["result"])
# What the deployment in force expects of its rules (LiveRules keeps these in step with it).
RULE_EVENT_TYPES = Gauge("vigil_rule_event_types",
                         "1 per event type a rule of the set in force applies to (a mapping for "
                         "PromQL: events of a rule's types)", ["detector", "type"])
RULE_BACKTEST_HIT_RATIO = Gauge("vigil_rule_backtest_hit_ratio",
                                "Hits per event of the rule's event types in the backtest recorded "
                                "with the deployment in force (only rules it covered)",
                                ["detector", "mode"])
RULE_BACKTEST_EVENTS = Gauge("vigil_rule_backtest_events",
                             "Events of the rule's event types in that backtest's sample",
                             ["detector", "mode"])

# ---- models ----------------------------------------------------------------------------------
MODEL_ERROR_RATE = Gauge("vigil_model_error_rate", "Recent error rate of an online model on labels",
                         ["detector"])
MODEL_DRIFTS = Counter("vigil_model_drift_total", "Concept drifts detected in a model's error",
                       ["detector"])
MODEL_LABELS = Counter("vigil_model_labels_total", "Labels offered to online models",
                       ["detector", "result"])
MODEL_OBSERVED = Counter("vigil_model_observed_total",
                         "Unlabelled inputs offered to models with an unsupervised part",
                         ["detector", "result"])
MODEL_VERSION = Gauge("vigil_model_version", "Model snapshot version in use", ["detector"])
MODEL_LABEL_SOURCES = Counter(
    "vigil_model_label_sources_total",
    "Labels models learned, by where the label came from: flag (a flag's case), sample (a "
    "labelling case), report (a decision on a user report about the content), bootstrap",
    ["detector", "source"])
MODEL_PUBLISH_CONFLICTS = Counter(
    "vigil_model_publish_conflicts_total",
    "Learner rounds started over because another learner published first (a rebalance)",
    ["round"])

# ---- review queue writes ------------------------------------------------------------------------------
QUEUE_FLAGS = Counter("vigil_queue_flags_total",
                      "Flags offered to the review queue, by what happened to them",
                      ["detector", "result"])
SAMPLES = Counter("vigil_samples_total",
                  "Events the labelling sampler sent to review, by reason (random, uncertainty, "
                  "cold_start) and what the queue did (opened, linked, duplicate, flagged, "
                  "budget, error)", ["type", "reason", "result"])
FLAG_TO_CASE = Histogram("vigil_flag_to_case_seconds", "From a flag's creation to its case write",
                         buckets=LATENCY_BUCKETS)

# ---- review service --------------------------------------------------------------------------
QUEUE_DEPTH = Gauge("vigil_queue_depth", "Open cases", ["severity"])
QUEUE_OLDEST_AGE = Gauge("vigil_queue_oldest_age_seconds", "Age of the oldest open case")
SLA_BREACHED = Gauge("vigil_sla_breached_cases", "Open cases past their SLA due time", ["severity"])
DECISIONS = Counter("vigil_decisions_total", "Analyst decisions", ["outcome"])
DETECTOR_DECISIONS = Counter(
    "vigil_detector_decisions_total",
    "Final decisions (confirmed_fraud or legitimate) on detection cases, per detector that "
    "flagged the case: live precision is confirmed over both", ["detector", "outcome"])
LABELLING_DECISIONS = Counter("vigil_labelling_decisions_total",
                              "Decisions on labelling cases (sampled, not detections)",
                              ["outcome"])
# From the random labelling sample's decisions (review service; detectors.estimates).
PREVALENCE = Gauge("vigil_fraud_prevalence_estimate",
                   "Estimated share of fraud among consented events of a type (random sample, "
                   "Horvitz-Thompson weights), with its 95 % Wilson interval's bounds",
                   ["type", "bound"])
RECALL = Gauge("vigil_detector_recall_estimate",
               "Estimated share of a type's fraud a detector flags (random sample), with its "
               "95 % Wilson interval's bounds; detector \"any\": every detector together",
               ["detector", "type", "bound"])
SAMPLE_DECIDED = Gauge("vigil_random_sample_decided",
                       "Decided events of the random labelling sample, per type (the "
                       "estimates' sample size)", ["type"])
LABELLING_OPEN = Gauge("vigil_labelling_cases_open", "Open labelling cases (not detections)")
