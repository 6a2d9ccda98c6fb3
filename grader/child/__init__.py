"""Code that runs inside the student's sandboxed process (staged as the package ``nngrader_child``).

Nothing here may import ``grader`` or the reference's solution modules: the runtime directory
the child sees holds only this package and the given (non-solution) modules as
``nngrader_given``.
"""
