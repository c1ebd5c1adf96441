#!/usr/bin/env python3
"""A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for development, tests and the demo.

No Docker: ``fetch`` copies the broker's jars from Maven Central (deploy/kafka/pom.xml) into a cache outside the
repository, once; the broker runs as ``java -cp '<libs>/*' kafka.Kafka server.properties`` with Java 17+, listening
on 127.0.0.1 only. Standard library only, so the Makefile can run it before anything else is installed::

    python deploy/kafka/broker.py fetch                       # once; later runs find the complete cache
    python deploy/kafka/broker.py start --data-dir var/kafka  # prints 127.0.0.1:PORT; the broker keeps running
    python deploy/kafka/broker.py stop --data-dir var/kafka
    python deploy/kafka/broker.py run                         # foreground, Ctrl-C stops it

From Python (tests/fixtures/kafka.py does this once per pytest session)::

    with LocalBroker(tmp_path / "kafka") as broker:
        ...                  # Kafka clients on broker.bootstrap_servers
        broker.restart()     # same port and data dir: topics, records and committed offsets survive

Version choice (details in README.md): Kafka 4.3.1, the newest 4.x that Maven Central serves completely -- 4.4.0 is
listed, but its POM needs org.apache.kafka:kafka-tools-api:4.4.0, which is missing there, so Maven cannot resolve it.
aiokafka 0.14.0 works with 4.3.1 (and with 4.4.0 when that jar is borrowed from 4.3.1): topic admin, acks=all and
idempotent produce, transactions, consumer groups with manual commits read back, end offsets, rebalancing; the
tests in tests/deploy check it again. One aiokafka flaw shows after a broker restart: ``committed()`` returns None
while the group coordinator is still loading (it ignores OffsetFetch's top-level COORDINATOR_LOAD_IN_PROGRESS), so
``start()`` waits for that load too. 3.9.x stays the fallback should a later aiokafka break on 4.x.

Ports: chosen free on the first start and held (``PortReservation``: bound, never listening; Kafka binds beside it)
from then until ``close()``, so no other process takes them before the JVM binds them or while a restart has them
unbound. ``tests/fixtures/waiting.py`` holds its test servers' ports with the same class.

Startup, measured on a 2-CPU VM shared with other busy JVMs: ~1.5 s for a new data dir (format + start until
clients can use it), ~1.0 s to start again, ~0.3 s to stop, ~4.8 s to start after ``kill()``. Thanks to a
class-data-sharing archive of the broker's classes, recorded once by ``fetch``, and the C1-only JIT; 3-5 s without.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType

__all__ = [
    "KAFKA_VERSION",
    "BrokerError",
    "BrokerStartError",
    "FetchError",
    "LocalBroker",
    "PortReservation",
    "cache_dir",
    "fetch",
]

KAFKA_VERSION = "4.3.1"
POM = Path(__file__).resolve().with_name("pom.xml")
HOST = "127.0.0.1"
NODE_ID = 1
# C1 only: ~45% less CPU until ready (faster start on a busy machine), ample speed for test-sized traffic.
JVM_OPTIONS = ("-Xms64m", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+ExitOnOutOfMemoryError", "-XX:-UsePerfData",
               "-Djava.awt.headless=true")

# Settings for a fast single-node test broker; LocalBroker(config=...) overrides or adds to them.
BROKER_DEFAULTS: dict[str, str] = {
    "num.partitions": "1",
    "auto.create.topics.enable": "true",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",  # not 50: quicker to create and load; the start-up probe checks it
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    # after a kill, the restarted controller waits out the dead broker's session before it lets the node re-register
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "4000",
    "log.retention.hours": "24",
    "log.retention.bytes": str(1 << 30),
    "log.segment.bytes": str(64 << 20),
}

LOG4J2_PROPERTIES = """\
status = error
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


class BrokerError(RuntimeError):
    """Root of this module's errors: the broker could not be fetched, started or stopped."""


class FetchError(BrokerError):
    """Maven or Java is missing, or Maven could not resolve the Kafka jars (its output is in the message)."""


class BrokerStartError(BrokerError):
    """The broker exited or did not serve metadata in time; the message ends with the tail of its log."""


