"""``vigil models``: the online models outside the worker (bootstrap from history, the state of
their unlearning)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.output import console, err, fail
from pipeline.local.stack import settings_with_stack
from pipeline.settings import MissingSecret

models_app = typer.Typer(help="The online models: train them from history before go-live, see "
                              "what they have unlearned.",
                         no_args_is_help=True)


@models_app.command("bootstrap")
def bootstrap_command(
    events: Annotated[Path, typer.Option(exists=True, dir_okay=False,
                                         help="JSONL history: the platform's events, consent "
                                              "changes among them.")],
    labels: Annotated[Path, typer.Option(exists=True, dir_okay=False,
                                         help="JSONL past decisions (review.decided events).")],
) -> None:
    """Train the models from historical events and past decisions and publish the snapshots the
    workers load (consent-gated per subject and policy version; a decision applied before, by
    the learner or an earlier bootstrap, is skipped)."""
    import redis

    from detectors.models import default_models
    from pipeline.models.training_log import TrainingLog
    from pipeline.offline.bootstrap import (
        BootstrapConflict,
        bootstrap,
        read_lines,
        summary_lines,
    )

    settings = settings_with_stack()
    client = redis.Redis.from_url(settings.redis_url)
    try:
        models = default_models(settings.model_key())
    except MissingSecret as exc:  # the workers' key: snapshots must match what they hash
        fail(str(exc), code=2)
    try:
        result = bootstrap(client, read_lines(str(events)), read_lines(str(labels)),
                           models=models, policy_version=settings.policy_version,
                           training_log=TrainingLog.from_settings(settings))
    except BootstrapConflict as exc:
        fail(str(exc))
        return
    for invalid in result.invalid[:20]:
        err.print(f"line {invalid.line}: {invalid.reason}")
    for line in summary_lines(result):
        console.print(line)


@models_app.command("unlearning-status")
def unlearning_status_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per model.")] = False,
) -> None:
    """When each model last excluded every erased or withdrawn user ("excluded all requests up
    to T"), how, and what is still waiting (README, "Unlearning")."""
    import asyncio
    import json

    from redis.asyncio import Redis

    from detectors.models import MODEL_CLASSES
    from pipeline.models.unlearning import unlearning_status

    async def read() -> list[dict]:
        client = Redis.from_url(settings_with_stack().redis_url)
        try:
            return await unlearning_status(client, [cls.id for cls in MODEL_CLASSES])
        finally:
            await client.aclose()

    rows = asyncio.run(read())
    for row in rows:
        if as_json:
            console.print_json(json.dumps(row))
            continue
        console.print(f"{row['model']}: {row['summary']}")


def print_model_flags(redis_url: str) -> None:
    """How many flags came from the online models, one of them with its explanation, and how
    many labelling cases wait for analysts (what ``make demo`` ends with)."""
    import json

    import redis

    from detectors.models import MODEL_CLASSES

    models = {cls.id for cls in MODEL_CLASSES}
    client = redis.Redis.from_url(redis_url)
    by_detector = {k.decode(): int(v) for k, v in
                   client.hgetall("vigil:stats:flags_by_detector").items()}
    from_models = {d: n for d, n in by_detector.items() if d in models}
    waiting = client.zcard("vigil:labelling")
    console.print(f"flags from models: {sum(from_models.values())} of {sum(by_detector.values())}"
                  + (f" ({', '.join(f'{d} {n}' for d, n in sorted(from_models.items()))})"
                     if from_models else ""))
    console.print(f"labelling cases waiting for analysts (sampled, not detections): {waiting}")
    example = None
    for _, fields in client.xrevrange("vigil:flags:recent", count=5000):
        if fields.get(b"detector", b"").decode() in models:
            raw = client.get(b"vigil:flag:" + fields[b"flag_id"])
            if raw:
                example = json.loads(raw)
                break
    if example is None:
        console.print("no model flag in this run: the models start cold and learn from analysts' "
                      "decisions (decide labelling cases in the console: /queue?kind=labelling)")
        return
    evidence = example.get("evidence") or {}
    console.print(f"a model flag: {example['detector_id']} on {example['event_type']} "
                  f"{example['event_id']} (case entity {example['entity_type']}:"
                  f"{example['entity_id']})")
    console.print(f"  reason: {example['reason']}")
    for item in evidence.get("top_features", [])[:5]:
        console.print(f"  - {item['feature']} = {item['value']}"
                      + (f" (contribution {item['contribution']:+.2f})" if "contribution" in item
                         else f" (typical {item.get('typical')}, z {item.get('z')})"))
    console.print(f"  mode {evidence.get('mode')}, state {evidence.get('state_version')}, consent "
                  f"{(example.get('consent') or {}).get('state')}"
                  + (f", warm start from {evidence['warm_start']['at']}" if evidence.get(
                      "warm_start") else ""))


def warm_start_demo(redis_url: str, hash_key: bytes, policy_version: str, *,
                    count: int = 20_000) -> None:
    """Bootstrap the models from a simulated day of history and its ground truth, as a platform
    would from its own (what ``make demo`` does first, so its models start warm): every
    fraudulent event of a type a model scores confirmed, one benign event in four legitimate."""
    import json
    import uuid
    from datetime import datetime, timedelta, timezone

    import redis

    from detectors.models import MODEL_CLASSES, default_models
    from pipeline.models.training_log import TrainingLog
    from pipeline.offline.bootstrap import bootstrap
    from pipeline.sim import generate

    scored = {t for cls in MODEL_CLASSES for t in cls.event_types}
    start = datetime.now(timezone.utc) - timedelta(days=2)
    events, labels = [], []
    for n, sim in enumerate(generate(seed=20_260_101, count=count, fraud_rate=0.1, start=start)):
        envelope = sim.envelope
        events.append(json.dumps(envelope))
        if envelope["type"] not in scored or (sim.scenario is None and n % 4):
            continue
        labels.append(json.dumps({
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo-history:{envelope['event_id']}")),
            "type": "review.decided", "schema_version": "1.0",
            "occurred_at": envelope["occurred_at"], "producer": "demo-history",
            "subject_id": envelope["subject_id"], "payload": {
                "decision_id": f"demo_{envelope['event_id']}", "case_id": "demo_history",
                "entity_type": "user", "entity_id": envelope["subject_id"],
                "outcome": "confirmed_fraud" if sim.scenario else "legitimate",
                "policy_reason": "other_policy_violation" if sim.scenario else "",
                "event_ids": [envelope["event_id"]], "analyst_id": "demo-history"}}))
    result = bootstrap(redis.Redis.from_url(redis_url), events, labels,
                       models=default_models(hash_key), policy_version=policy_version,
                       training_log=TrainingLog(hash_key))
    learned = ", ".join(f"{m} {n}" for m, n in sorted(result.learned.items()) if n) or "none"
    console.print(f"models warm-started from {result.events} simulated history events and "
                  f"{result.decisions} past decisions (vigil models bootstrap): labels learned: "
                  f"{learned}")
