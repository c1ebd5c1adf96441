"""Validating micro-batches in worker processes, so that validation overlaps the work of the consuming process.

Consuming (aiokafka builds a Python object per message) and validating (orjson/msgspec parsing, Arrow column
building) both hold the GIL, so in one process they take turns on one core. A :class:`ValidationPool` runs
:func:`contracts.validate_batch` in worker processes instead: the consuming process pays only the transfer of the
payloads and of the verdicts (measured by ``bench/parallel_validation.py``, orders contract, 50,000-event batches,
CPU of the consuming process: ~0.15–0.3 µs per event to send, ~0.13 to take the verdicts back, ~0.6 end to end,
against ~1.5 µs for validating in-process; most of it is pickling 50,000 ``bytes`` objects and unpickling the
result, not the pipe).

Workers load a contract by its reference (``package.module:ClassName``, :func:`contracts.load_contract`), check that
its schema hash is the one the caller's class has, compile its fast plan once and keep both for the life of the
process. They start with the ``spawn`` method by default: a fresh interpreter that inherits no running event loop, no
Kafka consumer, no threads or locks of the parent, and no process outlives :meth:`ValidationPool.close`
(``forkserver`` restarts a dead worker faster by forking a pre-imported server, but leaves that server running
for the life of the parent).

Transfer: the payloads go as one pickled ``list[bytes]`` (a joined buffer plus offsets measured no cheaper for the
sending process, and it keeps tombstones as ``None``); the verdicts come back as the accepted Arrow table (pickled
through its buffers), the accepted indices and the rejections as plain tuples, rebuilt into a
:class:`contracts.ValidationResult` here (3x cheaper to unpickle than the dataclasses).

Errors raised in a worker come back as the same types with their data: :class:`contracts.ContractFrozenError` (with
its rejection), :class:`contracts.threshold.QuarantineThresholdExceeded`, :class:`contracts.ContractNotFoundError`.
A worker that dies (killed, out of memory, a crash in native code) fails every batch it held or had queued with
:class:`ValidationWorkerError`; the pool starts fresh workers on the next submit.

Lifecycle: construct → :meth:`ValidationPool.start` (optional: the first submit starts it) → :meth:`submit` /
:meth:`validate` / :meth:`validate_async` → :meth:`close`. A closed pool refuses reuse. Thread-safe: submit from any
thread.

Example:
    >>> with ValidationPool(["bench.order_contract:Order"]) as pool:  # doctest: +SKIP
    ...     result = pool.validate("bench.order_contract:Order", [b'{"order_id": 1}'])
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import operator
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

import anyio.to_thread
import pyarrow as pa

from contracts.declare import Contract
from contracts.errors import ContractConflictError, ContractError, ContractNotFoundError
from streamproc.errors import ValidationWorkerError
from contracts.evolve import EvolvedColumn
from contracts.fast import fast_plan
from contracts.fingerprint import schema_hash
from contracts.loader import load_contract
from contracts.modes import ResolvedModes
from contracts.threshold import QuarantineThreshold, check_threshold
from contracts.validate import Rejection, ValidationResult, Violation, validate_batch

__all__ = ["StartMethod", "ValidationPool", "ValidationWorkerError", "contract_reference"]

StartMethod = Literal["spawn", "forkserver"]
"""How workers start: never ``fork``, which would copy the parent's event loop, consumer sockets and locks."""

ContractRef = type[Contract] | str


def contract_reference(contract: ContractRef) -> str:
    """``package.module:ClassName`` of a contract class (a string is returned as it is).

    Raises:
        ContractNotFoundError: a class that is not importable by that reference (defined in a function).
    """
    if isinstance(contract, str):
        return contract
    reference = f"{contract.__module__}:{contract.__qualname__}"
    if "<locals>" in contract.__qualname__:
        raise ContractNotFoundError(
            f"contract {contract.__qualname__} is defined in a function: a worker cannot import it"
        )
    return reference


