"""Stand-in for a course file that is given and not graded (the CNN part's ``fast_layers.py`` and
``im2col.py``, ``vis_utils.py``, ``setup.py``...): the grader puts it in place of the course's
copy, which may not import here (Python 2 in 2016, ``import torch`` in 2019).

Graded code that imports a name from it (``from .fast_layers import conv_forward_fast``) still
imports; calling that name raises ``GivenFileNotRun``, naming this file, since the grader does not
run it.
"""


class GivenFileNotRun(RuntimeError):
    """A name of a given course file was called; the grader replaced that file and runs none of
    it (the graded checks never need it)."""


def __getattr__(name):  # PEP 562: every public name resolves, lazily
    if name.startswith("_"):
        raise AttributeError(name)

    def not_run_by_the_grader(*args, **kwargs):
        raise GivenFileNotRun(
            f"{__name__}.{name} is part of a given course file that the grader does not run "
            "(it was replaced by a stand-in; it is not graded)"
        )

    not_run_by_the_grader.__name__ = not_run_by_the_grader.__qualname__ = name
    return not_run_by_the_grader
