"""Disagreements between the fast path and the per-row path found by fuzzing contracts the other tests do not cover,
each as its one-event repro: both paths must give pydantic's verdict and land what ``model_dump`` gives."""

from __future__ import annotations

import collections.abc
import enum
import typing
from typing import Annotated, Literal

import pytest
from pydantic import ConfigDict, EmailStr, Field, StringConstraints, computed_field, field_validator

from contracts import Contract, validate_batch
from contracts.fast import coverage, fast_plan
from tests.fixtures.agreement import assert_paths_agree


def _landed(contract: type[Contract], event: bytes, *, fast: bool) -> list[dict[str, object]]:
    return validate_batch(contract, [event] * 8, fast=fast).accepted.to_pylist()[:1]


# -- the per-row path's dump redecoding applied the model's str_* config to pydantic's final strings -----------------


class Letter(str, enum.Enum):
    A = "a"


class UpperConfigEnum(Contract, name="fuzz_upper_config_enum"):
    model_config = ConfigDict(str_to_upper=True)  # pydantic does not apply it to an enum's value
    id: int
    letter: Letter


class LowerConfigKeptCase(Contract, name="fuzz_lower_config_kept_case"):
    model_config = ConfigDict(str_to_lower=True)
    id: int
    code: Annotated[str, StringConstraints(to_lower=False)]  # the field's own setting wins over the config


class LowerConfigValidated(Contract, name="fuzz_lower_config_validated"):
    model_config = ConfigDict(str_to_lower=True)
    id: int
    code: str

    @field_validator("code")
    @classmethod
    def _upper(cls, value: str) -> str:  # runs after the config's lowering: pydantic keeps its result
        return value.upper()


@pytest.mark.parametrize(("contract", "event", "value"), [
    (UpperConfigEnum, b'{"id": 1, "letter": "a"}', "a"),
    (LowerConfigKeptCase, b'{"id": 1, "code": "Ab"}', "Ab"),
    (LowerConfigValidated, b'{"id": 1, "code": "a"}', "A"),
])
def test_the_per_row_path_lands_pydantic_strings_as_dumped_without_the_str_config_again(
    contract: type[Contract], event: bytes, value: str,
) -> None:
    assert contract.model_validate_json(event).model_dump()[next(iter(set(contract.model_fields) - {"id"}))] == value
    assert_paths_agree(contract, [event] * 8)
    for fast in (False, True):
        assert list(_landed(contract, event, fast=fast)[0].values())[1] == value


# -- computed fields that read more of the instance than the fields' values ------------------------------------------


class SentNote(Contract, name="fuzz_computed_fields_set"):
    id: int
    note: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_note(self) -> bool:
        return "note" in self.model_fields_set


class SentNoteViaMethod(Contract, name="fuzz_computed_fields_set_method"):
    id: int
    note: str | None = None

    def _sent(self) -> bool:
        return "note" in self.model_fields_set

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_note(self) -> bool:
        return self._sent()


class GetattrDefault(Contract, name="fuzz_computed_getattr"):
    id: int
    x: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def y(self) -> int:
        return getattr(self, "x", -1) + 1


def _doubled(model: Contract) -> int:
    return getattr(model, "x", -1) * 2


class HelperOfSelf(Contract, name="fuzz_computed_helper"):
    id: int
    x: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def y(self) -> int:
        return _doubled(self)


@pytest.mark.parametrize("contract", [SentNote, SentNoteViaMethod])
def test_a_computed_field_reading_model_fields_set_sends_the_contract_per_row(contract: type[Contract]) -> None:
    assert fast_plan(contract) is None
    assert "model_fields_set" in str(coverage(contract).per_row)
    events = [b'{"id": 1}', b'{"id": 2, "note": null}']
    assert_paths_agree(contract, events * 4)
    assert validate_batch(contract, events * 4, fast=True).accepted.column("has_note").to_pylist()[:2] == [False, True]


@pytest.mark.parametrize("contract", [GetattrDefault, HelperOfSelf])
def test_a_computed_field_handing_self_to_other_code_gets_every_field(contract: type[Contract]) -> None:
    assert fast_plan(contract) is not None
    event = b'{"id": 1, "x": 5}'
    assert_paths_agree(contract, [event] * 8)
    assert _landed(contract, event, fast=True)[0]["y"] == contract.model_validate_json(event).y
    assert fast_plan(contract).split([event]).clean_index == [0]  # type: ignore[union-attr]


# -- the model's str_* config applies to dict keys too ---------------------------------------------------------------


class ConfiguredKeys(Contract, name="fuzz_configured_dict_keys"):
    model_config = ConfigDict(str_strip_whitespace=True, str_to_lower=True, str_min_length=1, str_max_length=3)
    id: int
    counts: dict[str, int]


