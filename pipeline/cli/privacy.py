"""``vigil privacy``: a user's data rights from the command line (erase, export, status)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from pipeline.cli.output import console, err, fail
from pipeline.local.stack import settings_with_stack
from pipeline.settings import MissingSecret, Settings

privacy_app = typer.Typer(help="A user's data rights: erase them, export what Vigil holds about "
                               "them, see erasures under way.", no_args_is_help=True)

UserId = Annotated[str, typer.Argument(help="The platform's user id.", min=1)]


def _key(settings: Settings) -> bytes:
    try:
        return settings.model_key()
    except MissingSecret as exc:  # pseudonyms must match the workers'
        fail(str(exc), code=2)
        raise


async def _with_redis(settings: Settings, work: Any) -> Any:
    from redis.asyncio import Redis

    client = Redis.from_url(settings.redis_url)
    try:
        return await work(client)
    finally:
        await client.aclose()


@privacy_app.command("erase")
def erase_command(
    user_id: UserId,
    requested_by: Annotated[str, typer.Option(help="Who asked (a person or a ticket), for the "
                                                   "audit entry.", min=1)],
    reason: Annotated[str, typer.Option(help="Why, for the audit entry.")] = "",
    request_id: Annotated[Optional[str], typer.Option(
        help="The request's id: the same id again erases nothing twice (default: a new one).")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Run both passes here, sleeping out "
                                            "VIGIL_ERASURE_SETTLE between them, and print the "
                                            "result; --no-wait leaves them to the workers.")
                    ] = True,
) -> None:
    """Erase a user from every Redis store (README, "Data rights"): their records deleted,
    the records the retention policy keeps pseudonymised, every worker told to drop their
    events; audited."""
    from pipeline.privacy.erasure import DONE, Eraser
    from pipeline.privacy.plan import retained_families

    settings = settings_with_stack()
    request_id = request_id or f"cli-{uuid.uuid4()}"

    async def run(client: Any) -> Any:
        eraser = Eraser(client, _key(settings), settle=settings.erasure_settle,
                        retained=retained_families(settings.erasure_dropped))
        pseudonym = await eraser.request(user_id, requested_by=requested_by,
                                         request_id=request_id, reason=reason)
        if wait:
            console.print(f"erasing {pseudonym}: two passes, {settings.erasure_settle:g} s apart")
            await eraser.run_due(wait=True)
        done = await client.hget(DONE, pseudonym)
        return pseudonym, json.loads(done) if done else None

    pseudonym, summary = asyncio.run(_with_redis(settings, run))
    if summary is None:
        console.print(f"erasure of {pseudonym} requested ({request_id}); the workers run it")
        return
    console.print(f"erased: {pseudonym} (requests {', '.join(summary['request_ids'])})")
    for family, outcomes in sorted(summary["changed"].items()):
        console.print(f"  {family}: " + ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())))
    console.print(f"kept, pseudonymised: {', '.join(sorted(summary['kept']))}")


@privacy_app.command("export")
def export_command(
    user_id: UserId,
    out: Annotated[Optional[Path], typer.Option(help="Write the JSON here (default: stdout).",
                                                dir_okay=False)] = None,
) -> None:
    """Everything Vigil holds about a user, as JSON: their records by store family, the records
    about them that are kept, which models learned from them, and the topics that may still
    carry their events."""
    from pipeline.privacy.export import export

    settings = settings_with_stack()
    key = _key(settings)
    found = asyncio.run(_with_redis(settings, lambda client: export(client, user_id, key)))
    text = json.dumps(found, indent=2, ensure_ascii=False)
    if out is None:
        print(text)
        return
    out.write_text(text + "\n")
    n = sum(len(v) for v in found["records"].values())
    err.print(f"{n} records in {len(found['records'])} families -> {out}")


@privacy_app.command("status")
def status_command() -> None:
    """Erasures under way (by pseudonym: passes done, when the next is due) and how many are
    done."""
    from pipeline.models.keys import ERASED
    from pipeline.privacy.erasure import DONE, Eraser

    settings = settings_with_stack()

    async def read(client: Any) -> Any:
        pending = await Eraser(client, b"").pending()
        return pending, await client.hlen(DONE), await client.zcard(ERASED)

    pending, done, erased = asyncio.run(_with_redis(settings, read))
    for pseudonym, record in sorted(pending.items()):
        console.print(f"{pseudonym}: {record['passes']} of 2 passes done, requested by "
                      f"{record['requested_by']}")
    console.print(f"under way: {len(pending)}, done: {done}, erased users: {erased}")


@privacy_app.command("retention")
def retention_command() -> None:
    """Apply the queue's retention now, until nothing is left past it: closed cases older than
    VIGIL_REVIEW_CASE_RETENTION_DAYS with everything of them, audit entries older than
    VIGIL_REVIEW_AUDIT_RETENTION_DAYS (the review service does this every ten minutes)."""
    from pipeline.review.queue import ReviewQueue
    from pipeline.settings import ReviewSettings

    settings, review = settings_with_stack(), ReviewSettings()

    async def run(client: Any) -> dict[str, int]:
        queue = ReviewQueue(client, review.queue, search_key=_key(settings))
        total = {"cases": 0, "audit_entries": 0}
        while True:
            gone = await queue.enforce_retention()
            for name, n in gone.items():
                total[name] += n
            if not gone["cases"]:
                return total

    total = asyncio.run(_with_redis(settings, run))
    console.print(f"past retention: {total['cases']} closed cases and "
                  f"{total['audit_entries']} audit entries removed")
