"""End-to-end benchmarks on the embedded stack; prints figures, asserts nothing.

    .venv/bin/python bench/e2e.py [--events 20000]

1. Throughput: N simulator events through the full pipeline (validation, consent gate, rules,
   models, flags, queue) with one worker, and a bare faust consumer of the same events in the
   same run; both rates and their ratio (target: pipeline >= 0.75 x bare).
2. Scaling: the same with two workers.

   Both are measured in ``--rounds`` rounds (bare, one worker, two workers, each from an empty
   Redis and a new consumer group), and summarised by the median of the rounds' ratios: on a
   shared machine one run's rates swing by +-30 % from minute to minute, and a ratio of two
   runs minutes apart measures that swing as much as the pipeline.
3. Live load, in steps of 25, 50 and 75 % of the one-worker backlog rate just measured
   (``--steps``): a steady load on a fresh stack, after 3 s of unmeasured warm-up. Per step:
   whether the worker kept up (its lag, events sent but not processed, stayed bounded: grew by
   at most 2 % of the rate per second and ended within 1 s of traffic; ``bench/load_steps.py``),
   publish -> case p50/p95/p99 for flagged events and publish -> processed for all, the worker's
   stage profile from its own ``vigil_stage_seconds`` (how long a batch waited for and ran in
   each stage, Redis round trips, batch size), and then the floor: a bare faust consumer under
   the same load on another fresh stack (what faust and the broker alone cost), with the
   worker's percentiles as ratios to it. Targets: kept up at 75 %; p99 at 50 % within 3x the
   floor's. Last, the same question of faust itself: the bare consumer under live load at 75 %
   of its own backlog rate (does the transport alone keep up there?). ``--backlog-rate R``
   skips the throughput rounds and takes R as the backlog rate. ``--latency-rate R`` runs
   only a latency run, at R events/s; with ``--bare``, only the bare consumer under that load:
   whether it kept up, its publish -> consumed percentiles and every process's CPU.

Rates come from timestamps the consumers record (the processing ledger for the pipeline), so the
consumer-group join is not counted. Each throughput line also prints the CPU time per event of
the consumer or workers, Redis and the broker over the same span (from /proc): where the time
goes when all of them share the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.load_steps import LagTrend, lag_trend, stage_profile  # noqa: E402
from pipeline.kafka.publisher import Publisher  # noqa: E402
from pipeline.local.embedded import create_topics, start_kafka, start_redis  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.sim import generate  # noqa: E402
from pipeline.stores.heartbeat import read_beats_sync  # noqa: E402
from schemas.topics import TOPIC_BY_TYPE, topic_plan  # noqa: E402

LEDGER = "vigil:ledger:processed"


def spawn(module: str, settings: Settings, log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", module], cwd=REPO,
                            env={**os.environ, **settings.env(), **env},
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        p.terminate()
    for p in processes:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()


def fresh_stack(workdir: Path, partitions: int):  # noqa: ANN201
    kafka = start_kafka(workdir)
    server = start_redis(workdir, appendfsync="everysec")
    create_topics(kafka.url, topic_plan(partitions))
    settings = Settings(kafka_bootstrap=kafka.url, redis_url=server.url, state_dir=workdir,
                        embedded=True, partitions=partitions, session_timeout=3,
                        rebalance_timeout=3, heartbeat_interval=0.5, commit_interval=1.0, log_level="warning",
                        ledger_retention=3600)
    return kafka, server, settings


def publish_all(settings: Settings, events: list[dict]) -> None:
    with Publisher(settings.kafka_bootstrap, config={"linger.ms": 20}) as publisher:
        for event in events:
            publisher.publish(event)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuSampler:
    """Samples the CPU time of named processes, to say what an event costs each of them
    between two moments of a run (``per_event``)."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self.samples: list[tuple[float, dict[str, float]]] = []

    def sample(self) -> None:
        self.samples.append((time.time(), {name: sum(cpu_seconds(p) for p in pids)
                                           for name, pids in self.pids.items()}))

    def per_event(self, first: float, last: float, events: int) -> dict[str, float]:
        """Microseconds of CPU per event for each process between ``first`` and ``last``."""
        inside = [s for s in self.samples if first <= s[0] <= last] or self.samples[-2:]
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        share = events * (t1 - t0) / max(last - first, 1e-9)  # events in the sampled span
        return {name: (c1[name] - c0[name]) / max(share, 1) * 1e6 for name in self.pids}


def _watch(procs: list[subprocess.Popen], kafka_pid: int, redis_pid: int,
           label: str) -> CpuSampler:
    return CpuSampler({label: [p.pid for p in procs], "redis": [redis_pid], "broker": [kafka_pid]})


