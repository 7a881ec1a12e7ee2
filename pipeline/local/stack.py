"""``vigil up`` / ``vigil down``: the embedded stack (Tansu broker, redis-server, workers).

With ``KAFKA_BOOTSTRAP_SERVERS`` or ``REDIS_URL`` set, those servers are used and not started.
What was started is written to ``<state dir>/stack.json`` so ``vigil down`` (and every other
command) can find it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.local.embedded import StackError, create_topics, free_port, start_kafka, start_redis
from pipeline.settings import Settings
from schemas.topics import topic_plan

STATE_FILE = "stack.json"


@dataclass
class StackState:
    kafka_bootstrap: str
    redis_url: str
    #: name -> pid of every process this stack started (and must stop).
    pids: dict[str, int] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def save(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / STATE_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, state_dir: Path) -> StackState | None:
        path = state_dir / STATE_FILE
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


def settings_with_stack(settings: Settings | None = None) -> Settings:
    """Environment first; else the servers a running ``vigil up`` recorded; else the defaults."""
    settings = settings or Settings.from_env()
    state = StackState.load(settings.state_dir)
    if state is None:
        return settings
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or state.kafka_bootstrap
    redis = os.environ.get("REDIS_URL") or state.redis_url
    # On the servers `vigil up` started, a process is part of the embedded stack (development
    # defaults accepted); pointed anywhere else, it is not.
    ours = ("kafka" in state.pids and kafka == state.kafka_bootstrap) or (
        "redis" in state.pids and redis == state.redis_url)
    return settings.replace(kafka_bootstrap=kafka, redis_url=redis,
                            embedded=settings.embedded or ours)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def up(settings: Settings, *, workers: int = 1) -> StackState:
    """Start what is not configured from outside, create topics, start workers."""
    existing = StackState.load(settings.state_dir)
    if existing and any(alive(pid) for pid in existing.pids.values()):
        raise StackError(f"a stack is already running from {settings.state_dir} "
                         f"(pids {sorted(existing.pids.values())}); run `vigil down` first")
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    state = StackState(settings.kafka_bootstrap, settings.redis_url)
    started = []
    try:
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            kafka = start_kafka(settings.state_dir)
            started.append(kafka)
            state.kafka_bootstrap = kafka.url
            state.pids["kafka"], state.logs["kafka"] = kafka.pid, str(kafka.log_path)
        if not os.environ.get("REDIS_URL"):
            redis = start_redis(settings.state_dir)
            started.append(redis)
            state.redis_url = redis.url
            state.pids["redis"], state.logs["redis"] = redis.pid, str(redis.log_path)
        create_topics(state.kafka_bootstrap,
                      topic_plan(settings.partitions))
        # `embedded`: the development defaults (the public model hash key) are accepted by
        # these processes, and only by them; lag is read past Tansu's wrong watermarks.
        worker_settings = settings.replace(kafka_bootstrap=state.kafka_bootstrap,
                                           redis_url=state.redis_url, embedded=True)
        for n in range(1, workers + 1):
            name = f"worker-{n}"
            log_path = settings.state_dir / f"{name}.log"
            port = settings.metrics_port + n - 1 if settings.metrics_port else free_port()
            process = spawn_worker(worker_settings.replace(metrics_port=port), log_path)
            state.pids[name], state.logs[name] = process.pid, str(log_path)
            state.urls[f"{name} metrics"] = f"http://127.0.0.1:{port}/metrics"
        review_port = _port_or_free(8000)
        log_path = settings.state_dir / "review.log"
        review = spawn_review(worker_settings, review_port, log_path)
        state.pids["review"], state.logs["review"] = review.pid, str(log_path)
        state.urls["review console"] = f"http://127.0.0.1:{review_port}/"
        _wait_http(f"http://127.0.0.1:{review_port}/healthz", review, log_path)
        if "redis" in state.pids:  # our own Redis: give the local user an analyst login
            token = create_user(state.redis_url, "analyst", "analyst")
            token_file = settings.state_dir / "analyst.token"
            token_file.write_text(token + "\n")
            token_file.chmod(0o600)
            state.urls["analyst token"] = str(token_file)
    except BaseException:
        for server in started:
            server.stop()
        for name, pid in state.pids.items():
            if name.startswith("worker") or name == "review":
                _terminate(pid)
        raise
    state.urls = {"kafka": state.kafka_bootstrap, "redis": state.redis_url, **state.urls}
    state.save(settings.state_dir)
    return state


def spawn_worker(settings: Settings, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, **settings.env()}
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "pipeline.worker"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def spawn_review(settings: Settings, port: int, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, **settings.env(), "VIGIL_REVIEW_PORT": str(port)}
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "pipeline.review"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def _port_or_free(preferred: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


def _wait_http(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"the review service exited; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise StackError(f"the review service did not answer {url} in {timeout:g}s; see {log_path}")


def create_user(redis_url: str, name: str, role: str) -> str:
    """A fresh token for ``name`` (created, or rotated if it exists)."""
    import asyncio

    from redis.asyncio import Redis

    from pipeline.review.web.auth import UserStore

    async def run() -> str:
        client = Redis.from_url(redis_url)
        try:
            return await UserStore(client).add_user(name, role, rotate=True)
        finally:
            await client.aclose()

    return asyncio.run(run())


def _terminate(pid: int, timeout: float = 15.0) -> bool:
    if not alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def down(settings: Settings) -> list[str]:
    """Stop everything ``up`` started (workers first, so they commit before the broker goes)."""
    state = StackState.load(settings.state_dir)
    if state is None:
        return []
    # Workers and the review service first (they commit and flush), then Redis, Kafka last.
    order = sorted(state.pids, key=lambda n: (n in ("redis", "kafka"), n == "kafka"))
    stopped = [name for name in order if _terminate(state.pids[name])]
    (settings.state_dir / STATE_FILE).unlink(missing_ok=True)
    return stopped
