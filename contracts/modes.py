"""Contract modes: dlt's closed vocabulary of entities and modes.

Entities: ``tables``, ``columns``, ``data_type``. Modes: ``evolve``, ``freeze``, ``discard_row``,
``discard_value``. A single mode string sets all three entities (dlt's shorthand); a mapping sets some and leaves
the others at their defaults.

Source: dlt's ``TSchemaContract`` / ``Schema.apply_schema_contract``. One deliberate difference: a discarded row or
value is never silently dropped; the caller quarantines it with every violation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, get_args

from contracts.errors import ContractDeclarationError

__all__ = ["Entity", "Mode", "ContractModes", "ModeSpec", "DEFAULT_MODES"]

Entity = Literal["tables", "columns", "data_type"]
Mode = Literal["evolve", "freeze", "discard_row", "discard_value"]

ENTITIES: tuple[Entity, ...] = get_args(Entity)
MODES: tuple[Mode, ...] = get_args(Mode)


@dataclass(frozen=True, slots=True)
class ContractModes:
    """The mode of each entity.

    Defaults: ``tables=evolve`` (a contract's table is created on first load) and ``discard_row`` on ``columns``
    and ``data_type``. dlt defaults everything to ``evolve``; on an unattended stream we prefer that a bad event
    never changes a table nor stops the stream, and lands in quarantine instead.
    """

    tables: Mode = "evolve"
    columns: Mode = "discard_row"
    data_type: Mode = "discard_row"

    @classmethod
    def parse(cls, spec: ModeSpec | None, *, base: ContractModes | None = None) -> ContractModes:
        """Expand a mode spec (a mode string, a partial mapping, or a :class:`ContractModes`) over ``base``.

        Raises:
            ContractDeclarationError: an unknown entity or mode.
        """
        base = base or cls()
        if spec is None:
            return base
        if isinstance(spec, ContractModes):
            return spec
        if isinstance(spec, str):
            _check_mode(spec)
            return cls(tables=spec, columns=spec, data_type=spec)
        if isinstance(spec, Mapping):
            for entity, mode in spec.items():
                if entity not in ENTITIES:
                    raise ContractDeclarationError(
                        f"unknown contract entity {entity!r}; expected one of {', '.join(ENTITIES)}"
                    )
                _check_mode(mode)
            return replace(base, **dict(spec))
        raise ContractDeclarationError(f"a contract mode must be a string or a mapping, not {type(spec).__name__}")

    def of(self, entity: Entity) -> Mode:
        """The mode that applies to ``entity``."""
        return getattr(self, entity)

    def as_dict(self) -> dict[str, str]:
        return {"tables": self.tables, "columns": self.columns, "data_type": self.data_type}


def _check_mode(mode: object) -> None:
    if mode not in MODES:
        raise ContractDeclarationError(f"unknown contract mode {mode!r}; expected one of {', '.join(MODES)}")


DEFAULT_MODES = ContractModes()

ModeSpec = Mode | Mapping[str, Mode] | ContractModes
"""What a contract or a config may say: one mode for all entities, some entities, or all of them."""