class ValidationPool:
    """Worker processes that validate batches against contracts (see the module docs).

    Args:
        contracts: contracts every worker loads and compiles when it starts (others are loaded on first use).
        workers: worker processes; one is enough on two cores (the other core consumes).
        start_method: ``spawn`` (default) or ``forkserver``.
    """

    def __init__(
        self, contracts: Iterable[ContractRef] = (), *, workers: int = 1, start_method: StartMethod = "spawn"
    ) -> None:
        if workers < 1:
            raise ValueError(f"a validation pool needs at least one worker, not {workers}")
        if start_method not in ("spawn", "forkserver"):
            raise ValueError(f"start method {start_method!r}: use 'spawn' or 'forkserver' (never 'fork')")
        self.workers = workers
        self.start_method: StartMethod = start_method
        self.restarts = 0
        """How many times the pool replaced its workers after one died."""
        self._hashes: dict[str, str] = {}
        self._preload = tuple(self._identify(c) for c in contracts)
        self._executor: ProcessPoolExecutor | None = None
        self._seen: dict[int, Any] = {}  # pid → multiprocessing process: its exit code when the pool breaks
        self._state: Literal["new", "open", "closed"] = "new"
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers and wait until each has loaded the preloaded contracts.

        Raises:
            ContractNotFoundError, ContractConflictError: a worker cannot load a contract, or loads a different one.
            ValidationWorkerError: a worker died while starting.
            RuntimeError: the pool is closed.
        """
        executor = self._ensure_executor()
        probes = [executor.submit(_probe) for _ in range(self.workers)]
        self._seen.update(getattr(executor, "_processes", None) or {})
        for probe in probes:
            self._unwrap(probe, executor)

    def close(self, *, cancel_pending: bool = True) -> None:
        """Stop the workers and wait for them to exit; batches not yet started are cancelled unless
        ``cancel_pending`` is false. Idempotent; the pool cannot be reopened."""
        with self._lock:
            executor, self._executor, self._state = self._executor, None, "closed"
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=cancel_pending)

    def __enter__(self) -> ValidationPool:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        """The process ids of the live workers (empty before start and after close)."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}  # stdlib keeps them private; for monitoring only
        return sorted(pid for pid, process in processes.items() if process.is_alive())

    # -- validating ------------------------------------------------------------------------------------------------

    def submit(
        self,
        contract: ContractRef,
        payloads: Sequence[bytes | None],
        *,
        modes: ResolvedModes | None = None,
        evolved: Mapping[str, EvolvedColumn] | None = None,
        fast: bool | None = None,
        threshold: QuarantineThreshold | None = None,
    ) -> Future[ValidationResult]:
        """Queue a batch for :func:`contracts.validate_batch` in a worker; the arguments are the same.

        Args:
            contract: the contract class, or its ``module:Class`` reference.
            payloads: raw event bytes (``None``: a tombstone).
            modes, evolved, fast: as :func:`contracts.validate_batch`.
            threshold: also apply :func:`contracts.threshold.check_threshold` over ``len(payloads)`` in the worker.

        Returns:
            A future of the :class:`contracts.ValidationResult`, or of the worker's error: ``ContractFrozenError``,
            ``QuarantineThresholdExceeded``, ``ContractNotFoundError``/``ContractConflictError`` (loading),
            :class:`ValidationWorkerError` (the worker died). Cancelling it cancels a batch not yet started.

        Raises:
            RuntimeError: the pool is closed.
        """
        reference = self._identify(contract)
        executor = self._ensure_executor()
        batch = payloads if isinstance(payloads, list) else list(payloads)
        args = (reference, self._hashes[reference], batch, modes, dict(evolved) if evolved else None, fast, threshold)
        try:
            inner = executor.submit(_validate_in_worker, *args)
        except BrokenProcessPool:  # a worker died since the last batch: replace the workers, once
            executor = self._replace(executor)
            inner = executor.submit(_validate_in_worker, *args)
        self._seen.update(getattr(executor, "_processes", None) or {})  # stdlib keeps them private
        outer: Future[ValidationResult] = Future()
        outer.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)
        inner.add_done_callback(lambda f: self._settle(f, outer, executor))
        return outer

    def validate(self, contract: ContractRef, payloads: Sequence[bytes | None], **options: Any) -> ValidationResult:
        """:meth:`submit` and wait (blocking; from a worker thread, never from the event loop).

        Raises:
            Whatever the future of :meth:`submit` raises.
        """
        return self.submit(contract, payloads, **options).result()

    async def validate_async(
        self, contract: ContractRef, payloads: Sequence[bytes | None], **options: Any
    ) -> ValidationResult:
        """:meth:`submit` and await, without blocking the event loop (waits in anyio's thread pool). Cancelling the
        caller cancels a batch that has not started; one that has runs to its end and is discarded.

        Raises:
            Whatever the future of :meth:`submit` raises.
        """
        future = self.submit(contract, payloads, **options)
        try:
            return await anyio.to_thread.run_sync(future.result, abandon_on_cancel=True)
        finally:
            future.cancel()

    # -- internals -------------------------------------------------------------------------------------------------

    def _identify(self, contract: ContractRef) -> str:
        """The reference, remembering the schema hash of the class this process knows (to check the worker's)."""
        reference = contract_reference(contract)
        if reference not in self._hashes:
            cls = load_contract(reference) if isinstance(contract, str) else contract
            self._hashes[reference] = schema_hash(cls)
        return reference

    def _ensure_executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._state == "closed":
                raise RuntimeError("this validation pool is closed")
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context(self.start_method),
                    initializer=_init_worker,
                    initargs=(tuple((ref, self._hashes[ref]) for ref in self._preload),),
                )
                self._state = "open"
            return self._executor

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """New workers (started lazily) instead of a broken pool, once per breakage whichever thread notices first.
        The broken pool has already terminated and joined its processes and failed its futures (stdlib)."""
        with self._lock:
            if self._executor is broken:
                self._executor = None
                self.restarts += 1
        return self._ensure_executor()

    def _settle(self, inner: Future[Any], outer: Future[ValidationResult], executor: ProcessPoolExecutor) -> None:
        if inner.cancelled():
            outer.cancel()
            return
        try:
            outer.set_result(self._unwrap(inner, executor))
        except BaseException as exc:  # the worker's error, as its own type
            outer.set_exception(exc)

    def _unwrap(self, inner: Future[Any], executor: ProcessPoolExecutor) -> Any:
        try:
            packed = inner.result()
        except BrokenProcessPool as exc:
            dead = _exited(list(self._seen.values()))
            codes = tuple(p.exitcode for p in dead)
            for process in dead:
                self._seen.pop(process.pid, None)
            if self._state != "closed":
                self._replace(executor)
            raise ValidationWorkerError(
                f"a validation worker died ({exc}); the batch was not validated: retry it", codes
            ) from exc
        return _unpack(packed) if packed is not None else None


