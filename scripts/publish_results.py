"""Copies a course run's results into the repository: README table and figure.

After a full course run (`python3 tasks.py course`, which writes build/course/):

    python3 scripts/publish_results.py            # reads build/course/
    python3 scripts/publish_results.py --check    # exit 1 if README is stale

It writes `docs/results/comparison.md` and `.json` (notebook 08's whole
comparison table, with the diffusion row that notebook 11 adds to it),
`docs/results/samples.png` (notebook 08's samples of every generative model)
and `docs/results/course_run.md` (each notebook's wall time and key numbers),
records each notebook's wall time in `docs/results/notebook_seconds.json` (the
course runner's estimate of the time left reads it), and replaces the part of
README.md between the two `course-results` markers with a compact table and the
figure. It refuses a run that failed or that ran
in the fast profile (whose numbers are not the course's), unless `--allow-fast`.
`--times-only` records only the wall times, of a full or a fast run:

    python3 tasks.py course --fast --output build/fast
    python3 scripts/publish_results.py build/fast --times-only

Standard library only.
"""

import argparse
import datetime
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = "<!-- course-results:start (scripts/publish_results.py writes this part) -->"
END = "<!-- course-results:end -->"
COMPARISON_NOTEBOOK = "08_gans_vs_autoencoders.ipynb"

# README columns: (heading, key in comparison.json, format)
COLUMNS = (
    ("model", "model", "{}"),
    ("test MSE", "mse", "{:.4f}"),
    ("linear probe on codes", "probe_codes", "{:.3f}"),
    ("anomaly AUROC", "auroc", "{:.3f}"),
    ("Frechet distance", "frechet_distance", "{:.2f}"),
    ("classes covered", "num_covered", "{:.3g} of 10"),
    ("ms per sample", "sample_ms", "{:.3f}"),
)


class PublishError(Exception):
    """A run that cannot be published, with the reason."""


def _minutes(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes} min {seconds:02d} s"


def load_run(build_dir, allow_fast=False):
    """Returns (report, comparison rows) of a finished course run."""
    build_dir = Path(build_dir)
    report_path = build_dir / "report.json"
    if not report_path.exists():
        raise PublishError(
            f"no {report_path}: run the course first (python3 tasks.py course)"
        )
    report = json.loads(report_path.read_text())
    if report.get("failed"):
        failed = [e["name"] for e in report["notebooks"] if e["status"] != "passed"]
        raise PublishError(f"the run has failed notebooks: {', '.join(failed)}")
    if report.get("profile") != "full" and not allow_fast:
        raise PublishError(
            f"the run used the {report.get('profile')!r} profile; publish a full "
            "run (or pass --allow-fast)"
        )
    ran = {entry["name"] for entry in report["notebooks"]}
    if COMPARISON_NOTEBOOK not in ran:
        raise PublishError(
            f"the run did not include {COMPARISON_NOTEBOOK}, which writes the table"
        )
    started = datetime.datetime.fromisoformat(report["started"]).timestamp()
    for name in ("comparison.json", "comparison.md", "samples.png"):
        path = build_dir / "results" / name
        if not path.exists():
            raise PublishError(f"no {path}: notebook 08 did not write it")
        if path.stat().st_mtime < started:
            raise PublishError(f"{path} is older than the run: left by an earlier one")
    comparison = build_dir / "results" / "comparison.json"
    return report, json.loads(comparison.read_text())


