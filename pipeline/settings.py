"""Settings from the environment, so the same code runs on the embedded stack and in production."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default) or default


@dataclass(frozen=True)
class Settings:
    """Every knob a deployment sets. Read with :meth:`from_env`; defaults suit the embedded stack."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379/0"
    app_id: str = "vigil"
    state_dir: Path = Path(".vigil")
    partitions: int = 4
    #: Short timeouts keep group joins quick on the embedded broker (it waits out the
    #: rebalance timeout); production raises them.
    session_timeout: float = 10.0
    rebalance_timeout: float = 10.0
    heartbeat_interval: float = 1.0
    commit_interval: float = 1.0
    web_port: int = 6066
    log_level: str = "info"
    policy_version: str = "2026-01"
    #: How long processed event ids stay in the ledger (memory: ~60 bytes per event).
    ledger_retention: float = 900.0
    #: Port of the worker's Prometheus endpoint (0: none).
    metrics_port: int = 0
    #: Create missing topics at worker start (embedded stack); production creates them ahead.
    create_topics: bool = True
    #: Micro-batch size (records of one fetch at most), and how long a smaller fetch waits to be
    #: topped up by the next ones (seconds; 0: each fetch goes at once). Waiting trades latency
    #: for fewer, larger batches: worth it where a Redis round trip is dear.
    batch_size: int = 200
    batch_wait: float = 0.0
    #: Online models: on/off, the key identifiers are hashed under before a model sees them
    #: (a secret in production; the default is for local use only), and how long what a model
    #: saw of an event is kept waiting for its label.
    models_enabled: bool = True
    model_hash_key: str = "vigil-local-development-key-not-secret"
    model_input_ttl: int = 30 * 86400
    #: Which events' model inputs are kept for labels: ``flagged`` (the events of flags: the
    #: review queue's decisions can only label those) or ``all`` scored events, for labels
    #: from elsewhere (memory: ~1 KB per scored event for ``model_input_ttl``).
    model_inputs: str = "flagged"
    #: aiokafka's idempotent producer for the worker (real Kafka; Tansu refuses it).
    idempotent_producer: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            kafka_bootstrap=_env("KAFKA_BOOTSTRAP_SERVERS", cls.kafka_bootstrap),
            redis_url=_env("REDIS_URL", cls.redis_url),
            app_id=_env("VIGIL_APP_ID", cls.app_id),
            state_dir=Path(_env("VIGIL_STATE_DIR", str(cls.state_dir))),
            partitions=int(_env("VIGIL_PARTITIONS", str(cls.partitions))),
            session_timeout=float(_env("VIGIL_SESSION_TIMEOUT", str(cls.session_timeout))),
            rebalance_timeout=float(_env("VIGIL_REBALANCE_TIMEOUT", str(cls.rebalance_timeout))),
            heartbeat_interval=float(_env("VIGIL_HEARTBEAT_INTERVAL", str(cls.heartbeat_interval))),
            commit_interval=float(_env("VIGIL_COMMIT_INTERVAL", str(cls.commit_interval))),
            web_port=int(_env("VIGIL_WEB_PORT", str(cls.web_port))),
            log_level=_env("VIGIL_LOG_LEVEL", cls.log_level),
            policy_version=_env("VIGIL_POLICY_VERSION", cls.policy_version),
            ledger_retention=float(_env("VIGIL_LEDGER_RETENTION", str(cls.ledger_retention))),
            metrics_port=int(_env("VIGIL_METRICS_PORT", str(cls.metrics_port))),
            create_topics=_env("VIGIL_CREATE_TOPICS", "1") not in ("0", "false", "no"),
            idempotent_producer=_env("VIGIL_IDEMPOTENT_PRODUCER", "0") in ("1", "true", "yes"),
            batch_size=int(_env("VIGIL_BATCH_SIZE", str(cls.batch_size))),
            models_enabled=_env("VIGIL_MODELS", "1") not in ("0", "false", "no"),
            model_hash_key=_env("VIGIL_MODEL_HASH_KEY", cls.model_hash_key),
            model_input_ttl=int(_env("VIGIL_MODEL_INPUT_TTL", str(cls.model_input_ttl))),
            batch_wait=float(_env("VIGIL_BATCH_WAIT", str(cls.batch_wait))),
            model_inputs=_model_inputs(_env("VIGIL_MODEL_INPUTS", cls.model_inputs)),
        )

    def env(self) -> dict[str, str]:
        """These settings as environment variables, for child processes."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "REDIS_URL": self.redis_url,
            "VIGIL_APP_ID": self.app_id,
            "VIGIL_STATE_DIR": str(self.state_dir),
            "VIGIL_PARTITIONS": str(self.partitions),
            "VIGIL_SESSION_TIMEOUT": str(self.session_timeout),
            "VIGIL_REBALANCE_TIMEOUT": str(self.rebalance_timeout),
            "VIGIL_HEARTBEAT_INTERVAL": str(self.heartbeat_interval),
            "VIGIL_COMMIT_INTERVAL": str(self.commit_interval),
            "VIGIL_WEB_PORT": str(self.web_port),
            "VIGIL_LOG_LEVEL": self.log_level,
            "VIGIL_POLICY_VERSION": self.policy_version,
            "VIGIL_LEDGER_RETENTION": str(self.ledger_retention),
            "VIGIL_METRICS_PORT": str(self.metrics_port),
            "VIGIL_CREATE_TOPICS": "1" if self.create_topics else "0",
            "VIGIL_IDEMPOTENT_PRODUCER": "1" if self.idempotent_producer else "0",
            "VIGIL_BATCH_SIZE": str(self.batch_size),
            "VIGIL_MODELS": "1" if self.models_enabled else "0",
            "VIGIL_MODEL_HASH_KEY": self.model_hash_key,
            "VIGIL_MODEL_INPUT_TTL": str(self.model_input_ttl),
            "VIGIL_BATCH_WAIT": str(self.batch_wait),
            "VIGIL_MODEL_INPUTS": self.model_inputs,
        }


def _model_inputs(value: str) -> str:
    if value not in ("flagged", "all"):
        raise ValueError(f"VIGIL_MODEL_INPUTS must be 'flagged' or 'all', not {value!r}")
    return value
