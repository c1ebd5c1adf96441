"""Tag vocabulary: how OpenLineage tag entries become catalog tag names, and the PII categories the catalog knows.

A ``TagsDatasetFacet`` entry ``{"key": k, "value": v}`` becomes the tag named ``k`` when ``v`` is a plain flag
(``""``, ``"true"``, ``"yes"``, ``"1"`` or equal to ``k``), else ``k:v``. So ``{"key": "email", "value": "true"}``
is ``email`` and ``{"key": "pii", "value": "email"}`` is ``pii:email``. A filter ``--tag email`` matches both: a tag
matches a filter when its name, key or value equals it (case-insensitive).
"""

from __future__ import annotations

__all__ = ["PII_ACTION_KEY", "PII_CATEGORIES", "is_pii", "tag_description", "tag_matches", "tag_name"]

PII_CATEGORIES: dict[str, str] = {
    "email": "PII: e-mail address",
    "phone": "PII: telephone number",
    "name": "PII: a person's name",
    "address": "PII: postal address",
    "ip": "PII: IP address",
    "id": "PII: personal identifier (national id, customer id, device id)",
    "location": "PII: geographic location",
    "free_text": "PII: free text that may contain personal data",
    "pii": "Personally identifiable information",
}

_FLAG_VALUES = {"", "true", "yes", "1"}

PII_ACTION_KEY = "pii_action"
"""A ``tags`` facet entry ``{"key": "pii_action", "value": "hash", "field": "email"}`` says what the producer does to
a PII column before it lands (streamproc: ``keep``, ``hash``, ``mask``, ``drop``); it is the column's policy, not a
tag, so it is not stored as one."""


def is_pii(name: str) -> bool:
    """Whether the tag ``name`` marks personal data: ``pii``, ``pii:<category>`` or a known PII category."""
    lowered = name.lower()
    return lowered == "pii" or lowered.startswith("pii:") or lowered in PII_CATEGORIES


def tag_name(key: str, value: str) -> str:
    """The catalog name of a tag entry: ``key`` for a flag, else ``key:value``."""
    key, value = key.strip(), value.strip()
    if value.lower() in _FLAG_VALUES or value == key:
        return key
    return f"{key}:{value}"


def tag_description(key: str, value: str) -> str | None:
    """A description for known PII categories (by value first, then key), else ``None``."""
    for candidate in (value.strip().lower(), key.strip().lower()):
        if candidate in PII_CATEGORIES and candidate != "pii":
            return PII_CATEGORIES[candidate]
    return PII_CATEGORIES.get(key.strip().lower())


def tag_matches(name: str, key: str, value: str, wanted: str) -> bool:
    """Whether the tag ``name`` (``key``/``value``) answers the filter ``wanted``."""
    wanted = wanted.strip().lower()
    return wanted in (name.lower(), key.lower(), value.lower())
