"""Check kinds, in one room.

* ``catalog``: the kinds, their subjects, params and imported modules (pure data; spec parsing
  reads it without importing anything below);
* ``registry``: ``IMPLEMENTATIONS[kind][subject] -> function(ctx)``, the code of each check;
* ``context``: what a check sees while it runs (seeded inputs, calls into the child, comparisons);
* ``oracle``: every expected value and every known-mistake variant's output, behind one interface;
* ``execute``: runs a spec's checks in the child and reports what happened (``Outcome``);
* ``layers``, ``optim``, ``dropout``, ``models``, ``no_injection``, ``training``: the checks;
* ``mistakes``: the known mistakes' outputs, by subject (reached only through the oracle);
* ``accepted``: the valid variants, accepted with a note; ``stubs``: naming a stub as one.
"""
