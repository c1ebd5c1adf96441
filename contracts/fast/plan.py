"""Compiling a contract for the decoder: a tree of nodes (what each JSON value must be) and the builders it fills.

Every field gets one of three routes (:class:`Route`), recorded by its dotted path:

- ``columns``: decoded and checked by the native decoder (``contracts/native/``) straight into Arrow buffers;
- ``field``: decoded as raw JSON text and validated by pydantic per value (:mod:`contracts.fast.fallback`);
- ``row``: the whole contract goes per row (only model-level logic: see :func:`contracts.fast.rules.model_refusal`).

What compiles to ``columns`` (see ``contracts/README.md``): ``bool``, ``int``, ``float``, ``str``, ``bytes``,
``UUID`` (and UUID1..8), ``Decimal``, ``datetime`` (also ``AwareDatetime``/``NaiveDatetime``), ``date``, ``time``,
``Literal`` of strings or of ints, ``Enum`` of strings or of ints, optional (``T | None``), nested models, ``list``
and ``tuple[T, ...]``, ``dict[str, T]``, ``Any`` inside containers, unions of models tagged by a ``Literal``
discriminator; constraints ``gt``/``ge``/``lt``/``le``, ``multiple_of`` (int), ``min_length``/``max_length``,
``pattern``, ``max_digits``/``decimal_places``, ``strict``, ``strip_whitespace``/``to_lower``/``to_upper`` however
spelled (``Field``, ``Annotated``, ``StringConstraints``, ``con*``, annotated-types, the model's ``str_*`` config);
aliases, ``alias_generator``, ``populate_by_name``/``validate_by_name``; defaults and ``default_factory`` of
``list``/``dict``/``tuple``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import types
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pyarrow as pa
import pydantic
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from contracts.fast.fallback import FieldCheck, JsonText, NotCompiled, RawValue
from contracts.fast.rules import Rules, field_refusal, model_refusal, validation_keys
from contracts.fast.tree import Compiled, Out, Route, null_children
from contracts.fast.unions import TaggedUnions

__all__ = ["Compiled", "Compiler", "Out", "Route", "compile_fields"]

_NONE = type(None)
_PURE_FACTORIES = (list, dict, tuple)
_TEMPORAL: dict[Any, tuple[str, str]] = {  # annotation → (node kind, zone rule)
    dt.datetime: ("datetime", "any"), pydantic.AwareDatetime: ("datetime", "required"),
    pydantic.NaiveDatetime: ("datetime", "forbidden"), dt.date: ("date", ""), dt.time: ("time", ""),
}


def compile_fields(model: type[BaseModel], schema: pa.Schema, compiler: Compiler | None = None) -> Compiled:
    """The decoder's plan for a contract's fields (its computed fields are not in it).

    Raises:
        NotCompiled: a field the decoder cannot even take as raw text (an ``AliasPath``, clashing keys...).
    """
    compiler = compiler or Compiler()
    out = compiler.new("struct", pa.struct(list(schema)), None)
    root = compiler.model(model, out, "")
    return Compiled(root, out, [(o.kind, null_children(o)) for o in compiler.outs], compiler.outs,
                    compiler.routes)


class Compiler(TaggedUnions):
    """Compiles a contract's fields into the decoder's nodes and builders (see :func:`compile_fields`)."""

    def __init__(self) -> None:
        self.outs: list[Out] = []
        self.routes: dict[str, Route] = {}
        self.open: list[type[BaseModel]] = []  # the models being compiled, outermost first

    def new(self, kind: str, arrow: pa.DataType, parent: Out | None) -> Out:
        out = Out(len(self.outs), kind, arrow, parent)
        self.outs.append(out)
        if parent is not None:
            parent.children.append(out)
        return out

    # -- models ----------------------------------------------------------------------------------------------------

    def model(self, model: type[BaseModel], out: Out, path: str) -> dict[str, Any]:
        """A model's object into the struct ``out`` (whose Arrow type lists the model's fields)."""
        if model in self.open:
            raise NotCompiled(f"{model.__name__} contains itself")
        self.open.append(model)
        try:
            return self._model(model, out, path)
        finally:
            self.open.pop()

    def _model(self, model: type[BaseModel], out: Out, path: str) -> dict[str, Any]:
        config = model.model_config
        keys_seen: set[str] = set()
        fields = []
        for name, info in model.model_fields.items():
            keys = self.keys(model, name, info)
            if keys_seen.intersection(keys):
                raise NotCompiled(f"{model.__name__}.{name}: its key {sorted(keys_seen & set(keys))} names two fields")
            keys_seen.update(keys)
            arrow = out.arrow.field(name).type
            fields.append(self.field(model, name, info, keys, arrow, out, f"{path}{name}", config))
        fields += self.more_fields(model, out, path)
        extra = config.get("extra")
        if extra == "allow":
            raise NotCompiled(f"{model.__name__}: extra='allow' keeps undeclared keys in the model")
        return {"kind": "struct", "builder": out.builder, "fields": fields, "forbid_extra": extra == "forbid"}

    # -- what the dumped-row compiler (contracts.fast.redecode) does otherwise ---------------------------------------

    def keys(self, model: type[BaseModel], name: str, info: FieldInfo) -> list[str]:
        """The JSON keys a field is read from."""
        return validation_keys(model, name, info)

    def field_refusal(self, model: type[BaseModel], name: str) -> str | None:
        """Why a field must be validated by pydantic per value."""
        return field_refusal(model, name)

    def more_fields(self, model: type[BaseModel], out: Out, path: str) -> list[dict[str, Any]]:
        """Fields besides the model's own (none: computed fields are not in an event)."""
        return []

    def rules(self, metadata: list[Any], path: str) -> Rules:
        """A field's constraints."""
        return Rules(metadata, path)

    def nested_refusal(self, model: type[BaseModel]) -> str | None:
        """Why a nested model cannot be decoded natively."""
        return model_refusal(model)

    def fallback(self, model: type[BaseModel], name: str, reason: str) -> RawValue:
        """How a field the decoder cannot read is validated per value."""
        return FieldCheck(model, name)

    def default_of(self, model: type[BaseModel], name: str, info: FieldInfo, node: dict[str, Any],
                   arrow: pa.DataType) -> dict[str, Any]:
        """The field spec's ``default`` entry (none when required)."""
        return {} if info.is_required() else {"default": self.default(model, name, info, node, arrow)}

    def field(
        self, model: type[BaseModel], name: str, info: FieldInfo, keys: list[str], arrow: pa.DataType, parent: Out,
        path: str, config: Any,
    ) -> dict[str, Any]:
        mark = len(self.outs), len(parent.children)
        try:
            refusal = self.field_refusal(model, name)
            if refusal:
                raise NotCompiled(refusal)
            node = self.annotation(info.annotation, list(info.metadata), arrow, parent, path, config,
                                   discriminator=info.discriminator)
            spec = {"keys": keys, "node": node, **self.default_of(model, name, info, node, arrow)}
            self.routes.setdefault(path, Route("columns"))
            return spec
        except NotCompiled as exc:
            del self.outs[mark[0]:]
            del parent.children[mark[1]:]
            for nested in [p for p in self.routes if p.startswith(f"{path}.")]:
                del self.routes[nested]
            self.routes[path] = Route("field", str(exc))
            out = self.new("raw", arrow, parent)
            out.raw = self.fallback(model, name, str(exc))
            return {"keys": keys, "node": {"kind": "raw", "builder": out.builder}, "default": None}

    def default(self, model: type[BaseModel], name: str, info: FieldInfo, node: dict[str, Any],
                arrow: pa.DataType) -> Any:
        """The landed default in the builder's physical type (pydantic computes it: validators, factories)."""
        if info.default_factory is not None and info.default_factory not in _PURE_FACTORIES:
            raise NotCompiled(f"default_factory {getattr(info.default_factory, '__name__', info.default_factory)!r} "
                              "is called per event")
        landed = FieldCheck(model, name)(None)
        if landed is None:
            return None
        if node["kind"] in ("list", "map"):
            if len(landed):
                raise NotCompiled("a default that is not empty")
            return []
        if node["kind"] in ("struct", "union"):
            raise NotCompiled("a default of a model")
        try:
            return _physical(pa.array([landed], arrow), node["kind"])
        except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
            raise NotCompiled(f"default {landed!r} does not fit its column ({exc})") from None

    # -- annotations -----------------------------------------------------------------------------------------------

    def annotation(
        self, annotation: Any, metadata: list[Any], arrow: pa.DataType, parent: Out, path: str, config: Any,
        *, discriminator: Any = None,
    ) -> dict[str, Any]:
        nullable = False
        while True:
            origin = get_origin(annotation)
            if origin is Annotated:
                annotation, *extra = get_args(annotation)
                for item in extra:
                    if isinstance(item, FieldInfo):
                        metadata.extend(item.metadata)
                        discriminator = item.discriminator or discriminator
                    elif isinstance(item, pydantic.Discriminator):
                        discriminator = item.discriminator
                    else:
                        metadata.append(item)
            elif origin in (Union, types.UnionType) and _NONE in get_args(annotation):
                members = [a for a in get_args(annotation) if a is not _NONE]
                nullable = True
                annotation = members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007
            else:
                break
        rules = self.rules(metadata, path)
        if discriminator is not None or get_origin(annotation) in (Union, types.UnionType):
            return self.union(annotation, discriminator, rules, nullable, arrow, parent, path)
        node = self.shape(annotation, rules, arrow, parent, path, config)
        node["nullable"] = nullable
        rules.finish(node["kind"])
        return node

    def shape(self, annotation: Any, rules: Rules, arrow: pa.DataType, parent: Out, path: str,
              config: Any) -> dict[str, Any]:
        origin = get_origin(annotation)
        if annotation is Any:
            raise NotCompiled("Any as a field: its default")
        if origin in (list, tuple, Sequence) or (origin is None and annotation in (list, tuple)):
            args = [a for a in get_args(annotation) if a is not Ellipsis]
            if origin is tuple and (len(get_args(annotation)) != 2 or get_args(annotation)[1] is not Ellipsis):
                raise NotCompiled("a tuple of fixed length")
            if not args:
                raise NotCompiled("a list without an item type")
            out = self.new("offsets", arrow, parent)
            item = self.item(args[0], arrow.value_type, out, f"{path}.[]", config)
            return {"kind": "list", "builder": out.builder, "item": item, **rules.length()}
        if origin is dict:
            key, value = get_args(annotation)
            if key is not str:
                raise NotCompiled(f"a dict whose keys are {key}")
            out = self.new("offsets", arrow, parent)
            entries = self.new("struct", pa.struct([arrow.key_field, arrow.item_field]), out)
            keys = self.new("binary", pa.string(), entries)
            item = self.item(value, arrow.item_type, entries, f"{path}.{{}}", config)
            # a key is a str to pydantic: the model's str_* config strips, bounds and cases it too
            key_rule = self.rules([], f"{path}.[key]").text(config)
            return {"kind": "map", "builder": out.builder, "entries": entries.builder, "keys": keys.builder,
                    "key": key_rule, "value": item, **rules.length()}
        if origin in (set, frozenset) or annotation in (set, frozenset):
            raise NotCompiled("a set: its dumped order is not the event's")
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            refusal = self.nested_refusal(annotation)
            if refusal:
                raise NotCompiled(refusal)
            out = self.new("struct", arrow, parent)
            return self.model(annotation, out, f"{path}.")
        return self.scalar(annotation, rules, arrow, parent, config)

    def item(self, annotation: Any, arrow: pa.DataType, parent: Out, path: str, config: Any) -> dict[str, Any]:
        """A list's item or a dict's value; ``Any`` there is raw JSON kept as JSON text."""
        bare = get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
        if bare is Any:
            out = self.new("raw", arrow, parent)
            out.raw = JsonText()
            return {"kind": "raw", "builder": out.builder}
        return self.annotation(annotation, [], arrow, parent, path, config)

    def scalar(self, annotation: Any, rules: Rules, arrow: pa.DataType, parent: Out, config: Any) -> dict[str, Any]:
        literals = None
        if get_origin(annotation) is Literal:
            literals = list(get_args(annotation))
            kinds = {type(v) for v in literals}
            if kinds not in ({str}, {int}):
                raise NotCompiled(f"a Literal of {sorted(k.__name__ for k in kinds)}")
            annotation = kinds.pop()
        elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            values = [member.value for member in annotation]
            kinds = {type(v) for v in values}
            if kinds == {str} and issubclass(annotation, str) or kinds == {int} and issubclass(annotation, int):
                literals, annotation = values, kinds.pop()
            else:
                raise NotCompiled(f"an Enum of {sorted(k.__name__ for k in kinds)} values")
        if annotation is bool:
            return {"kind": "bool", "builder": self.new("bool", arrow, parent).builder}
        if annotation is int:
            if literals is not None and any(not -(2**63) <= v < 2**63 for v in literals):
                raise NotCompiled("a Literal or IntEnum value beyond int64")
            return {"kind": "int", "builder": self.new("i64", arrow, parent).builder, "literals": literals,
                    **rules.bounds(int)}
        if annotation is float:
            return {"kind": "float", "builder": self.new("f64", arrow, parent).builder, **rules.bounds(float)}
        if annotation is str:
            spec = {"kind": "str", "builder": self.new("binary", arrow, parent).builder, "literals": literals}
            if literals is None:
                spec.update(rules.text(config))
            return spec
        if annotation is bytes:
            if config.get("val_json_bytes", "utf8") != "utf8":
                raise NotCompiled(f"bytes read as {config.get('val_json_bytes')}")
            return {"kind": "bytes", "builder": self.new("binary", arrow, parent).builder, **rules.length()}
        if annotation is uuid.UUID:
            return {"kind": "uuid", "builder": self.new("binary", arrow, parent).builder, "version": rules.uuid()}
        if annotation is decimal.Decimal:
            return {"kind": "decimal", "builder": self.new("i128", arrow, parent).builder, **rules.decimal()}
        if annotation in _TEMPORAL:
            kind, zone = _TEMPORAL[annotation]
            builder = "i32" if kind == "date" else "i64"
            return {"kind": kind, "builder": self.new(builder, arrow, parent).builder, "zone": zone}
        raise NotCompiled(f"{getattr(annotation, '__name__', annotation)} is not decoded natively")


def _physical(array: pa.Array, kind: str) -> Any:
    """A one-value Arrow array's value as its builder stores it (see ``contracts/native/src/spec.rs``)."""
    if kind in ("datetime", "time"):
        return array.cast(pa.int64())[0].as_py()
    if kind == "date":
        return array.cast(pa.int32())[0].as_py()
    if kind == "decimal":
        return int(array[0].as_py().scaleb(9))
    value = array[0].as_py()
    if kind in ("str", "uuid"):
        return value.encode()
    return value
