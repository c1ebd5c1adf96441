"""``streamproc quarantine replay``: land the quarantined events a fixed contract now accepts, exactly once.

```
 <table>__quarantine (a snapshot)  ─► rows to take ─► chunks of batch_size ─► ReplayJudge (the contract as it is now)
   + <quarantine>_resolutions          (filter, state)                           │ per chunk and table: one replay load
                                                                                  ▼
     ReplayCommitter (sinks/replay_commit.py, txn app id quarantine-replay/<table>/<quarantine>):
       resolutions (replayed / still failing) ─► table (rows that pass, lineage of the event) ─► _loads (replay)
```

Per route's quarantine table, in config order (``filter.tables`` chooses):

1. Complete the replay loads a crash interrupted (resolutions committed, table or ``_loads`` not): their rows are
   re-read from the quarantine, judged again and landed under the load's own number and id.
2. Read each row's state (:mod:`streamproc.ops.quarantine.rows`) and scan a snapshot of the quarantine table for
   rows to take: matching the filter, not ``replayed`` already, not ``value_discarded`` (landed already), and not
   refused already by the very contract version that would judge them now (``unchanged``: by an earlier replay, or
   by the pipeline itself, e.g. a pipeline running the fixed contract since; an ``upcast_failed`` or
   ``route_unknown`` refusal is always judged again, since migrations and routes are not in the version's hash, and
   so is one whose violations the contract's modes, not in the hash either, no longer give the mode that decided).
3. Each chunk of ``batch_size`` rows is judged (:mod:`streamproc.ops.quarantine.judge`) and committed as one
   replay load per table: every row gets a resolution, the rows that pass land with their original ``_source`` /
   ``_partition`` / ``_offset`` and the load's ``_load_id``, and ``_loads`` gets a row with ``close_reason:
   replay``, ``offsets`` the landed events' coordinates, ``quarantine_delta_version`` the quarantine version read.

Each route's quarantine replays into its own table. With routing, an event in the default route's quarantine whose
type a route now declares replays into that route's table (as the pipeline would route it now); one whose type no
route declares stays, with a ``route_unknown`` violation, unless the default route's ``tables`` mode is ``evolve``.

A running pipeline and a replay on the same table do not collide: they append under different ``txn`` app ids with
Delta's optimistic concurrency (a lost race is retried after re-reading the log), and the pipeline never reads the
resolutions table. Two replays of the same quarantine at once do: the second to commit stops
(:class:`~streamproc.errors.ConcurrentReplayError`) without landing anything.

Blocking I/O: call :meth:`QuarantineReplay.run` from a worker thread in async code.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from contracts.modes import ENTITIES, ResolvedModes
from contracts.registry import ContractRegistry
from contracts.validate import Violation
from streamproc.config import PipelineConfig
from streamproc.config.resolve import PipelineContracts, Route
from streamproc.lineage.loads import LoadRecord
from streamproc.observe import metrics
from streamproc.ops.quarantine.judge import Candidate, ReplayJudge, would_register
from streamproc.ops.quarantine.report import SAMPLES, ReplayListener, ReplaySummary, TableReport
from streamproc.ops.quarantine.rows import QuarantineFilter, QuarantineSnapshot, RowState, read_states, state_of
from streamproc.ops.quarantine.sources import busy_quarantines, open_quarantines, targets_of
from streamproc.ops.quarantine.targets import Target, candidate_of, complete_interrupted, open_target
from streamproc.sinks.delta import DeltaTableWriter
from streamproc.sinks.replay_commit import replay_metadata
from streamproc.sinks.resolutions import RESOLUTIONS_SCHEMA, Status, resolution_rows
from streamproc.validation.stage import StageOptions

__all__ = ["DEFAULT_BATCH_SIZE", "QuarantineReplay"]

logger = logging.getLogger(__name__)

# Violation types whose verdict depends on more than the refusing version's schema hash: a replay re-judges them.
_DECIDED_ELSEWHERE = frozenset({"route_unknown", "upcast_failed"})



def _same_modes(violations: Sequence[Mapping[str, Any]], modes: ResolvedModes) -> bool:
    """Whether ``modes`` still give each violation the mode that decided it: modes are not in the schema hash, so
    a version whose mode changed (``columns: discard_row`` → ``discard_value``) may now land what it refused."""
    for violation in violations:
        mode, entity = violation.get("mode"), violation.get("entity")
        if mode is None or entity not in ENTITIES:
            continue
        loc = [int(p) if p.isdigit() else p for p in str(violation.get("loc") or "").split(".") if p]
        if modes.for_loc(loc, entity) != mode:
            return False
    return True


DEFAULT_BATCH_SIZE = 10_000
"""Quarantine rows per replay load (per table)."""


class QuarantineReplay:
    """One replay run over a pipeline's quarantine tables (see the module docstring).

    Args:
        config, contracts: the pipeline (its routes' tables and contracts, as they are now).
        registry: the contract registry (older versions for upcasting, inferred versions of ``evolve``), opened
            with ``register=False``: the replay registers the declared versions of the contracts of the tables it
            replays into (a dry run checks that registering them would pass), those only, before anything lands.
        filter: which quarantine rows to take.
        dry_run: judge and report, write nothing.
        batch_size: quarantine rows per replay load.
        listeners: lineage, metrics and progress hooks.

    Lifecycle: construct → :meth:`run` once.
    """

    def __init__(
        self,
        config: PipelineConfig,
        contracts: PipelineContracts,
        registry: ContractRegistry,
        *,
        filter: QuarantineFilter | None = None,
        dry_run: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        listeners: Sequence[ReplayListener] = (),
        run_id: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.config = config
        self.contracts = contracts
        self.registry = registry
        self.filter = filter or QuarantineFilter()
        self.dry_run = dry_run
        self.batch_size = batch_size
        self.listeners = tuple(listeners)
        self.run_id = run_id or str(uuid.uuid4())
        self.options = StageOptions.from_config(config)
        self._ran = False

    def run(self) -> ReplaySummary:
        """Replay every selected route's quarantine.

        Returns:
            What was landed and what still fails, per quarantine table and table.

        Raises:
            ConfigError: ``filter.tables`` names no route, or ``filter.where`` is not a valid expression.
            ConcurrentReplayError: another replay of the same quarantine committed meanwhile.
            StorageUnavailableError, CommitConflictError: a table cannot be read or written (what was committed
                stays; run again to continue).
            SchemaMismatchError: a table's schema does not match its contract.
            ContractError: a contract cannot be applied (e.g. a PII ``hash`` without a secret); its subclasses
                IncompatibleContractError and ContractConflictError: a declared version of a contract the replay
                lands under cannot be registered (raised before anything lands, by a dry run too).
        """
        if self._ran:
            raise RuntimeError("a QuarantineReplay runs once")
        self._ran = True
        started = time.monotonic()
        summary = ReplaySummary(self.run_id, self.dry_run)
        sources, summary.missing = open_quarantines(self.contracts, self.filter)
        sources, summary.idle = busy_quarantines(self.contracts, sources, self.filter)
        self._register(sources)
        for listener in self.listeners:
            listener.on_start(
                self.run_id,
                [(s, [r.sink.table_uri for r in targets_of(self.contracts, route)]) for route, s in sources],
            )
        try:
            for route, snapshot in sources:
                summary.reports += self._replay(route, snapshot)
        except BaseException as exc:
            for listener in self.listeners:
                listener.on_stop(None, exc)
            raise
        summary.seconds = time.monotonic() - started
        for listener in self.listeners:
            listener.on_stop(summary, None)
        return summary

    def _register(self, sources: Sequence[tuple[Route, QuarantineSnapshot]]) -> None:
        """Register every declared version of the contracts the replay lands under, those of the tables ``sources``
        replay into (a dry run: check that registering them would pass, and register nothing), before anything
        lands: the dry run refuses what the replay refuses, and neither refuses for a table the replay leaves
        alone (``--table``).

        Raises:
            IncompatibleContractError: a declared version breaks its compatibility level.
            ContractConflictError: a registered version changed without a new number.
        """
        contracts = {r.contract.__contract__.name: r.contract for route, _ in sources for r in
                     targets_of(self.contracts, route)}
        for name, contract in contracts.items():
            if self.dry_run:
                would_register(self.registry, contract)
            else:
                self.registry.register_declared(name)

    def _replay(self, route: Route, snapshot: QuarantineSnapshot) -> list[TableReport]:
        resolutions = self._resolutions_table(route)
        targets = {
            r.table_name: self._target(r, route, snapshot, resolutions) for r in targets_of(self.contracts, route)
        }
        states = read_states(route.sink.resolved_resolutions_uri, storage_options=route.sink.storage_options)
        for listener in self.listeners:
            listener.on_scan(snapshot)
        pending: list[tuple[Candidate, RowState | None]] = []
        report = targets[route.table_name].report
        for piece in snapshot.scan(self.filter):
            for row in piece.to_pylist():
                state, resolved = state_of(row, states)
                if not self.filter.matches(resolved.violations if resolved is not None else row["violations"]):
                    continue
                if state in ("replayed", "value_discarded"):
                    report.skipped[state] += 1
                    continue
                pending.append((candidate_of(row, resolved), resolved))
                if len(pending) >= self.batch_size:
                    self._chunk(route, snapshot, targets, pending)
                    pending = []
            for listener in self.listeners:
                listener.on_scanned(piece.num_rows)
        if pending:
            self._chunk(route, snapshot, targets, pending)
        return [t.report for t in targets.values() if t.route is route or t.report.taken or t.report.completed]

    def _chunk(
        self,
        route: Route,
        snapshot: QuarantineSnapshot,
        targets: dict[str, Target],
        pending: Sequence[tuple[Candidate, RowState | None]],
    ) -> None:
        """One replay load per table the chunk's events go to."""
        by_target: dict[str, list[tuple[Candidate, tuple[Violation, ...]]]] = {}
        for candidate, resolved in pending:
            name, refusal = self._destination(route, candidate)
            target = targets[name]
            # Refused by this very contract version already (by the pipeline, or by an earlier replay): the same
            # verdict again, for nothing. Not so for an event of no route (routing and modes come from the config)
            # nor for one whose upcast failed: the migrations live on the other versions, outside this one's hash
            # (a @migration added to v2 lets a v1 event reach v3, whose hash did not change). The version number counts
            # as well as the hash: a new version with the same fields and a @migration from the one that refused the
            # event (say, rounding a float the old one refused) has that one's hash, and migrates the event.
            refused_here = resolved.table_name == name if resolved is not None else name == route.table_name
            elsewhere = any(v.get("type") in _DECIDED_ELSEWHERE for v in candidate.prior)
            if (
                refused_here
                and not elsewhere
                and (candidate.refused_by, candidate.refused_hash) == target.judge.contract[1:]
                and _same_modes(candidate.prior, target.route.modes)
            ):
                target.report.skipped["unchanged"] += 1
                continue
            by_target.setdefault(name, []).append((candidate, refusal))
        for name, taken in by_target.items():
            self._load(targets[name], snapshot, taken)

    def _destination(self, route: Route, candidate: Candidate) -> tuple[str, tuple[Violation, ...]]:
        """The table an event replays into, and the refusal of one no route declares (routing's ``route_unknown``,
        dlt's ``tables`` entity: see :mod:`streamproc.validation.routing`)."""
        field = self.contracts.field
        if route.value is not None or field is None:
            return route.table_name, ()
        try:
            document = json.loads(candidate.payload) if candidate.payload is not None else None
        except ValueError:
            document = None
        if not isinstance(document, dict):
            return route.table_name, ()  # malformed: the default route's contract reports it
        value = document.get(field)
        routed = self.contracts.by_value.get(value) if isinstance(value, str) else None
        if routed is not None:
            return routed.table_name, ()
        tables = route.modes.contract.tables
        if tables == "evolve":
            return route.table_name, ()
        reason = (
            f"no route for {field}={value!r} (routes: {', '.join(sorted(self.contracts.by_value))}) and new tables "
            f"are {'frozen' if tables == 'freeze' else 'discarded'} (tables: {tables})"
        )
        return route.table_name, (Violation(field, "route_unknown", reason, "tables", tables),)

    def _load(
        self, target: Target, snapshot: QuarantineSnapshot, taken: Sequence[tuple[Candidate, tuple[Violation, ...]]]
    ) -> None:
        """Judge the events and commit them as one replay load into ``target``'s table."""
        load_id, now = uuid.uuid4().hex, dt.datetime.now(dt.UTC)
        routed = [i for i, (_, refusal) in enumerate(taken) if not refusal]
        judgement = target.judge.judge([taken[i][0] for i in routed], load_id=load_id, ingested_at=now)
        statuses: list[Status] = ["still_failing"] * len(taken)
        violations = [refusal for _, refusal in taken]
        for position, index in enumerate(routed):
            statuses[index] = judgement.statuses[position]
            violations[index] = judgement.violations[position]
        candidates = [c for c, _ in taken]
        landed_at = [candidates[routed[i]] for i in judgement.landed_index]
        report = target.report
        report.taken += len(taken)
        report.landed += len(landed_at)
        report.still_failing += statuses.count("still_failing")
        report.contract = f"{target.judge.contract[0]} v{target.judge.contract[1]}"
        for status, each in zip(statuses, violations, strict=True):
            if status == "still_failing":
                report.failing_by_type.update(v.type for v in each)
        if target.committer is None or target.tables is None:  # a dry run
            _sample(report, candidates, statuses, violations)
            return
        load = target.load_record(load_id, landed_at, snapshot.version, run_id=self.run_id, started_at=now)
        metadata = replay_metadata(
            load, app_id=target.tables.app_id, quarantine=snapshot.name, quarantine_version=snapshot.version
        )
        rows = resolution_rows(
            [c.key for c in candidates],
            statuses,
            violations,
            table_name=target.route.table_name,
            load_id=load_id,
            run_id=self.run_id,
            contract=target.judge.contract,
            resolved_at=now,
        )
        sequence = target.committer.begin(rows, known=target.known, metadata=metadata)
        target.known = sequence
        outcome = target.committer.finish(sequence, judgement.landed, load, metadata=metadata)
        self._committed(target, outcome.load, snapshot, completed=False)
        metrics.QUARANTINE_STILL_FAILING.labels(self.config.name, target.route.table_name).inc(
            statuses.count("still_failing")
        )

    def _committed(self, target: Target, load: LoadRecord, snapshot: QuarantineSnapshot, *, completed: bool) -> None:
        (target.report.completed if completed else target.report.loads).append(load)
        metrics.QUARANTINE_REPLAYED.labels(self.config.name, target.route.table_name).inc(load.rows_landed)
        logger.info(
            "%s replay load %s of %s into %s: %d rows landed (table version %s)",
            "completed interrupted" if completed else "committed",
            load.load_id[:12],
            snapshot.name,
            target.route.table_name,
            load.rows_landed,
            load.delta_version,
        )
        for listener in self.listeners:
            listener.on_load(load, snapshot)

    def _resolutions_table(self, route: Route) -> DeltaTableWriter | None:
        sink = route.sink
        if self.dry_run:
            return None
        return DeltaTableWriter(
            sink.resolved_resolutions_uri,
            RESOLUTIONS_SCHEMA,
            name=sink.resolutions_name,
            storage_options=sink.storage_options,
        )

    def _target(
        self, route: Route, source: Route, snapshot: QuarantineSnapshot, resolutions: DeltaTableWriter | None
    ) -> Target:
        """``route``'s table as a target of ``source``'s quarantine, with the load a crash interrupted there
        completed first."""
        judge = ReplayJudge.for_route(route, registry=self.registry, options=self.options, record=not self.dry_run)
        target = open_target(
            route,
            judge,
            quarantine=source.sink.quarantine_name,
            report=TableReport(snapshot.name, route.table_name, snapshot.version),
            resolutions=resolutions,
            pipeline=self.config.name,
            consumer_group=self.config.source.consumer_group,
        )
        if target.interrupted is not None:
            load = complete_interrupted(target, snapshot, run_id=self.run_id)
            self._committed(target, load, snapshot, completed=True)
        return target


def _sample(
    report: TableReport,
    candidates: Sequence[Candidate],
    statuses: Sequence[Status],
    violations: Sequence[tuple[Violation, ...]],
) -> None:
    """A dry run's report keeps the first few events that would land and that would still fail."""
    for candidate, status, each in zip(candidates, statuses, violations, strict=True):
        wanted = sum(1 for s in report.samples if s["would"] == status)
        if wanted >= SAMPLES:
            continue
        report.samples.append(
            {
                "would": status,
                "source": candidate.source,
                "partition": candidate.key[2],
                "offset": candidate.key[3],
                "violations": [{"loc": v.loc, "type": v.type, "message": v.message} for v in each],
            }
        )
