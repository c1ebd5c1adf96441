"""Tagged unions of models for the compiler: one struct of all the members' fields (:mod:`contracts.arrow`), each
member's fields written into the merged field's builders with that member's rules, the member chosen by its
``Literal`` tag (the decoder looks the tag up first, wherever it is in the object)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol, get_args, get_origin

import pyarrow as pa
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from contracts.fast.fallback import NotCompiled
from contracts.fast.rules import Rules
from contracts.fast.tree import Out

__all__ = ["TaggedUnions", "bare"]

_NONE = type(None)


class Compiling(Protocol):
    """What the union part uses of the compiler (:class:`contracts.fast.plan.Compiler`)."""

    outs: list[Out]

    def new(self, kind: str, arrow: pa.DataType, parent: Out | None) -> Out: ...

    def annotation(self, annotation: Any, metadata: list[Any], arrow: pa.DataType, parent: Out, path: str,
                   config: Any, *, discriminator: Any = None) -> dict[str, Any]: ...

    def keys(self, model: type[BaseModel], name: str, info: FieldInfo) -> list[str]: ...

    def field_refusal(self, model: type[BaseModel], name: str) -> str | None: ...

    def nested_refusal(self, model: type[BaseModel]) -> str | None: ...

    def default_of(self, model: type[BaseModel], name: str, info: FieldInfo, node: dict[str, Any],
                   arrow: pa.DataType) -> dict[str, Any]: ...

    def member_field(self, member: type[BaseModel], name: str, info: FieldInfo, merged: dict[str, Out], out: Out,
                     path: str) -> dict[str, Any]: ...


class TaggedUnions:
    """The compiler's part for tagged unions (a mixin of :class:`contracts.fast.plan.Compiler`)."""

    def union(self: Compiling, annotation: Any, discriminator: Any, rules: Rules, nullable: bool, arrow: pa.DataType,
              parent: Out, path: str) -> dict[str, Any]:
        """A union of models tagged by a ``Literal`` field, into one struct of all their fields (contracts.arrow):
        each member's fields write into the merged field's builder, with that member's rules."""
        if not isinstance(discriminator, str):
            raise NotCompiled("a union without a discriminator field (pydantic's smart mode picks the member)")
        members = [a for a in get_args(annotation) if a is not _NONE]
        if not all(isinstance(m, type) and issubclass(m, BaseModel) for m in members):
            raise NotCompiled("a tagged union of other things than models")
        rules.finish("union")
        out = self.new("struct", arrow, parent)
        merged: dict[str, Out] = {}
        variants = []
        tag_keys: list[str] | None = None
        for member in members:
            refusal = self.nested_refusal(member)
            if refusal:
                raise NotCompiled(refusal)
            info = member.model_fields.get(discriminator)
            if info is None or get_origin(bare(info.annotation)) is not Literal:
                raise NotCompiled(f"{member.__name__}.{discriminator} is not a Literal")
            keys = self.keys(member, discriminator, info)
            if tag_keys not in (None, keys):
                raise NotCompiled(f"the members name the discriminator {discriminator!r} differently")
            tag_keys = keys
            fields = [self.member_field(member, name, field_info, merged, out, f"{path}.{name}")
                      for name, field_info in member.model_fields.items()]
            variants.append((member, get_args(bare(info.annotation)), fields))
        specs = []
        for member, tags, fields in variants:
            absent = [o.builder for name, o in merged.items() if name not in member.model_fields]
            forbid = member.model_config.get("extra") == "forbid"
            for tag in tags:
                specs.append({"tag": tag, "fields": fields, "forbid_extra": forbid, "absent": absent})
        return {"kind": "union", "builder": out.builder, "nullable": nullable, "tag_keys": tag_keys,
                "variants": specs}

    def member_field(self: Compiling, member: type[BaseModel], name: str, info: FieldInfo, merged: dict[str, Out], out: Out,
                     path: str) -> dict[str, Any]:
        """One member's field: the first member to have it builds the merged field's builders; the others compile
        theirs aside, check the shape is the same and point their node at the existing builders."""
        refusal = self.field_refusal(member, name)
        if refusal:
            raise NotCompiled(refusal)
        arrow = out.arrow.field(name).type
        config = member.model_config
        if name not in merged:
            node = self.annotation(info.annotation, list(info.metadata), arrow, out, path, config,
                                   discriminator=info.discriminator)
            merged[name] = out.children[-1]
        else:
            mark = len(self.outs)
            holder = Out(-1, "struct", pa.struct([]), None)  # compiled aside: its builders are dropped below
            node = self.annotation(info.annotation, list(info.metadata), arrow, holder, path, config,
                                   discriminator=info.discriminator)
            built = holder.children[0]
            if not _same_shape(merged[name], built):
                raise NotCompiled(f"the members' {name!r} fields are not decoded alike")
            _retarget(node, built, merged[name])
            del self.outs[mark:]
        return {"keys": self.keys(member, name, info), "node": node, **self.default_of(member, name, info, node, arrow)}


def bare(annotation: Any) -> Any:
    """The type inside ``Annotated[...]``."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _same_shape(a: Out, b: Out) -> bool:
    return a.kind == b.kind and a.arrow.equals(b.arrow) and len(a.children) == len(b.children) and all(
        _same_shape(x, y) for x, y in zip(a.children, b.children)
    )


def _retarget(node: dict[str, Any], built: Out, child: Out) -> None:
    """Point a node tree compiled into ``built`` at the equally shaped existing ``child``."""
    mapping: dict[int, int] = {}

    def pair(x: Out, y: Out) -> None:
        mapping[x.builder] = y.builder
        for a, b in zip(x.children, y.children):
            pair(a, b)

    pair(built, child)

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key in ("builder", "entries", "keys"):
                if key in value and value[key] in mapping:
                    value[key] = mapping[value[key]]
            if "absent" in value:
                value["absent"] = [mapping.get(b, b) for b in value["absent"]]
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(node)
