"""Declaring a contract: a pydantic v2 model with a name, a version and modes.

Example:
    >>> from typing import Annotated
    >>> from contracts import Contract, Tag
    >>> class Signup(Contract, name="signups", version=2, owner="growth", mode="discard_row"):
    ...     user_id: int
    ...     email: Annotated[str, Tag("email")]

The class keywords become a frozen :class:`ContractInfo` at ``Signup.__contract__``. Fields carry tags (PII
categories) through ``typing.Annotated`` metadata.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal, get_args, get_origin

from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict
from pydantic.fields import FieldInfo

from contracts.compatibility import COMPATIBILITY_LEVELS, CompatibilityLevel
from contracts.errors import ContractDeclarationError
from contracts.migration import Migration, declared_migration
from contracts.threshold import QuarantineThreshold, ThresholdSpec
from contracts.nested import close_nested_models
from contracts.modes import DEFAULT_MODES, ContractModes, Entity, Mode, ModeName, ModeSpec, expand_mode_spec

__all__ = ["Contract", "ContractInfo", "Tag", "PiiCategory", "PII_CATEGORIES", "walk_fields"]

PiiCategory = Literal["email", "phone", "name", "address", "ip", "id", "location", "free_text"]
PII_CATEGORIES: tuple[str, ...] = get_args(PiiCategory)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,126}$")


@dataclass(frozen=True, slots=True)
class Tag:
    """A field tag, e.g. ``Annotated[str, Tag("email")]``. PII categories are :data:`PII_CATEGORIES`."""

    name: str

    @property
    def is_pii(self) -> bool:
        return self.name in PII_CATEGORIES


@dataclass(frozen=True, slots=True)
class ContractInfo:
    """What a contract declares besides its fields.

    Attributes:
        name: the contract's name, ``[a-z][a-z0-9_]*``; also the default table name.
        version: a positive integer; a new version of the same name is a new class.
        modes: the contract's mode per entity over the defaults (what applies without a pipeline config).
        owner: the owning team or person, for the catalog's ownership facet.
        description: what an event means, for the catalog's documentation facet.
        tags: dotted field path (``email``, ``address.street``) → tag names, from ``Annotated[..., Tag(...)]``.
        declared_modes: only the entities the ``mode=`` keyword set (the pipeline config fills the others).
        field_modes: dotted field path → the entities its ``Annotated[..., Mode(...)]`` overrides.
        input_paths: dotted field path → every dotted path an event may spell it with (its aliases, with
            ``alias_generator=to_camel`` ``line_items.unit_price`` → ``lineItems.unitPrice``, and the field's own
            names): where pydantic locates its violations and where its value is in a raw event.
        compatibility: the Confluent compatibility level a new version of this contract must keep.
        quarantine_threshold: fail a load when more of a batch than this would be quarantined (``None``: never).
        migration: ``(from version, function)`` declared with :func:`contracts.migration.migration`, if any.
        pii: tag → PII action (``keep``, ``hash``, ``mask``, ``drop``) declared with ``pii=``; see
            :mod:`contracts.pii`.
    """

    name: str
    version: int
    modes: ContractModes = DEFAULT_MODES
    owner: str | None = None
    description: str | None = None
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    declared_modes: dict[Entity, ModeName] = field(default_factory=dict)
    field_modes: dict[str, dict[Entity, ModeName]] = field(default_factory=dict)
    input_paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    compatibility: CompatibilityLevel = "BACKWARD"
    quarantine_threshold: QuarantineThreshold | None = None
    migration: tuple[int, Migration] | None = None
    pii: dict[str, str] = field(default_factory=dict)


class Contract(BaseModel):
    """Base class of every data contract.

    Subclass with class keywords ``name`` (required), ``version`` (default 1), ``mode`` (a mode string or a
    mapping of entity → mode), ``owner``, ``description`` (default: the class docstring) and ``compatibility``
    (a Confluent level, default ``BACKWARD``; a subclass inherits its parent's) and ``quarantine_threshold`` (a
    percent or :class:`contracts.threshold.QuarantineThreshold`: fail a load that would quarantine more) and ``pii``
    (tag → ``keep`` / ``hash`` / ``mask`` / ``drop``, see :mod:`contracts.pii`; a subclass inherits its parent's).

    Raises:
        ContractDeclarationError: at class creation, for a missing or malformed name, a non-positive version, an
            unknown entity or mode, or an unknown class keyword.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    __contract__: ClassVar[ContractInfo]

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        version: int = 1,
        mode: ModeSpec | None = None,
        owner: str | None = None,
        description: str | None = None,
        compatibility: CompatibilityLevel | None = None,
        quarantine_threshold: ThresholdSpec | None = None,
        pii: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            super().__init_subclass__(**kwargs)
        except TypeError as exc:
            if not kwargs:
                raise
            # object.__init_subclass__ refuses what no class in the MRO took, with a bare "takes no keyword arguments"
            raise ContractDeclarationError(_unknown_keywords(cls, name, kwargs)) from exc
        if name is None:
            parent = getattr(cls, "__contract__", None)
            if parent is None:
                raise ContractDeclarationError(
                    f"contract {cls.__qualname__} needs a name: class {cls.__name__}(Contract, name='...')"
                )
            name = parent.name
        if not _NAME.match(name):
            raise ContractDeclarationError(
                f"contract name {name!r} must match {_NAME.pattern} (it names a Delta table)"
            )
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ContractDeclarationError(f"contract {name!r}: version must be a positive integer, not {version!r}")
        declared = expand_mode_spec(mode)
        parent_info = getattr(cls, "__contract__", None)
        level = compatibility or (parent_info.compatibility if parent_info is not None else "BACKWARD")
        if level not in COMPATIBILITY_LEVELS:
            raise ContractDeclarationError(
                f"contract {name!r}: unknown compatibility level {level!r}; "
                f"expected one of {', '.join(COMPATIBILITY_LEVELS)}"
            )
        cls.__contract__ = ContractInfo(
            name=name,
            version=version,
            modes=ContractModes.parse(mode),
            owner=owner,
            description=description or (cls.__doc__ or "").strip() or None,
            declared_modes=declared,
            compatibility=level,
            quarantine_threshold=QuarantineThreshold.parse(quarantine_threshold),
            migration=declared_migration(cls.__dict__, version),
            pii=dict(pii if pii is not None else (parent_info.pii if parent_info is not None else {})),
        )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # Fields are only known once pydantic has built the model; tags are read from their metadata here.
        super().__pydantic_init_subclass__(**kwargs)
        if close_nested_models(cls):
            cls.model_rebuild(force=True)
        tags: dict[str, tuple[str, ...]] = {}
        field_modes: dict[str, dict[Entity, ModeName]] = {}
        for path, info in walk_fields(cls):
            names = tuple(m.name for m in info.metadata if isinstance(m, Tag))
            if names:
                tags[path] = names
            overrides: dict[Entity, ModeName] = {}
            for marker in info.metadata:
                if isinstance(marker, Mode):
                    overrides.update(marker.entities)
            if overrides:
                field_modes[path] = overrides
        cls.__contract__ = replace(
            cls.__contract__, tags=tags, field_modes=field_modes, input_paths=dict(_input_paths(cls))
        )


def _unknown_keywords(cls: type, name: str | None, unknown: dict[str, Any]) -> str:
    allowed = [
        p.name for p in inspect.signature(Contract.__init_subclass__).parameters.values() if p.kind is p.KEYWORD_ONLY
    ]
    named = []
    for keyword in unknown:
        close = difflib.get_close_matches(keyword, allowed, n=1)
        named.append(f"{keyword!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    hint = " (field tags go on fields: Annotated[str, Tag('email')])" if {"tag", "tags"} & unknown.keys() else ""
    label = f"{name!r} (class {cls.__name__})" if name else cls.__name__
    return (
        f"contract {label}: unknown class keyword{'s' if len(unknown) > 1 else ''} {', '.join(named)}; "
        f"a contract takes {', '.join(allowed)}{hint}"
    )


def walk_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """Every field of ``model`` and of its nested models (also inside lists, sets and ``Optional``), as
    ``(dotted path, FieldInfo)`` in declaration order, parents before children."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        yield path, info
        for nested in _nested_models(info.annotation):
            yield from walk_fields(nested, prefix=f"{path}.")


def _input_paths(
    model: type[BaseModel], prefix: str = "", spellings: tuple[str, ...] = ("",)
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """``(dotted path, every dotted spelling of it in an event)`` for the fields :func:`walk_fields` yields."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        spelled = tuple(dict.fromkeys(f"{s}{key}" for s in spellings for key in _input_keys(name, info)))
        yield path, spelled
        for nested in _nested_models(info.annotation):
            yield from _input_paths(nested, prefix=f"{path}.", spellings=tuple(f"{s}." for s in spelled))


def _input_keys(name: str, info: FieldInfo) -> list[str]:
    """The keys an event may give a field's value under: its validation alias(es) or alias, and its name (also
    where the model does not validate by name: the value is still the field's when a policy looks for it)."""
    alias = info.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
    keys = [c.path[0] if isinstance(c, AliasPath) else c for c in choices if c is not None]
    return [k for k in (*keys, info.alias, name) if isinstance(k, str)]


def _nested_models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            yield from _nested_models(arg)
