"""The per-row path's accepted events into Arrow through the decoder: pydantic dumps each model to JSON, the decoder
reads the dumps along the contract's *dumped* shape.

``model_dump`` and ``Table.from_pylist`` — what a hand-written loop does — are most of the per-row path's cost on
nested events: a Python dict per model and a list per list, then Arrow's conversion of each value. pydantic's JSON
dump is one call into Rust, and the decoder reads it without a Python object per value. The dumped shape is the
contract's with the field names as keys, the computed fields included, and no constraint (the values are pydantic's
own, validated); UUIDs, URLs, IP addresses and e-mail addresses are read as the text they dump to, which is how they
land (:mod:`contracts.dumps`). A dump the decoder does not read as it is (an integer beyond int64; a decimal its
column cannot hold; a time with a zone...) lands the Python way, with the same checks. So does one with a ``null``
where pydantic may have dumped a ``NaN`` or an infinity as ``null`` (its default ``ser_json_inf_nan``): a float, or
anywhere inside an ``Any``.

Contracts whose JSON dump is not their Python dump in other ways than these (serializers, ``ser_json_*`` config,
``serialize_by_alias``, unions pydantic picks a member of by itself) keep ``model_dump`` for every event.
"""

from __future__ import annotations

import enum
import weakref
from typing import Any

import pyarrow as pa
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.functional_serializers import PlainSerializer, WrapSerializer

from contracts import _native
from contracts.arrow import contract_arrow_schema
from contracts.dumps import _TEXT_TYPES, _URL_TYPES  # noqa: PLC2701 - the types that land as their text
from contracts.fast.columns import decode_table
from contracts.fast.fallback import JsonText, NotCompiled, RawValue
from contracts.fast.plan import Compiler, compile_fields
from contracts.fast.rules import Rules
from contracts.fast.tree import Compiled, Out

__all__ = ["Redecoder", "redecoder"]

_JSON_DEFAULTS = {"ser_json_timedelta": "iso8601", "ser_json_bytes": "utf8", "ser_json_inf_nan": "null",
                  "ser_json_temporal": "iso8601"}


class Redecoder:
    """A contract's dumped shape compiled for the decoder. Build with :func:`redecoder`."""

    def __init__(self, contract: type[BaseModel], compiled: Compiled) -> None:
        self.schema = contract_arrow_schema(contract)
        self._compiled = compiled
        self._decoder = _native.Decoder(compiled.root, compiled.builders)
        self._dump = contract.__pydantic_serializer__.to_json

    def dump(self, model: BaseModel) -> bytes:
        """The model as pydantic dumps it to JSON (what :meth:`decode` reads)."""
        return self._dump(model)  # type: ignore[no-any-return]

    def decode(self, dumps: list[bytes]) -> tuple[pa.Table, list[int]]:
        """The dumps as rows of the contract's schema (in order), and the positions of those to land the Python
        way (ascending)."""
        decoded = decode_table(self._decoder, self._compiled.out, self.schema, dumps)  # type: ignore[arg-type]
        return decoded.table, decoded.rest.tolist()


_REDECODERS: weakref.WeakKeyDictionary[type, Redecoder | None] = weakref.WeakKeyDictionary()


def redecoder(contract: type[BaseModel]) -> Redecoder | None:
    """The contract's :class:`Redecoder`, or ``None`` when its JSON dump cannot stand for its Python dump (cached)."""
    if contract not in _REDECODERS:
        try:
            refusal = _refusal(contract)
            if refusal is not None:
                raise NotCompiled(refusal)
            compiled = compile_fields(contract, contract_arrow_schema(contract), _DumpCompiler())
            _REDECODERS[contract] = Redecoder(contract, compiled)
        except NotCompiled:
            _REDECODERS[contract] = None
    return _REDECODERS[contract]


