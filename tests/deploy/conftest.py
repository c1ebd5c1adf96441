"""The container image's build overlaps the rest of the session.

Building the image on a clean machine (podman's base image made from Debian's packages, then the Dockerfile's pip
install) takes minutes, mostly downloads and unpacking. When the session collects a test of ``test_image.py``, the
build starts in the background right after collection and those tests are moved to the end of the run; the
``image`` fixture waits for the build. The other tests run meanwhile (they are made to wait for conditions, not for
a quiet machine).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "deploy" / "image" / "build.sh"
IMAGE_TESTS = Path(__file__).with_name("test_image.py")
BUILD_TIMEOUT_SECONDS = 1100

# A tag of this checkout's own: other checkouts on the machine build and replace theirs meanwhile.
TAG = f"localhost/streamproc-test:{hashlib.sha256(str(REPO).encode()).hexdigest()[:12]}"


@dataclass
class ImageBuild:
    """``deploy/image/build.sh`` running in the background: the image ID it prints goes to ``out``, its progress
    to ``log``."""

    process: subprocess.Popen[bytes]
    out: Path
    log: Path

    def result(self) -> str:
        """The built image's ID.

        Raises:
            AssertionError: the build failed or took longer than :data:`BUILD_TIMEOUT_SECONDS`.
        """
        try:
            code = self.process.wait(timeout=BUILD_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"deploy/image/build.sh took over {BUILD_TIMEOUT_SECONDS} s; log: {self.log}") from None
        if code != 0:
            raise AssertionError(f"deploy/image/build.sh exited {code}:\n{self.log.read_text(errors='replace')[-6000:]}")
        return self.out.read_text().split()[-1]

    def steps(self) -> str:
        """The build's own lines: what each step took."""
        return "\n".join(line for line in self.log.read_text(errors="replace").splitlines() if line.startswith("build.sh:"))


_build: ImageBuild | None = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    global _build
    image_tests = [item for item in items if Path(item.path) == IMAGE_TESTS]
    if not image_tests:
        return
    items[:] = [item for item in items if Path(item.path) != IMAGE_TESTS] + image_tests
    if _build is None and not config.option.collectonly:
        folder = Path(tempfile.mkdtemp(prefix="streamproc-image-build-"))
        out, log = folder / "image-id", folder / "build.log"
        with out.open("wb") as stdout, log.open("wb") as stderr:
            process = subprocess.Popen([str(BUILD)], env={**os.environ, "STREAMPROC_IMAGE": TAG}, stdout=stdout,
                                       stderr=stderr)  # fmt: skip
        _build = ImageBuild(process, out, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _build is not None and _build.process.poll() is None:  # the session ended before the image tests ran
        _build.process.kill()
        _build.process.wait()


@pytest.fixture(scope="session")
def image_build() -> ImageBuild | None:
    """The build started after collection, or ``None`` when this session collected no image test."""
    return _build