def cache_dir() -> Path:
    """``$STREAMPROC_CACHE_DIR`` or ``~/.cache/streamproc``: where fetched jars live, outside the repository."""
    return Path(os.environ.get("STREAMPROC_CACHE_DIR") or Path.home() / ".cache" / "streamproc").expanduser()


def _version_dir(version: str) -> Path:
    return cache_dir() / "kafka" / version


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise FetchError("java not found (PATH or JAVA_HOME); Kafka needs Java 17 or newer")
    return java


def _cds_archive(version: str) -> Path:
    """The AppCDS archive path, keyed by the java binary: another JDK would reject (ignore) the archive."""
    java = Path(_java()).resolve()
    stat = java.stat()
    key = hashlib.sha1(f"{java}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return _version_dir(version) / f"broker-{key}.jsa"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, also if the process dies
        yield


def fetch(version: str = KAFKA_VERSION, *, quiet: bool = False) -> Path:
    """Make sure the broker's jars (and a class-data-sharing archive) are in the cache; a no-op once complete.

    Jars are copied by Maven into a temporary directory, renamed into place, then a ``complete`` marker is written:
    an interrupted fetch leaves no marker and is redone from the start. A file lock serialises concurrent fetches.

    Returns:
        The ``libs`` directory, ``<cache_dir()>/kafka/<version>/libs``.

    Raises:
        FetchError: ``mvn`` or ``java`` missing, or Maven failed (its output is in the message).
    """
    vdir = _version_dir(version)
    libs, marker = vdir / "libs", vdir / "complete"
    if marker.exists() and not libs.is_dir():  # someone deleted the jars: fetch again
        marker.unlink(missing_ok=True)
    if marker.exists() and (_cds_archive(version).exists() or (vdir / "no-cds").exists()):
        return libs
    with _locked(vdir / ".lock"):
        if not marker.exists():
            _say(f"fetching Apache Kafka {version} from Maven Central into {libs}", quiet)
            mvn = shutil.which("mvn")
            if mvn is None:
                raise FetchError("Maven (mvn) not found on PATH; it fetches the Kafka jars from Maven Central")
            for stale in vdir.glob("libs.*"):  # left by an interrupted fetch; we hold the lock
                shutil.rmtree(stale, ignore_errors=True)
            staging = Path(tempfile.mkdtemp(prefix="libs.", dir=vdir))
            try:
                cmd = [mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(POM), "dependency:copy-dependencies",
                       f"-Dkafka.version={version}", f"-DoutputDirectory={staging}"]
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if done.returncode != 0 or not list(staging.glob(f"kafka_2.13-{version}.jar")):
                    raise FetchError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
                shutil.rmtree(libs, ignore_errors=True)
                staging.chmod(0o755)
                staging.rename(libs)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            marker.write_text("\n".join(sorted(p.name for p in libs.glob("*.jar"))) + "\n")
        if not _cds_archive(version).exists() and not (vdir / "no-cds").exists():
            _make_cds_archive(version, quiet=quiet)
    return libs


def _make_cds_archive(version: str, *, quiet: bool) -> None:
    """Start a throwaway broker with -XX:ArchiveClassesAtExit; the JVM writes the archive when it stops.

    Class loading is most of the JVM's startup; the archive roughly halves it. Best effort: on failure, writes
    ``no-cds`` (delete it to retry) and the broker starts without.
    """
    target = _cds_archive(version)
    partial = target.with_suffix(".partial")
    _say("recording a class-data-sharing archive of the broker (once, a few seconds)", quiet)
    try:
        with tempfile.TemporaryDirectory(prefix="kafka-cds.") as tmp:
            broker = LocalBroker(Path(tmp), kafka_version=version)
            broker._record_cds = partial
            try:
                broker.start()
            finally:
                broker.stop()  # the JVM writes the archive as it exits
        if not partial.exists():
            raise BrokerError("the JVM wrote no archive")
        partial.rename(target)
    except BrokerError as exc:
        partial.unlink(missing_ok=True)
        (_version_dir(version) / "no-cds").write_text(f"{exc}\n")
        _say(f"warning: no class-data-sharing archive, the broker starts slower: {exc}", quiet)


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def _new_cluster_id() -> str:
    """A random Kafka Uuid in its base64 form; like Kafka's Uuid.randomUuid(), never one starting with "-"."""
    while (cluster_id := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))[0] == "-":
        pass
    return cluster_id


