"""Benchmarks against peers (issue 8): streamproc's file and Kafka paths beside aiokafka, a per-row pydantic
baseline, dlt and a bare Delta write, on the same data and contract in the same run. ``make bench``; see
``python -m bench --help`` and docs/benchmarks.md."""
