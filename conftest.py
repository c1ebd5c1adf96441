"""The repository's root conftest: README.md and the other Markdown files users read are collected from here, so
their code blocks' fixtures and collectors (tests/docs/plugin.py) are registered for the whole session. The container
image's build (tests/deploy/image_build.py) is registered here too: under pytest-xdist the controller starts it, and
the controller loads no conftest below this one."""

pytest_plugins = ["tests.docs.plugin", "tests.deploy.image_build"]
