"""``vigil``: the command line for engineers and the demo.

Run ``vigil --help`` for the commands. Server addresses come from KAFKA_BOOTSTRAP_SERVERS and
REDIS_URL, or else from the stack ``vigil up`` started (recorded under ``.vigil/``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pipeline.cli.dead_letters import dead_letters_app
from pipeline.cli.models import models_app
from pipeline.cli.output import console, err, fail
from pipeline.cli.privacy import privacy_app
from pipeline.cli.report import report_app
from pipeline.cli.review import review_app
from pipeline.cli.rules import rules_app
from pipeline.local.stack import StackState, alive, down, settings_with_stack, up
from pipeline.settings import ReviewSettings, Settings, SettingsInvalid

app = typer.Typer(help="Vigil: streaming trust-and-safety for the marketplace.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
schemas_app = typer.Typer(help="Event contracts.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
app.add_typer(review_app, name="review")
app.add_typer(rules_app, name="rules")
app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(models_app, name="models")
app.add_typer(report_app, name="report")
app.add_typer(privacy_app, name="privacy")


@app.callback()
def check_settings() -> None:
    """Every command reads its settings from the environment: a variable that does not parse
    stops it here, named, before anything starts."""
    for settings in (Settings, ReviewSettings):
        try:
            settings.from_env()
        except SettingsInvalid as exc:
            fail(str(exc), code=2)


# ---- the stack -------------------------------------------------------------------------------


@app.command("up")
def up_command(
    workers: Annotated[int, typer.Option(help="Worker processes to start.")] = 1,
    wait: Annotated[bool, typer.Option(help="Wait until the workers have joined the group.")] = True,
) -> None:
    """Start the embedded broker and Redis (unless configured from outside), topics and workers."""
    from pipeline.local.embedded import StackError

    settings = Settings.from_env()
    try:
        with console.status("starting the stack..."):
            state = up(settings, workers=workers)
    except StackError as exc:
        fail(str(exc))
        return
    table = Table(title="Vigil is up", show_header=False)
    table.add_row("Kafka bootstrap", state.kafka_bootstrap)
    table.add_row("Redis", state.redis_url)
    for name, pid in state.pids.items():
        table.add_row(name, f"pid {pid}, log {state.logs.get(name, '-')}")
    for name, url in state.urls.items():
        if name not in ("kafka", "redis", "analyst token"):
            table.add_row(name, url)
    console.print(table)
    _print_console_login(state)
    if wait:
        with console.status("waiting for the workers to join the consumer group..."):
            ready = wait_for_workers(state.redis_url, workers, timeout=60)
        if not ready:
            fail(f"workers did not report in 60s; see {settings.state_dir}/worker-1.log")
        console.print(f"[green]{workers} worker(s) consuming.[/] Stop everything with `vigil down`.")


def _print_console_login(state: StackState) -> None:
    url = state.urls.get("review console")
    token_file = state.urls.get("analyst token")
    if url:
        console.print(f"[bold]Review console:[/] {url}")
    if token_file and Path(token_file).exists():
        console.print(f"  log in with the analyst token: {Path(token_file).read_text().strip()}"
                      f"  (also in {token_file})")


def wait_for_workers(redis_url: str, count: int, timeout: float) -> bool:
    import redis

    from pipeline.stores.heartbeat import read_beats_sync

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        beats = read_beats_sync(client)
        if len([b for b in beats if b["assigned_partitions"] > 0]) >= count:
            return True
        time.sleep(0.5)
    return False


@app.command("down")
def down_command() -> None:
    """Stop what `vigil up` started."""
    stopped = down(Settings.from_env())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command("status")
def status_command() -> None:
    """Show the stack, the workers' heartbeats and the review queue."""
    settings = settings_with_stack()
    state = StackState.load(settings.state_dir)
    if state:
        for name, pid in state.pids.items():
            console.print(f"{name:10} pid {pid:<8} {'running' if alive(pid) else '[red]stopped[/]'}")
    _print_queue(settings)


@app.command("worker")
def worker_command() -> None:
    """Run one worker in the foreground (what `vigil up` starts, and what production runs)."""
    from pipeline.worker.run import run_worker

    run_worker(settings_with_stack())


