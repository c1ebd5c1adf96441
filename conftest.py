"""The repository's root conftest: README.md and the other Markdown files users read are collected from here, so
their code blocks' fixtures and collectors (tests/docs/plugin.py) are registered for the whole session."""

pytest_plugins = ["tests.docs.plugin"]
