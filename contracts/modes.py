"""Contract modes: dlt's closed vocabulary of entities and modes, and where each mode comes from.

Entities: ``tables``, ``columns``, ``data_type``. Modes: ``evolve``, ``freeze``, ``discard_row``,
``discard_value``. A single mode string sets all three entities (dlt's shorthand); a mapping sets some and leaves
the others to the next level down.

Precedence, per entity, highest first (see contracts/README.md):

1. a **field** override, ``Annotated[T, Mode("discard_value")]``: violations located at or under that field;
2. the **contract**'s ``mode=`` class keyword;
3. the **pipeline config**'s ``contract_mode:``;
4. the defaults (:class:`ContractModes`).

Source: dlt's ``TSchemaContract`` / ``Schema.apply_schema_contract``. One deliberate difference: a discarded row or
value is never silently dropped; the caller quarantines it with every violation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol, get_args

from contracts.errors import ContractDeclarationError
from contracts.results import Entity, ModeName

__all__ = [
    "Entity",
    "ModeName",
    "Mode",
    "ContractModes",
    "ModeSpec",
    "DEFAULT_MODES",
    "ResolvedModes",
    "expand_mode_spec",
    "resolve_modes",
]

ENTITIES: tuple[Entity, ...] = get_args(Entity)
MODES: tuple[ModeName, ...] = get_args(ModeName)
FIELD_ENTITIES: tuple[Entity, ...] = ("columns", "data_type")
"""The entities a field override can set: ``data_type`` for its values, ``columns`` for undeclared keys inside
a nested model; ``tables`` is a table-level decision."""

# Harshest first: when one event breaks several rules, the harshest mode decides its fate.
SEVERITY: dict[ModeName, int] = {"freeze": 3, "discard_row": 2, "discard_value": 1, "evolve": 0}


@dataclass(frozen=True, slots=True)
class ContractModes:
    """The mode of each entity.

    Defaults: ``tables=evolve`` (a contract's table is created on first load) and ``discard_row`` on ``columns``
    and ``data_type``. dlt defaults everything to ``evolve``; on an unattended stream we prefer that a bad event
    never changes a table nor stops the stream, and lands in quarantine instead.
    """

    tables: ModeName = "evolve"
    columns: ModeName = "discard_row"
    data_type: ModeName = "discard_row"

    @classmethod
    def parse(cls, spec: ModeSpec | None, *, base: ContractModes | None = None) -> ContractModes:
        """Expand a mode spec (a mode string, a partial mapping, or a :class:`ContractModes`) over ``base``.

        Raises:
            ContractDeclarationError: an unknown entity or mode.
        """
        base = base or cls()
        if isinstance(spec, ContractModes):
            return spec
        return replace(base, **expand_mode_spec(spec))

    def of(self, entity: Entity) -> ModeName:
        """The mode that applies to ``entity``."""
        return getattr(self, entity)

    def as_dict(self) -> dict[str, str]:
        return {"tables": self.tables, "columns": self.columns, "data_type": self.data_type}


def expand_mode_spec(spec: ModeSpec | None, *, entities: Sequence[Entity] = ENTITIES) -> dict[Entity, ModeName]:
    """The entities a spec sets explicitly: a string sets every entity of ``entities``; a mapping only its keys.

    Raises:
        ContractDeclarationError: an unknown entity or mode, or an entity outside ``entities``.
    """
    if spec is None:
        return {}
    if isinstance(spec, ContractModes):
        return {e: spec.of(e) for e in entities}
    if isinstance(spec, str):
        _check_mode(spec)
        return {e: spec for e in entities}  # type: ignore[misc]
    if isinstance(spec, Mapping):
        for entity, mode in spec.items():
            if entity not in entities:
                raise ContractDeclarationError(
                    f"unknown contract entity {entity!r}; expected one of {', '.join(entities)}"
                )
            _check_mode(mode)
        return dict(spec)  # type: ignore[arg-type]
    raise ContractDeclarationError(f"a contract mode must be a string or a mapping, not {type(spec).__name__}")


@dataclass(frozen=True, slots=True, init=False)
class Mode:
    """A per-field mode override: ``Annotated[str | None, Mode("discard_value")]``.

    A string sets ``data_type`` and ``columns`` for the field (``columns`` matters for undeclared keys inside a
    nested model); a mapping sets only the named entities, e.g. ``Mode({"data_type": "evolve"})``.

    Raises:
        ContractDeclarationError: an unknown mode, or the ``tables`` entity (a table-level decision).
    """

    entities: dict[Entity, ModeName]

    def __init__(self, spec: ModeName | Mapping[str, ModeName]) -> None:
        object.__setattr__(self, "entities", expand_mode_spec(spec, entities=FIELD_ENTITIES))

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.entities.items())))


@dataclass(frozen=True, slots=True)
class ResolvedModes:
    """The modes in force for one contract in one pipeline, after precedence.

    Attributes:
        contract: per entity, the contract-level mode (contract keyword over pipeline config over defaults).
        fields: dotted field path (``address`` or ``address.zip``), and each spelling of it an event may use (its
            aliases: a violation's loc), → the entities that field overrides.
    """

    contract: ContractModes = field(default_factory=ContractModes)
    fields: dict[str, dict[Entity, ModeName]] = field(default_factory=dict)

    def for_loc(self, loc: Sequence[str | int], entity: Entity) -> ModeName:
        """The mode for a violation of ``entity`` at ``loc`` (pydantic's loc: field names and list indexes).

        The deepest overriding field on the path wins (``address.zip`` over ``address``); list indexes are skipped.
        """
        path = [str(p) for p in loc if not isinstance(p, int)]
        for depth in range(len(path), 0, -1):
            override = self.fields.get(".".join(path[:depth]))
            if override and entity in override:
                return override[entity]
        return self.contract.of(entity)

    @property
    def any_evolve(self) -> bool:
        """Some entity or field may evolve the table."""
        return "evolve" in (self.contract.columns, self.contract.data_type) or any(
            "evolve" in o.values() for o in self.fields.values()
        )


class _ModeDeclaration(Protocol):
    declared_modes: Mapping[Entity, ModeName]
    field_modes: Mapping[str, Any]
    input_paths: Mapping[str, tuple[str, ...]]


class DeclaredContract(Protocol):
    """What :func:`resolve_modes` reads of a contract class (:class:`contracts.Contract`): its declaration.

    A protocol, so that this module need not import :mod:`contracts.declare` (which imports this one)."""

    __contract__: ClassVar[_ModeDeclaration]


def resolve_modes(contract: type[DeclaredContract], pipeline: ModeSpec | None = None) -> ResolvedModes:
    """The modes in force for ``contract`` when the pipeline config says ``contract_mode: pipeline``.

    Raises:
        ContractDeclarationError: the pipeline spec names an unknown entity or mode.
    """
    info = contract.__contract__
    base = ContractModes.parse(pipeline) if not isinstance(pipeline, ContractModes) else pipeline
    modes = replace(base, **info.declared_modes)
    # A violation's loc spells the field as the event does (its alias): the override is found under every spelling.
    fields = {
        spelled: dict(overrides)
        for path, overrides in info.field_modes.items()
        for spelled in (path, *info.input_paths.get(path, ()))
    }
    return ResolvedModes(contract=modes, fields=fields)


def _check_mode(mode: object) -> None:
    if mode not in MODES:
        raise ContractDeclarationError(f"unknown contract mode {mode!r}; expected one of {', '.join(MODES)}")


DEFAULT_MODES = ContractModes()

ModeSpec = ModeName | Mapping[str, ModeName] | ContractModes
"""What a contract or a config may say: one mode for all entities, some entities, or all of them."""
