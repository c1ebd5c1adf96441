"""``python -m streamproc.cli``: the ``streamproc`` command."""

from streamproc.cli import main

main()
