"""``python -m grader`` is the ``nngrader`` command."""

from grader.cli import main

raise SystemExit(main())
