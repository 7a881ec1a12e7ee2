"""``vigil dead-letters``: what was parked on ``tns.dead_letters`` and why; replay it once fixed.

Mounted on the main CLI. ``list`` counts the dead letters by kind and topic and shows the latest
with their reasons; ``replay`` publishes the originals of the chosen kinds again (validated
first, each once, to the topic its type belongs on). See :mod:`pipeline.offline.dead_letters`.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from detectors.rule import parse_duration
from pipeline.cli.output import console, err, fail
from pipeline.kafka.publisher import Publisher, PublishError
from pipeline.local.stack import settings_with_stack
from pipeline.offline.dead_letters import matching, read_dead_letters, replay
from schemas.outputs import DeadLetter
from schemas.topics import Topics

dead_letters_app = typer.Typer(help="Dead letters: list them with their reasons, replay them.",
                               no_args_is_help=True)

Kinds = Annotated[Optional[list[str]], typer.Option(
    "--kind", help="Only this kind (bad_json, invalid_field, processing_error, ...); repeatable.")]
TopicsOption = Annotated[Optional[list[str]], typer.Option(
    "--topic", help="Only dead letters of inputs read from this topic; repeatable.")]
Since = Annotated[Optional[str], typer.Option(
    help="Only those received in this last span: 30m, 2h, 7d.")]
Timeout = Annotated[float, typer.Option(
    help="Seconds to read the topic for at most; a topic not read to its end is an error.")]


def _selected(kinds: list[str] | None, topics: list[str] | None, since: str | None,
              timeout: float) -> tuple[list[DeadLetter], list[DeadLetter]]:
    """(every dead letter, those the options select); unreadable records are reported."""
    after = None
    if since is not None:
        try:
            after = datetime.now(timezone.utc) - timedelta(seconds=parse_duration(since))
        except ValueError as exc:
            fail(f"--since: {exc}", code=2)
    settings = settings_with_stack()
    try:
        letters, unreadable = read_dead_letters(settings.kafka_bootstrap, since=after,
                                               timeout=timeout)
    except LookupError as exc:
        fail(str(exc))
    except TimeoutError as exc:
        fail(f"{exc}; narrow the read with --since, or give it a longer --timeout")
    for line in unreadable:
        err.print(f"[yellow]skipped:[/] {line}")
    return letters, matching(letters, kinds=kinds or (), topics=topics or (), since=after)


def _about(letter: DeadLetter) -> str:
    """The original's event type and producer, where its bytes still say (for the listing)."""
    if letter.truncated:
        return f"(truncated: {letter.original_size} bytes, SHA-256 {letter.original_sha256})"
    try:
        original = json.loads(base64.b64decode(letter.original_b64))
    except ValueError:
        return "(not JSON)"
    if not isinstance(original, dict):
        return "(not a JSON object)"
    return f"{original.get('type', '(no type)')} from {original.get('producer', '(no producer)')}"


@dead_letters_app.command("list")
def list_command(
    kind: Kinds = None, topic: TopicsOption = None, since: Since = None, timeout: Timeout = 120,
    limit: Annotated[int, typer.Option(help="Show at most this many, the latest.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Every selected dead letter as "
                                          "JSON lines on stdout, for scripts.")] = False,
) -> None:
    """Count the dead letters by kind and topic, and show the latest with their reasons."""
    letters, selected = _selected(kind, topic, since, timeout)
    if as_json:
        for letter in selected:
            print(letter.model_dump_json())
        return
    counts = Counter((letter.kind, letter.topic) for letter in selected)
    read = f"received in the last {since}" if since else f"in {Topics.DEAD_LETTERS}"
    console.print(f"{len(selected)} of {len(letters)} dead letter(s) {read}", soft_wrap=True)
    table = Table()
    for column in ("kind", "input topic", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    for (letter_kind, letter_topic), count in counts.most_common():
        table.add_row(letter_kind, letter_topic, str(count))
    console.print(table)
    latest = sorted(selected, key=lambda letter: letter.received_at)[-limit:] if limit > 0 else []
    for letter in latest:
        console.print(f"{letter.received_at:%Y-%m-%d %H:%M:%S}  [bold]{letter.kind}[/]  "
                      f"{letter.topic}/{letter.partition}@{letter.offset}  "
                      f"{escape(_about(letter))}: {escape(letter.reason)}", soft_wrap=True)


@dead_letters_app.command("replay")
def replay_command(
    kind: Kinds = None, topic: TopicsOption = None, since: Since = None, timeout: Timeout = 120,
    replay_all: Annotated[bool, typer.Option("--all", help="Every dead letter, whatever its "
                                             "kind.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Only say what would be sent.")] = False,
) -> None:
    """Publish the chosen dead letters' originals again, once their cause is fixed.

    Each original is validated first (the still-invalid are listed, not sent), sent once
    however often it was dead-lettered, and to the topic its type belongs on."""
    if not kind and not replay_all:
        fail("say which dead letters to replay: --kind KIND (repeatable) or --all", code=2)
    _, selected = _selected(kind, topic, since, timeout)
    publisher = None
    if not dry_run:
        settings = settings_with_stack()
        publisher = Publisher(settings.kafka_bootstrap, client_id="vigil-dead-letter-replay",
                              consent_registry=settings.redis_url,
                              clock_bound=settings.clock_bound())
    try:
        report = replay(selected, publisher)
    except PublishError as exc:
        fail(str(exc))
    for letter, why in report.still_invalid:
        err.print(f"still invalid, not sent: {letter.topic}/{letter.partition}@{letter.offset}: "
                  f"{escape(why)}", soft_wrap=True)
    verb = "would publish" if dry_run else "published"
    console.print(f"{verb} {len(report.sent)} event(s) again; {len(report.still_invalid)} still "
                  f"invalid; {len(report.repeats)} repeat dead letter(s) of an input already "
                  f"replayed")
    if report.still_invalid:
        raise typer.Exit(2)
