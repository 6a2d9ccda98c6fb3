"""Turns what an instructor passes on the command line into clean submission folders.

A folder (or git checkout) is one submission. A ``.zip`` is one submission, unless it is an LMS
export: after unwrapping a single top-level folder that no LMS named, two or more students (or
one an LMS named: a single-student export), no ``.py`` file an LMS did not name at that level and
no course package name among them (the package names come from the course specs). A student is
one folder or zip, or every top-level entry an LMS named after one student (Moodle's
``Full Name_12345_assignsubmission_file_`` folders, Canvas's flat ``lastfirst_12345_67890_*``
files; ``lms_identity`` reads the name and id back). The same rule splits a folder.

A student who uploaded one zip and no Python file or notebook beside it (Moodle's folder holding
``assignment1.zip``) is that zip, unpacked as their submission and named after their folder or
file; other files beside it are left out with a note. An input holding nothing but one zip (a
folder holding the class export, a zip of a zip) is taken in as that zip, once.

The split is decided from the listing (zip central directory, or ``lstat`` of the folder) before
anything is written. Zips are extracted safely: absolute paths and ``..`` are refused, so are
symlink and device members; size, count and compression-ratio limits are enforced on the bytes
actually written (declared sizes only plan the budget's shares). Folders are copied without
following a symlink out of the submission and without devices or fifos (each skip becomes a
note). One input — an archive with every inner archive, or a folder — also has a total budget
(``ExtractLimits.intake_bytes`` and ``intake_members``) that its students share fairly: small
submissions get what they need, large ones split the rest, so one student's oversized zip fails
that student only. A submission that cannot be taken in is still returned, with an ``error``, so
it gets a score and a message: a zip that does not open (broken, or cut short) is one error named
after it, the whole input's when it is the input, one student's when it is their upload. Nothing
here runs git or anything else from a submission.

Modules, one idea each:

- ``listing``: what an input holds (entries of a zip or folder), skip rules, limits, budgets.
- ``archives``: writing listed files out: opening zips, safe extraction, folder copies without
  links.
- ``lms``: LMS exports: who the students are, where their files go, an uploaded zip.
- ``students``: taking an export's students in, each within a fair share of the input's budget.
- ``submission``: the ``Submission`` handed on, and the message of one that failed.
- ``take``: ``collect``, which takes each input in with the modules above.
Notebooks (``.ipynb``) are taken in like any file; a submission of notebooks alone is taken in
(``take``), and ``grader.notebooks`` reads them.

Callers import from this package (``from grader.intake import collect``), not from the modules.
"""

from grader.intake.archives import zip_bytes
from grader.intake.listing import SKIP_DIRS, ExtractLimits, IntakeError
from grader.intake.lms import bundled_package_names, lms_identity, package_names
from grader.intake.take import Submission, collect

__all__ = [
    "SKIP_DIRS",
    "ExtractLimits",
    "IntakeError",
    "Submission",
    "bundled_package_names",
    "collect",
    "lms_identity",
    "package_names",
    "zip_bytes",
]
