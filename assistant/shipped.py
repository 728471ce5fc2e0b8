"""Where the data the assistant ships with lives: its profiles, and its model manifest and calibrations.

A checkout keeps them at its top level (`profiles/`, `models/`); an installed wheel has no checkout
around it, so setup.py maps those folders into the package as `assistant/_shipped/<folder>`. This
module is the one place that knows both. Model weights are never shipped (see models.search_dirs)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PACKAGED = "_shipped"  # setup.py's name for the folder inside the package
CHECKOUT = Path(__file__).resolve().parent.parent


def installed() -> bool:
    """Whether this package carries its own data (installed from a wheel) rather than running from a checkout."""
    return (resources.files(__package__) / PACKAGED).is_dir()


def folder(name: str) -> Path:
    """The shipped folder `name` ('profiles' or 'models'): the installed package's copy, else the checkout's."""
    if installed():
        return Path(str(resources.files(__package__) / PACKAGED / name))
    return CHECKOUT / name
