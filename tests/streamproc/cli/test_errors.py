"""Every ``streamproc`` error prints as one ``error: <message>`` line on stderr, click's own too: its usage errors
and a lazily mounted group whose package is missing printed ``Error: ...``. The real CLI in a subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.fixtures.pipelines import REPO, run_cli


def _error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.lower().startswith("error:")]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("run",), "error: Missing argument 'CONFIG_FILE'."),
        (("--log-level", "LOUD", "run", "x.yaml"), "error: Invalid value for '--log-level'"),
        (("nope",), "error: No such command 'nope'."),
        (("quarantine", "replay", "x.yaml", "--dry-rnu"), "error: No such option: --dry-rnu"),
        (("catalog", "lineage", "--nope"), "error: No such option: --nope"),
    ],
    ids=["missing argument", "bad group option", "unknown command", "lazy group's option", "catalog's option"],
)
def test_a_usage_error_prints_one_error_line_after_the_usage(args: tuple[str, ...], error: str) -> None:
    result = run_cli(*args)

    assert result.returncode == 2, result.stderr
    (line,) = _error_lines(result.stderr)
    assert line.startswith(error), result.stderr
    assert result.stderr.startswith("Usage: ") and "for help." in result.stderr


def test_a_group_whose_package_is_missing_prints_one_error_line() -> None:
    # The catalog's CLI made unimportable, as it is when the `catalog` extra is not installed.
    start = "import sys; sys.modules['catalog.cli'] = None; from streamproc.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", start, "catalog", "loads"], cwd=REPO, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 1, result.stderr
    (line,) = _error_lines(result.stderr)
    assert line.startswith("error: the catalog is not installed: pip install 'streamproc[catalog]'")
    assert result.stderr == line + "\n"
