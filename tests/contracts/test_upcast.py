"""Upcasting: migrations declared on versions, chained from an event's version to the pipeline's."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import Contract, migration
from contracts.upcast import Upcaster, UpcastError, event_version


class V1(Contract, name="things"):
    size: float


class V2(Contract, name="things", version=2):
    size_mm: int

    @migration
    def from_v1(event: dict[str, Any]) -> dict[str, Any]:
        event["size_mm"] = round(event.pop("size") * 1000)
        return event


class V3(Contract, name="things", version=3):
    size_mm: int
    unit: str = "mm"

    @migration(from_version=2)
    def from_v2(event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "unit": "mm"}


class V4(Contract, name="things", version=4):  # no migration declared
    size_mm: int


def test_a_migration_is_declared_on_the_version_it_leads_to() -> None:
    assert V2.__contract__.migration[0] == 1  # type: ignore[index]
    assert V3.__contract__.migration[0] == 2  # type: ignore[index]
    assert V1.__contract__.migration is None
    assert "from_v1" not in V2.model_fields  # a migration is not a field


def test_events_are_migrated_step_by_step_and_the_original_is_untouched() -> None:
    upcaster = Upcaster(V3, [V1, V2])
    event = {"size": 1.5}
    assert upcaster.upcast(event, 1) == {"size_mm": 1500, "unit": "mm"}
    assert event == {"size": 1.5}
    assert upcaster.upcast({"size_mm": 3}, 2) == {"size_mm": 3, "unit": "mm"}
    assert upcaster.upcast({"size_mm": 3, "unit": "mm"}, 3) == {"size_mm": 3, "unit": "mm"}


@pytest.mark.parametrize(
    ("target", "versions", "event", "version", "message"),
    [
        (V4, [V1, V2, V3], {"size": 1}, 1, "no migration of 'things' from v3"),
        (V3, [V1, V2], {"size_mm": 1}, 4, "newer than this pipeline's v3"),
        (V3, [V1, V2], {"width": 1}, 1, r"v1 → v2 failed: KeyError"),
    ],
)
def test_what_cannot_be_upcast_says_why(
    target: type[Contract], versions: list[type[Contract]], event: dict, version: int, message: str
) -> None:
    with pytest.raises(UpcastError, match=message):
        Upcaster(target, versions).upcast(event, version)


def test_the_version_comes_from_the_header_else_the_field() -> None:
    assert event_version(b"2", {"v": 3}, "v") == 2
    assert event_version(None, {"v": 3}, "v") == 3
    assert event_version(None, {"x": 1}, "v") is None
    assert event_version(None, {"v": 3}, None) is None
    for bad in (b"two", b"0"):
        with pytest.raises(UpcastError, match="header"):
            event_version(bad, None, None)
    with pytest.raises(UpcastError, match="field 'v'"):
        event_version(None, {"v": True}, "v")


def test_a_migration_starts_a_new_compatibility_group() -> None:
    from contracts.registry import ContractRegistry, InMemoryContractStore

    class W1(Contract, name="widgets_m", compatibility="BACKWARD_TRANSITIVE"):
        size: float

    class W2(Contract, name="widgets_m", version=2, compatibility="BACKWARD_TRANSITIVE"):
        size_mm: int  # breaks BACKWARD with v1, but v1 events are migrated

        @migration
        def from_v1(event: dict[str, Any]) -> dict[str, Any]:
            return {"size_mm": round(event["size"] * 1000)}

    class W3(Contract, name="widgets_m", version=3, compatibility="BACKWARD_TRANSITIVE"):
        size_mm: int
        note: str | None = None

    store = InMemoryContractStore()
    registered = ContractRegistry([W1, W2, W3], store=store).register_declared("widgets_m")
    assert [(v.version, v.verdict, v.migrates_from) for v in registered] == [
        (1, "not_checked", None), (2, "not_checked", 1), (3, "compatible", None)
    ]
