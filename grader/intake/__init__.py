"""Turns what an instructor passes on the command line into clean submission folders.

A folder (or git checkout) is one submission. A ``.zip`` is one submission, unless it is an LMS
export: after unwrapping a single top-level folder, two or more entries that are folders or zips,
no ``.py`` file at that level and no course package name among them (the package names come from
the course specs) — then each folder or inner zip is one student's submission. The same rule
splits a folder holding one folder or zip per student.

The split is decided from the listing (zip central directory, or ``lstat`` of the folder) before
anything is written. Zips are extracted safely: absolute paths and ``..`` are refused, so are
symlink and device members; size, count and compression-ratio limits are enforced on the bytes
actually written (declared sizes only plan the budget's shares). Folders are copied without
following a symlink out of the submission and without devices or fifos (each skip becomes a
note). One input — an archive with every inner archive, or a folder — also has a total budget
(``ExtractLimits.intake_bytes`` and ``intake_members``) that its students share fairly: small
submissions get what they need, large ones split the rest, so one student's oversized zip fails
that student only. A submission that cannot be taken in is still returned, with an ``error``, so
it gets a score and a message. Nothing here runs git or anything else from a submission.

Modules, one idea each:

- ``listing``: what an input holds (entries of a zip or folder), skip rules, limits, budgets.
- ``archives``: writing listed files out: safe zip extraction, folder copies without links.
- ``lms``: LMS exports: splitting a listing into students, their names and fair shares.
- ``take``: ``collect``, which takes each input in with the three above.
Notebooks (``.ipynb``) are taken in like any file; a submission of notebooks alone is taken in
(``take``), and ``grader.notebooks`` reads them.

Callers import from this package (``from grader.intake import collect``), not from the modules.
"""

from grader.intake.archives import zip_bytes
from grader.intake.listing import SKIP_DIRS, ExtractLimits, IntakeError
from grader.intake.lms import bundled_package_names, package_names
from grader.intake.take import Submission, collect

__all__ = [
    "SKIP_DIRS",
    "ExtractLimits",
    "IntakeError",
    "Submission",
    "bundled_package_names",
    "collect",
    "package_names",
    "zip_bytes",
]
