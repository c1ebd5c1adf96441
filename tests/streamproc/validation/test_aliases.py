"""A contract whose events spell its fields by alias (``alias_generator=to_camel``, as most JSON APIs do): the rules
declared on a field (a PII action by tag, a ``Mode`` override) hold where the events and pydantic's violations name
it ``customerEmail``, not only ``customer_email``. The real CLI on a file source, real Delta tables."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from streamproc.sinks.reader import read_table
from tests.fixtures.pipelines import encode, run_cli

CONTRACT = '''
from typing import Annotated
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from contracts import Contract, Mode, Tag

class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

class Contact(Camel):
    phone_number: Annotated[str, Tag("phone")]

class Signup(Contract, name="signups", version=1, pii={"email": "mask", "phone": "hash"}):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    signup_id: int
    customer_email: Annotated[str, Tag("email")]
    contacts: list[Contact] = []
    nick_name: Annotated[str | None, Mode("discard_value")] = None
'''


def _run(tmp_path: Path, events: list[dict], *, name: str) -> Path:
    (tmp_path / "signups_contract.py").write_text(CONTRACT)
    (tmp_path / f"{name}.ndjson").write_bytes(b"\n".join(encode(e) for e in events) + b"\n")
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({
        "name": "signups", "contract": "signups_contract:Signup",
        "source": {"type": "file", "path": f"{name}.ndjson"}, "sink": {"table_uri": f"lake/{name}/signups"},
        "pii": {"secret": "s3cret"}, "observability": {"enabled": False},
    }))
    run = run_cli("run", str(config))
    assert run.returncode == 0, run.stderr
    return tmp_path / "lake" / name / "signups"


def test_the_quarantine_holds_aliased_pii_fields_redacted_as_the_table_does(tmp_path: Path) -> None:
    # The policy looked for customer_email in the raw event, which says customerEmail: the quarantine kept the
    # email and the phone numbers as sent while the table held them masked and hashed.
    refused = [
        {"signupId": "one", "customerEmail": "alice@example.com", "contacts": [{"phoneNumber": "+49301234567"}]},
        {"signup_id": "two", "customer_email": "bob@example.com", "contacts": [{"phone_number": "+49307654321"}]},
    ]
    table = _run(tmp_path, refused, name="pii")

    quarantine = read_table(f"{table}__quarantine").sort_by("_offset")
    payloads = [json.loads(p) for p in quarantine["raw_payload"].to_pylist()]
    assert [p.get("customerEmail", p.get("customer_email")) for p in payloads] == ["a***@example.com", "b***@example.com"]
    phones = [p.get("contacts")[0] for p in payloads]
    assert all(len(next(iter(c.values()))) == 64 for c in phones), phones  # HMAC-SHA256 hex digests
    for text in quarantine["raw_text"].to_pylist():
        assert "alice@" not in text and "bob@" not in text and "+4930" not in text


def test_a_field_mode_override_applies_to_a_violation_at_the_fields_alias(tmp_path: Path) -> None:
    # Violations are located by alias (nickName): the field's Mode("discard_value") was not found there, and the
    # contract's discard_row quarantined the whole event.
    for size in (3, 20):  # below the fast path's minimum (per row), and the fast path
        events = [{"signupId": i, "customerEmail": f"u{i}@example.com", "nickName": 5 if i == 1 else f"n{i}"}
                  for i in range(size)]
        table = _run(tmp_path, events, name=f"modes{size}")

        landed = read_table(str(table)).sort_by("signup_id")
        assert landed["signup_id"].to_pylist() == list(range(size))
        assert landed["nick_name"].to_pylist()[1] is None
        (row,) = read_table(f"{table}__quarantine").to_pylist()
        assert row["disposition"] == "value_discarded"
        assert [(v["loc"], v["mode"]) for v in row["violations"]] == [("nickName", "discard_value")]
        assert json.loads(row["removed_values"]) == {"nickName": 5}
