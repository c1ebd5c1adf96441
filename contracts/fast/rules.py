"""What a field's metadata and its model say, read for the decoder: constraints, JSON keys, and what it cannot do.

Constraints are read however they are spelled: ``Field(ge=1)``, ``Annotated[int, Field(ge=1)]``, annotated-types
(``Ge``, ``Interval``, ``MinLen``, ``Len``...), ``StringConstraints``, ``conint``/``confloat``/``constr``/
``condecimal``, pydantic's ``Strict`` and ``UuidVersion``, and the model's ``str_*`` config. Anything else makes
the field a per-field fallback (:class:`NotCompiled`).
"""

from __future__ import annotations

import decimal
import re
from typing import Any

import annotated_types as at
import pydantic
from pydantic import BaseModel
from pydantic._internal._decorators import inspect_validator
from pydantic.fields import FieldInfo

from contracts import _native
from contracts.declare import Tag
from contracts.fast.fallback import NotCompiled
from contracts.modes import Mode

__all__ = ["Rules", "field_refusal", "model_refusal", "validation_keys"]

_SAFE_CONFIG = frozenset({
    "extra", "frozen", "title", "json_schema_extra", "regex_engine", "defer_build", "alias_generator",
    "populate_by_name", "validate_by_name", "validate_by_alias", "loc_by_alias", "str_strip_whitespace", "str_to_lower",
    "str_to_upper", "str_min_length", "str_max_length", "use_enum_values", "protected_namespaces",
    "use_attribute_docstrings", "hide_input_in_errors", "coerce_numbers_to_str", "allow_inf_nan", "ser_json_bytes",
    "ser_json_inf_nan", "ser_json_temporal", "ser_json_timedelta", "validate_assignment", "arbitrary_types_allowed",
    "from_attributes", "revalidate_instances", "cache_strings", "validation_error_cause", "json_encoders",
    "model_title_generator", "field_title_generator", "json_schema_mode_override", "strict", "validate_default",
    "json_schema_serialization_defaults_required", "ignored_types", "validate_return", "val_temporal_unit",
    "url_preserve_empty_path", "polymorphic_serialization", "val_json_bytes",
})
"""Model config that changes nothing the decoder accepts as sent (strictness, ``coerce_numbers_to_str`` and
``allow_inf_nan`` only widen or narrow what pydantic does with values the decoder leaves to it), or that it reads
(``extra``, ``str_*``, aliases, ``val_json_bytes``)."""
_GENERAL = frozenset({"pattern", "strip_whitespace", "to_lower", "to_upper", "max_digits", "decimal_places", "strict",
                      "allow_inf_nan", "coerce_numbers_to_str", "fail_fast", "union_mode"})
_GROUPS: dict[str, frozenset[str]] = {  # node kind → the constraint groups it takes
    "int": frozenset({"bounds", "multiple_of"}), "float": frozenset({"bounds"}),
    "decimal": frozenset({"bounds", "digits"}), "str": frozenset({"length", "text"}),
    "bytes": frozenset({"length"}), "list": frozenset({"length"}), "map": frozenset({"length"}),
    "uuid": frozenset({"uuid"}),
}
_SCALE = 9


