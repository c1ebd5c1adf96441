"""What a misspelt config key is told: the keys allowed where it stands, and the nearest one.

pydantic says ``Extra inputs are not permitted`` about ``bacth:``; a newcomer needs ``did you mean 'batch'?``. The
allowed keys are read from the config models along the error's location (through unions, their ``type`` tags, and
the values of mappings and lists), so the hint never names a key of another section.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = ["missing_tag_message", "unknown_key_message"]


def unknown_key_message(root: type[BaseModel], loc: Sequence[int | str]) -> str:
    """The message for an unknown key at ``loc`` (pydantic's error location, the key last), e.g. ``unknown key;
    did you mean 'batch'?`` or ``unknown key; known here: path, consumer_group``."""
    known = _keys_at(root, loc[:-1])
    if not known:
        return "unknown key"
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; known here: {', '.join(known)}"


def missing_tag_message(root: type[BaseModel], loc: Sequence[int | str]) -> str:
    """The message for a section at ``loc`` without the ``type`` that says which kind it is (pydantic: "Unable to
    extract tag using discriminator"), e.g. ``type is missing: one of kafka, file, http``."""
    models = [m for t in _types_at(root, loc) for m in _members(t) if isinstance(m, type) and issubclass(m, BaseModel)]
    tags = [str(tag) for model in models for tag in _tags(model)]
    return f"type is missing: one of {', '.join(tags)}" if tags else "type is missing"


def _keys_at(root: type[BaseModel], path: Sequence[int | str]) -> list[str]:
    keys = {
        name
        for member in (m for t in _types_at(root, path) for m in _members(t))
        if isinstance(member, type) and issubclass(member, BaseModel)
        for name, field in member.model_fields.items()
        if not field.exclude
    }
    return sorted(keys)


def _types_at(root: type[BaseModel], path: Sequence[int | str]) -> list[Any]:
    """The annotations a value at ``path`` may have (unions not yet flattened)."""
    current: list[Any] = [root]
    for part in path:
        following: list[Any] = []
        for member in (m for t in current for m in _members(t)):
            if isinstance(member, type) and issubclass(member, BaseModel):
                if isinstance(part, str) and part in member.model_fields:
                    following.append(member.model_fields[part].annotation)
                elif part in _tags(member):  # a discriminated union's member, named by its `type`
                    following.append(member)
            elif get_origin(member) is dict:
                following.append(get_args(member)[1])
            elif get_origin(member) in (list, tuple) and get_args(member):
                following.append(get_args(member)[0])
        current = following
    return current


def _members(annotation: Any) -> list[Any]:
    """The types an annotation allows: ``Annotated`` unwrapped, unions flattened."""
    if get_origin(annotation) is Annotated:
        return _members(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [annotation]


def _tags(model: type[BaseModel]) -> tuple[Any, ...]:
    field = model.model_fields.get("type")
    if field is None or get_origin(field.annotation) is not Literal:
        return ()
    return get_args(field.annotation)
