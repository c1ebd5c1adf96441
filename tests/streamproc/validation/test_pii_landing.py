"""The PII policy on the real broker: applied before landing, in the table and in quarantine."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from deltalake import DeltaTable

from tests.fixtures.pipelines import new_topic, produce, run_async, run_cli, write_pipeline

pytestmark = pytest.mark.kafka


def _digest(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def test_hash_mask_and_drop_apply_to_the_table_and_the_quarantine(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "test-secret-123"
    monkeypatch.setenv("STREAMPROC_PII_SECRET", secret)
    topic = new_topic("pii")
    good = {"customer_id": 1, "email": "jane@example.com", "phone": "+31612345678", "ip": "10.1.2.3",
            "address": {"street": "Main St 1", "city": "Utrecht"}}
    bad = {"customer_id": 2, "email": "joe@example.com", "ip": "10.9.9.9", "age": -3}
    run_async(produce, kafka_bootstrap, topic, [json.dumps(good).encode(), json.dumps(bad).encode(), b"{joe@x"])
    files = write_pipeline(
        tmp_path, kafka_bootstrap, topic=topic, contract="tests.fixtures.contract_modes:Customer",
        pii={"actions": {"address": "drop", "email": "keep"}},  # the contract's own email: hash wins
    )

    result = run_cli("run", str(files.config), "--until-caught-up")

    assert result.returncode == 0, result.stderr
    schema = DeltaTable(str(files.table)).schema().to_arrow()
    assert "ip" not in [f.name for f in schema]
    (row,) = files.read("table").to_pylist()
    assert row["email"] == _digest(secret, "jane@example.com")
    assert row["phone"] == "********5678"
    assert row["address"] == {"city": "Utrecht"}
    quarantine = {r["_offset"]: r for r in files.read("quarantine").to_pylist()}
    redacted = json.loads(quarantine[1]["raw_payload"])
    assert redacted == {"customer_id": 2, "email": _digest(secret, "joe@example.com"), "age": -3}
    assert json.loads(quarantine[1]["raw_text"]) == redacted
    assert b"joe@example.com" not in quarantine[1]["raw_payload"] and "10.9.9.9" not in quarantine[1]["raw_text"]
    # a payload that cannot be parsed cannot be redacted by field: withheld, the reason stays
    assert quarantine[2]["raw_payload"] is None and quarantine[2]["disposition"] == "malformed"


def test_hash_without_a_secret_is_a_config_error(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STREAMPROC_PII_SECRET", raising=False)
    topic = new_topic("pii-nosecret")
    run_async(produce, kafka_bootstrap, topic, [b"{}"])  # the topic exists: only the missing secret is wrong
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, contract="tests.fixtures.contract_modes:Customer")
    result = run_cli("run", str(files.config), "--until-caught-up")
    assert result.returncode == 2
    assert "hashes email: a secret is needed" in result.stderr
