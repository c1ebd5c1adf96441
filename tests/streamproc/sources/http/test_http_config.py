"""The HTTP source's config: write keys from the environment or a secrets file (masked everywhere), routes, and
the errors a wrong config gets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from streamproc.config import HttpSourceConfig, load_config
from streamproc.errors import ConfigError
from streamproc.sources.http.app import WriteKeys
from streamproc.sources.http.errors import UnauthorizedError
from streamproc.sources.http.targets import resolve_targets
from tests.fixtures.http_source import write_http_pipeline
from tests.fixtures.pipelines import run_cli


def _write(tmp_path: Path, source: dict[str, object]) -> Path:
    document = {
        "name": "web",
        "contract": "streamproc.sources.http.spec:SegmentEvent",
        "source": {"type": "http", "wal_dir": "wal", **source},
        "sink": {"table_uri": "lake/events"},
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_write_keys_come_from_the_environment_and_a_secrets_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGMENT_WRITE_KEY", "from-env-1234")
    (tmp_path / "keys").write_text("# one write key per line\nfrom-file-5678\n\n  from-file-9012  \n")
    config = load_config(_write(tmp_path, {"write_keys": ["${SEGMENT_WRITE_KEY}"], "write_keys_file": "keys"}))
    source = config.source
    assert isinstance(source, HttpSourceConfig)
    assert [k.get_secret_value() for k in source.write_keys] == ["from-env-1234", "from-file-5678", "from-file-9012"]
    assert source.wal_dir == str(tmp_path / "wal")
    for shown in (repr(config), str(config), config.model_dump_json()):
        assert "from-env" not in shown and "from-file" not in shown
    keys = WriteKeys(source.write_keys, required=True)
    keys.check("from-file-9012")
    with pytest.raises(UnauthorizedError):
        keys.check("from-file-901")


def test_config_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no write keys"):
        load_config(_write(tmp_path, {}))
    assert load_config(_write(tmp_path, {"require_write_key": False})).source.type == "http"
    with pytest.raises(ConfigError, match="write_keys_file"):
        load_config(_write(tmp_path, {"write_keys_file": "missing"}))
    with pytest.raises(ConfigError, match="unknown route 'purchase'"):
        load_config(_write(tmp_path, {"write_keys": ["k"], "routes": {"purchase": "m:C"}}))
    with pytest.raises(ConfigError, match="wal_dir is required"):
        load_config(_write(tmp_path, {"write_keys": ["k"], "wal_dir": None}))


def test_routes_become_targets_beside_the_pipelines_table(tmp_path: Path) -> None:
    segment = "tests.fixtures.segment_contracts"
    config = load_config(_write(tmp_path, {
        "write_keys": ["k"],
        "routes": {
            "identify": f"{segment}:Identify",
            "track": f"{segment}:Track",
            "track:Order Completed": {"contract": f"{segment}:OrderCompleted", "table_uri": "lake/orders"},
            "page": f"{segment}:Page",
            "screen": f"{segment}:Page",  # two routes, one contract: one table
        },
    }))
    router = resolve_targets(config)
    assert next(iter(router.targets)) == "events"  # the default target first
    assert set(router.targets) == {"events", "identifies", "tracks", "orders", "pages"}
    orders = router.targets["orders"]
    assert orders.config.name == "web.orders"
    assert orders.config.sink.table_uri == str(tmp_path / "lake" / "orders")
    assert orders.config.sink.resolved_loads_uri == config.sink.resolved_loads_uri  # one _loads for all
    assert router.for_segment({"type": "track", "event": "Order Completed"}) is orders
    assert router.for_segment({"type": "track", "event": "Clicked"}) is router.targets["tracks"]
    assert router.for_segment({"type": "screen"}) is router.targets["pages"]
    assert router.for_segment({"type": "alias"}) is router.default
    assert router.for_ingest("order_completed") is orders  # by contract name as well as table name
    assert router.for_ingest("nothing") is None


def test_an_endpoint_without_write_keys_on_a_reachable_interface_is_warned_about(tmp_path: Path) -> None:
    open_to_all = write_http_pipeline(tmp_path / "open", host="0.0.0.0", require_write_key=False, write_keys=[])
    loopback = write_http_pipeline(tmp_path / "loopback", require_write_key=False, write_keys=[])

    # --until-caught-up: the endpoint starts, the empty log is landed, the run ends
    warned = run_cli("run", str(open_to_all.config), "--until-caught-up")
    quiet = run_cli("run", str(loopback.config), "--until-caught-up")

    assert (warned.returncode, quiet.returncode) == (0, 0), warned.stderr + quiet.stderr
    assert "accepts events without a write key from anyone who reaches it: set write_keys, or host: 127.0.0.1" in (
        warned.stderr
    )
    assert "without a write key" not in quiet.stderr


def test_no_write_keys_is_told_how_to_set_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, {}))
    assert 'no write keys: set write_keys (e.g. ["${SEGMENT_WRITE_KEY}"]) or write_keys_file' in str(caught.value)
