"""``vigil models``: the online models outside the worker (bootstrap from history)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.output import console, err, fail
from pipeline.local.stack import settings_with_stack

models_app = typer.Typer(help="The online models: train them from history before go-live.",
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
    from pipeline.offline.bootstrap import BootstrapConflict, bootstrap, read_lines, summary_lines

    settings = settings_with_stack()
    client = redis.Redis.from_url(settings.redis_url)
    models = default_models(settings.model_hash_key.encode())
    try:
        result = bootstrap(client, read_lines(str(events)), read_lines(str(labels)),
                           models=models, policy_version=settings.policy_version)
    except BootstrapConflict as exc:
        fail(str(exc))
        return
    for invalid in result.invalid[:20]:
        err.print(f"line {invalid.line}: {invalid.reason}")
    for line in summary_lines(result):
        console.print(line)