# ---- events --------------------------------------------------------------------------------


@app.command("publish")
def publish_command(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Publish a JSONL file of event envelopes (validated first; bad lines are reported)."""
    from pipeline.kafka.publisher import Publisher, PublishError, read_jsonl
    from schemas.errors import InvalidEvent

    settings = settings_with_stack()
    lines = file.read_text(encoding="utf-8").splitlines()
    bad = 0
    with Progress(TextColumn("publishing"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("publish", total=len([ln for ln in lines if ln.strip()]))
        publisher = Publisher(settings.kafka_bootstrap, consent_registry=settings.redis_url,
                              clock_bound=settings.clock_bound())
        for number, obj in read_jsonl(lines):
            try:
                if isinstance(obj, Exception):
                    raise InvalidEvent("bad_json", str(obj))
                publisher.publish(obj, on_delivered=lambda: progress.advance(task))
            except InvalidEvent as exc:
                bad += 1
                progress.advance(task)
                err.print(f"line {number}: {exc.reason}")
        try:
            publisher.flush()
        except PublishError as exc:
            fail(str(exc))
    console.print(f"published {publisher.delivered} event(s); {bad} invalid line(s) skipped")
    if bad:
        raise typer.Exit(2)


@app.command("simulate")
def simulate_command(
    count: Annotated[Optional[int], typer.Option(help="Events to generate.")] = None,
    rate: Annotated[float, typer.Option(help="Events per second when publishing live.")] = 50.0,
    duration: Annotated[Optional[float], typer.Option(help="Seconds to publish live.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same traffic).")] = 7,
    fraud_rate: Annotated[float, typer.Option(help="Share of events from fraud scenarios.")] = 0.05,
    out: Annotated[Optional[Path], typer.Option(help="Write events to this JSONL file instead of Kafka.")] = None,
    truth: Annotated[Optional[Path], typer.Option(help="Write the ground truth (scenario per event) here.")] = None,
) -> None:
    """Generate realistic marketplace traffic with injected fraud, to a file or live to Kafka."""
    from pipeline.sim import generate, truth_record

    if out is not None:
        n = count or 10_000
        truth_handle = truth.open("w") if truth else None
        with out.open("w") as handle:
            for sim in generate(seed=seed, count=n, fraud_rate=fraud_rate):
                handle.write(json.dumps(sim.envelope) + "\n")
                if truth_handle and sim.scenario:
                    truth_handle.write(json.dumps(truth_record(sim)) + "\n")
        if truth_handle:
            truth_handle.close()
        console.print(f"wrote {n} events to {out}" + (f", ground truth to {truth}" if truth else ""))
        return
    published = simulate_live(settings_with_stack(), rate=rate, count=count, duration=duration,
                              seed=seed, fraud_rate=fraud_rate)
    console.print(f"published {published} events")


def simulate_live(settings: Settings, *, rate: float, count: int | None, duration: float | None,
                  seed: int, fraud_rate: float, on_tick: object = None) -> int:
    """Publish generated traffic live, ``rate`` events per wall-clock second.

    The simulated marketplace keeps its own clock, the one ``vigil simulate --count`` files
    have (a 2 s mean gap between events): live traffic is the same traffic as a file of the
    same seed, so rules and models see the same per-user rates (a freelancer's proposals per 10
    minutes, signups per device per hour) and flag at the backtest's rates. At 100 events/s
    that clock runs 200 times faster than the wall clock, so it starts in the past
    (:func:`live_start`) and never runs ahead of now: the worker refuses events dated later
    than its clock allows (``VIGIL_MAX_CLOCK_SKEW``), as it must for real traffic. A run with
    no count or duration goes in rounds of an hour, each a new marketplace (seed + round).
    """
    from pipeline.kafka.publisher import Publisher
    from pipeline.sim import generate

    publisher = Publisher(settings.kafka_bootstrap, client_id="vigil-simulator",
                          consent_registry=settings.redis_url, clock_bound=settings.clock_bound())
    began, sent = time.monotonic(), 0
    bounded = count is not None or duration is not None
    planned = count if count is not None else int(rate * (duration or LIVE_ROUND_SECONDS)) + 1
    try:
        for round_ in itertools.count():
            round_began, round_sent = time.monotonic(), 0
            start = live_start(datetime.now(timezone.utc), planned, rate)
            for sim in generate(seed=seed + round_, count=planned, fraud_rate=fraud_rate,
                                start=start):
                delay = round_sent / rate - (time.monotonic() - round_began)
                if delay > 0:
                    publisher.flush()
                    if callable(on_tick):
                        on_tick()
                    time.sleep(delay)
                if duration is not None and time.monotonic() - began > duration:
                    return sent
                publisher.publish(sim.envelope)
                sent, round_sent = sent + 1, round_sent + 1
            if bounded:
                return sent
    finally:
        publisher.flush()
    return sent


#: An unbounded live run's round: a new marketplace every hour of wall time.
LIVE_ROUND_SECONDS = 3600.0


def live_start(now: datetime, count: int, rate: float, mean_gap: float = 2.0) -> datetime:
    """Where a live run's marketplace clock starts so that none of its ``count`` events, sent
    ``rate`` per second from ``now``, is dated after the moment it is sent: the stream spans
    about ``count x mean_gap`` seconds of marketplace time (10 % and a minute of margin for the
    random gaps) and takes ``count / rate`` seconds to send.

    >>> now = datetime(2026, 12, 2, tzinfo=timezone.utc)
    >>> str(live_start(now, 6000, 100.0))
    '2026-12-01 20:20:00+00:00'
    """
    span = timedelta(seconds=count * mean_gap * 1.1)
    sending = timedelta(seconds=count / rate)
    return min(now, now + sending - span) - timedelta(minutes=1)


@app.command("replay")
def replay_command(
    events: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL events.")],
    out: Annotated[Path, typer.Option(help="Where to write one result line per event.")],
    models: Annotated[bool, typer.Option(help="Also run the online models (consent-gated; "
                                               "review.decided lines teach them).")] = True,
    label_policy: Annotated[str, typer.Option(
        help="Which review.decided labels teach the models: `all`, or `reviewed`: only those "
             "of events the product would have sent to review (flag, labelling sample with "
             "the worker's seed and budget, report).")] = "all",
) -> None:
    """Run the detector core offline over a file, in order, with no Kafka or Redis."""
    from detectors.models import default_models
    from pipeline.offline.replay import LABEL_POLICIES, ReplaySummary, replay_file

    if label_policy not in LABEL_POLICIES:
        fail(f"--label-policy must be one of {', '.join(LABEL_POLICIES)}", code=2)
    # Offline, on files: the development key will do when none is set (no model leaves here).
    settings = Settings.from_env()
    settings = settings if settings.model_hash_key else settings.replace(embedded=True)
    detectors = default_models(settings.model_key()) if models else []
    summary = ReplaySummary()
    started = time.perf_counter()
    with out.open("w") as handle:
        n, bad = replay_file(str(events), handle.write, models=detectors,
                             policy_version=settings.policy_version, label_policy=label_policy,
                             sampling=settings.sampling_policy(), summary=summary,
                             on_invalid=lambda r: err.print(f"line {r.line}: {r.reason}"))
    took = time.perf_counter() - started
    console.print(f"replayed {n} events in {took:.1f}s ({n / max(took, 1e-9):,.0f}/s); "
                  f"{bad} invalid line(s) skipped; results in {out}")
    for line in summary.lines():
        console.print(f"  {line}")


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Option("--dir", help="Output folder.")] = Path("schemas/json"),
) -> None:
    """Write the JSON Schema of every event type (schemas/json/<type>.json), of flags and of
    dead letters (flag.json, dead_letter.json)."""
    from schemas.export import write_json_schemas

    written = write_json_schemas(directory)
    console.print(f"wrote {len(written)} schema file(s) to {directory}")


# ---- the queue and the demo ------------------------------------------------------------------


async def _queue_snapshot(redis_url: str) -> dict:
    from redis.asyncio import Redis

    from pipeline.review.queue import ReviewQueue
    from pipeline.stores.heartbeat import read_beats

    redis = Redis.from_url(redis_url)
    try:
        queue = ReviewQueue(redis)
        beats = await read_beats(redis)
        return {
            "by_detector": await queue.flag_counts_by_detector(),
            "open_cases": await queue.queue_depth(),
            "top": await queue.open_cases(limit=5),
            "processed": sum(b.get("processed", 0) for b in beats),
            "dead_letters": sum(b.get("dead_letters", 0) for b in beats),
            "workers": len(beats),
        }
    finally:
        await redis.aclose()


def _queue_table(snapshot: dict, title: str = "Review queue") -> Table:
    table = Table(title=title)
    table.add_column("detector")
    table.add_column("flags", justify="right")
    for detector, n in sorted(snapshot["by_detector"].items(), key=lambda kv: -kv[1]):
        table.add_row(detector, str(n))
    table.caption = (f"{snapshot['open_cases']} open case(s) · {snapshot['processed']} events "
                     f"processed · {snapshot['dead_letters']} dead letter(s) · "
                     f"{snapshot['workers']} worker(s)")
    return table


def _print_queue(settings: Settings, *, table: bool = True) -> None:
    try:
        snapshot = asyncio.run(_queue_snapshot(settings.redis_url))
    except Exception as exc:  # noqa: BLE001 - a status command reports, it does not crash
        fail(f"cannot read the review queue at {settings.redis_url}: {exc}")
        return
    if table:
        console.print(_queue_table(snapshot))
    if snapshot["top"]:
        console.print("highest-priority open cases:")
    for case in snapshot["top"]:
        reasons = "; ".join(sorted({f["reason"] for f in case["flags"]}))[:120]
        console.print(f"  {case['case_id']}  {case['entity']:<28} {case['flag_count']:>3} flag(s)  {reasons}")


@app.command("queue")
def queue_command() -> None:
    """Flags by detector and the highest-priority open cases."""
    _print_queue(settings_with_stack())


@app.command("demo")
def demo_command(
    seconds: Annotated[Optional[float], typer.Option(envvar="DEMO_SECONDS",
                                                     help="Stop after this many seconds.")] = None,
    rate: Annotated[float, typer.Option(help="Events per second.")] = 100.0,
    fraud_rate: Annotated[float, typer.Option(help="Share of fraud events.")] = 0.08,
    warm: Annotated[bool, typer.Option(help="First train the models from a simulated history "
                                            "(vigil models bootstrap), as a platform would "
                                            "from its own.")] = True,
) -> None:
    """Start the stack, stream simulated traffic, show flags arriving; Ctrl-C stops everything."""
    settings = Settings.from_env()
    state = StackState.load(settings.state_dir)
    started_here = not (state and any(alive(p) for p in state.pids.values()))
    if started_here:
        up_command(workers=1, wait=True)
    settings = settings_with_stack(settings)
    if warm and settings.models_enabled:
        from pipeline.cli.models import warm_start_demo

        with console.status("training the models from a simulated history..."):
            warm_start_demo(settings.redis_url, settings.model_key(), settings.policy_version)
    console.print(f"streaming marketplace traffic at {rate:g} events/s "
                  + (f"for {seconds:g}s" if seconds else "until Ctrl-C"))
    try:
        with Live(console=console, refresh_per_second=2) as live:
            last = [0.0]

            def refresh() -> None:
                if time.monotonic() - last[0] > 0.5:
                    last[0] = time.monotonic()
                    live.update(_queue_table(asyncio.run(_queue_snapshot(settings.redis_url)),
                                             "Flags arriving in the review queue"))

            simulate_live(settings, rate=rate, count=None, duration=seconds, seed=int(time.time()),
                          fraud_rate=fraud_rate, on_tick=refresh)
            time.sleep(3)  # let the last events through before the final count
            last[0] = 0
            refresh()
    except KeyboardInterrupt:
        console.print("interrupted")
    finally:
        _print_queue(settings, table=False)
        _print_models(settings)
        state = StackState.load(settings.state_dir)
        if state:
            _print_console_login(state)
        if started_here:
            console.print("stopping the stack...")
            down(Settings.from_env())


def _print_models(settings: Settings) -> None:
    from pipeline.cli.models import print_model_flags

    try:
        print_model_flags(settings.redis_url)
    except Exception as exc:  # noqa: BLE001 - the demo's summary reports, it does not crash
        err.print(f"cannot read the model flags at {settings.redis_url}: {exc}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":
    sys.exit(app())
