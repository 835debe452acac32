"""``python -m ganedit.cli ...``: the ``ganedit`` command without its console script."""

from . import main

main()
