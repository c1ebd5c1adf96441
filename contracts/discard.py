"""``discard_value`` on one event: which values to remove, as deep in it as the contract allows.

Each violation's value is removed where it is (``address.zip``: the key omitted, so the field's default applies), or,
when the model still refuses the event (a required nested field), the value holding it, up to the top-level field. A
value inside a list removes the list field. Violations are located by pydantic's locs, which spell fields as the event
does (aliases) and carry the tags of tagged unions (``data.closed.reason``); the event tells a tag from a key.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["discard_values", "field_loc"]


def discard_values(
    document: dict[str, Any], locs: list[tuple[int | str, ...]], model: type[BaseModel]
) -> tuple[BaseModel, dict[str, Any]] | None:
    """Remove the values at the violations' ``locs`` from ``document`` (a parsed event) until ``model`` accepts it.

    Returns:
        The model of the event without them and the removed values, nested as the event spells them
        (``{"address": {"zip": 7}}``); ``None`` if even the top-level values cannot go (the row is then discarded).
    """
    targets = {_document_path(document, loc) for loc in locs}
    while targets and all(targets):
        # a target under another one goes with it
        targets = {t for t in targets if not any(t[: len(o)] == o and o != t for o in targets)}
        kept = _without(document, targets)
        try:
            return model.model_validate(kept), _removed(document, targets)
        except ValidationError as exc:
            failing = [_document_path(document, error["loc"]) for error in exc.errors(include_url=False)]
        climbing = {t for t in targets if any(f[: len(t)] == t for f in failing)}
        if not climbing or any(not any(f[: len(t)] == t for t in targets) for f in failing):
            return None  # a violation that is no removed value's: nothing more to remove
        targets = (targets - climbing) | {t[:-1] for t in climbing}
    return None


def field_loc(document: Any, loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """A violation's loc without the union tags pydantic puts in it (``data.b.reason`` → ``data.reason``), found
    by walking the event: a tag is a part that is not a key of the object there (a missing key is the last part)."""
    kept: list[int | str] = []
    node: Any = document
    for depth, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part not in node and depth < len(loc) - 1:
            continue  # a union tag
        kept.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(kept)


def _document_path(document: dict[str, Any], loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """Where a violation's value is in the event: its loc's keys (as the event spells them), without the union tags
    pydantic adds (``data.user.created.name`` → ``data.name``) and ending before a list element (its list field is
    the value to remove). A missing key ends the path."""
    path: list[str] = []
    node: Any = document
    for depth, part in enumerate(loc):
        if not isinstance(node, dict):
            break
        if isinstance(part, str) and part in node:
            path.append(part)
            node = node[part]
        elif depth == len(loc) - 1 and isinstance(part, str):
            path.append(part)  # a missing key
        # else: a union tag (or a validator's name) pydantic put in the loc; the value is the node's own
    return tuple(path)


def _without(document: dict[str, Any], paths: set[tuple[str, ...]]) -> dict[str, Any]:
    """A copy of ``document`` without the keys at ``paths`` (only the objects on the paths are copied)."""
    out = dict(document)
    for path in paths:
        node = out
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                break
            node[key] = node = dict(child)
        else:
            node.pop(path[-1], None)
    return out


def _removed(document: dict[str, Any], paths: set[tuple[str, ...]]) -> dict[str, Any]:
    """The values at ``paths``, nested as in ``document`` (a missing key contributes nothing)."""
    removed: dict[str, Any] = {}
    for path in sorted(paths):
        node: Any = document
        for key in path:
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            into = removed
            for key in path[:-1]:
                into = into.setdefault(key, {})
            into[path[-1]] = node
    return removed
