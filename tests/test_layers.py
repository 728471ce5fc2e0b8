"""The package's layering, read from the code: each sub-package imports only what its `__init__`
says it may ("May import: a, b."), the layers so declared have no cycle, and nothing imports the CLI.

`core`, `errors` and `shipped` are the root's base modules (the nouns, the error types, where the
package data lives): anything may import them. Imports inside functions and under TYPE_CHECKING
count too: a lazy import is still a dependency."""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import assistant

ROOT = Path(assistant.__file__).parent
BASE = {"core", "errors", "shipped"}
TOP = {"cli", "__main__"}
PACKAGES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file())


def allowed(package: str) -> set[str]:
    """The layers a package's `__init__` docstring says it may import."""
    doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""
    found = re.search(r"May import: ([^.]+)\.", doc)
    assert found, f"assistant/{package}/__init__.py does not say what it may import ('May import: ...')"
    names = {n.strip() for n in re.split(r",| and ", found[1]) if n.strip()}
    if names == {"every layer"}:  # the commands: the top, under the CLI alone
        return set(PACKAGES) - {package}
    return set() if names == {"nothing"} else names


def layer_of(parts: list[str]) -> str:
    """The layer a module belongs to: its sub-package, or the root module's own name."""
    return parts[0]


def imported_layers(path: Path) -> dict[str, set[str]]:
    """Each layer this file imports from, with the modules named, as dotted paths under assistant."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[list[str]] = []
        if isinstance(node, ast.ImportFrom) and node.level:
            base = parts[: len(parts) - node.level]
            module = node.module.split(".") if node.module else []
            targets = [[*base, *module]] if module else [[*base, alias.name] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("assistant."):
            targets = [node.module.split(".")[1:]]
        elif isinstance(node, ast.Import):
            targets = [a.name.split(".")[1:] for a in node.names if a.name.startswith("assistant.")]
        for target in targets:
            if target:
                found.setdefault(layer_of(target), set()).add(".".join(target))
    return found


def test_every_module_is_in_a_package_or_is_a_root_module():
    loose = {p.stem for p in ROOT.glob("*.py")} - {"__init__"}
    assert loose <= BASE | TOP, (
        f"modules at the root that belong in a sub-package: {sorted(loose - BASE - TOP)}")


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_what_its_init_allows(package):
    may = allowed(package) | BASE | {package}
    unknown = may - set(PACKAGES) - BASE
    assert not unknown, f"assistant/{package}/__init__.py names layers that do not exist: {sorted(unknown)}"
    wrong = [
        f"{path.relative_to(ROOT)} imports {', '.join(sorted(modules))}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for layer, modules in imported_layers(path).items()
        if layer not in may
    ]
    assert not wrong, f"{package}/ may import only {sorted(allowed(package))}:\n" + "\n".join(wrong)


def test_the_declared_layers_have_no_cycle():
    try:
        order = list(TopologicalSorter({p: allowed(p) - BASE for p in PACKAGES}).static_order())
    except CycleError as error:
        pytest.fail(f"the layers import each other in a circle: {error.args[1]}")
    assert set(order) >= set(PACKAGES)


def test_the_base_modules_import_no_layer():
    for name in sorted(BASE):
        layers = set(imported_layers(ROOT / f"{name}.py")) - BASE
        assert not layers, f"{name}.py is imported by every layer, so it may import none: {sorted(layers)}"


def test_nothing_but_the_entry_point_imports_the_cli():
    for path in sorted(ROOT.rglob("*.py")):
        if path.parent != ROOT or path.stem not in TOP:
            assert not set(imported_layers(path)) & TOP, f"{path.relative_to(ROOT)} imports the CLI"


def test_vision_knows_nothing_of_speech_or_sources():
    """The issue's own example: what is seen is decided without knowing how it will be said."""
    for path in (ROOT / "vision").rglob("*.py"):
        assert not set(imported_layers(path)) & {"speech", "narration", "runtime", "view", "sources"}, path