class PortReservation:
    """A TCP port on ``host`` that no other process can take until :meth:`close`, for a server started later on it
    (or stopped and started again on it): a free one (``port=0``), or the given one.

    Choosing a free port and binding it later races with every other process of the machine; holding it bound
    closes the race. The holder is bound with ``SO_REUSEADDR`` and never listens: Linux lets a server that also sets
    ``SO_REUSEADDR`` (uvicorn, werkzeug, asyncio, Kafka) listen on the port meanwhile, refuses it to everyone else, and
    answers a connection to it with "connection refused" while no server listens.

    Raises:
        OSError: ``port`` is taken (a server listens on it, or a process bound it without ``SO_REUSEADDR``).
    """

    def __init__(self, host: str = HOST, port: int = 0) -> None:
        self._holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._holder.bind((host, port))
        except OSError:
            self._holder.close()
            raise
        self.host = host
        self.port: int = self._holder.getsockname()[1]

    def close(self) -> None:
        self._holder.close()

    def __enter__(self) -> PortReservation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalBroker:
    """One Kafka broker+controller process on 127.0.0.1, its state in ``data_dir``.

    ``data_dir`` holds ``server.properties``, ``broker.log`` (the JVM's output, appended across starts),
    ``broker.pid`` while running and ``kraft-logs/`` (topics, committed offsets, cluster metadata). Storage is
    formatted with a random cluster id on the first start only, so a restart keeps everything. The ports are chosen on
    the first start (free ports unless given) and read back from ``server.properties`` afterwards.

    From the first ``start()`` until :meth:`close` (or the end of a ``with`` block) this object holds both ports
    (:class:`PortReservation`): no other process takes them between choosing them and the JVM binding them, nor
    while the broker is stopped between a ``stop()`` and the next ``start()``.

    Lifecycle: ``start()`` and ``stop()`` may alternate any number of times; ``stop()`` on a stopped broker is a
    no-op. The broker outlives this object (and the Python process) unless stopped: use it as a context manager.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        controller_port: int | None = None,
        config: Mapping[str, str] | None = None,
        kafka_version: str = KAFKA_VERSION,
        startup_timeout: float = 60.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.kafka_version = kafka_version
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._config = dict(config or {})
        self._port, self._controller_port = port, controller_port
        self._proc: subprocess.Popen[bytes] | None = None
        self._held: dict[int, PortReservation] = {}
        self._record_cds: Path | None = None  # set by fetch() only: record the archive, do not fetch again
        saved = self._saved_ports()
        if saved is not None and self._port is None:
            self._port = saved[0]
        if saved is not None and self._controller_port is None:
            self._controller_port = saved[1]

    @property
    def port(self) -> int:
        """The broker listener's port.

        Raises:
            BrokerError: not started yet and no port was given.
        """
        if self._port is None:
            raise BrokerError(f"broker in {self.data_dir} has no port yet: start() it first")
        return self._port

    @property
    def controller_port(self) -> int:
        """The KRaft controller listener's port.

        Raises:
            BrokerError: not started yet and no port was given.
        """
        if self._controller_port is None:
            raise BrokerError(f"broker in {self.data_dir} has no controller port yet: start() it first")
        return self._controller_port

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:PORT``, for ``bootstrap_servers=`` of Kafka clients."""
        return f"{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def pid(self) -> int | None:
        """The broker's process id if it is running (started by this object or found via ``broker.pid``)."""
        if self._proc is not None:
            if self._proc.poll() is None:
                return self._proc.pid
            self._proc = None
        try:
            pid = int((self.data_dir / "broker.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if _is_broker_process(pid, self.data_dir) else None

    def is_running(self) -> bool:
        return self.pid is not None

    def start(self) -> None:
        """Fetch if needed, format storage on first use, launch the JVM, return once it serves metadata.

        Raises:
            FetchError: see ``fetch``.
            BrokerStartError: the broker is already running, exited, or did not answer a Metadata request within
                ``startup_timeout`` seconds (then it is killed); the message ends with the tail of ``broker.log``.
        """
        if self.is_running():
            raise BrokerStartError(f"a broker is already running from {self.data_dir} (pid {self.pid})")
        if self._record_cds is None:
            fetch(self.kafka_version)
        libs = _version_dir(self.kafka_version) / "libs"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._port = self._hold(self._port)
        self._controller_port = self._hold(self._controller_port)
        properties, log4j = self.data_dir / "server.properties", self.data_dir / "log4j2.properties"
        properties.write_text("".join(f"{k}={v}\n" for k, v in self._server_config().items()))
        log4j.write_text(LOG4J2_PROPERTIES)
        java = [_java(), *JVM_OPTIONS, f"-Dlog4j2.configurationFile={log4j}", *self._cds_options(), "-cp",
                f"{libs}/*"]
        started = time.monotonic()
        if not (self._log_dir() / "meta.properties").exists():
            fmt = [*java, "kafka.tools.StorageTool", "format", f"--cluster-id={_new_cluster_id()}", "-c",
                   str(properties)]
            done = subprocess.run(fmt, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BrokerStartError(f"formatting {self._log_dir()} failed:\n{done.stdout}{done.stderr}")
        with self.log_path.open("ab") as log:
            log.write(f"\n==== starting Kafka {self.kafka_version} on {self.bootstrap_servers}\n".encode())
            log.flush()
            self._proc = subprocess.Popen([*java, "kafka.Kafka", str(properties)], stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (self.data_dir / "broker.pid").write_text(f"{self._proc.pid}\n")
        try:
            self._wait_ready(started)
        except BaseException:  # also KeyboardInterrupt: never leave a half-started broker behind
            self.kill()
            raise

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM (controlled shutdown), then SIGKILL after ``timeout`` (default ``stop_timeout``) seconds."""
        self._signal(signal.SIGTERM, self.stop_timeout if timeout is None else timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no controlled shutdown; the next start recovers the logs."""
        self._signal(signal.SIGKILL, 10.0)

    def restart(self) -> None:
        """``stop()`` then ``start()`` on the same port and data dir: topics, records and committed offsets stay."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Release the held ports (the broker keeps running if not stopped: it has them bound)."""
        for reservation in self._held.values():
            reservation.close()
        self._held.clear()

    def __enter__(self) -> LocalBroker:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.stop()
        finally:
            self.close()

    def __repr__(self) -> str:
        return f"LocalBroker(data_dir={str(self.data_dir)!r}, port={self._port}, pid={self.pid})"

    def _hold(self, port: int | None) -> int:
        """``port`` (a free one when ``None``), held until :meth:`close`; a port already taken (this broker still
        running, another program) is left to the JVM, whose bind then says so."""
        if port is not None and port in self._held:
            return port
        try:
            reservation = PortReservation(HOST, port or 0)
        except OSError:
            if port is None:
                raise
            return port
        self._held[reservation.port] = reservation
        return reservation.port

    def _log_dir(self) -> Path:
        return self.data_dir / "kraft-logs"

    def _server_config(self) -> dict[str, str]:
        broker, controller = self._port, self._controller_port
        return {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "controller.quorum.voters": f"{NODE_ID}@{HOST}:{controller}",
            "listeners": f"PLAINTEXT://{HOST}:{broker},CONTROLLER://{HOST}:{controller}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{broker}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self._log_dir()),
            **BROKER_DEFAULTS,
            **self._config,
        }

    def _saved_ports(self) -> tuple[int, int] | None:
        try:
            lines = (self.data_dir / "server.properties").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            key, _, value = line.partition("=")
            if key == "listeners":
                ports = dict(item.split("://") for item in value.split(","))
                return int(ports["PLAINTEXT"].rsplit(":", 1)[1]), int(ports["CONTROLLER"].rsplit(":", 1)[1])
        return None

    def _cds_options(self) -> list[str]:
        if self._record_cds is not None:
            return [f"-XX:ArchiveClassesAtExit={self._record_cds}"]
        archive = _cds_archive(self.kafka_version)  # a stale archive is ignored by the JVM (-Xshare:auto)
        return [f"-XX:SharedArchiveFile={archive}"] if archive.exists() else []

    def _wait_ready(self, started: float) -> None:
        deadline, cluster_id = started + self.startup_timeout, self._cluster_id()
        while self._proc is not None:
            code = self._proc.poll()
            if code is not None:
                raise BrokerStartError(f"Kafka broker exited with {code} during startup.{self._log_tail()}")
            why_not = _probe(self.port, cluster_id)
            if why_not is None and self._proc.poll() is None:
                return
            if time.monotonic() > deadline:
                raise BrokerStartError(f"Kafka broker on {self.bootstrap_servers} not ready within "
                                       f"{self.startup_timeout:.0f} s: {why_not}.{self._log_tail()}")
            time.sleep(0.05)

    def _cluster_id(self) -> str | None:
        for line in (self._log_dir() / "meta.properties").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "cluster.id":
                return value.strip()
        return None

    def _log_tail(self, lines: int = 30) -> str:
        """The first ERROR entries (with the line after each: the exception) and the last lines of this run's log."""
        try:
            text = self.log_path.read_text(errors="replace").rpartition("\n==== starting ")[2].splitlines()
        except OSError:
            return ""
        errors = [f"{line}\n{text[i + 1] if i + 1 < len(text) else ''}".rstrip()
                  for i, line in enumerate(text) if "] ERROR " in line][:3]
        first = "\n--- first errors ---\n" + "\n".join(errors) if errors else ""
        return f"{first}\n--- last {min(lines, len(text))} lines of {self.log_path} ---\n" + "\n".join(text[-lines:])

    def _signal(self, signum: signal.Signals, timeout: float) -> None:
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
            if not self._wait_exit(pid, timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                if not self._wait_exit(pid, 10.0):
                    raise BrokerError(f"Kafka broker pid {pid} did not die after SIGKILL")
        self._proc = None
        (self.data_dir / "broker.pid").unlink(missing_ok=True)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=max(0.0, min(0.05, deadline - time.monotonic())))
                    return True
                except subprocess.TimeoutExpired:
                    pass
            elif not _is_broker_process(pid, self.data_dir):
                return True
            else:
                time.sleep(0.05)
            if time.monotonic() >= deadline:
                return False


def _is_broker_process(pid: int, data_dir: Path) -> bool:
    """True if ``pid`` is alive and is the broker of ``data_dir`` (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): trust the pid file
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    zombie = stat.rpartition(")")[2].split()[0] == "Z"
    return not zombie and b"kafka.Kafka" in cmdline and str(data_dir / "server.properties").encode() in cmdline


def _probe(port: int, cluster_id: str | None, timeout: float = 2.0) -> str | None:
    """Is the broker on ``port`` usable by clients? ``None`` if so, else why not (for the timeout message).

    Speaks the Kafka protocol directly (no client library), non-flexible request versions only:

    1. Metadata (after ApiVersions) lists this node, from the cluster formatted in our data dir (another process
       may answer on a reused port). A broker lists itself only once registered with the controller and unfenced.
    2. FindCoordinator + OffsetFetch for a probe group succeed: ``__consumer_offsets`` exists (the request creates it
       on a new broker) and is loaded. After a restart, OffsetFetch answers COORDINATOR_LOAD_IN_PROGRESS for a while
       and aiokafka 0.14 reads that answer as "no committed offset" (it ignores the top-level error code), so a
       restart must not return before the load. With ``offsets.topic.num.partitions=1`` one group covers them all.
    """
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            body = _request(sock, api_key=18, version=0, payload=b"")  # ApiVersions v0
            (error, count) = struct.unpack_from(">hi", body)
            if error != 0:
                return f"ApiVersions error {error}"
            api_keys = struct.iter_unpack(">hhh", body[6:6 + 6 * count])
            versions = {key: range(low, high + 1) for key, low, high in api_keys}
            if 4 not in versions.get(3, ()):  # Metadata v4: the layout parsed below
                return "broker does not serve Metadata v4"
            body = _request(sock, api_key=3, version=4, payload=struct.pack(">ib", -1, 0))  # all topics, no create
            (brokers,), offset, listed = struct.unpack_from(">i", body, 4), 8, False  # after throttle_time_ms
            for _ in range(brokers):
                (node_id,), offset = struct.unpack_from(">i", body, offset), offset + 4
                _, offset = _string(body, offset)
                (broker_port,), offset = struct.unpack_from(">i", body, offset), offset + 4
                _, offset = _string(body, offset)  # rack
                listed = listed or (node_id, broker_port) == (NODE_ID, port)
            answered_cluster, _ = _string(body, offset)
            if not listed:
                return "broker not registered and unfenced yet"
            if cluster_id is not None and answered_cluster != cluster_id:
                return f"port {port} is served by another cluster ({answered_cluster}), not ours ({cluster_id})"
            if 1 not in versions.get(10, ()) or 3 not in versions.get(9, ()):
                return None  # cannot check the group coordinator with these request versions; metadata will do
            group = b"streamproc-broker-probe"
            body = _request(sock, api_key=10, version=1, payload=struct.pack(">h", len(group)) + group + b"\x00")
            (error,) = struct.unpack_from(">h", body, 4)  # FindCoordinator v1: after throttle_time_ms
            if error != 0:
                return f"group coordinator not available (error {error}; __consumer_offsets being created)"
            body = _request(sock, api_key=9, version=3, payload=struct.pack(">h", len(group)) + group + b"\xff" * 4)
            (error,) = struct.unpack_from(">h", body, len(body) - 2)  # OffsetFetch v3: error_code is the last field
            return None if error == 0 else f"group coordinator not loaded (OffsetFetch error {error})"
    except (OSError, struct.error) as exc:
        return f"no Kafka answer on {HOST}:{port} ({exc})"


def _string(body: bytes, offset: int) -> tuple[str | None, int]:
    (size,) = struct.unpack_from(">h", body, offset)
    if size < 0:
        return None, offset + 2
    return body[offset + 2:offset + 2 + size].decode(), offset + 2 + size


def _request(sock: socket.socket, *, api_key: int, version: int, payload: bytes) -> bytes:
    client_id = b"streamproc-broker-probe"
    header = struct.pack(">hhih", api_key, version, 1, len(client_id)) + client_id  # request header v1
    message = header + payload
    sock.sendall(struct.pack(">i", len(message)) + message)
    size = struct.unpack(">i", _read(sock, 4))[0]
    return _read(sock, size)[4:]  # response header v0: correlation id


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed by broker")
        data += chunk
    return data


def main(argv: list[str] | None = None) -> int:
    default_dir = Path(__file__).resolve().parents[2] / "var" / "kafka"
    parser = argparse.ArgumentParser(
        prog="broker.py", description="\n\n".join((__doc__ or "").split("\n\n")[:3]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Jars are cached in $STREAMPROC_CACHE_DIR/kafka/<version> (now {cache_dir() / 'kafka'}).")
    parser.add_argument("--kafka-version", default=KAFKA_VERSION, help="Apache Kafka release (default %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("fetch", help="download the broker's jars with Maven into the cache (once)")
    for name, text in [("start", "start a broker in the background, print its bootstrap address, exit"),
                       ("run", "run a broker in the foreground until Ctrl-C or SIGTERM"),
                       ("stop", "stop the broker started from --data-dir (SIGTERM, then SIGKILL)"),
                       ("status", "print the bootstrap address if the broker of --data-dir runs, else exit 1")]:
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--data-dir", type=Path, default=default_dir,
                             help="broker state: config, log, pid file, topics (default %(default)s)")
        if name in ("start", "run"):
            command.add_argument("--port", type=int, help="broker listener port (default: free port, kept after)")
            command.add_argument("--controller-port", type=int, help="KRaft controller port (default: free port)")
            command.add_argument("--timeout", type=float, default=60.0, help="startup timeout in seconds")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(fetch(args.kafka_version))
            return 0
        if args.command in ("start", "run"):
            broker = LocalBroker(args.data_dir, args.port, controller_port=args.controller_port,
                                 kafka_version=args.kafka_version, startup_timeout=args.timeout)
            began = time.monotonic()
            broker.start()
            print(broker.bootstrap_servers, flush=True)
            _say(f"Kafka {args.kafka_version} ready in {time.monotonic() - began:.1f} s, pid {broker.pid}, "
                 f"log {broker.log_path}", quiet=False)
            return _run_foreground(broker) if args.command == "run" else 0
        broker = LocalBroker(args.data_dir, kafka_version=args.kafka_version)
        if args.command == "status":
            if broker.is_running():
                print(broker.bootstrap_servers)
                return 0
            return 1
        broker.stop()
        return 0
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run_foreground(broker: LocalBroker) -> int:
    """Wait until Ctrl-C or SIGTERM, then stop the broker; 1 if it exited by itself."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while broker.is_running():
            time.sleep(0.5)
        _say(f"the broker exited by itself; see {broker.log_path}", quiet=False)
        return 1
    except KeyboardInterrupt:
        _say("stopping Kafka", quiet=False)
        return 0
    finally:
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
