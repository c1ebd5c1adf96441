"""Catalog storage: ORM tables (``tables``), engine and migrations (``db``), writes (``ingest``, ``writer``, ``loads``,
``schema``), reads (``reads``)."""

from catalog.storage.db import Database

__all__ = ["Database"]