def pipeline_rate(settings: Settings, workers: int, n: int, workdir: Path, tag: str,
                  pids: tuple[int, int]) -> tuple[float, dict[str, float]]:
    """Events/s through ``workers`` workers, and CPU us per event of workers, Redis, broker."""
    client = redis.Redis.from_url(settings.redis_url)
    client.flushall()  # every run does the same work: no cases, windows or ledger from before
    settings = settings.replace(app_id=f"vigil-bench-{tag}")
    procs = [spawn("pipeline.worker", settings, workdir / f"{tag}-{i}.log") for i in range(workers)]
    sampler = _watch(procs, *pids, label="workers")
    try:
        deadline = time.time() + 900
        while client.zcard(LEDGER) < n and time.time() < deadline:
            sampler.sample()
            time.sleep(0.1)
        times = [t for _, t in client.zrange(LEDGER, 0, -1, withscores=True)]
    finally:
        stop(procs)
    if len(times) < n:
        raise SystemExit(f"pipeline processed only {len(times)} of {n}; see {workdir}")
    first, last = min(times), max(times)
    return (n - 1) / (last - first), sampler.per_event(first, last, n)


def bare_rate(settings: Settings, n: int, workdir: Path, pids: tuple[int, int],
              tag: str = "bare") -> tuple[float, dict[str, float]]:
    out = workdir / f"{tag}.json"
    proc = spawn("bench.bare_consumer", settings.replace(app_id=f"vigil-bench-{tag}"),
                 workdir / f"{tag}.log", BENCH_EXPECT=str(n), BENCH_OUT=str(out))
    sampler = _watch([proc], *pids, label="consumer")
    try:
        deadline = time.time() + 600
        while not out.exists() and time.time() < deadline:
            sampler.sample()
            time.sleep(0.05)
    finally:
        stop([proc])
    data = json.loads(out.read_text())
    return (n - 1) / (data["last"] - data["first"]), sampler.per_event(data["first"], data["last"], n)


@dataclass(frozen=True)
class Round:
    """One round of the throughput benchmark: the three rates, taken minutes apart at most."""

    bare: float
    one: float
    two: float

    @property
    def ratio(self) -> float:
        return self.one / self.bare

    @property
    def scaling(self) -> float:
        return self.two / self.one


def throughput_round(settings: Settings, n: int, workdir: Path, pids: tuple[int, int],
                     number: int) -> Round:
    """The bare consumer, one worker and two workers over the same ``n`` published events;
    prints the round's rates and the CPU per event each run cost."""
    bare, bare_cpu = bare_rate(settings, n, workdir, pids, tag=f"bare-{number}")
    one, one_cpu = pipeline_rate(settings, 1, n, workdir, f"one-{number}", pids)
    two, two_cpu = pipeline_rate(settings, 2, n, workdir, f"two-{number}", pids)
    print(f"round {number}:")
    print(f"  bare faust consumer      : {bare:10,.0f} events/s   {_cpu_line(bare_cpu)}")
    print(f"  full pipeline, 1 worker  : {one:10,.0f} events/s   ratio to bare: {one / bare:.2f}"
          f"   {_cpu_line(one_cpu)}")
    print(f"  full pipeline, 2 workers : {two:10,.0f} events/s   scaling vs 1: {two / one:.2f}x"
          f"   {_cpu_line(two_cpu)}", flush=True)
    return Round(bare, one, two)


def _print_summary(rounds: list[Round]) -> None:
    def spread(values: list[float], fmt: str) -> str:
        return (f"median {statistics.median(values):{fmt}} "
                f"(range {min(values):{fmt}}-{max(values):{fmt}})")

    print(f"over {len(rounds)} rounds:")
    print(f"  bare faust consumer      : {spread([r.bare for r in rounds], ',.0f')} events/s")
    print(f"  full pipeline, 1 worker  : {spread([r.one for r in rounds], ',.0f')} events/s")
    print(f"  ratio to bare            : {spread([r.ratio for r in rounds], '.2f')}"
          "   (target >= 0.75)")
    print(f"  two workers vs one       : {spread([r.scaling for r in rounds], '.2f')}x")


def _cpu_line(costs: dict[str, float]) -> str:
    return "CPU per event: " + ", ".join(f"{name} {us:,.0f} us" for name, us in costs.items())


