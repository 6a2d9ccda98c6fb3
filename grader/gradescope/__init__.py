"""Gradescope's autograder: the zip ``nngrader gradescope build`` writes, and what runs in it.

Gradescope takes a zip with ``setup.sh`` and ``run_autograder`` at its root: it runs ``setup.sh``
once on its Ubuntu image while building the autograder, then ``run_autograder`` per submission,
which must leave ``/autograder/results/results.json`` (docs/gradescope.md). There is no public
nngrader release to install there, so the zip carries a wheel built from this very grader.

Modules, one idea each: ``wheel`` (build the wheel from the source tree and check it is whole),
``scripts`` (the two scripts, from ``templates/``, with the build's choices written in),
``bundle`` (the zip), ``isolation`` (which sandbox a run in Gradescope's container gets),
``run`` (grade the one submission into results.json, whatever happens) and ``cli`` (the
``nngrader gradescope`` command).
"""
