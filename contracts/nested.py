"""Closing nested models, so that the ``columns`` mode applies inside them too (as dlt does recursively).

A plain ``pydantic.BaseModel`` ignores undeclared keys by default: an undeclared key inside a nested object would be
dropped silently, which a contract must never do. When a contract is declared, every nested model that does not
set ``extra`` itself is replaced by a subclass with ``extra="forbid"``, so such a key becomes an ``extra_forbidden``
violation of the ``columns`` entity, judged by the contract's (or the field's) mode.

A nested model that sets ``extra`` explicitly keeps it (dlt reads an explicit ``extra`` as the columns mode:
``allow`` ≈ evolve, ``ignore`` ≈ discard_value without quarantine). That is the user's documented choice.
"""

from __future__ import annotations

import collections.abc
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict

__all__ = ["close_nested_models"]


def close_nested_models(model: type[BaseModel]) -> bool:
    """Replace, in ``model``'s fields, every nested model without an explicit ``extra`` by a closed subclass.

    Returns:
        Whether a field changed (the caller then rebuilds ``model`` with ``model_rebuild(force=True)``).
    """
    cache: dict[type[BaseModel], type[BaseModel]] = {}
    changed = False
    for info in model.model_fields.values():
        closed = _close(info.annotation, cache)
        if closed is not info.annotation:
            info.annotation = closed
            changed = True
    return changed


def _close(annotation: Any, cache: dict[type[BaseModel], type[BaseModel]]) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _closed_model(annotation, cache)
    origin = get_origin(annotation)
    if origin is None:
        return annotation
    args = get_args(annotation)
    if origin is Annotated:
        inner = _close(args[0], cache)
        return annotation if inner is args[0] else Annotated[(inner, *args[1:])]  # type: ignore[return-value]
    closed_args = tuple(_close(a, cache) if a is not Ellipsis else a for a in args)
    if all(a is b for a, b in zip(closed_args, args, strict=True)):
        return annotation
    if origin in (Union, types.UnionType):
        return Union[closed_args]  # type: ignore[return-value]
    if origin in (list, set, frozenset, tuple, dict, collections.abc.Sequence):
        return origin[closed_args if len(closed_args) > 1 else closed_args[0]]
    return annotation


def _closed_model(model: type[BaseModel], cache: dict[type[BaseModel], type[BaseModel]]) -> type[BaseModel]:
    if model in cache:
        return cache[model]
    explicit = model.model_config.get("extra") is not None
    # A subclass, never the user's class itself: the same model may be used elsewhere, outside contracts.
    closed = type(
        model.__name__,
        (model,),
        {
            "model_config": ConfigDict() if explicit else ConfigDict(extra="forbid"),
            "__module__": model.__module__,
            "__doc__": model.__doc__,
        },
    )
    cache[model] = closed
    nested_changed = close_nested_models(closed)
    if explicit and not nested_changed:
        cache[model] = model
        return model
    if nested_changed:
        closed.model_rebuild(force=True)
    return closed
