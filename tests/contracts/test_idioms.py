"""The idiom catalogue (``bench/idioms.py``): each everyday idiom takes the route it must (so a regression shows),
and both paths give the same verdicts and landed values on events that conform to it and that do not."""

from __future__ import annotations

import json

import pytest

from bench.idioms import IDIOMS, Idiom
from contracts import validate_batch
from contracts.fast import coverage, fast_plan
from tests.fixtures.agreement import assert_paths_agree


@pytest.mark.parametrize("idiom", IDIOMS, ids=[i.name for i in IDIOMS])
def test_each_idiom_takes_its_route(idiom: Idiom) -> None:
    found = coverage(idiom.contract)
    assert found.route(idiom.field) == idiom.route, found
    assert (fast_plan(idiom.contract) is None) == (idiom.route == "row")
    if idiom.route != "row":
        assert found.per_row is None


@pytest.mark.parametrize("idiom", IDIOMS, ids=[i.name for i in IDIOMS])
def test_each_idiom_gets_the_same_verdicts_and_values_on_both_paths(idiom: Idiom) -> None:
    payloads = [e.encode() for e in (*idiom.good, *idiom.others)] * 4
    assert_paths_agree(idiom.contract, payloads)
    good = len(idiom.good)
    assert validate_batch(idiom.contract, payloads).accepted_index[:good] == list(range(good)), "they land"


@pytest.mark.parametrize("idiom", [i for i in IDIOMS if i.route != "row"], ids=lambda i: i.name)
def test_conforming_events_of_compiled_idioms_are_decoded_on_the_fast_path(idiom: Idiom) -> None:
    plan = fast_plan(idiom.contract)
    assert plan is not None
    good, others = len(idiom.good), len(idiom.others)
    split = plan.split([e.encode() for e in (*idiom.good, *idiom.others)])
    assert split.clean_index == list(range(good)) and split.rest == list(range(good, good + others))
    json.dumps(split.clean.to_pylist(), default=str)  # the rows are whole