@pytest.mark.parametrize("event", [
    b'{"id": 1, "counts": {"A": 1}}',  # lowered
    b'{"id": 1, "counts": {" a ": 1}}',  # stripped
    b'{"id": 1, "counts": {"": 1}}',  # too short
    b'{"id": 1, "counts": {"abcd": 1}}',  # too long
    b'{"id": 1, "counts": {" abc ": 1}}',  # long enough once stripped
    b'{"id": 1, "counts": {"A": 1, "a": 2}}',  # one key once lowered: pydantic keeps the last
])
def test_dict_keys_go_through_the_models_str_config_on_both_paths(event: bytes) -> None:
    assert coverage(ConfiguredKeys).route("counts") == "columns"
    assert_paths_agree(ConfiguredKeys, [event] * 8)


def test_configured_dict_keys_land_as_pydantic_makes_them() -> None:
    event = b'{"id": 1, "counts": {" AbC ": 1, "b": 2}}'
    split = fast_plan(ConfiguredKeys).split([event])  # type: ignore[union-attr]
    assert split.clean_index == [0]
    assert split.clean.column("counts").to_pylist() == [[("abc", 1), ("b", 2)]]
    assert dict(ConfiguredKeys.model_validate_json(event).counts) == {"abc": 1, "b": 2}


# -- a per-field fallback and a compiled default are validated under the model's config ----------------------------


class StrictValidated(Contract, name="fuzz_strict_config_fallback"):
    model_config = ConfigDict(strict=True, str_to_lower=True)
    id: int
    n: int  # a field_validator: validated per value, strictly as the model is
    email: EmailStr = "ada@example.com"  # per value too, lowered as the model's str config says

    @field_validator("n")
    @classmethod
    def _same(cls, value: int) -> int:
        return value


class LoweredDefault(Contract, name="fuzz_validated_default_config"):
    model_config = ConfigDict(str_to_lower=True, validate_default=True)
    id: int
    label: str = "DeFault"  # validated with the config: lands as "default"


@pytest.mark.parametrize(("contract", "event"), [
    (StrictValidated, b'{"id": 1, "n": "5"}'),  # strict: pydantic refuses the string
    (StrictValidated, b'{"id": 1, "n": 5, "email": "Ada@Example.com"}'),  # lowered
    (LoweredDefault, b'{"id": 1}'),
])
def test_per_field_fallbacks_and_defaults_follow_the_models_config(contract: type[Contract], event: bytes) -> None:
    assert fast_plan(contract) is not None
    assert_paths_agree(contract, [event] * 8)


def test_a_strict_models_fallback_field_refuses_what_pydantic_refuses() -> None:
    result = validate_batch(StrictValidated, [b'{"id": 1, "n": "5"}'] * 8, fast=True)
    assert result.accepted.num_rows == 0 and {v.type for r in result.rejected for v in r.violations} == {"int_type"}
    assert _landed(LoweredDefault, b'{"id": 1}', fast=True)[0]["label"] == "default"


# -- an int Literal or IntEnum value beyond int64 ---------------------------------------------------------------------


class Huge(enum.IntEnum):
    SMALL = 1
    HUGE = 2**64


class HugeLiterals(Contract, name="fuzz_huge_int_literals"):
    id: int
    level: Literal[1, 2**70] = 1
    size: Huge = Huge.SMALL


def test_an_int_literal_beyond_int64_falls_back_per_field_instead_of_failing_the_batch() -> None:
    found = coverage(HugeLiterals)  # building the decoder raised OverflowError: every batch of 8 events failed
    assert found.route("level") == "field" and found.route("size") == "field"
    events = [b'{"id": 1}', b'{"id": 2, "level": 1, "size": 1}', b'{"id": 3, "level": 1180591620717411303424}',
              b'{"id": 4, "size": 18446744073709551616}']
    assert_paths_agree(HugeLiterals, events * 2)
    result = validate_batch(HugeLiterals, events * 2)
    assert result.accepted_index == [0, 1, 4, 5]
    assert len(result.rejected) == 4  # pydantic's verdict on the huge values, the same on both paths


# -- Sequence[T] had no Arrow type: typing.Sequence was compared with get_origin's collections.abc.Sequence ----------


class Sequences(Contract, name="fuzz_sequences", mode="discard_row"):
    values: typing.Sequence[float]
    tags: collections.abc.Sequence[str] = Field(default_factory=list, max_length=3)


@pytest.mark.parametrize(
    "event",
    [b'{"values": [1, 2.5]}', b'{"values": "12"}', b'{"values": [1], "tags": "xy"}',
     b'{"values": [1], "tags": ["a", "b", "c", "d"]}', b'{"values": [], "tags": ["q"]}', b'{"values": null}'],
)
def test_sequence_fields_are_list_columns_on_the_fast_path_and_agree(event: bytes) -> None:
    assert coverage(Sequences).route("values") == "columns" and coverage(Sequences).route("tags") == "columns"
    assert_paths_agree(Sequences, [event] * 8)