def compact_table(rows):
    """Markdown table of the README's columns; empty cells where n/a."""
    lines = [
        "| " + " | ".join(heading for heading, _, _ in COLUMNS) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(COLUMNS))) + "|",
    ]
    for row in rows:
        cells = []
        for _, key, form in COLUMNS:
            value = row.get(key)
            cells.append("" if value is None else form.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_summary(report):
    devices = report.get("devices", {})
    return (
        f"Run of {report['started'][:10]}: profile {report['profile']}, data set "
        f"{report.get('dataset') or 'mnist_5k'}, "
        f"{devices.get('text') or 'unknown devices'}, "
        f"{len(report['notebooks'])} notebooks in "
        f"{_minutes(report['total_seconds'])}."
    )


def readme_block(report, rows):
    return "\n".join(
        [
            START,
            "",
            run_summary(report),
            "",
            compact_table(rows),
            "",
            "![Samples of every generative model of notebook 08]"
            "(docs/results/samples.png)",
            "",
            "All columns: [docs/results/comparison.md](docs/results/comparison.md);"
            " every notebook's time and key numbers: "
            "[docs/results/course_run.md](docs/results/course_run.md).",
            "",
            END,
        ]
    )


def course_run_markdown(report):
    lines = [
        "# Course run",
        "",
        run_summary(report),
        "",
        "| notebook | wall time |",
        "|---|---:|",
    ]
    for entry in report["notebooks"]:
        lines.append(f"| {entry['name']} | {_minutes(entry['seconds'])} |")
    lines += [
        "",
        "## Key numbers",
        "",
        "| notebook | quantity | value | unit | note |",
        "|---|---|---:|---|---|",
    ]
    for item in report.get("key_numbers", []):
        value = item["value"]
        if isinstance(value, float):
            value = f"{value:.4g}"
        cells = [item["notebook"], item["name"], value, item.get("unit"), item["note"]]
        cells = ["" if c is None else str(c).replace("|", "\\|") for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def replace_block(readme_text, block):
    if readme_text.count(START) != 1 or readme_text.count(END) != 1:
        raise PublishError(f"README.md must hold the markers {START} and {END} once")
    head, rest = readme_text.split(START)
    _, tail = rest.split(END)
    return head + block + tail


TIMES = Path("docs/results/notebook_seconds.json")


def record_times(report, root=ROOT):
    """Writes the run's per-notebook wall times under its profile in `TIMES`.

    Only the notebooks that passed count; the other profile's times are kept.
    Returns the path written.
    """
    path = root / TIMES
    try:
        times = json.loads(path.read_text())
    except (OSError, ValueError):
        times = {}
    times[report["profile"]] = {
        entry["name"]: round(float(entry["seconds"]), 1)
        for entry in report["notebooks"]
        if entry["status"] == "passed"
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(times, indent=2, sort_keys=True) + "\n")
    return path


def publish(build_dir, root=ROOT, allow_fast=False, check=False):
    """Writes the results; with `check`, only says whether README is current.

    Returns a list of what changed (empty when everything was current).
    """
    report, rows = load_run(build_dir, allow_fast)
    readme = root / "README.md"
    text = readme.read_text()
    new_text = replace_block(text, readme_block(report, rows))
    results = root / "docs" / "results"
    outputs = {
        results / "comparison.md": (Path(build_dir) / "results/comparison.md"),
        results / "comparison.json": (Path(build_dir) / "results/comparison.json"),
        results / "samples.png": (Path(build_dir) / "results/samples.png"),
    }
    changed = []
    if new_text != text:
        changed.append(readme)
    course_run = course_run_markdown(report)
    target = results / "course_run.md"
    if not target.exists() or target.read_text() != course_run:
        changed.append(target)
    for target, source in outputs.items():
        if not source.exists():
            raise PublishError(f"no {source}: notebook 08 did not write it")
        if not target.exists() or target.read_bytes() != source.read_bytes():
            changed.append(target)
    if check:
        return changed
    results.mkdir(parents=True, exist_ok=True)
    readme.write_text(new_text)
    (results / "course_run.md").write_text(course_run)
    for target, source in outputs.items():
        shutil.copyfile(source, target)
    changed.append(record_times(report, root))
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", default=str(ROOT / "build/course"))
    parser.add_argument("--check", action="store_true", help="only compare")
    parser.add_argument("--allow-fast", action="store_true")
    parser.add_argument(
        "--times-only",
        action="store_true",
        help="only record the wall times of the run (full or fast profile)",
    )
    args = parser.parse_args(argv)
    if args.times_only:
        try:
            report = json.loads((Path(args.build_dir) / "report.json").read_text())
        except (OSError, ValueError) as error:
            print(f"error: no readable report.json: {error}", file=sys.stderr)
            return 1
        print(f"updated: {record_times(report).relative_to(ROOT)}")
        return 0
    try:
        changed = publish(args.build_dir, allow_fast=args.allow_fast, check=args.check)
    except PublishError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    names = ", ".join(str(p.relative_to(ROOT)) for p in changed) or "nothing"
    if args.check:
        print(f"out of date: {names}" if changed else "README results are current")
        return 1 if changed else 0
    print(f"updated: {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