def _exited(processes: list[Any], patience: float = 1.0) -> list[Any]:
    """The processes that have exited, waiting up to ``patience`` seconds for the stdlib's manager thread, which
    reaps them concurrently (until it has, a poll of ours may see no exit code)."""
    deadline = time.monotonic() + patience
    while True:
        dead = [p for p in processes if p.exitcode is not None]
        if dead or time.monotonic() > deadline:
            return dead
        time.sleep(0.01)


# -- the worker process -----------------------------------------------------------------------------------------------

_CONTRACTS: dict[str, type[Contract]] = {}
_INIT_ERROR: list[BaseException] = []
_REJECTION = operator.attrgetter(*(f.name for f in dataclasses.fields(Rejection)))
_VIOLATION = operator.attrgetter(*(f.name for f in dataclasses.fields(Violation)))
_VIOLATIONS_AT = [f.name for f in dataclasses.fields(Rejection)].index("violations")


def _init_worker(preload: tuple[tuple[str, str], ...]) -> None:
    """Load and compile the preloaded contracts; an error is kept and raised by every task (an initializer that
    raises would only break the pool, without saying why)."""
    try:
        for reference, expected in preload:
            _contract(reference, expected)
    except ContractError as exc:
        _INIT_ERROR.append(exc)


def _contract(reference: str, expected_hash: str) -> type[Contract]:
    contract = _CONTRACTS.get(reference)
    if contract is None:
        contract = load_contract(reference)
        found = schema_hash(contract)
        if found != expected_hash:
            raise ContractConflictError(
                f"the worker's {reference} has schema {found}, the caller's {expected_hash}: the code changed on "
                "disk since the pipeline started; restart it"
            )
        fast_plan(contract)  # compiled once per process (cached by the class)
        _CONTRACTS[reference] = contract
    return contract


def _probe() -> None:
    if _INIT_ERROR:
        raise _INIT_ERROR[0]


def _validate_in_worker(
    reference: str,
    expected_hash: str,
    payloads: list[bytes | None],
    modes: ResolvedModes | None,
    evolved: dict[str, EvolvedColumn] | None,
    fast: bool | None,
    threshold: QuarantineThreshold | None,
) -> tuple[pa.Table, list[int], list[tuple[Any, ...]], tuple[EvolvedColumn, ...]]:
    _probe()
    result = validate_batch(_contract(reference, expected_hash), payloads, modes=modes, evolved=evolved, fast=fast)
    check_threshold(result, len(payloads), threshold)
    return result.accepted, result.accepted_index, _pack_rejections(result.rejected), result.new_columns


def _pack_rejections(rejected: list[Rejection]) -> list[tuple[Any, ...]]:
    """Rejections as plain tuples (their fields in order, violations as tuples): cheap to pickle."""
    packed = []
    for rejection in rejected:
        fields = list(_REJECTION(rejection))
        fields[_VIOLATIONS_AT] = tuple(map(_VIOLATION, rejection.violations))
        packed.append(tuple(fields))
    return packed


def _unpack(packed: tuple[pa.Table, list[int], list[tuple[Any, ...]], tuple[EvolvedColumn, ...]]) -> ValidationResult:
    accepted, accepted_index, rejected, new_columns = packed
    rejections = []
    for fields in rejected:
        fields = list(fields)
        fields[_VIOLATIONS_AT] = tuple(Violation(*v) for v in fields[_VIOLATIONS_AT])
        rejections.append(Rejection(*fields))
    return ValidationResult(accepted=accepted, accepted_index=accepted_index, rejected=rejections,
                            new_columns=new_columns)
