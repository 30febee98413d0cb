"""The set-up files agree with each other."""

import re
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