def _refusal(model: type[BaseModel]) -> str | None:
    decorators = model.__pydantic_decorators__
    if decorators.model_serializers or decorators.field_serializers:
        return "a serializer"
    config = model.model_config
    if config.get("serialize_by_alias") or config.get("json_encoders"):
        return "serialize_by_alias or json_encoders"
    for key, default in _JSON_DEFAULTS.items():
        if config.get(key, default) != default:
            return f"{key}={config[key]!r}"
    return None


class _DumpedAny(JsonText):
    """An ``Any`` in a dump: its JSON text, unless a ``null`` in it may stand for a ``NaN`` (the Python way tells)."""

    def __call__(self, raw: bytes | None) -> Any:
        if raw is None or b"null" in raw:
            raise NotCompiled("a null in a dumped Any may be a NaN")
        return super().__call__(raw)


class _DumpCompiler(Compiler):
    """The dumped shape: field names as keys, computed fields too, every key present, no constraint."""

    def keys(self, model: type[BaseModel], name: str, info: FieldInfo) -> list[str]:
        return [name]

    def field_refusal(self, model: type[BaseModel], name: str) -> str | None:
        return None

    def more_fields(self, model: type[BaseModel], out: Out, path: str) -> list[dict[str, Any]]:
        fields = []
        for name, info in model.model_computed_fields.items():
            node = self.annotation(info.return_type, [], out.arrow.field(name).type, out, f"{path}{name}",
                                   model.model_config)
            fields.append({"keys": [name], "node": node})
        return fields

    def rules(self, metadata: list[Any], path: str) -> Rules:
        if any(isinstance(item, PlainSerializer | WrapSerializer) for item in metadata):
            raise NotCompiled(f"{path}: a serializer")
        return Rules([], path)

    def nested_refusal(self, model: type[BaseModel]) -> str | None:
        return _refusal(model)

    def fallback(self, model: type[BaseModel], name: str, reason: str) -> RawValue:
        raise NotCompiled(f"{model.__name__}.{name}: {reason}")

    def default_of(self, model: type[BaseModel], name: str, info: FieldInfo, node: dict[str, Any],
                   arrow: pa.DataType) -> dict[str, Any]:
        return {"default": None} if info.exclude else {}  # an excluded field is not in the dump: it lands null

    def annotation(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        node = super().annotation(*args, **kwargs)
        if node["kind"] == "float":
            node["nullable"] = False  # a null may have been a NaN: the Python way tells
        return node

    def shape(self, annotation: Any, rules: Rules, arrow: pa.DataType, parent: Out, path: str,
              config: Any) -> dict[str, Any]:
        # the dump holds pydantic's final strings: the model's str_* config (strip, case, lengths) was applied where
        # it applies, and not where it does not (enums, a field's own to_lower=False, a validator's result)
        config = {key: value for key, value in config.items() if not key.startswith("str_")}
        if annotation is Any:
            out = self.new("raw", arrow, parent)
            out.raw = _DumpedAny()
            return {"kind": "raw", "builder": out.builder}
        return super().shape(annotation, rules, arrow, parent, path, config)

    def item(self, annotation: Any, arrow: pa.DataType, parent: Out, path: str, config: Any) -> dict[str, Any]:
        node = super().item(annotation, arrow, parent, path, config)
        if node["kind"] == "raw":
            self.outs[node["builder"]].raw = _DumpedAny()
        return node

    def scalar(self, annotation: Any, rules: Rules, arrow: pa.DataType, parent: Out, config: Any) -> dict[str, Any]:
        text = (isinstance(annotation, type) and issubclass(annotation, (*_TEXT_TYPES, *_URL_TYPES))) or getattr(
            annotation, "__name__", None) in ("EmailStr", "NameEmail", "UUID")
        if text:
            return {"kind": "str", "builder": self.new("binary", arrow, parent).builder}
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            kinds = {type(member.value) for member in annotation}
            if kinds in ({str}, {int}):
                annotation = kinds.pop()  # the dump holds the value; no need to check it again
        node = super().scalar(annotation, rules, arrow, parent, config)
        node.pop("literals", None)
        if node["kind"] == "datetime":
            node["zone"] = "any"
        return node
