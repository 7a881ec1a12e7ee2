"""Every place Vigil keeps that can hold a person's data: Redis key families, Kafka topics,
files. What each holds, how long, and what erasure does to it (issue 20).

This is the list that erasure, access and retention work from, and the README's data
inventory table is generated from it. ``tests/privacy/test_inventory.py`` fails when the code
spells a Redis key family the inventory does not name, when a live stack holds a key no entry
matches, and when a topic of the plan has no entry, so a new store cannot appear unlisted.

A pattern names a key's variable parts in angle brackets: ``<user>`` a user id, ``<entity>``
an entity (``user:usr_1``, ``job_post:job_1``), ``<n>`` a number, ``<address>`` a client
address (the rest of the key: an IPv6 address has colons), anything else one segment without a
colon.

>>> entry_for_key("vigil:consent:usr_1").family
'consent history'
>>> entry_for_key("vigil:f:ip24:10.0.0.0/24:accounts").holds
('identifier', 'derived')
>>> entry_for_key("vigil:bucket:login:addr:2001:db8::1").family
'failed-login buckets'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

from schemas.topics import INPUT_TOPICS, Topics, retention_days

Store = Literal["redis", "kafka", "file"]
#: What an entry holds of a person: ``identifier`` (a user, e-mail, IP, device or content id in
#: the clear), ``raw content`` (what they wrote), ``derived`` (counts, features, scores),
#: ``pseudonymised`` (keyed hashes only), ``learned`` (model state trained on their data),
#: ``staff`` (analysts' own data), ``none`` (aggregates and operational state).
Holding = Literal["identifier", "raw content", "derived", "pseudonymised", "learned", "staff",
                  "none"]
#: What erasure does: ``delete`` the key or the user's members of it; ``pseudonymise`` (the
#: record stays, its identifiers replaced by the user's pseudonym and its raw content removed:
#: decisions, actions and the audit trail, which the retention policy keeps); ``unlearn`` (the
#: model subtracts or is rebuilt without the user); ``expire`` (short-lived: erasure deletes
#: it too, and its TTL bounds it anyway); ``none`` (nothing of a person).
Erasure = Literal["delete", "pseudonymise", "unlearn", "expire", "none"]
#: How its retention is enforced: ``ttl`` (every key carries a Redis TTL), ``case`` (it goes
#: with its case, :mod:`pipeline.review.queue.retention`), ``trimmed`` (its writer or a sweep
#: drops what is past the period), ``capped`` (a bound on entries), ``kept`` (by design: an
#: aggregate, the proof of a choice or an erasure, staff records; erasure handles a person's),
#: ``retention.ms`` (a Kafka topic's).
Expiry = Literal["ttl", "case", "trimmed", "capped", "kept", "retention.ms"]


@dataclass(frozen=True)
class Entry:
    family: str
    store: Store
    #: Key pattern, topic name or file path.
    pattern: str
    holds: tuple[Holding, ...]
    #: How long it is kept, and by which setting.
    retention: str
    erasure: Erasure
    #: The module that writes it.
    writer: str
    expiry: Expiry = "ttl"

    @property
    def personal(self) -> bool:
        return any(h not in ("none", "staff") for h in self.holds)


def _redis(family: str, pattern: str, holds: tuple[Holding, ...], retention: str,
           erasure: Erasure, writer: str, expiry: Expiry | None = None) -> Entry:
    if expiry is None:
        expiry = "case" if retention == _CASES else "kept" if retention.startswith("kept") \
            else "ttl"
    return Entry(family, "redis", pattern, holds, retention, erasure, writer, expiry)


_Q = "pipeline.review.queue"
_CASES = ("its case: VIGIL_REVIEW_CASE_RETENTION_DAYS (730 days) after the decision "
          "(pipeline.review.queue.retention)")
_ID: tuple[Holding, ...] = ("identifier",)
_NONE: tuple[Holding, ...] = ("none",)
_WINDOW = "25 h after the last write (the longest feature window plus lateness)"
_PROFILE = "400 days after the last write"

REDIS: tuple[Entry, ...] = (
    # The review queue: cases and what hangs off them.
    _redis("case", "vigil:case:<case>", ("identifier", "raw content"), _CASES, "pseudonymise",
           f"{_Q}.intake"),
    _redis("case flags", "vigil:case:<case>:flags", _NONE, _CASES, "none", f"{_Q}.intake"),
    _redis("case samples", "vigil:case:<case>:samples", _NONE, _CASES, "none", f"{_Q}.labelling"),
    _redis("case flag dedup", "vigil:case_dedup:<case>", _NONE, _CASES, "none", f"{_Q}.intake"),
    _redis("case suppressed flags", "vigil:case_suppressed:<case>", _NONE, _CASES, "none",
           f"{_Q}.intake"),
    _redis("case notes", "vigil:case_notes:<case>", ("raw content", "staff"), _CASES,
           "pseudonymise", f"{_Q}.actions"),
    _redis("reported content on a case", "vigil:case_content:<case>", ("identifier", "raw content"),
           _CASES, "delete", f"{_Q}.intake"),
    _redis("reported content seen", "vigil:case_content_seen:<case>", _NONE, _CASES, "none",
           f"{_Q}.intake"),
    _redis("case decisions", "vigil:case_decisions:<case>", _ID, _CASES, "pseudonymise",
           f"{_Q}.actions"),
    _redis("open case of an entity", "vigil:entity:<entity>:open_case", _ID, _CASES, "delete",
           f"{_Q}.intake"),
    _redis("cases of an entity", "vigil:entity_cases:<entity>", _ID, _CASES, "delete",
           f"{_Q}.intake"),
    _redis("decisions of an entity", "vigil:entity_decisions:<entity>", _ID, _CASES,
           "pseudonymise", f"{_Q}.actions"),
    _redis("decisions about a user", "vigil:subject_decisions:<user>", _ID, _CASES,
           "pseudonymise", f"{_Q}.actions"),
    _redis("decision", "vigil:decision:<decision>", ("identifier", "staff"), _CASES,
           "pseudonymise", f"{_Q}.actions"),
    _redis("flag", "vigil:flag:<flag>", ("identifier", "derived"), _CASES, "pseudonymise",
           f"{_Q}.intake"),
    _redis("flag to case", "vigil:flag_case", _NONE, _CASES, "none", f"{_Q}.intake"),
    _redis("suppressed flags", "vigil:flag_suppressed", _NONE, _CASES, "none", f"{_Q}.intake"),
    _redis("flagged event", "vigil:event:<event>", ("identifier", "raw content"), _CASES, "delete",
           f"{_Q}.intake"),
    _redis("snooze", "vigil:snooze:<entity>", ("identifier", "staff"),
           "until the snooze ends (its TTL)", "delete", f"{_Q}.actions"),
    _redis("audit log", "vigil:audit", ("identifier", "staff"),
           "VIGIL_REVIEW_AUDIT_RETENTION_DAYS (730 days)", "pseudonymise", f"{_Q}.actions",
           expiry="trimmed"),
    _redis("decision outbox", "vigil:outbox:pending", _ID, "until relayed to tns.decisions",
           "pseudonymise", f"{_Q}.outbox", expiry="trimmed"),
    _redis("relayed decisions", "vigil:outbox:published", _NONE, "the relay's dedup window",
           "none", f"{_Q}.outbox", expiry="trimmed"),
    _redis("outbox lock", "vigil:outbox:lock", _NONE, "seconds (a lease)", "none", f"{_Q}.outbox"),
    _redis("recent flags", "vigil:flags:recent", _NONE,
           "the newest flags (a capped stream), none past its case", "none", f"{_Q}.intake",
           expiry="capped"),
    *(_redis(f"case ids by status ({key})", f"vigil:{key}", _NONE, _CASES, "none", f"{_Q}.intake")
      for key in ("queue", "escalated", "closed", "sla", "sla:pending", "labelling",
                  "labelling:escalated", "labelling:closed")),
    _redis("subject history", "vigil:history:<user>", ("identifier", "derived"),
           "VIGIL_REVIEW_HISTORY_RETENTION_SECONDS (30 days) after the last event",
           "delete", f"{_Q}.history"),
    _redis("content of a message or proposal", "vigil:content:<type>:<content>",
           ("identifier", "raw content"), "VIGIL_REVIEW_REPORT_CONTENT_SECONDS (3 days)", "delete",
           f"{_Q}.history"),
    _redis("search index", "vigil:search", _ID, _CASES, "delete", f"{_Q}.search"),
    _redis("search index by time", "vigil:search:at", _ID, _CASES, "delete",
           f"{_Q}.search"),
    _redis("labelling sample", "vigil:sample:<event>", ("derived",), _CASES, "delete",
           f"{_Q}.labelling"),
    _redis("sample budget", "vigil:sample_budget:<model>:<day>", _NONE, "3 days", "none",
           f"{_Q}.labelling"),
    _redis("estimate sums", "vigil:est:<type>", _NONE, "kept", "none", f"{_Q}.labelling"),
    _redis("estimate catches", "vigil:est_caught:<type>", _NONE, "kept", "none",
           f"{_Q}.labelling"),
    _redis("queue statistics", "vigil:stats:<name>", _NONE, "kept", "none", f"{_Q}.stats"),
    _redis("per-minute series", "vigil:ts:<name>", _NONE,
           "VIGIL_REVIEW_SERIES_RETENTION_SECONDS (2 days)", "none", f"{_Q}.stats",
           expiry="trimmed"),
    _redis("per-minute series by key", "vigil:ts:<name>:<key>", _NONE,
           "VIGIL_REVIEW_SERIES_RETENTION_SECONDS (2 days)", "none", f"{_Q}.stats",
           expiry="trimmed"),
    _redis("saved filters", "vigil:saved_filters:<analyst>", ("staff",), "kept", "none",
           "pipeline.review.web.finding"),
    _redis("ingest log", "vigil:ingest_log", ("identifier", "staff"), "a capped stream", "delete",
           "pipeline.review.web.ingest_log", expiry="capped"),
    _redis("ingest rate-limit buckets", "vigil:bucket:ingest:<service>", _NONE,
           "until full again (seconds)", "none", "pipeline.review.web.ingest", expiry="ttl"),
    # A client address may be an IPv6 address: the rest of the key, colons and all.
    _redis("failed-login buckets", "vigil:bucket:login:<kind>:<address>", ("staff",),
           "until full again (a minute)", "none", "pipeline.review.web.login"),
    _redis("analysts and tokens", "vigil:auth:<name>", ("staff",), "kept", "none",
           "pipeline.review.web.auth", expiry="kept"),
    _redis("console sessions", "vigil:session:<digest>", ("staff",), "8 h (VIGIL_REVIEW_SESSION)",
           "none", "pipeline.review.web.auth"),
    _redis("session secret", "vigil:review:secret", _NONE, "kept", "none",
           "pipeline.review.web.auth"),
    # The worker's stores.
    _redis("consent history", "vigil:consent:<user>", ("identifier",),
           "as long as the account (proof of what was recorded)", "pseudonymise",
           "pipeline.stores.consent", expiry="kept"),
    _redis("event digests", "vigil:digest:<event>", ("pseudonymised",),
           "VIGIL_LEDGER_RETENTION (15 min)", "expire", "pipeline.stores.ledger"),
    _redis("processing ledger", "vigil:ledger:processed", _NONE, "VIGIL_LEDGER_RETENTION (15 min)",
           "none", "pipeline.stores.ledger", expiry="trimmed"),
    _redis("user feature windows", "vigil:f:<role>:<user>:<window>", ("identifier", "derived"),
           _WINDOW, "delete", "pipeline.stores.features"),
    _redis("user profile features", "vigil:f:user:<user>:profile", ("identifier", "derived"),
           _PROFILE, "delete", "pipeline.stores.features"),
    _redis("public profile features", "vigil:f:user:<user>:public:<n>", ("identifier", "derived"),
           _PROFILE, "delete", "pipeline.stores.features"),
    _redis("cover-letter fingerprints", "vigil:f:freelancer:<user>:letter:<n>:<band>",
           ("identifier", "derived"), _WINDOW, "delete", "pipeline.stores.features"),
    _redis("accounts per device", "vigil:f:device:<device>:accounts", ("identifier", "derived"),
           _WINDOW, "delete", "pipeline.stores.features"),
    _redis("accounts per /24", "vigil:f:ip24:<prefix>:accounts", ("identifier", "derived"),
           _WINDOW, "delete", "pipeline.stores.features"),
    _redis("job features", "vigil:f:job:<job>", ("identifier", "derived"), _PROFILE, "delete",
           "pipeline.stores.features"),
    _redis("links of an account", "vigil:links:user:<user>", ("identifier", "pseudonymised"),
           "VIGIL_LINK_RETENTION (90 days) after last seen", "delete", "pipeline.stores.links"),
    _redis("text links of an account", "vigil:links:texts:<user>",
           ("identifier", "pseudonymised"), "VIGIL_LINK_RETENTION (90 days) after last seen",
           "delete", "pipeline.stores.links"),
    _redis("accounts per link key", "vigil:links:key:<kind>:<key>", ("identifier", "pseudonymised"),
           "VIGIL_LINK_RETENTION (90 days) after last seen", "delete", "pipeline.stores.links"),
    _redis("accounts per text band", "vigil:links:key:text:<n>:<key>",
           ("identifier", "pseudonymised"), "VIGIL_LINK_RETENTION (90 days) after last seen",
           "delete", "pipeline.stores.links"),
    _redis("worker heartbeat", "vigil:worker:<name>", _NONE, "seconds", "none",
           "pipeline.stores.heartbeat"),
    _redis("rule deploys", "vigil:rules:<name>", ("staff",), "kept (versioned)", "none",
           "pipeline.rules.store"),
    _redis("rule set versions", "vigil:rules:v:<n>", ("staff",), "kept (versioned)", "none",
           "pipeline.rules.store"),
    # Platform actions and appeals (issue 19).
    _redis("platform action", "vigil:action:<action>", ("identifier", "staff"), _CASES,
           "pseudonymise", f"{_Q}.enforcement"),
    _redis("actions of a case", "vigil:case_actions:<case>", _NONE, _CASES, "none",
           f"{_Q}.enforcement"),
    _redis("failed actions", "vigil:actions:failed", _NONE, "until applied", "none",
           f"{_Q}.enforcement", expiry="trimmed"),
    _redis("action outbox", "vigil:outbox:actions:<name>", _ID, "until relayed to tns.actions",
           "pseudonymise", f"{_Q}.outbox", expiry="trimmed"),
    _redis("appeal of a decision", "vigil:appeal_of:<decision>", _NONE, _CASES, "none",
           f"{_Q}.appeals"),
    *(_redis(f"appeal case ids ({key})", f"vigil:{key}", _NONE, _CASES, "none", f"{_Q}.appeals")
      for key in ("appeals", "appeals:escalated", "appeals:closed")),
    # Ring confirmations (issue 19) and joins that wait (issue 18).
    _redis("confirmed fraud accounts", "vigil:links:confirmed", _ID,
           "VIGIL_LINK_RETENTION (90 days), at most VIGIL_LINK_MAX_CONFIRMED", "pseudonymise",
           "pipeline.stores.links"),
    # Counting windows and events waiting for a partner: nothing a hold needs; an erased
    # user's entries go (their later events are dropped anyway).
    _redis("join books", "vigil:j:book:<entity>", ("identifier", "derived"),
           "VIGIL_JOIN_WINDOW past the partner topic's watermark", "delete",
           "pipeline.stores.joins"),
    _redis("held events", "vigil:j:event:<event>", ("identifier", "raw content"),
           "VIGIL_JOIN_WINDOW past the partner topic's watermark", "delete",
           "pipeline.stores.joins"),
    _redis("held events by topic", "vigil:j:held:<topic>", _ID, "VIGIL_JOIN_WINDOW", "delete",
           "pipeline.stores.joins", expiry="trimmed"),
    _redis("watermarks", "vigil:j:wm:<topic>", _NONE, "kept", "none", "pipeline.stores.joins",
    expiry="kept"),
    # Unlearning (issue 20).
    _redis("training log", "vigil:model:<model>:training_log", ("pseudonymised", "derived"),
           "VIGIL_TRAINING_LOG_RETENTION (90 days), at most VIGIL_TRAINING_LOG_MAXLEN",
           "unlearn", "pipeline.models.learner", expiry="trimmed"),
    _redis("learning withdrawals", "vigil:privacy:learning_withdrawn", ("pseudonymised",),
           "until every model excludes it and the training log's retention passed", "unlearn",
           "pipeline.worker.outputs", expiry="trimmed"),
    _redis("unlearning status", "vigil:model:unlearning", _NONE, "kept", "none",
           "pipeline.models.unlearning"),
    _redis("erased users", "vigil:privacy:erased", ("pseudonymised",),
           "kept (pseudonym -> erased at: what the late-event rule and unlearning read)",
           "pseudonymise", "pipeline.privacy.erasure"),
    _redis("erasures under way", "vigil:privacy:erasing", ("identifier", "raw content"),
           "until the erasure's second pass (VIGIL_ERASURE_SETTLE after the first)", "delete",
           "pipeline.privacy.erasure", expiry="trimmed"),
    _redis("erasures done", "vigil:privacy:erasures", ("pseudonymised",),
           "kept (pseudonym -> what was erased and kept: the proof)", "pseudonymise",
           "pipeline.privacy.erasure"),
    # The models.
    _redis("model inputs awaiting a label", "vigil:model:input:<event>:<model>",
           ("identifier", "derived"), "VIGIL_MODEL_INPUT_TTL (30 days)", "delete",
           "pipeline.models.scorer"),
    _redis("scored content awaiting a report", "vigil:model:content:<type>:<content>", _ID,
           "VIGIL_MODEL_REPORT_WINDOW (3 days); VIGIL_MODEL_INPUT_TTL (30 days), with its "
           "model inputs, when the event was flagged or sampled", "delete",
           "pipeline.models.scorer"),
    _redis("model snapshots", "vigil:model:<model>:snapshot:<n>", ("learned",),
           "the newest versions", "unlearn", "pipeline.models.learner", expiry="trimmed"),
    _redis("model version", "vigil:model:<model>:version", _NONE, "kept", "none",
           "pipeline.models.learner"),
    _redis("applied decisions", "vigil:model:applied_decisions", _NONE, "kept", "none",
           "pipeline.models.learner"),
    _redis("unlabelled signups seen", "vigil:model:<model>:observed", _NONE, "capped", "none",
           "pipeline.models.scorer", expiry="capped"),
    _redis("unlabelled signups for the anomaly part", "vigil:model:<model>:unlabelled",
           ("identifier", "derived"), "capped stream", "delete", "pipeline.models.scorer",
           expiry="capped"),
    _redis("unlabelled stream cursor", "vigil:model:<model>:unlabelled:cursor", _NONE, "kept",
           "none", "pipeline.models.learner"),
)

def _kept(topic: str) -> str:
    return (f"{retention_days(topic):g} days (retention.ms where topics are created: vigil, "
            "compose, Kubernetes)")


KAFKA: tuple[Entry, ...] = (
    *(Entry(f"input topic {topic}", "kafka", topic, ("identifier", "raw content"), _kept(topic),
            "expire", "platform services (pipeline.kafka.publisher)") for topic in INPUT_TOPICS
      if topic not in (Topics.DECISIONS, Topics.ACTION_RESULTS)),
    Entry("decisions", "kafka", Topics.DECISIONS, ("identifier", "staff"), _kept(Topics.DECISIONS),
          "expire", f"{_Q}.outbox"),
    Entry("platform acknowledgements", "kafka", Topics.ACTION_RESULTS, ("identifier",),
          _kept(Topics.ACTION_RESULTS), "expire", "platform services (pipeline.kafka.publisher)"),
    Entry("flag log", "kafka", Topics.FLAGS, ("identifier",), _kept(Topics.FLAGS), "expire",
          "pipeline.worker.flag_log"),
    Entry("dead letters", "kafka", Topics.DEAD_LETTERS, ("identifier", "raw content"),
          _kept(Topics.DEAD_LETTERS), "expire", "pipeline.worker.dead_letters"),
    Entry("platform actions", "kafka", Topics.ACTIONS, ("identifier",), _kept(Topics.ACTIONS),
          "expire", f"{_Q}.outbox"),
)
KAFKA = tuple(replace(e, expiry="retention.ms") for e in KAFKA)  # the broker deletes segments

FILES: tuple[Entry, ...] = (
    Entry("Redis append-only file", "file", ".vigil/redis/appendonly.aof",
          ("identifier", "raw content", "derived", "learned"), "what Redis holds; erased keys "
          "leave the file when it is rewritten (erasure asks Redis to)", "delete",
          "redis-server (pipeline.local)", expiry="trimmed"),
)

INVENTORY: tuple[Entry, ...] = (*REDIS, *KAFKA, *FILES)
#: Redis pub/sub channels: messages pass, nothing is kept.
CHANNELS: frozenset[str] = frozenset({"vigil:rules"})

_SEGMENT = {"entity": r"[a-z0-9_]+:[^:]+", "n": r"\d+", "address": r".+"}


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(<[a-z_]+>)", pattern)
    out = []
    for part in parts:
        if part.startswith("<") and part.endswith(">"):
            out.append(f"(?:{_SEGMENT.get(part[1:-1], r'[^:]+')})")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out))


def entry_for_key(key: str) -> Entry | None:
    """The inventory entry a Redis key belongs to, or None. Literal parts weigh over
    placeholders: ``vigil:sla:pending`` is the SLA entry, not a status queue."""
    matches = [e for e in REDIS if _regex(e.pattern).fullmatch(key)]
    return max(matches, key=lambda e: len(re.sub(r"<[a-z_]+>", "", e.pattern)), default=None)


def example_key(entry: Entry) -> str:
    """A key of ``entry``'s family (placeholders filled in)."""
    return re.sub(r"<([a-z_]+)>", lambda m: {"entity": "user:usr_1", "n": "1"}.get(m[1], "x1"),
                  entry.pattern)


def entry_for_topic(topic: str) -> Entry | None:
    return next((e for e in KAFKA if e.pattern == topic), None)


def markdown_table() -> str:
    """The README's data inventory table."""
    rows = ["| store | key, topic or file | holds | kept | enforced by | erasure |",
            "| --- | --- | --- | --- | --- | --- |"]
    for e in INVENTORY:
        rows.append(f"| {e.store} | `{e.pattern}` ({e.family}) | {', '.join(e.holds)} | "
                    f"{e.retention} | {e.expiry} | {e.erasure} |")
    return "\n".join(rows)
