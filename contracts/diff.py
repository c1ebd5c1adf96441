"""The difference between two versions of a contract, field by field, from their canonical JSON Schemas.

Diffing JSON Schemas (not classes) works the same for declared versions, versions inferred by ``evolve`` and
versions only the ``_contracts`` history still knows. Each change says whether it keeps each direction of
compatibility, judged on events (as Confluent Schema Registry judges JSON Schemas):

- **backward**: every event valid under the old version is still valid under the new one (consumers can upgrade
  first; old events replay). A change that breaks it is **breaking**.
- **forward**: every event valid under the new version is valid under the old one (producers can upgrade first).

A reader with a *closed* content model (``columns`` mode ``discard_row`` or ``freeze``: an undeclared key rejects
the event) breaks on fields it does not know; an *open* one (``evolve`` or ``discard_value``) does not.

=========================================  ========  ========
change                                     backward  forward
=========================================  ========  ========
optional field added                       yes       if the old reader is open
required field added                       no        if the old reader is open
field removed                              if the    yes if it was optional
                                           new
                                           reader
                                           is open
type widened (integer → number, T → T|U)   yes       no
type narrowed (number → integer, T|U → T)  no        yes
other type change                          no        no
became nullable / optional                 yes       no
became non-null / required                 no        yes
enum values added / removed                yes / no  no / yes
bounds or lengths loosened / tightened     yes / no  no / yes
(max_digits, decimal_places too)
other constraint changed (strict, time     no        no
zone, string transforms, model config)
pattern added / removed / changed          no / yes  yes / no
                                           / no      / no
=========================================  ========  ========
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from contracts.fingerprint import hashed_schema

__all__ = ["FieldShape", "FieldChange", "ChangeKind", "describe_changes", "diff_schemas", "field_shapes"]

_ABSENT = object()
_SHOWN_DIFFERENCES = 5

ChangeKind = Literal[
    "added",
    "removed",
    "type_changed",
    "nullability_changed",
    "required_changed",
    "enum_changed",
    "constraint_changed",
]

_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxDigits", "decimalPlaces")
# What the canonical schema adds to pydantic's (contracts.fingerprint): any change may accept or land differently.
_OTHER_CONSTRAINTS = (
    "pattern", "multipleOf", "tzConstraint", "nowOp", "nowUtcOffset", "microsecondsPrecision", "strict",
    "stripWhitespace", "toLower", "toUpper", "allowInfNan", "validationConfig",
)


@dataclass(frozen=True, slots=True)
class FieldShape:
    """What a JSON Schema says about one field (a dotted path; list items are ``path[]``).

    Attributes:
        type: the JSON type(s) of its non-null values, ``|``-joined and sorted (``integer``, ``number|string``,
            ``string:date-time``, ``array``, ``object``).
        nullable: ``null`` is allowed.
        required: the key must be present.
        enum: the allowed values (``Literal``, ``Enum``, a ``const``), JSON-encoded and sorted; ``None``: any.
        constraints: bounds, lengths and ``pattern`` keywords with their values.
    """

    type: str
    nullable: bool
    required: bool
    enum: tuple[str, ...] | None
    constraints: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One difference between two versions.

    Attributes:
        path: the dotted field path (``address.zip``; list items: ``lines[].sku``).
        kind: what changed.
        old, new: the two sides, as short text (``None`` when the field is absent on that side).
        backward: old events stay valid under the new version.
        forward: new events stay valid under the old version.
    """

    path: str
    kind: ChangeKind
    old: str | None
    new: str | None
    backward: bool
    forward: bool

    @property
    def breaking(self) -> bool:
        """The change breaks backward compatibility (Confluent's default level)."""
        return not self.backward

    def describe(self) -> str:
        """``field 'amount': type changed from number to string``."""
        if self.kind == "added":
            return f"field {self.path!r}: added ({self.new})"
        if self.kind == "removed":
            return f"field {self.path!r}: removed (was {self.old})"
        return f"field {self.path!r}: {self.kind.replace('_', ' ')} from {self.old} to {self.new}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def field_shapes(schema: Mapping[str, Any]) -> dict[str, FieldShape]:
    """Every field of a contract's JSON Schema (nested objects and list items flattened to dotted paths)."""
    defs = schema.get("$defs", {})
    return dict(_walk(schema, defs, prefix="", seen=()))


