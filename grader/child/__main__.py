"""Entry point of the child: ``python -S -B <runtime>/nngrader_child/__main__.py FD_IN FD_OUT``
(or ``... stdio`` where no pipe can be inherited: ``channel``)."""

import os
import sys

# Replace the script's own directory on sys.path by the runtime root, which holds only
# nngrader_child and nngrader_given: nothing else of ours is importable from the child.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.dirname(HERE))

from nngrader_child.harness import main  # noqa: E402

main()
