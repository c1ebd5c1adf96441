"""Disagreements between the fast path and the per-row path found by fuzzing contracts the other tests do not cover,
each as its one-event repro: both paths must give pydantic's verdict and land what ``model_dump`` gives."""

from __future__ import annotations

import enum
from typing import Annotated

import pytest
from pydantic import ConfigDict, StringConstraints, field_validator

from contracts import Contract, validate_batch
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
