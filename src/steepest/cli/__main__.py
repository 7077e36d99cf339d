"""``python -m steepest.cli``: the same as the ``steepest`` command."""

from . import main

main()