class Rules:
    """A field's constraints, from its metadata (``Annotated`` items and ``FieldInfo.metadata``).

    Raises:
        NotCompiled: metadata the decoder does not check (validators, serializers, predicates...).
    """

    def __init__(self, metadata: list[Any], where: str) -> None:
        self.where = where
        self.bounds_: dict[str, Any] = {}
        self.multiple_of: Any = None
        self.min_len: int | None = None
        self.max_len: int | None = None
        self.general: dict[str, Any] = {}
        self.uuid_version: int | None = None
        for item in metadata:
            self._take(item)

    def _take(self, item: Any) -> None:
        if item is None or isinstance(item, Tag | Mode | pydantic.types.Strict | pydantic.types.AllowInfNan):
            return
        if isinstance(item, FieldInfo):
            for inner in item.metadata:
                self._take(inner)
        elif isinstance(item, at.Gt | at.Ge | at.Lt | at.Le):
            name = type(item).__name__.lower()
            self.bounds_[name] = getattr(item, name)
        elif isinstance(item, at.MultipleOf):
            self.multiple_of = item.multiple_of
        elif isinstance(item, at.MinLen):
            self.min_len = item.min_length
        elif isinstance(item, at.MaxLen):
            self.max_len = item.max_length
        elif isinstance(item, pydantic.types.UuidVersion):
            self.uuid_version = item.uuid_version
        elif type(item).__name__ == "_PydanticGeneralMetadata":
            found = {k: v for k, v in vars(item).items() if v is not None}
            unknown = set(found) - _GENERAL
            if unknown:
                raise NotCompiled(f"{', '.join(sorted(unknown))} is not checked natively")
            if found.get("union_mode", "smart") != "smart":
                raise NotCompiled(f"union_mode={found['union_mode']!r}")
            self.general.update(found)
        elif isinstance(item, at.GroupedMetadata):  # Interval, Len, StringConstraints
            for inner in item:
                self._take(inner)
        else:
            raise NotCompiled(f"{type(item).__name__} is not checked natively")

    def finish(self, kind: str) -> None:
        """Check that every constraint applies to the node kind compiled.

        Raises:
            NotCompiled: a constraint the kind does not take natively (``multiple_of`` of a float...).
        """
        used = set()
        if self.bounds_:
            used.add("bounds")
        if self.multiple_of is not None:
            used.add("multiple_of")
        if self.min_len is not None or self.max_len is not None:
            used.add("length")
        if {"pattern", "strip_whitespace", "to_lower", "to_upper"} & set(self.general):
            used.add("text")
        if {"max_digits", "decimal_places"} & set(self.general):
            used.add("digits")
        if self.uuid_version is not None:
            used.add("uuid")
        extra = used - _GROUPS.get(kind, frozenset())
        if extra:
            raise NotCompiled(f"{', '.join(sorted(extra))} on {kind} is not checked natively")

    def bounds(self, number: type) -> dict[str, Any]:
        out = {}
        for name, bound in self.bounds_.items():
            if number is int:
                if type(bound) is not int or not -(2**63) <= bound < 2**63:
                    raise NotCompiled(f"{name}={bound!r} on an int")
                out[name] = bound
            else:
                if type(bound) not in (int, float):
                    raise NotCompiled(f"{name}={bound!r} on a float")
                out[name] = float(bound)
        if self.multiple_of is not None:
            if number is not int or type(self.multiple_of) is not int or self.multiple_of == 0:
                raise NotCompiled(f"multiple_of={self.multiple_of!r} on a {number.__name__}")
            if not -(2**63) <= self.multiple_of < 2**63:
                raise NotCompiled(f"multiple_of={self.multiple_of!r}")
            out["multiple_of"] = self.multiple_of
        return out

    def length(self) -> dict[str, Any]:
        return {"min_len": self.min_len, "max_len": self.max_len}

    def text(self, config: Any) -> dict[str, Any]:
        """A plain ``str``'s rules: the field's own, else the model's ``str_*`` config (pydantic's precedence)."""
        pattern = self.general.get("pattern")
        if isinstance(pattern, re.Pattern):
            raise NotCompiled("a compiled re.Pattern is matched with Python's re")
        if pattern is not None and config.get("regex_engine", "rust-regex") != "rust-regex":
            raise NotCompiled("regex_engine='python-re'")
        if pattern is not None and _native.regex_error(pattern) is not None:
            raise NotCompiled(f"pattern {pattern!r} is not one the regex crate compiles (pydantic uses Python's re)")

        def pick(own: Any, configured: str) -> Any:
            return own if own is not None else config.get(configured)

        return {
            "min_len": pick(self.min_len, "str_min_length"),
            "max_len": pick(self.max_len, "str_max_length"),
            "pattern": pattern,
            "strip": bool(pick(self.general.get("strip_whitespace"), "str_strip_whitespace")),
            "lower": bool(pick(self.general.get("to_lower"), "str_to_lower")),
            "upper": bool(pick(self.general.get("to_upper"), "str_to_upper")),
        }

    def decimal(self) -> dict[str, Any]:
        out: dict[str, Any] = {"max_digits": self.general.get("max_digits"),
                               "decimal_places": self.general.get("decimal_places")}
        for name, bound in self.bounds_.items():
            if type(bound) not in (int, float, decimal.Decimal):
                raise NotCompiled(f"{name}={bound!r} on a Decimal")
            scaled = decimal.Decimal(bound).scaleb(_SCALE)  # exact: a float bound compares by its binary value
            if scaled != scaled.to_integral_value() or abs(scaled) >= 10**38:
                raise NotCompiled(f"{name}={bound!r} is not a decimal(38, 9)")
            out[name] = int(scaled)
        return out

    def uuid(self) -> int | None:
        return self.uuid_version