def diff_schemas(
    old: Mapping[str, Any], new: Mapping[str, Any], *, old_open: bool = False, new_open: bool = False
) -> list[FieldChange]:
    """The field changes from ``old`` to ``new`` (canonical JSON Schemas), in path order.

    Args:
        old_open / new_open: the reader of that version tolerates undeclared keys (``columns`` mode ``evolve`` or
            ``discard_value``); decides whether an added or removed field breaks compatibility.
    """
    before, after = field_shapes(old), field_shapes(new)
    changes: list[FieldChange] = []
    for path in sorted(before.keys() | after.keys()):
        if _under_changed_parent(path, before, after):
            continue
        a, b = before.get(path), after.get(path)
        if a is None and b is not None:
            changes.append(FieldChange(path, "added", None, _short(b), not b.required, old_open))
        elif b is None and a is not None:
            changes.append(FieldChange(path, "removed", _short(a), None, new_open, not a.required))
        elif a is not None and b is not None:
            changes.extend(_compare(path, a, b))
    return changes


def describe_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], *, old_open: bool = False, new_open: bool = False
) -> tuple[str, ...]:
    """One line per field change from ``old`` to ``new`` (:meth:`FieldChange.describe`); where no field shape
    changed but the schemas' hashes differ (a default, a keyword the field diff does not read), one line per place
    the hashed JSON Schemas differ, as a JSON Pointer (at most five, then how many more).

    Example:
        >>> describe_changes({"properties": {"a": {"default": 1}}}, {"properties": {"a": {"default": 2}}})
        ('JSON Schema /properties/a/default: 1 → 2',)
    """
    fields = diff_schemas(old, new, old_open=old_open, new_open=new_open)
    if fields:
        return tuple(change.describe() for change in fields)
    lines = [
        f"JSON Schema {pointer or '/'}: {_json(a)} → {_json(b)}"
        for pointer, a, b in _json_differences(hashed_schema(dict(old)), hashed_schema(dict(new)))
    ]
    if len(lines) > _SHOWN_DIFFERENCES:
        lines[_SHOWN_DIFFERENCES:] = [f"and {len(lines) - _SHOWN_DIFFERENCES} more JSON Schema differences"]
    return tuple(lines)


def _json_differences(old: Any, new: Any, pointer: str = "") -> Iterator[tuple[str, Any, Any]]:
    # Every place two JSON documents differ: (JSON Pointer, old, new), the side missing a key being _ABSENT.
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(old.keys() | new.keys()):
            at = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
            yield from _json_differences(old.get(key, _ABSENT), new.get(key, _ABSENT), at)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _json_differences(a, b, f"{pointer}/{index}")
    elif old != new:
        yield pointer, old, new


def _json(value: Any) -> str:
    return "(absent)" if value is _ABSENT else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _under_changed_parent(path: str, before: dict[str, FieldShape], after: dict[str, FieldShape]) -> bool:
    # The children of a field added, removed or retyped as a whole are part of that one change.
    parts = path.replace("[]", "").split(".")
    for depth in range(1, len(parts)):
        for parent in (".".join(parts[:depth]), ".".join(parts[:depth]) + "[]"):
            a, b = before.get(parent), after.get(parent)
            if (a is None) != (b is None) or (a is not None and b is not None and a.type != b.type):
                if a is not None or b is not None:
                    return True
    return False


