"""Reading pipeline config files: YAML and TOML, variables, relative paths, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamproc.config import FileSourceConfig, KafkaSourceConfig, load_config
from streamproc.errors import ConfigError

YAML = """
name: orders
contract: my_contracts:Order
source:
  type: kafka
  bootstrap_servers: ${TEST_BOOTSTRAP:-127.0.0.1:9092}
  topics: orders
  consumer_group: g
sink:
  table_uri: lake/orders
batch:
  max_rows: 100
"""


def test_yaml_with_variables_defaults_and_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_BOOTSTRAP", raising=False)
    (tmp_path / "p.yaml").write_text(YAML)
    config = load_config(tmp_path / "p.yaml")
    assert isinstance(config.source, KafkaSourceConfig)
    assert config.source.bootstrap_servers == "127.0.0.1:9092"
    assert config.source.topics == ("orders",)
    assert config.sink.table_uri == str(tmp_path / "lake" / "orders")
    assert config.sink.resolved_quarantine_uri == str(tmp_path / "lake" / "orders__quarantine")
    assert config.sink.resolved_loads_uri == str(tmp_path / "lake" / "_loads")
    assert config.batch.max_rows == 100 and config.batch.max_linger_seconds == 5.0
    monkeypatch.setenv("TEST_BOOTSTRAP", "10.0.0.1:9093")
    assert load_config(tmp_path / "p.yaml").source.bootstrap_servers == "10.0.0.1:9093"


def test_variables_unquoted_in_flow_style(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Braces are YAML flow syntax: an unquoted ${DATA} in {...} or [...] used to end the mapping ("expected ',' or
    # '}', but got '{'"). A value is never read as YAML, in flow style as in block style: commas, colons and braces
    # in it stay text.
    monkeypatch.setenv("DATA", "in/events.ndjson")
    monkeypatch.setenv("TOPIC", "orders,v2")
    monkeypatch.delenv("LAKE", raising=False)
    (tmp_path / "p.yaml").write_text(
        "name: orders\ncontract: m:C\n"
        "source: {type: file, path: ${DATA}, consumer_group: g-${TOPIC}}   # ${UNSET_IN_A_COMMENT}\n"
        "sink: {table_uri: ${LAKE:-lake}/orders, storage_options: {a: ${TOPIC}, b: '${DATA}'}}\n"
        "routing: {field: type, routes: {${TOPIC}: m:D}}\n"
    )
    config = load_config(tmp_path / "p.yaml")
    assert isinstance(config.source, FileSourceConfig)
    assert config.source.path == str(tmp_path / "in" / "events.ndjson")
    assert config.source.consumer_group == "g-orders,v2"
    assert config.sink.table_uri == str(tmp_path / "lake" / "orders")
    assert config.sink.storage_options == {"a": "orders,v2", "b": "in/events.ndjson"}
    assert config.routing is not None and list(config.routing.routes) == ["${TOPIC}"]  # keys are not expanded
    (tmp_path / "l.yaml").write_text(YAML.replace("topics: orders", "topics: [${TOPIC}, audit]"))
    assert load_config(tmp_path / "l.yaml").source.topics == ("orders,v2", "audit")  # type: ignore[union-attr]


def test_a_yaml_error_names_the_file_line_and_text_as_written(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(YAML.replace("topics: orders", "topics: [${TOPIC}, audit"))
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "p.yaml")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'p.yaml'} is not valid YAML: while parsing a flow sequence")
    # the line as written, the column counted in it (the `[` opening the sequence)
    assert 'in "p.yaml", line 7, column 11:\n      topics: [${TOPIC}, audit\n' + " " * 14 + "^" in message


def test_toml_and_the_file_source(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(
        'name = "backfill"\ncontract = "m:C"\n[source]\ntype = "file"\npath = "events.ndjson"\n'
        '[sink]\ntable_uri = "s3://bucket/lake/events"\n'
    )
    config = load_config(tmp_path / "p.toml")
    assert isinstance(config.source, FileSourceConfig)
    assert config.source.path == str(tmp_path / "events.ndjson")
    assert config.sink.table_uri == "s3://bucket/lake/events"
    assert config.sink.resolved_loads_uri == "s3://bucket/lake/_loads"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\n", "source: Field required"),
        ("[unclosed", "not valid YAML"),
        (YAML.replace("max_rows: 100", "max_rows: -1"), "batch.max_rows"),
        (YAML.replace("consumer_group: g", "consumer_group: g\n  colour: red"), "source.kafka.colour"),
        (YAML.replace("${TEST_BOOTSTRAP:-127.0.0.1:9092}", "${SURELY_UNSET_VARIABLE}"), "SURELY_UNSET_VARIABLE"),
    ],
)
def test_errors_name_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(tmp_path / "p.yaml")
    assert "p.yaml" in str(caught.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (YAML.replace("batch:", "bacth:"), "p.yaml: bacth: unknown key; did you mean 'batch'?"),
        (
            YAML.replace("consumer_group: g", "consumer_grup: g"),
            "source.kafka.consumer_grup: unknown key; did you mean 'consumer_group'?",
        ),
        (
            YAML.replace("max_rows: 100", "max_rows: 100\n  zzz: 1"),
            "batch.zzz: unknown key; known here: max_bytes, max_linger_seconds, max_rows, queue_size",
        ),
        (YAML.replace("  type: kafka\n", ""), "p.yaml: source: type is missing: one of kafka, file, http"),
    ],
)
def test_a_misspelt_key_is_told_the_key_it_meant_in_its_own_section(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "p.yaml")
    assert message in str(caught.value)