def _takes_info(function: Any, mode: str) -> bool:
    """Whether a validator takes pydantic's ``ValidationInfo`` (pydantic's own reading of its signature)."""
    try:
        return bool(inspect_validator(function, mode=mode, type="field"))  # type: ignore[call-arg]
    except TypeError:  # pydantic < 2.10: (validator, mode)
        return bool(inspect_validator(function, mode))  # type: ignore[call-arg]


def validation_keys(model: type[BaseModel], name: str, info: FieldInfo) -> list[str]:
    """The JSON keys pydantic reads a field from: its alias (or ``AliasChoices``) and, with ``validate_by_name`` /
    ``populate_by_name`` or without an alias, its name.

    Raises:
        NotCompiled: an ``AliasPath`` (the value comes from elsewhere in the event).
    """
    config = model.model_config
    by_name = bool(config.get("validate_by_name") or config.get("populate_by_name"))
    by_alias = config.get("validate_by_alias", True) is not False
    alias = info.validation_alias if info.validation_alias is not None else info.alias
    choices: list[Any] = []
    if isinstance(alias, pydantic.AliasChoices):
        choices = list(alias.choices)
    elif alias is not None:
        choices = [alias]
    if any(not isinstance(c, str) for c in choices):
        raise NotCompiled(f"{model.__name__}.{name}: an AliasPath reads the value from elsewhere in the event")
    keys: list[str] = list(choices) if by_alias else []
    if by_name or not choices:
        keys.append(name)
    return list(dict.fromkeys(keys))


def field_refusal(model: type[BaseModel], name: str) -> str | None:
    """Why a field must be validated by pydantic per value (a ``field_validator`` on it), else ``None``."""
    for decorator in model.__pydantic_decorators__.field_validators.values():
        if name in decorator.info.fields or "*" in decorator.info.fields:
            return f"field_validator {decorator.cls_var_name}"
    return None


def model_refusal(model: type[BaseModel], *, computed: bool = True) -> str | None:
    """Why a model must be validated as a whole by pydantic, else ``None``: model-level logic, or what changes its
    dump beyond its fields' types. For the contract itself that means per row; for a nested model, its field
    falls back per value. ``computed``: count computed fields (the contract's are evaluated apart)."""
    decorators = model.__pydantic_decorators__
    for kind in ("model_validators", "root_validators", "validators", "model_serializers", "field_serializers"):
        found = getattr(decorators, kind)
        if found:
            return f"{kind[:-1].replace('_', ' ')} {next(iter(found))}"
    if computed and decorators.computed_fields:
        return f"computed field {next(iter(decorators.computed_fields))}"
    for decorator in decorators.field_validators.values():
        if _takes_info(decorator.func, decorator.info.mode):
            return f"field_validator {decorator.cls_var_name} takes info (it may read other fields)"
    if isinstance(model, type) and issubclass(model, pydantic.RootModel):
        return "a RootModel"
    if model.__pydantic_custom_init__ or model.__pydantic_post_init__:
        return "a custom __init__ or model_post_init"
    config = model.model_config
    unsafe = sorted(set(config) - _SAFE_CONFIG)
    if unsafe:
        return f"model config {', '.join(unsafe)}"
    for name, info in model.model_fields.items():
        if info.exclude or getattr(info, "exclude_if", None) is not None:
            return f"{name} is excluded from the dump"
        if getattr(info, "default_factory_takes_data", False):
            return f"{name}'s default_factory reads the other fields"
    return None
