"""Student notebooks: reading them (nbformat) and, with ``--execute``, running them sandboxed.

Reading, one idea per module: ``read`` (one file, validated: a ``Notebook`` or a
``NotebookProblem``), ``facts`` (part, executed, error cells), ``answers`` (inline answers for
manual grading), ``printed`` (the numbers the spec names; ``printed_val_accuracy``),
``cs182_logs`` (``submission_logs/``) and ``report`` (the stage: ``read_notebooks``).
"""
