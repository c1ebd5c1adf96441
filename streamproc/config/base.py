"""The base of every config model (frozen, no unknown keys), and locations relative to the config file's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo

__all__ = ["BASE_DIR", "Frozen", "RelativeToConfig"]

BASE_DIR = "base_dir"
"""The validation context key holding the config file's folder (``load_config`` passes it)."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _against_config_folder(value: str, info: ValidationInfo) -> str:
    """A relative local path made absolute against the config file's folder; URLs and absolute paths unchanged."""
    base = (info.context or {}).get(BASE_DIR)
    if base is None or "://" in value or Path(value).is_absolute():
        return value
    return str((Path(base) / value).resolve())


RelativeToConfig = Annotated[str, AfterValidator(_against_config_folder)]
"""A location (a local path or a URL): a relative local path is relative to the config file's folder."""
