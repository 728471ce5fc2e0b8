"""Builds the package as pyproject.toml says, and
- first compiles the gettext catalogs (assistant/language/locales/*/LC_MESSAGES/assistant.po -> .mo) with
  Babel, so an install ships them compiled;
- maps the checkout's top-level profiles/ and models/ into the package as assistant/_shipped/..., so an
  installed wheel carries its profiles, model manifest and calibrations (assistant/shipped.py finds
  them); model weights are not package data, so they never travel."""

from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

LOCALES = Path(__file__).resolve().parent / "assistant" / "language" / "locales"
SHIPPED = {"assistant._shipped.profiles": "profiles", "assistant._shipped.models": "models"}


class BuildWithCatalogs(build_py):
    """build_py (which editable installs run too) after compiling every language's catalog."""

    def run(self) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(LOCALES.glob("*/LC_MESSAGES/*.po")):
            with po.open("rb") as file:
                catalog = read_po(file, locale=po.parent.parent.name)
            with po.with_suffix(".mo").open("wb") as file:
                write_mo(file, catalog)
        super().run()


setup(
    cmdclass={"build_py": BuildWithCatalogs},
    packages=[*find_namespace_packages(include=["assistant", "assistant.*"]), *SHIPPED],
    package_dir=SHIPPED,
)