def _compare(path: str, a: FieldShape, b: FieldShape) -> Iterator[FieldChange]:
    if a.type != b.type:
        widened = _accepts(b.type, a.type)  # integer → number, or a type joined by others (evolve's variants)
        yield FieldChange(path, "type_changed", a.type, b.type, widened, _accepts(a.type, b.type))
    if a.nullable != b.nullable:
        yield FieldChange(
            path, "nullability_changed", _nullable(a), _nullable(b), b.nullable, not b.nullable
        )
    if a.required != b.required:
        yield FieldChange(path, "required_changed", _required(a), _required(b), not b.required, b.required)
    if a.enum != b.enum:
        old, new = set(a.enum or ()), set(b.enum or ())
        looser = b.enum is None or (a.enum is not None and old <= new)
        tighter = a.enum is None or (b.enum is not None and new <= old)
        yield FieldChange(path, "enum_changed", _enum(a.enum), _enum(b.enum), looser, tighter)
    if a.constraints != b.constraints:
        looser, tighter = _constraint_direction(dict(a.constraints), dict(b.constraints))
        yield FieldChange(
            path, "constraint_changed", _constraints(a), _constraints(b), looser, tighter
        )


def _accepts(reader: str, writer: str) -> bool:
    """Whether a field typed ``reader`` accepts every value of a field typed ``writer`` (``integer|string``: either;
    JSON Schema's ``number`` includes the integers)."""
    accepted = set(reader.split("|"))
    return "any" in accepted or all(
        kind in accepted or (kind == "integer" and "number" in accepted) for kind in writer.split("|")
    )


def _constraint_direction(old: dict[str, Any], new: dict[str, Any]) -> tuple[bool, bool]:
    """``(new accepts all old accepted, old accepts all new accepts)`` for bounds, lengths and pattern."""
    looser = tighter = True
    for key in old.keys() | new.keys():
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if key == "pattern":
            looser = looser and b is None  # a removed pattern accepts more; an added or changed one: unknown
            tighter = tighter and a is None
        elif key in _LOWER_BOUNDS:
            looser = looser and (b is None or (a is not None and b <= a))
            tighter = tighter and (a is None or (b is not None and b >= a))
        elif key in _UPPER_BOUNDS:
            looser = looser and (b is None or (a is not None and b >= a))
            tighter = tighter and (a is None or (b is not None and b <= a))
        else:  # multipleOf, strictness, time zones, string transforms, model config: assume the worst
            looser = tighter = False
    return looser, tighter


def _walk(
    node: Mapping[str, Any], defs: Mapping[str, Any], *, prefix: str, seen: tuple[str, ...]
) -> Iterator[tuple[str, FieldShape]]:
    required = set(node.get("required", ()))
    for name, prop in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        shape, branches = _shape(prop, defs, required=name in required)
        yield path, shape
        yield from _children(path, branches, defs, seen)


def _children(
    path: str, branches: list[Mapping[str, Any]], defs: Mapping[str, Any], seen: tuple[str, ...]
) -> Iterator[tuple[str, FieldShape]]:
    if len(branches) > 1:  # a union (of models: a tagged union): one shape per path over every member
        members = [dict(_children(path, [branch], defs, seen)) for branch in branches]
        paths = list(dict.fromkeys(p for member in members for p in member))
        for child in paths:
            shapes = [member[child] for member in members if child in member]
            yield child, _merged(shapes, in_every_member=len(shapes) == len(members))
        return
    for branch in branches:
        ref = branch.get("$ref")
        if ref:
            if ref in seen:  # a recursive model: stop at the second visit
                continue
            target = _resolve(ref, defs)
            yield from _children(path, [target], defs, (*seen, ref))
        elif branch.get("type") == "object" and "properties" in branch:
            yield from _walk(branch, defs, prefix=f"{path}.", seen=seen)
        elif branch.get("type") == "array" and isinstance(branch.get("items"), Mapping):
            item_shape, item_branches = _shape(branch["items"], defs, required=True)
            yield f"{path}[]", item_shape
            yield from _children(f"{path}[]", item_branches, defs, seen)


