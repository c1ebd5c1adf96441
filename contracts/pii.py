"""PII policy: what happens to tagged values before they land, in the table and in quarantine.

Per tag (``Tag("email")`` on a field), one action:

- ``keep``: as sent (the default);
- ``hash``: keyed SHA-256 (HMAC-SHA256 with a secret; hex digest), stable for joins, not reversible without the key.
  The column becomes a string column;
- ``mask``: text keeps its shape but not its content: an email keeps its first character and domain
  (``j***@example.com``), other text its last four characters (``*******1234``); text fields only;
- ``drop``: the value never lands; the column is not in the table.

A field with several tags takes the strictest action (drop > hash > mask > keep). The contract declares actions with
``pii={"email": "hash"}``; the pipeline config's ``pii.actions`` fills the tags the contract leaves unset.

The same policy redacts quarantine rows: the raw payload is parsed, redacted and re-serialised, and removed values are
redacted too. A payload that is not a JSON object cannot be redacted by field; :meth:`PiiPolicy.redact_payload` then
returns ``None`` unless ``keep_unparseable`` (the caller records that it was withheld).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import pyarrow as pa

from contracts.declare import Contract
from contracts.errors import ContractDeclarationError

__all__ = ["PiiAction", "PII_ACTIONS", "PiiPolicy", "field_actions", "mask_text"]

PiiAction = Literal["keep", "hash", "mask", "drop"]
PII_ACTIONS: tuple[str, ...] = get_args(PiiAction)
_STRICTNESS = {"keep": 0, "mask": 1, "hash": 2, "drop": 3}


def mask_text(value: str) -> str:
    """``j***@example.com`` for an email; the last four characters kept for other text."""
    local, at, domain = value.partition("@")
    if at and local:
        return local[0] + "***@" + domain
    keep = 4 if len(value) > 8 else 0
    return "*" * (len(value) - keep) + value[len(value) - keep :]


def field_actions(contract: type[Contract], config_actions: Mapping[str, str] | None = None) -> dict[str, PiiAction]:
    """The action on every tagged field of ``contract`` (dotted path → action, ``keep`` included): per tag, the
    contract's own ``pii=`` over ``config_actions``; a field with several tags takes the strictest.

    Raises:
        ContractDeclarationError: an unknown action.
    """
    info = contract.__contract__
    per_tag: dict[str, str] = {**dict(config_actions or {}), **info.pii}
    for tag, action in per_tag.items():
        if action not in PII_ACTIONS:
            raise ContractDeclarationError(
                f"unknown PII action {action!r} for tag {tag!r}; expected one of {', '.join(PII_ACTIONS)}"
            )
    return {
        path: max((per_tag.get(t, "keep") for t in tags), key=_STRICTNESS.__getitem__)  # type: ignore[misc]
        for path, tags in info.tags.items()
    }


@dataclass(frozen=True, slots=True)
class PiiPolicy:
    """The actions in force for one contract: dotted field path → action (only fields that are not kept); from
    :meth:`for_contract`, also each spelling of the path an event may use (a field's aliases), for raw events.

    Build with :meth:`for_contract`. Applying it needs the secret only when some action is ``hash``.

    Attributes:
        actions: for raw events (payloads, removed values): dotted path as an event may spell it → action.
        columns: for the table (columns and struct fields, named by field name): dotted field path → action;
            ``None``: ``actions``. Kept apart because an alias may spell another field's name (``user_email``
            sent as ``email`` beside an untagged field named ``email``): that column is not the tagged field's.
    """

    actions: dict[str, PiiAction] = field(default_factory=dict)
    secret: bytes | None = field(default=None, repr=False)
    keep_unparseable: bool = False
    columns: dict[str, PiiAction] | None = None

    @classmethod
    def for_contract(
        cls,
        contract: type[Contract],
        config_actions: Mapping[str, str] | None = None,
        *,
        secret: bytes | None = None,
        keep_unparseable: bool = False,
    ) -> PiiPolicy:
        """The policy for ``contract``: its own ``pii=`` actions per tag over ``config_actions``.

        Raises:
            ContractDeclarationError: an unknown action, ``mask`` on a field that is not text, or ``hash`` without
                a secret.
        """
        info = contract.__contract__
        actions = {path: action for path, action in field_actions(contract, config_actions).items() if action != "keep"}
        if "hash" in actions.values() and not secret:
            raise ContractDeclarationError(
                f"contract {info.name!r} hashes {', '.join(p for p, a in actions.items() if a == 'hash')}: a secret is "
                "needed (pii.secret in the pipeline config, or STREAMPROC_PII_SECRET)"
            )
        # A raw event (a quarantine payload, removed values) spells fields as sent: by their aliases too.
        spelled = {s: action for path, action in actions.items() for s in info.input_paths.get(path, ())}
        policy = cls({**spelled, **actions}, secret, keep_unparseable, columns=actions)
        from contracts.arrow import contract_arrow_schema  # a cycle at import time otherwise

        policy.redact_schema(contract_arrow_schema(contract))  # mask on a non-text field fails here
        return policy

    @property
    def active(self) -> bool:
        return bool(self.actions)

    @property
    def column_actions(self) -> dict[str, PiiAction]:
        """Dotted field path → action, for the table's columns (see :attr:`columns`)."""
        return self.actions if self.columns is None else self.columns

    def only(self, *kept: PiiAction) -> PiiPolicy:
        """The same policy restricted to the ``kept`` actions (e.g. ``only("drop")``), for events and columns."""
        columns = None if self.columns is None else {p: a for p, a in self.columns.items() if a in kept}
        actions = {p: a for p, a in self.actions.items() if a in kept}
        return PiiPolicy(actions, self.secret, self.keep_unparseable, columns=columns)

    def redact_schema(self, schema: pa.Schema) -> pa.Schema:
        """The table schema under the policy: dropped fields removed, hashed ones as strings.

        Raises:
            ContractDeclarationError: ``mask`` on a field that is not text.
        """
        fields = []
        for f in schema:
            redacted = self._redact_field(f, f.name)
            if redacted is not None:
                fields.append(redacted)
        return pa.schema(fields, metadata=schema.metadata)

    def redact_table(self, table: pa.Table) -> pa.Table:
        """Apply the policy to rows (any of the table's columns may be affected, nested ones too)."""
        actions = self.column_actions
        if not actions:
            return table
        tops = {path.split(".", 1)[0] for path in actions}
        columns, fields = [], []
        for f, column in zip(table.schema, table.columns, strict=True):
            if f.name not in tops and _variant_of(f) not in actions:
                columns.append(column)
                fields.append(f)
                continue
            new_field = self._redact_field(f, f.name)
            if new_field is None:
                continue
            redacted = (self._redact_value(v, _variant_of(f) or f.name, actions) for v in column.to_pylist())
            values = [None if v is _DROP else v for v in redacted]
            columns.append(pa.array(values, type=new_field.type))
            fields.append(new_field)
        return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))

    def redact_document(self, document: dict[str, Any]) -> dict[str, Any]:
        """A copy of a JSON object (an event, removed values) with the policy applied by field path."""
        if not self.actions:
            return document
        redacted = ((k, self._redact_value(v, k, self.actions)) for k, v in document.items())
        return {k: v for k, v in redacted if v is not _DROP}

    def redact_payload(self, payload: bytes | None) -> bytes | None:
        """A raw event with the policy applied (re-serialised as JSON); ``None`` when it is not a JSON object and
        cannot be redacted by field (unless ``keep_unparseable``)."""
        if not self.actions or payload is None:
            return payload
        try:
            document = json.loads(payload)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            return payload if self.keep_unparseable else None
        return json.dumps(self.redact_document(document), ensure_ascii=False).encode()

    def _redact_field(self, f: pa.Field, path: str) -> pa.Field | None:
        action = self.column_actions.get(_variant_of(f) or path)
        if action == "drop":
            return None
        if action == "hash":
            return pa.field(f.name, pa.string(), nullable=f.nullable, metadata=f.metadata)
        if action == "mask" and _variant_of(f):
            return f.with_nullable(True)  # a variant of a masked text field: values that are not text are dropped
        if action == "mask":
            if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)):
                raise ContractDeclarationError(f"PII action mask applies to text; {path!r} is {f.type}: use hash or drop")
            return f
        inner = f.type
        if pa.types.is_struct(inner):
            children = [c for c in (self._redact_field(child, f"{path}.{child.name}") for child in inner) if c]
            return pa.field(f.name, pa.struct(children), nullable=f.nullable, metadata=f.metadata)
        if pa.types.is_list(inner) and pa.types.is_struct(inner.value_type):
            item = self._redact_field(inner.value_field, path)
            assert item is not None  # noqa: S101 - a list item path is the list's own path, never dropped itself
            return pa.field(f.name, pa.list_(item), nullable=f.nullable, metadata=f.metadata)
        return f

    def _redact_value(self, value: Any, path: str, actions: Mapping[str, PiiAction]) -> Any:
        if value is None:
            return None
        action = actions.get(path)
        if action is not None:
            return _ACTIONS[action](self, value)
        if isinstance(value, dict):
            redacted = ((k, self._redact_value(v, f"{path}.{k}", actions)) for k, v in value.items())
            return {k: v for k, v in redacted if v is not _DROP}
        if isinstance(value, list):
            return [self._redact_value(item, path, actions) for item in value]
        return value

    def _hash(self, value: Any) -> str:
        if self.secret is None:  # for_contract refuses this; a hand-built policy may not
            raise ContractDeclarationError("PII action hash needs a secret")
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()


def _variant_of(f: pa.Field) -> str | None:
    """The field a variant column (``evolve``) holds values of: the same policy applies to it."""
    value = (f.metadata or {}).get(b"streamproc.variant_of")
    return value.decode() if value else None


_DROP = object()
_ACTIONS: dict[str, Callable[[PiiPolicy, Any], Any]] = {
    "drop": lambda _policy, _value: _DROP,
    "hash": PiiPolicy._hash,
    "mask": lambda _policy, value: mask_text(value) if isinstance(value, str) else _DROP,
    "keep": lambda _policy, value: value,
}
