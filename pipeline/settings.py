"""Every setting of Vigil, declared once: its type, default, environment variable and meaning.

Three frozen pydantic-settings classes: :class:`Settings` (the servers and the worker; the review
service reads its server addresses here too), :class:`ReviewSettings` (the review service,
``VIGIL_REVIEW_*``) and :class:`QueueSettings` (the review queue's SLA, lease and priority
weights, ``VIGIL_REVIEW_*`` too). ``Settings()`` reads the environment; a field given as an
argument wins over it. What is derived, the environment for child processes (:meth:`env`) and
the README's configuration table (:mod:`pipeline.settings_table`), comes from these
declarations.

>>> Settings(partitions=12).env()["VIGIL_PARTITIONS"]
'12'
>>> QueueSettings(sla_seconds="critical=30m").sla_seconds["critical"], QueueSettings().lease_seconds
(1800, 900)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from detectors import sampling
from detectors.results import SEVERITY_RANK
from detectors.rule import parse_duration
from schemas.clock import ClockBound
from schemas.errors import VigilError

__all__ = ["DEVELOPMENT_HASH_KEY", "MissingSecret", "QueueSettings", "ReviewSettings", "Settings",
           "SettingsInvalid", "variable_names"]


#: The key ``vigil up``'s processes hash identifiers under: public, so never outside it.
DEVELOPMENT_HASH_KEY = "vigil-local-development-key-not-secret"
_MAKE_A_KEY = ("make one with `python -c 'import secrets; print(secrets.token_hex(32))'` and "
               "give it to every worker from a secret store (the same key for all of them)")


class MissingSecret(VigilError):
    """A secret the process must not run without is missing (or a placeholder)."""


class SettingsInvalid(VigilError, ValueError):
    """An environment variable that does not parse, named with what is wrong with it."""

    def __init__(self, cls: type[BaseSettings], error: ValidationError) -> None:
        problems = []
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else "?"
            variable = variable_of(cls, name) if name in cls.model_fields else name.upper()
            problems.append(f"{variable}: {item['msg']}")
        super().__init__("invalid settings: " + "; ".join(problems))


def _config(prefix: str) -> SettingsConfigDict:
    # Empty variables count as unset, as a shell's `VAR= cmd` means; unknown VIGIL_* are ignored
    # (the three classes share the prefix); a field's docstring is its description.
    return SettingsConfigDict(env_prefix=prefix, frozen=True, populate_by_name=True,
                              env_ignore_empty=True, extra="ignore",
                              use_attribute_docstrings=True, validate_default=True)


class _Declared(BaseSettings):
    """What the three settings classes share: child-process environments and ``replace``."""

    def env(self) -> dict[str, str]:
        """These settings as environment variables, for child processes (every field; a
        nested settings class's as its own variables)."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, _Declared):
                out.update(value.env())
            else:
                out[variable_of(type(self), name)] = as_env(value, type(self).model_fields[name])
        return out

    @classmethod
    def from_env(cls) -> Any:
        """The environment's settings (what the class reads when constructed), or
        :class:`SettingsInvalid` naming each variable that does not parse."""
        try:
            return cls()
        except ValidationError as exc:
            raise SettingsInvalid(cls, exc) from None

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes``, validated (no environment is read)."""
        return type(self).model_validate({**self.model_dump(), **changes})


class Settings(_Declared):
    """The servers, the consumer group and the worker. Defaults suit the embedded stack."""

    model_config = _config("VIGIL_")

    kafka_bootstrap: str = Field("127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    """Kafka bootstrap servers (`host:port,...`); set, `vigil up` starts no broker"""
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    """Redis; set, `vigil up` starts no redis-server"""
    state_dir: Path = Path(".vigil")
    """logs, the embedded Redis's append-only file, and what `vigil up` started"""
    partitions: int = Field(4, ge=1)
    """partitions of the topics Vigil creates"""
    app_id: str = "vigil"
    """consumer group id"""
    session_timeout: float = Field(10.0, gt=0)
    """consumer session timeout, seconds: short for the embedded broker, whose group join waits
    out the rebalance timeout; raise in production"""
    rebalance_timeout: float = Field(10.0, gt=0)
    """consumer rebalance timeout, seconds (as the session timeout)"""
    heartbeat_interval: float = Field(1.0, gt=0)
    """consumer heartbeat interval, seconds"""
    commit_interval: float = Field(1.0, gt=0)
    """how often offsets are committed, seconds (the redelivery window after a crash)"""
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    """log level of workers and the review service"""
    policy_version: str = "2026-01"
    """the AI-features policy version consent must be given under"""
    ledger_retention: float = Field(900.0, gt=0)
    """seconds processed event ids stay in the processing ledger (~60 bytes per event)"""
    metrics_port: int = Field(0, ge=0, le=65535)
    """the worker's Prometheus `/metrics` port (0: none; `vigil up` picks one)"""
    metrics_host: str = "127.0.0.1"
    """where the worker's `/metrics` listens (`0.0.0.0` in a container, for Prometheus to reach)"""
    create_topics: bool = True
    """create missing topics at worker start (replication 1: embedded only; 0 in production)"""
    batch_size: int = Field(200, ge=1)
    """micro-batch size: records of one fetch at most"""
    batch_wait: float = Field(0.0, ge=0)
    """seconds a smaller fetch waits to be topped up by the next ones (fewer, larger batches where
    a Redis round trip is dear, for that wait in latency)"""
    fetch_max_wait_ms: int = Field(10, ge=0)
    """longest a fetch waits for data, ms (faust hard-codes 1500; the embedded broker always waits
    it out, on every hop; 50 ms gave 3x the latency)"""
    models_enabled: bool = Field(True, validation_alias="VIGIL_MODELS")
    """run the online models (0: rules only)"""
    model_hash_key: str | None = Field(None, min_length=16)
    """secret key identifiers are hashed under before a model sees them (`python -c 'import
    secrets; print(secrets.token_hex(32))'`); a worker outside the embedded stack refuses to start
    without it"""
    model_input_ttl: int = Field(30 * 86400, ge=1)
    """seconds what a model saw of an event waits for its label"""
    model_inputs: Literal["flagged", "all"] = "flagged"
    """whose model inputs are kept: `flagged` and sampled events (what analysts can label) or
    `all` scored events, for labels from elsewhere (~1 KB per scored event for the TTL)"""
    training_log_retention: float = Field(90 * 86400, gt=0)
    """seconds every input a model learned is kept in its training log (with the subject's
    pseudonym) for unlearning; older entries leave the log (subtracted from count models) and a
    rebuilt model forgets them"""
    training_log_maxlen: int = Field(200_000, ge=1)
    """most entries a model's training log keeps (the oldest leave first, as by retention)"""
    unlearn_debounce: float = Field(600.0, ge=0)
    """seconds the learner waits after the oldest erasure or withdrawal a model does not yet
    exclude before unlearning (so a burst of requests costs one rebuild)"""
    erasure_settle: float = Field(30.0, ge=0)
    """seconds between an erasure's two passes over Redis: every worker reads the erased set
    within a timer tick (2 s), and what events in flight wrote meanwhile the second pass removes"""
    erasure_dropped: Annotated[frozenset[str], NoDecode] = frozenset()
    """the retention policy: families (inventory names, comma-separated, e.g. `case notes,audit
    log`) whose records erasure deletes instead of keeping them pseudonymised; cases, flags,
    decisions, platform actions and the erasure's own proof cannot be dropped"""
    model_report_window: int = Field(3 * 86400, ge=0)
    """seconds what a model saw of every scored message, proposal and job post is kept for a
    user report to label it, when neither flagged nor sampled (0: off; ~1.3 KB per consented
    scored message, ~4 KB per proposal or job post)"""
    sample_seed: str = Field(sampling.DEFAULT_SEED, min_length=1)
    """seed of the labelling sample's random draw (a keyed hash of it and the event id: worker,
    restarted worker and replay draw the same events); a new seed draws a new sample"""
    sample_rate: float = Field(sampling.DEFAULT_RATE, ge=0, le=1)
    """share of consented events of each model-scored type drawn at random for labelling cases
    (the random stratum behind the prevalence and recall estimates); 0: none"""
    sample_rates: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    """per-event-type overrides of the sample rate (`message.sent=0.02,user.signed_up=0.05`)"""
    sample_margin: float = Field(sampling.DEFAULT_MARGIN, ge=0, le=1)
    """a ready model's quiet score this close to its threshold is an uncertainty pick"""
    sample_budget: int = Field(sampling.DEFAULT_DAILY_BUDGET, ge=0)
    """uncertainty and cold-start picks per model per day of event time (0: random stratum
    only)"""
    link_retention: int = Field(90 * 86400, ge=1)
    """seconds the link index keeps an account's link to a device, IP, /24, e-mail domain or
    text after it was last seen"""
    link_max_group: int = Field(50, ge=2, le=1000)
    """accounts the link index keeps per shared value; a value shared by more is too common to
    link anyone (a webmail domain, a carrier's NAT)"""
    link_max_keys: int = Field(32, ge=1, le=1000)
    """link keys the index keeps per account (the most recent)"""
    link_messages: bool = False
    """link accounts by near-duplicate messages sent outside a contract too, not only by cover
    letters (~12 µs of worker CPU and ~19 µs of Redis per message, README "Networks")"""
    ring_accounts: int = Field(5, ge=2)
    """accounts on one device that, with `VIGIL_RING_CONFIRMED` of them confirmed fraud, open a
    ring case"""
    ring_confirmed: int = Field(2, ge=0, le=1000)
    """accounts of a shared device an analyst confirmed as fraud (within the link retention)
    before the device's accounts are a ring (0: every device of `VIGIL_RING_ACCOUNTS` accounts)"""
    link_max_confirmed: int = Field(200_000, ge=1)
    """confirmed-fraud accounts the link index remembers for the ring threshold (the most
    recently decided; ~100 B each)"""
    join_window: float = Field(3600.0, gt=0)
    """event-time seconds an event waits for a join partner it was decided without (a
    proposal for its job post, a job post or message for its author's signup) past the
    partner topic's low watermark; a partner arriving within it decides the event again"""
    join_max_held: int = Field(100_000, ge=1)
    """events held for join partners or counters' late arrivals at once (Redis); past it, the
    oldest are let go (counted, `vigil_joins_unmatched_total{reason="book_full"}`)"""
    allowed_lateness: float = Field(3600.0, ge=0)
    """event-time seconds an event may be dated behind its topic's low watermark and still be
    counted in its windows (at most the feature horizon's hour of slack); a later one is
    counted as too late and decided, counted in none"""
    max_clock_skew: float = Field(300.0, gt=0)
    """seconds an event's `occurred_at` may be ahead of the worker's clock; later ones are
    dead-lettered as `clock_skew` (and no write trims feature windows past this)"""
    max_event_age: float = Field(0.0, ge=0)
    """seconds an event's `occurred_at` may be behind the worker's clock (0: any age since 2000;
    backfills and replays are old); older ones are dead-lettered as `clock_skew`"""
    auto_actions: str = ""
    """a YAML file of automatic actions per detector and score (empty: the packaged
    `detectors/auto_actions.yaml`, which has none; README "Acting on the platform")"""
    idempotent_producer: bool = False
    """aiokafka's idempotent producer for the worker (real Kafka; Tansu refuses it)"""
    embedded: bool = False
    """set by `vigil up` for the processes it starts: the public development hash key is
    accepted, and partition ends are read past the embedded broker's wrong high watermarks;
    never set it in a deployment"""

    def clock_bound(self) -> ClockBound:
        """How far from now an event may be dated: what workers dead-letter as ``clock_skew``
        and what the publisher refuses before sending.

        >>> Settings(embedded=True, max_clock_skew=60).clock_bound().ahead
        60.0
        """
        return ClockBound(ahead=self.max_clock_skew, behind=self.max_event_age)

    def model_key(self) -> bytes:
        """The key models hash identifiers under: ``VIGIL_MODEL_HASH_KEY``; unset, the public
        development key, in the embedded stack only (:class:`MissingSecret` elsewhere).

        >>> Settings(embedded=True).model_key() == DEVELOPMENT_HASH_KEY.encode()
        True
        >>> Settings(model_hash_key="CHANGE_ME-0123456789").model_key()
        Traceback (most recent call last):
        ...
        pipeline.settings.MissingSecret: VIGIL_MODEL_HASH_KEY is a placeholder; ...
        """
        key = self.model_hash_key
        if key is not None and "CHANGE_ME" in key:
            raise MissingSecret(f"VIGIL_MODEL_HASH_KEY is a placeholder; {_MAKE_A_KEY}")
        if key is not None and key != DEVELOPMENT_HASH_KEY:
            return key.encode()
        if self.embedded:
            return DEVELOPMENT_HASH_KEY.encode()
        raise MissingSecret(
            "VIGIL_MODEL_HASH_KEY is not set (or is the public development key): identifiers "
            f"would be hashed under a key printed in the repository; {_MAKE_A_KEY}")

    @field_validator("sample_rates", mode="before")
    @classmethod
    def _rates(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        rates: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, _, rate = item.partition("=")
            rates[name.strip()] = float(rate)
            if not 0.0 <= rates[name.strip()] <= 1.0:
                raise ValueError(f"the rate of {name.strip()} must be a share in [0, 1]")
        return rates

    @field_validator("erasure_dropped", mode="before")
    @classmethod
    def _families(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    def sampling_policy(self) -> sampling.SamplingPolicy:
        """The labelling sample these settings describe."""
        return sampling.SamplingPolicy(seed=self.sample_seed, rate=self.sample_rate,
                                       rates=dict(self.sample_rates), margin=self.sample_margin,
                                       daily_budget=self.sample_budget)

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


#: Marks a field of seconds that its variable spells as durations (``15m``, ``critical=1h``).
_DURATION = {"duration": True}
DEFAULT_POLICY_REASONS = (
    "off_platform_payment", "payment_fraud", "fake_account", "account_takeover", "spam",
    "phishing", "harassment", "prohibited_content", "ai_policy_violation", "other_policy_violation",
)
DEFAULT_SLA = {"critical": 3600, "high": 4 * 3600, "medium": 24 * 3600, "low": 72 * 3600}


class QueueSettings(_Declared):
    """The review queue: SLA per severity, claim lease, priority weights, policy reasons."""

    model_config = _config("VIGIL_REVIEW_")

    sla_seconds: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_SLA), validation_alias="VIGIL_REVIEW_SLA",
        json_schema_extra=_DURATION)
    """time from a flag joining a case to its decision being due, per severity (any subset,
    e.g. `critical=30m`; the rest keep their defaults)"""
    lease_seconds: int = Field(900, ge=1, validation_alias="VIGIL_REVIEW_LEASE",
                               json_schema_extra=_DURATION)
    """claim lease (`15m`, or seconds)"""
    policy_reasons: Annotated[tuple[str, ...], NoDecode] = DEFAULT_POLICY_REASONS
    """reasons a fraud decision may cite (comma-separated)"""
    appeal_sla_seconds: int = Field(2 * 86400, ge=60, validation_alias="VIGIL_REVIEW_APPEAL_SLA",
                                    json_schema_extra=_DURATION)
    """time from an appeal being filed to its decision being due (appeals' own SLA)"""
    appeal_window_days: int = Field(180, ge=1, le=3650,
                                    validation_alias="VIGIL_REVIEW_APPEAL_WINDOW_DAYS")
    """how long after a decision its subject may appeal it (DSA Art. 20: six months at least)"""
    due_soon_fraction: float = Field(0.25, gt=0, lt=1)
    """an open case is `due_soon` when less than this share of its SLA is left"""
    severity_weight: float = 1000.0
    """priority points per severity rank (low 1 ... critical 4)"""
    score_weight: float = 500.0
    """priority points per unit of the case's highest score"""
    report_weight: float = 200.0
    """priority points per user report on the case (up to the report cap)"""
    report_cap: int = Field(5, ge=0)
    """reports counted towards priority at most"""
    flag_weight: float = 10.0
    """priority points per flag on the case (up to the flag cap)"""
    flag_cap: int = Field(20, ge=0)
    """flags counted towards priority at most"""
    age_weight_per_hour: float = 25.0
    """priority points an open case gains per hour of waiting"""
    series_retention_seconds: int = Field(2 * 86400, ge=60)
    """how long the overview's per-minute series are kept"""
    history_events: int = Field(200, ge=1, le=10_000)
    """events kept per user in the subject history the case page shows (the oldest go first;
    ~330 bytes each: ~66 KB for a user at the bound)"""
    history_retention_seconds: int = Field(30 * 86400, ge=60)
    """how long a user's history keeps an event (and the history itself after its last event)"""
    report_content_seconds: int = Field(3 * 86400, ge=0)
    """how long a message's or proposal's author and envelope are kept for a user report about
    it to join the author's case and show it (0: off; ~0.9 KB for a 150-character message,
    plus its text)"""
    search_entries: int = Field(200_000, ge=1)
    """identifiers the case search index keeps (the oldest go first; ~290 bytes each: ~58 MB
    at the bound, ~4-8 entries per case)"""
    case_retention_days: int = Field(730, ge=0, le=36500)
    """days a closed case is kept after its decision, with its flags, events, samples, notes,
    decisions and actions (0: for ever); at least the appeal window"""
    audit_retention_days: int = Field(730, ge=0, le=36500)
    """days the audit log keeps an entry (0: for ever)"""

    @model_validator(mode="after")
    def _retention_outlives_appeals(self) -> QueueSettings:
        if 0 < self.case_retention_days < self.appeal_window_days:
            raise ValueError("VIGIL_REVIEW_CASE_RETENTION_DAYS must be 0 or at least "
                             "VIGIL_REVIEW_APPEAL_WINDOW_DAYS: a case must outlive its appeals")
        return self

    @field_validator("sla_seconds", mode="before")
    @classmethod
    def _sla(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        sla = dict(DEFAULT_SLA)
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, _, duration = item.partition("=")
            if name.strip() not in SEVERITY_RANK:
                raise ValueError(f"unknown severity {name.strip()!r} "
                                 f"(one of {', '.join(SEVERITY_RANK)})")
            sla[name.strip()] = parse_duration(duration.strip())
        return sla

    @field_validator("lease_seconds", "appeal_sla_seconds", mode="before")
    @classmethod
    def _lease(cls, value: Any) -> Any:
        return parse_duration(value.strip()) if isinstance(value, str) and not value.isdigit() else value

    @field_validator("policy_reasons", mode="before")
    @classmethod
    def _reasons(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(r.strip() for r in value.split(",") if r.strip()) or DEFAULT_POLICY_REASONS
        return value


class ReviewSettings(_Declared):
    """The review service (API, console, outbox relay); its queue's settings in ``queue``."""

    model_config = _config("VIGIL_REVIEW_")

    host: str = "127.0.0.1"
    """where the service listens"""
    port: int = Field(8000, ge=1, le=65535)
    """the service's port"""
    session_seconds: int = Field(8 * 3600, ge=60)
    """console session lifetime, seconds"""
    secret: str | None = None
    """signs session cookies; unset: one random secret kept in Redis for every instance"""
    secure_cookies: bool | None = None
    """`1` forces the cookie's Secure attribute (behind a TLS proxy), `0` turns it off; unset: on
    when served over https"""
    sample_interval: float = Field(15.0, gt=0)
    """seconds between refreshes of the queue gauges, SLA breaches and per-minute samples"""
    relay_interval: float = Field(1.0, gt=0)
    """seconds between the outbox relay's looks for decisions to publish (each decision also
    wakes it)"""
    ingest_rate: float = Field(20.0, gt=0)
    """events per second each service token may send to `POST /api/events` (a token bucket in
    Redis, shared by every instance; more answer 429 with Retry-After); bulk producers publish
    to Kafka"""
    ingest_burst: int = Field(100, ge=1)
    """events a service token may send at once before `VIGIL_REVIEW_INGEST_RATE` applies"""
    ingest_max_bytes: int = Field(64 * 1024, ge=1024, le=1024 * 1024)
    """largest body `POST /api/events` reads; a larger one answers 413 before it is read whole"""
    body_max_bytes: int = Field(64 * 1024, ge=1024, le=1024 * 1024)
    """largest body any other route reads (notes and decisions are 5,000 characters at most)"""
    ingest_log_max: int = Field(100_000, ge=1)
    """entries the ingest log (who published which event, a capped Redis stream) keeps"""
    login_failures_per_minute: int = Field(5, ge=1)
    """failed console logins a client address, and a user, may make per minute; more answer
    429 until the minute has passed"""
    queue: QueueSettings = Field(default_factory=QueueSettings)
    """the review queue's settings (their own variables)"""


# ---- derived from the declarations -----------------------------------------------------------

SETTINGS_CLASSES: tuple[type[_Declared], ...] = (Settings, ReviewSettings, QueueSettings)


def variable_of(cls: type[BaseSettings], name: str) -> str:
    """The environment variable of field ``name`` of ``cls``.

    >>> variable_of(Settings, "redis_url"), variable_of(QueueSettings, "lease_seconds")
    ('REDIS_URL', 'VIGIL_REVIEW_LEASE')
    """
    field = cls.model_fields[name]
    alias = field.validation_alias
    return alias if isinstance(alias, str) else f"{cls.model_config['env_prefix']}{name}".upper()


def variable_names() -> set[str]:
    """Every environment variable Vigil's settings read."""
    return {variable for _, variable, _ in declarations()}


def declarations() -> Iterator[tuple[type[_Declared], str, FieldInfo]]:
    for cls in SETTINGS_CLASSES:
        for name, field in cls.model_fields.items():
            if isinstance(field.default_factory, type) and issubclass(field.default_factory, BaseSettings):
                continue  # a nested settings class: its fields are declared there
            yield cls, variable_of(cls, name), field


def duration_text(seconds: int) -> str:
    """``3600`` -> ``1h``, ``900`` -> ``15m``, ``90`` -> ``90s`` (what parse_duration reads)."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def as_env(value: Any, field: FieldInfo) -> str:
    """A value as its variable spells it: booleans 1/0, lists comma-separated, mappings as
    ``key=value`` pairs, durations as durations, unset as empty."""
    spell = duration_text if (field.json_schema_extra or {}) == _DURATION else str
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Mapping):
        return ",".join(f"{k}={spell(v)}" for k, v in value.items())
    if isinstance(value, tuple | list | frozenset | set):
        return ",".join(str(v) for v in (sorted(value) if isinstance(value, frozenset | set) else value))
    return spell(value)
