"""The container image's build overlaps the rest of the session (a plugin: the repository's root conftest.py).

Building the image on a clean machine (podman's base image made from Debian's packages, then the Dockerfile's pip
install) takes minutes, mostly downloads and unpacking. When the session collects a test of ``test_image.py``, the
build starts in the background right after collection and those tests are moved to the end of the run; the
``image_build`` fixture waits for the build. The other tests run meanwhile (they are made to wait for conditions, not
for a quiet machine).

One build per session, also under pytest-xdist (``make test``): each worker collects the whole suite and none knows
whether it will be the one that runs the image tests, so the controller starts the build as soon as a worker reports
its collection, in a folder named after the run (xdist's ``testrunuid``), and the worker that runs the image tests
waits for the exit code the build leaves there. That is why this is a plugin of the root conftest.py and not a
conftest of tests/deploy/: the controller collects nothing, so it loads no conftest below the root.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.waiting import wait_until

__all__ = ["ImageBuild", "image_build"]

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "deploy" / "image" / "build.sh"
IMAGE_TESTS = Path(__file__).with_name("test_image.py")
IMAGE_TESTS_ID = IMAGE_TESTS.relative_to(REPO).as_posix()  # the test ids' file part (relative to the rootdir)
BUILD_TIMEOUT_SECONDS = 1100

# A tag of this checkout's own: other checkouts on the machine build and replace theirs meanwhile.
TAG = f"localhost/streamproc-test:{hashlib.sha256(str(REPO).encode()).hexdigest()[:12]}"

# build.sh, then its exit code written to a file of its own (renamed into place: a reader never sees half of it).
_RECORD_EXIT = '"$1"; code=$?; echo "$code" >"$2.part" && mv "$2.part" "$2"; exit "$code"'


@dataclass
class ImageBuild:
    """``deploy/image/build.sh`` running in the background in ``folder``: the image ID it prints goes to
    ``image-id``, its progress to ``build.log``, and its exit code to ``exit-code`` when it ends. ``process`` is
    the build in the process that started it (``None`` in the xdist worker that only waits for it)."""

    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, folder: Path) -> ImageBuild:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "image-id").open("wb") as stdout, (folder / "build.log").open("wb") as stderr:
            process = subprocess.Popen(
                ["bash", "-c", _RECORD_EXIT, "build.sh", str(BUILD), str(folder / "exit-code")],
                env={**os.environ, "STREAMPROC_IMAGE": TAG}, stdout=stdout, stderr=stderr, start_new_session=True,
            )  # fmt: skip
        return cls(folder, process)

    @property
    def log(self) -> Path:
        return self.folder / "build.log"

    def result(self) -> str:
        """The built image's ID.

        Raises:
            AssertionError: the build failed or took longer than :data:`BUILD_TIMEOUT_SECONDS`.
        """
        code = wait_until(self._exit_code, f"deploy/image/build.sh (log: {self.log})", timeout=BUILD_TIMEOUT_SECONDS,
                          interval=1.0)  # fmt: skip
        if code != "0":
            raise AssertionError(f"deploy/image/build.sh exited {code}:\n{self.log.read_text(errors='replace')[-6000:]}")
        return (self.folder / "image-id").read_text().split()[-1]

    def steps(self) -> str:
        """The build's own lines: what each step took."""
        return "\n".join(line for line in self.log.read_text(errors="replace").splitlines() if line.startswith("build.sh:"))

    def stop(self) -> None:
        """Stop the build if it is still running (the session ended before the image tests ran): SIGTERM to its
        process group (build.sh and podman), SIGKILL after 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def _exit_code(self) -> str | None:
        path = self.folder / "exit-code"
        if not path.exists():
            return None
        return path.read_text().strip() or None


_build: ImageBuild | None = None


def _shared_folder(testrunuid: str) -> Path:
    """The build's folder in an xdist run: known to the controller and to every worker by the run's id."""
    return Path(tempfile.gettempdir()) / f"streamproc-image-build-{testrunuid}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    global _build
    image_tests = [item for item in items if Path(item.path) == IMAGE_TESTS]
    if not image_tests:
        return
    items[:] = [item for item in items if Path(item.path) != IMAGE_TESTS] + image_tests
    if _build is None and not config.option.collectonly and not hasattr(config, "workerinput"):
        _build = ImageBuild.start(Path(tempfile.mkdtemp(prefix="streamproc-image-build-")))


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook, called in the controller; absent with -p no:xdist
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    global _build
    if _build is None and any(test.split("::", 1)[0] == IMAGE_TESTS_ID for test in ids):
        _build = ImageBuild.start(_shared_folder(node.workerinput["testrunuid"]))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _build is not None:
        _build.stop()


@pytest.fixture(scope="session")
def image_build(request: pytest.FixtureRequest) -> ImageBuild | None:
    """The build started for this session, or ``None`` when this session collected no image test."""
    if _build is not None:
        return _build
    workerinput = getattr(request.config, "workerinput", None)
    if workerinput is not None and _shared_folder(workerinput["testrunuid"]).is_dir():
        return ImageBuild(_shared_folder(workerinput["testrunuid"]))
    return None
