"""The library's layout: four wings over a base, imports pointing down only.

    base      data, devices, plotting, utils, tables, series_data, _validation
    models/   how a model is built             -> base
    evaluate/ how it is measured               -> models, base (never train/)
    train/    how it is trained (and swept)    -> evaluate, models, base
    course/   how the course is run            -> everything

Every `import` and `from ... import` in keras_ae/, at any depth (imports inside
functions count), is read with `ast`; a module may import its own wing and the
wings below it.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "keras_ae"
RANK = {"base": 0, "models": 1, "evaluate": 2, "train": 3, "course": 4, "top": 5}
WINGS = ("models", "evaluate", "train", "course")
MAX_LINES = 700


def wing_of(module):
    """'keras_ae.models.vae' -> 'models'; base modules -> 'base'."""
    parts = module.split(".")
    if parts[0] != "keras_ae":
        return None
    if len(parts) == 1 or parts[1] in ("__init__", "__main__"):
        return "top"
    return parts[1] if parts[1] in WINGS else "base"


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if parts[-1] == "__main__":
            name = "keras_ae.__main__"
        yield name, path


def imported_modules(path):
    """Every keras_ae module named by an import in `path` (at any depth)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "keras_ae":  # from keras_ae import data, models
                for alias in node.names:
                    yield f"keras_ae.{alias.name}", node.lineno
            else:
                yield node.module, node.lineno


def test_wing_of_reads_the_path():
    assert wing_of("keras_ae.models.vae") == "models"
    assert wing_of("keras_ae.data") == "base"
    assert wing_of("keras_ae") == "top"
    assert wing_of("numpy") is None


def test_every_wing_exists_and_holds_modules():
    for wing in WINGS:
        assert len(list((PACKAGE / wing).glob("[!_]*.py"))) >= 2, wing


@pytest.mark.parametrize("name,path", list(modules()), ids=lambda v: str(v))
def test_imports_point_down_only(name, path):
    here = wing_of(name)
    wrong = []
    for target, line in imported_modules(path):
        there = wing_of(target)
        if there is None or there == here:
            continue
        if RANK[there] > RANK[here]:
            wrong.append(
                f"{path.name}:{line} {name} ({here}) imports {target} ({there})"
            )
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name,path", list(modules()), ids=lambda v: str(v))
def test_module_has_all_and_stays_short(name, path):
    tree = ast.parse(path.read_text())
    if path.name == "__main__.py" or path.name == "__init__.py":
        return
    names = {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert "__all__" in names, f"{name} has no __all__"
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines"


def test_all_names_exist():
    import importlib

    for name, _ in modules():
        if name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        for public in getattr(module, "__all__", ()):
            assert hasattr(module, public), f"{name}.__all__ names {public}"


def test_the_checker_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from keras_ae.train.recipes import fit_autoencoder\n")
    found = [t for t, _ in imported_modules(bad)]
    assert found == ["keras_ae.train.recipes"]
    assert RANK[wing_of(found[0])] > RANK[wing_of("keras_ae.evaluate.metrics")]
