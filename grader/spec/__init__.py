"""Course specs: the data model (``model``), the TOML parser (``parse``), the bundled specs
(``registry``)."""

from grader.spec.model import Api, Check, FinalAccuracy, Part, Spec, Tolerance
from grader.spec.parse import SCHEMA_VERSION, load_spec, parse_spec

__all__ = [
    "SCHEMA_VERSION",
    "Api",
    "Check",
    "FinalAccuracy",
    "Part",
    "Spec",
    "Tolerance",
    "load_spec",
    "parse_spec",
]