def latency(settings: Settings, rate: float, seconds: float, workdir: Path,
            pids: tuple[int, int], warmup: float = 3.0) -> dict[str, Any]:
    """Steady load at ``rate`` after ``warmup`` seconds of the same; publish -> processed (all)
    and publish -> case (flagged), for the measured events only; whether the worker kept up
    (:func:`bench.load_steps.lag_trend`); the share of a core each process used meanwhile;
    and the worker's stage profile over the whole run (its ``/metrics``)."""
    client = redis.Redis.from_url(settings.redis_url)
    client.delete(LEDGER)
    port = _free_port()
    settings = settings.replace(app_id="vigil-bench-latency", metrics_port=port)
    proc = spawn("pipeline.worker", settings, workdir / "latency.log")
    sampler = _watch([proc], *pids, label="worker")
    sampler.pids["load generator"] = [os.getpid()]
    try:
        _wait_joined(client)
        publisher = Publisher(settings.kafka_bootstrap)
        # Warm-up, not measured: the load generator's producer connects and registers (the
        # first second of sends waits on that), and the worker's first fetches settle.
        warm = _steady_load(publisher, rate, warmup, seed=98)
        _wait_ledger(client, warm)
        sampler.sample()
        sent = _steady_load(publisher, rate, seconds, seed=99)
        sampler.sample()
        _wait_ledger(client, sent, timeout=max(60, 4 * seconds))
        time.sleep(2)
        processed = {m.decode(): t for m, t in client.zrange(LEDGER, 0, -1, withscores=True)}
        case_lat = _case_latencies(client, sent)
        scrape = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    finally:
        stop([proc])
    to_processed = sorted(processed[e] - t for e, t in sent.items() if e in processed)
    (t0, c0), (t1, c1) = sampler.samples
    cores = {name: (c1[name] - c0[name]) / (t1 - t0) for name in c0}
    return {"events": len(sent), "to_processed": _pcts(to_processed), "to_case": _pcts(case_lat),
            "flagged": len(case_lat), "cores": cores, "lag": lag_trend(sent, processed),
            "profile": stage_profile(scrape.decode())}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bare_live(settings: Settings, rate: float, seconds: float, workdir: Path, pids: tuple[int, int],
              ) -> tuple[dict[str, float], dict[str, float], LagTrend | None]:
    """The bare consumer under the same steady load as :func:`latency`: the share of a core
    each process used, publish -> consumed percentiles of the measured events, and whether it
    kept up with them."""
    out = workdir / "bare-live-latencies.jsonl"
    proc = spawn("bench.bare_consumer", settings.replace(app_id="vigil-bench-bare-live"),
                 workdir / "bare-live.log", BENCH_EXPECT=str(10**12),
                 BENCH_OUT=str(workdir / "bare-live.json"), BENCH_LATENCIES=str(out))
    sampler = _watch([proc], *pids, label="consumer")
    sampler.pids["load generator"] = [os.getpid()]
    try:
        time.sleep(15)  # the group join (no heartbeat to watch: it writes nothing until done)
        publisher = Publisher(settings.kafka_bootstrap)
        _steady_load(publisher, rate, 3, seed=98)
        sampler.sample()
        began = time.time()
        sends = sorted(_steady_load(publisher, rate, seconds, seed=99).values())
        ended = time.time()
        sampler.sample()
        time.sleep(3)  # the last latencies written
    finally:
        stop([proc])
    (t0, c0), (t1, c1) = sampler.samples
    pairs = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    inside = [(at, lat) for at, lat in pairs if began <= at <= ended]
    # Whether faust alone kept up: the same verdict as the worker's, from the sends and when
    # the measured messages were consumed (one never consumed is lag to the end).
    consumed = sorted(at + lat for at, lat in inside)
    kept = (lag_trend(dict(enumerate(sends)), dict(enumerate(consumed))) if inside and sends
            else None)
    return ({name: (c1[name] - c0[name]) / (t1 - t0) for name in c0},
            _pcts(sorted(lat for _, lat in inside)), kept)


def _steady_load(publisher: Publisher, rate: float, seconds: float, seed: int) -> dict[str, float]:
    """Publish simulator traffic at ``rate`` events/s for ``seconds``; event id -> send time.

    The traffic is generated and encoded before the clock starts, and sent in 1 ms ticks: the
    load generator shares the machine with what it measures, so it should cost it as little
    as it can (simulating the marketplace costs ~10x more than sending an event)."""
    planned = []
    first: datetime | None = None
    for sim in generate(seed=seed, count=int(rate * seconds), fraud_rate=0.1,
                        mean_gap_seconds=1.0 / rate):
        envelope = sim.envelope
        at = datetime.fromisoformat(envelope["occurred_at"].replace("Z", "+00:00"))
        first = first or at
        planned.append(((at - first).total_seconds(), TOPIC_BY_TYPE[envelope["type"]],
                        envelope["subject_id"].encode(), orjson.dumps(envelope),
                        envelope["event_id"]))
    sent: dict[str, float] = {}
    began = time.time()
    i = 0
    while i < len(planned):
        due = time.time() - began
        while i < len(planned) and planned[i][0] <= due:
            _, topic, key, value, event_id = planned[i]
            publisher.publish_raw(topic, value, key=key)
            sent[event_id] = time.time()
            i += 1
        time.sleep(0.001)
    publisher.flush()
    return sent


