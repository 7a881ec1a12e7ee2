"""``vigil report``: reports from what Vigil recorded. ``transparency``: actions, automated means,
appeals and time to decision over a window, from the audit log (:mod:`pipeline.offline.transparency`)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import typer
from redis import Redis

from pipeline.cli.output import console, fail
from pipeline.local.stack import settings_with_stack
from pipeline.offline.transparency import read_audit, tally

report_app = typer.Typer(help="Reports from the audit log.", no_args_is_help=True)


def _when(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not a date or RFC 3339 time (2026-12-01, 2026-12-01T08:00Z)",
             code=2)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@report_app.command()
def transparency(
    start: Annotated[str, typer.Option("--from", help="Start of the window (inclusive), UTC date or time.")],
    end: Annotated[str, typer.Option("--to", help="End of the window (exclusive).")],
    format: Annotated[str, typer.Option("--format", help="json or csv.")] = "json",
) -> None:
    """Actions by policy ground and entity type, automated detection and decision, appeals
    filed, upheld and reversed, median time to decision: all from the audit log."""
    if format not in ("json", "csv"):
        fail(f"--format must be json or csv, not {format!r}", code=2)
    lo, hi = _when(start, "--from"), _when(end, "--to")
    if hi <= lo:
        fail("--to must be after --from", code=2)
    redis = Redis.from_url(settings_with_stack().redis_url)
    try:
        report = tally(read_audit(redis, lo, hi), lo.isoformat(), hi.isoformat())
    finally:
        redis.close()
    text = report.as_json() if format == "json" else report.as_csv()
    console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
