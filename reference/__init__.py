"""Trusted numpy reference of the CS231n-family FC-net assignment (the canonical modern API).

Solution modules (the answers; never enter a student's process):
``layers``, ``layer_utils``, ``optim``, ``fc_net``.

Given modules (what courses hand students anyway; free of solution imports, so the grader may
place them inside the sandbox): ``solver``, ``gradient_check``, ``data``.
"""

SOLUTION_MODULES = ("layers", "layer_utils", "optim", "fc_net")
GIVEN_MODULES = ("solver", "gradient_check", "data")
