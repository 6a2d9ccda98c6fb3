"""Course specs: one TOML file per course variant (see README.md in this folder)."""

from importlib import resources
from pathlib import Path


def spec_dir() -> Path:
    """Directory holding the bundled ``*.toml`` course specs."""
    return Path(str(resources.files(__name__)))
