"""Entry point of the child: ``python -I -B <runtime>/nngrader_child/__main__.py FD_IN FD_OUT``."""

import os
import sys

# -I leaves the script's own directory off sys.path; put the runtime root (which holds only
# nngrader_child and nngrader_given) first, and nothing else of ours.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nngrader_child.harness import main  # noqa: E402

main()