def _wait_ledger(client: redis.Redis, events: dict[str, float], timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = client.zmscore(LEDGER, list(events))
        if all(score is not None for score in done):
            return
        time.sleep(0.5)


def _case_latencies(client: redis.Redis, sent: dict[str, float]) -> list[float]:
    out = []
    for entry_id, fields in client.xrange("vigil:flags:recent"):
        raw = client.get(b"vigil:flag:" + fields[b"flag_id"])
        if not raw:
            continue
        event_id = json.loads(raw)["event_id"]
        if event_id in sent:
            written = int(entry_id.split(b"-")[0]) / 1000
            out.append(written - sent[event_id])
    return sorted(out)


def _wait_joined(client: redis.Redis) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        beats = read_beats_sync(client)
        if any(b["assigned_partitions"] for b in beats):
            return
        time.sleep(0.3)
    raise SystemExit("worker did not join")


def _pcts(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50_ms": q[49] * 1000, "p95_ms": q[94] * 1000, "p99_ms": q[98] * 1000}


def _print_latency(lat: dict[str, Any], rate: float, share: str) -> None:
    print(f"latency at {rate:,.0f} events/s{share}, {lat['events']} events, {lat['flagged']} flagged:")
    print(f"  kept up              : {_verdict(lat['lag'])}")
    print("  publish -> processed : " + ", ".join(f"{k} {v:.1f}" for k, v in lat["to_processed"].items()))
    print("  publish -> case      : " + ", ".join(f"{k} {v:.1f}" for k, v in lat["to_case"].items()))
    print("  share of a core while loading: "
          + ", ".join(f"{name} {share:.0%}" for name, share in lat["cores"].items()))
    print("  stages: " + lat["profile"].line())


def _verdict(lag: LagTrend | None) -> str:
    if lag is None:
        return "NO (nothing consumed)"
    return (f"{'yes' if lag.kept_up else 'NO'} (lag grew {lag.slope:+,.1f} events/s, {lag.end_lag:,}"
            f" behind when the load ended, at most {lag.max_lag:,})")


@dataclass(frozen=True)
class Step:
    """One live-load step: the worker and the bare consumer under the same rate."""

    share: float
    rate: float
    kept_up: bool
    case: dict[str, float]  # the worker's publish -> case percentiles
    floor: dict[str, float]  # the bare consumer's publish -> consumed
    floor_kept_up: bool

    def ratio(self, pct: str) -> float:
        return self.case[pct] / self.floor[pct] if self.case and self.floor else float("nan")


def load_step(share: float, backlog_rate: float, args: argparse.Namespace,
              workdir: Path) -> Step:
    """The worker, then the bare consumer, each on a fresh stack (a latency run must not
    first chew through an earlier backlog), at ``share`` of the backlog rate."""
    rate = backlog_rate * share
    kafka, server, settings = fresh_stack(workdir / f"latency-{share}", args.partitions)
    try:
        lat = latency(settings, rate=rate, seconds=args.latency_seconds, workdir=workdir,
                      pids=(kafka.process.pid, server.process.pid))
    finally:
        server.stop()
        kafka.stop()
    _print_latency(lat, rate, f" ({share:.0%} of the backlog rate)")
    floor, floor_kept = bare_on_fresh_stack(
        rate, args, workdir / f"bare-{share}", "  the floor, a bare faust consumer at the same rate")
    step = Step(share, rate, lat["lag"].kept_up, lat["to_case"], floor,
                floor_kept is not None and floor_kept.kept_up)
    print(f"  worker / floor       : p50 {step.ratio('p50_ms'):.1f}x, p99 {step.ratio('p99_ms'):.1f}x",
          flush=True)
    return step


def _print_steps(steps: list[Step], backlog_rate: float) -> None:
    print(f"live load, as shares of the backlog rate ({backlog_rate:,.0f} events/s):")
    for step in steps:
        case = step.case
        print(f"  {step.share:4.0%} {step.rate:8,.0f} events/s: kept up {'yes' if step.kept_up else 'NO '}"
              f"  publish -> case p50 {case.get('p50_ms', float('nan')):7.1f} ms"
              f" p99 {case.get('p99_ms', float('nan')):8.1f} ms"
              f"  (floor p99 {step.floor.get('p99_ms', float('nan')):6.1f} ms,"
              f" kept up {'yes' if step.floor_kept_up else 'NO '};"
              f" ratio p50 {step.ratio('p50_ms'):.1f}x, p99 {step.ratio('p99_ms'):.1f}x)")
    print("  targets: kept up at 75 %; p99 at 50 % within 3x the floor's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3,
                        help="throughput rounds (bare, one worker, two workers); medians printed")
    parser.add_argument("--latency-seconds", type=float, default=30)
    parser.add_argument("--steps", type=lambda text: [float(x) for x in text.split(",") if x],
                        default=[0.25, 0.5, 0.75],
                        help="live-load steps, as shares of the measured backlog rate")
    parser.add_argument("--backlog-rate", type=float, default=None,
                        help="skip the throughput rounds: the load steps' shares of this rate")
    parser.add_argument("--latency-rate", type=float, default=None,
                        help="only the latency run, at this many events/s")
    parser.add_argument("--bare", action="store_true",
                        help="with --latency-rate: the bare consumer's CPU under that load instead")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    kafka, server, settings = fresh_stack(workdir, args.partitions)
    if args.latency_rate:
        pids = (kafka.process.pid, server.process.pid)
        try:
            if args.bare:
                cores, lat, kept = bare_live(settings, args.latency_rate, args.latency_seconds,
                                             workdir, pids)
                print(f"bare faust consumer at {args.latency_rate:,.0f} events/s: kept up "
                      + _verdict(kept))
                print("  publish -> consumed  : " + ", ".join(f"{k} {v:.1f}" for k, v in lat.items()))
                print("  share of a core: " + ", ".join(f"{name} {share:.0%}" for name, share in cores.items()))
            else:
                _print_latency(latency(settings, rate=args.latency_rate, seconds=args.latency_seconds,
                                       workdir=workdir, pids=pids), args.latency_rate, "")
        finally:
            server.stop()
            kafka.stop()
        return
    if args.backlog_rate:
        server.stop()
        kafka.stop()
        _print_steps([load_step(share, args.backlog_rate, args, workdir) for share in args.steps],
                     args.backlog_rate)
        return
    try:
        events = [s.envelope for s in generate(seed=2026, count=args.events, fraud_rate=0.05)]
        publish_all(settings, events)
        pids = (kafka.process.pid, server.process.pid)
        print(f"events: {len(events)}, partitions: {args.partitions}, cores: {os.cpu_count()}, "
              f"rounds: {args.rounds}")
        rounds = [throughput_round(settings, len(events), workdir, pids, i + 1)
                  for i in range(args.rounds)]
        one = statistics.median(r.one for r in rounds)
        _print_summary(rounds)
    finally:
        server.stop()
        kafka.stop()
    steps = [load_step(share, one, args, workdir) for share in args.steps]
    if steps:
        _print_steps(steps, one)
        faust_alone(0.75, statistics.median(r.bare for r in rounds), args, workdir)


def faust_alone(share: float, bare_rate: float, args: argparse.Namespace, workdir: Path) -> None:
    """What the same target means for faust itself: the bare consumer under live load at
    ``share`` of its own backlog rate (the load generator and broker share the machine's
    cores with it, as they do with the worker)."""
    rate = bare_rate * share
    bare_on_fresh_stack(rate, args, workdir / f"bare-own-{share}",
                        f"the bare faust consumer at {share:.0%} of its own backlog rate"
                        f" ({rate:,.0f} events/s)")


def bare_on_fresh_stack(rate: float, args: argparse.Namespace, workdir: Path, label: str,
                        ) -> tuple[dict[str, float], LagTrend | None]:
    """:func:`bare_live` at ``rate`` on a stack of its own; prints ``label`` with whether it
    kept up, its percentiles and the cores used; returns the percentiles and the verdict."""
    kafka, server, settings = fresh_stack(workdir, args.partitions)
    try:
        cores, floor, kept = bare_live(settings, rate, args.latency_seconds, workdir.parent,
                                       (kafka.process.pid, server.process.pid))
    finally:
        server.stop()
        kafka.stop()
    print(f"{label}: kept up {_verdict(kept)}; publish -> consumed "
          + ", ".join(f"{k} {v:.1f}" for k, v in floor.items())
          + "; share of a core: " + ", ".join(f"{n} {c:.0%}" for n, c in cores.items()),
          flush=True)
    return floor, kept


if __name__ == "__main__":
    main()