def _merged(shapes: list[FieldShape], *, in_every_member: bool) -> FieldShape:
    """A field of a union's members: any member's type and values; required only if every member requires it;
    the constraints the members share."""
    types = sorted({t for shape in shapes for t in shape.type.split("|")})
    enums = [shape.enum for shape in shapes]
    shared = set(shapes[0].constraints).intersection(*(set(shape.constraints) for shape in shapes[1:]))
    return FieldShape(
        type="|".join(types),
        nullable=any(shape.nullable for shape in shapes),
        required=in_every_member and all(shape.required for shape in shapes),
        enum=None if any(e is None for e in enums) else tuple(sorted({v for e in enums for v in e or ()})),
        constraints=tuple(sorted(shared)),
    )


def _flat_branches(prop: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """A property's alternatives, nested ``anyOf`` flattened (``Optional[Decimal]``: ``anyOf`` of ``null`` and an
    ``anyOf`` holding ``maxDigits``), and the unions that hold them (their keywords apply to every alternative)."""
    alternatives = prop.get("anyOf") or prop.get("oneOf")
    if not alternatives:
        return [prop], []
    branches: list[Mapping[str, Any]] = []
    holders: list[Mapping[str, Any]] = [prop]
    for alternative in alternatives:
        inner, inner_holders = _flat_branches(alternative)
        branches.extend(inner)
        holders.extend(inner_holders)
    return branches, holders


def _shape(prop: Mapping[str, Any], defs: Mapping[str, Any], *, required: bool) -> tuple[FieldShape, list[Any]]:
    branches, holders = _flat_branches(prop)
    branches = [_resolve(b["$ref"], defs) | {"$ref": b["$ref"]} if "$ref" in b else b for b in branches]
    nullable = any(b.get("type") == "null" for b in branches)
    values = [b for b in branches if b.get("type") != "null"]
    types = sorted({_type_name(b) for b in values})
    enum: set[str] | None = None
    constraints: dict[str, Any] = {}
    for branch in values:
        if "enum" in branch or "const" in branch:
            allowed = branch.get("enum", [branch.get("const")])
            enum = (enum or set()) | {json.dumps(v, sort_keys=True) for v in allowed}
        for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS, *_OTHER_CONSTRAINTS):
            if key in branch:
                constraints[key] = branch[key]
    for holder in holders:  # a union's own keywords (a Decimal: number | string, with maxDigits)
        for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS, *_OTHER_CONSTRAINTS):
            if key in holder:
                constraints[key] = holder[key]
    shape = FieldShape(
        type="|".join(types) or "any",
        nullable=nullable,
        required=required,
        enum=tuple(sorted(enum)) if enum is not None else None,
        constraints=tuple(sorted(constraints.items())),
    )
    return shape, values


def _resolve(ref: str, defs: Mapping[str, Any]) -> dict[str, Any]:
    return dict(defs.get(ref.rsplit("/", 1)[-1], {}))


def _type_name(branch: Mapping[str, Any]) -> str:
    kind = branch.get("type", "any")
    if isinstance(kind, list):
        kind = "|".join(sorted(k for k in kind if k != "null"))
    fmt = branch.get("format")
    return f"{kind}:{fmt}" if fmt else str(kind)


def _short(shape: FieldShape) -> str:
    text = shape.type + (" | null" if shape.nullable else "")
    return text + (", required" if shape.required else ", optional")


def _nullable(shape: FieldShape) -> str:
    return "nullable" if shape.nullable else "not null"


def _required(shape: FieldShape) -> str:
    return "required" if shape.required else "optional"


def _enum(values: tuple[str, ...] | None) -> str:
    return "any value" if values is None else "{" + ", ".join(values) + "}"


def _constraints(shape: FieldShape) -> str:
    return ", ".join(f"{k}={v}" for k, v in shape.constraints) or "none"
