"""The PII policy: actions per tag, applied to rows (nested too), to documents and to raw payloads."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Annotated

import pyarrow as pa
import pytest
from pydantic import BaseModel, Field

from contracts import Contract, ContractDeclarationError, Tag, contract_arrow_schema, validate_batch
from contracts.pii import PiiPolicy, mask_text

SECRET = b"s3cret"


class Address(BaseModel):
    street: Annotated[str, Tag("address")]
    city: str


class Customer(Contract, name="customers_pii", pii={"email": "hash", "phone": "mask", "ip": "drop"}):
    customer_id: Annotated[int, Tag("id")]
    email: Annotated[str, Tag("email")]
    phone: Annotated[str | None, Tag("phone")] = None
    ip: Annotated[str | None, Tag("ip")] = None
    address: Address | None = None


def _digest(text: str) -> str:
    return hmac.new(SECRET, text.encode(), hashlib.sha256).hexdigest()


def test_tags_travel_with_the_compiled_schema() -> None:
    schema = contract_arrow_schema(Customer)
    assert schema.field("email").metadata == {b"tags": b"email"}
    assert schema.field("address").type.field("street").metadata == {b"tags": b"address"}
    assert Customer.__contract__.tags == {
        "customer_id": ("id",), "email": ("email",), "phone": ("phone",), "ip": ("ip",), "address.street": ("address",)
    }


def test_rows_are_redacted_and_the_schema_follows() -> None:
    policy = PiiPolicy.for_contract(Customer, {"address": "drop", "email": "keep"}, secret=SECRET)
    assert policy.actions == {"email": "hash", "phone": "mask", "ip": "drop", "address.street": "drop"}
    event = {"customer_id": 7, "email": "jane@example.com", "phone": "+31 6 1234 5678", "ip": "10.0.0.1",
             "address": {"street": "Main St 1", "city": "Utrecht"}}
    result = validate_batch(Customer, [json.dumps(event).encode()])
    table = policy.redact_table(result.accepted)
    assert table.schema == policy.redact_schema(contract_arrow_schema(Customer))
    assert "ip" not in table.schema.names
    assert table.to_pylist() == [{
        "customer_id": 7, "email": _digest("jane@example.com"), "phone": "***********5678",
        "address": {"city": "Utrecht"},
    }]


def test_raw_payloads_and_documents_are_redacted_for_quarantine() -> None:
    policy = PiiPolicy.for_contract(Customer, secret=SECRET)
    raw = json.dumps({"customer_id": "x", "email": "jane@example.com", "ip": "10.0.0.1"}).encode()
    assert json.loads(policy.redact_payload(raw)) == {"customer_id": "x", "email": _digest("jane@example.com")}
    assert policy.redact_document({"phone": 12345}) == {}  # a masked field whose value is not text: withheld
    assert policy.redact_payload(b"not json") is None  # cannot be redacted by field: withheld
    keeping = PiiPolicy.for_contract(Customer, secret=SECRET, keep_unparseable=True)
    assert keeping.redact_payload(b"not json") == b"not json"


def test_masking_shapes() -> None:
    assert mask_text("jane@example.com") == "j***@example.com"
    assert mask_text("NL91ABNA0417164300") == "**************4300"
    assert mask_text("short") == "*****"


def test_policy_errors_are_declaration_errors() -> None:
    with pytest.raises(ContractDeclarationError, match="a secret is needed"):
        PiiPolicy.for_contract(Customer)
    with pytest.raises(ContractDeclarationError, match="mask applies to text; 'customer_id'"):
        PiiPolicy.for_contract(Customer, {"id": "mask"}, secret=SECRET)
    with pytest.raises(ContractDeclarationError, match="unknown PII action 'scramble'"):
        PiiPolicy.for_contract(Customer, {"id": "scramble"}, secret=SECRET)


def test_variant_columns_of_a_tagged_field_follow_its_action() -> None:
    class Lenient(Contract, name="lenient_pii", mode="evolve", pii={"email": "hash"}):
        email: Annotated[str, Tag("email")]

    result = validate_batch(Lenient, [b'{"email": 12345}'])
    policy = PiiPolicy.for_contract(Lenient, secret=SECRET)
    table = policy.redact_table(result.accepted)
    assert table.schema.field("email__v_bigint").type == pa.string()
    assert table.to_pylist() == [{"email": None, "email__v_bigint": _digest("12345")}]


class Contact(BaseModel):
    phone_number: Annotated[str, Tag("phone"), Field(alias="phone")]
    phone: Annotated[str, Field(alias="phone_kind")] = "mobile"  # not PII, named like the other field's alias


class Signup(Contract, name="signups_pii", pii={"email": "hash", "phone": "drop"}):
    user_email: Annotated[str, Tag("email"), Field(alias="email")]
    email: Annotated[str, Field(alias="email_kind")] = "personal"  # not PII, named like user_email's alias
    contact: Contact | None = None


def test_an_alias_spelling_another_fields_name_redacts_the_tagged_field_only() -> None:
    event = {"email": "jane@example.com", "email_kind": "work",
             "contact": {"phone": "+31 6 1234 5678", "phone_kind": "landline"}}
    policy = PiiPolicy.for_contract(Signup, secret=SECRET)
    result = validate_batch(Signup, [json.dumps(event).encode()])

    table = policy.redact_table(result.accepted)

    assert table.schema == policy.redact_schema(contract_arrow_schema(Signup))
    assert table.to_pylist() == [
        {"user_email": _digest("jane@example.com"), "email": "work", "contact": {"phone": "landline"}}
    ]
    # a raw event spells the tagged fields by their aliases: those keys are redacted, the others' are not
    assert json.loads(policy.redact_payload(json.dumps(event).encode()) or b"") == {
        "email": _digest("jane@example.com"), "email_kind": "work", "contact": {"phone_kind": "landline"}
    }
    assert policy.only("drop").redact_table(result.accepted).to_pylist() == [
        {"user_email": "jane@example.com", "email": "work", "contact": {"phone": "landline"}}
    ]
