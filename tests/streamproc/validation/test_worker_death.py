"""A validation worker process that dies on a batch twice (``validation.workers``) stops the run as a runtime error
(exit 1), not as a contract error: the contract is not at fault (issue 15). The real CLI, a file source, real Delta
tables; the contract's validator kills the worker process it runs in."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.pipelines import run_cli, write_file_pipeline

KILLER = '''
import multiprocessing
import os
import signal

from pydantic import field_validator

from contracts import Contract


class KillsItsWorker(Contract, name="orders"):
    order_id: int
    amount: float

    @field_validator("amount")
    @classmethod
    def _die_in_a_worker(cls, value: float) -> float:
        if multiprocessing.parent_process() is not None:  # in a validation worker, never in the pipeline's process
            os.kill(os.getpid(), signal.SIGKILL)
        return value
'''


def test_a_validation_worker_dying_twice_on_a_batch_is_a_runtime_error(tmp_path: Path) -> None:
    (tmp_path / "killer_contracts.py").write_text(KILLER)
    config = write_file_pipeline(
        tmp_path, events=20, name="killer", contract="killer_contracts:KillsItsWorker", validation={"workers": 1}
    )

    result = run_cli("run", str(config))

    assert result.returncode == 1, result.stderr
    assert "validation worker" in result.stderr
    assert "contract error" not in result.stderr
