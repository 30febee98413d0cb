"""Command line: `python -m keras_ae COMMAND ...`, also installed as `keras-ae`.

Commands:
    course    Run the course's notebooks in order and write a report.

Example:
    python -m keras_ae course --fast
    python -m keras_ae course --notebooks "02_*" --dataset mnist --output build/try
"""

import argparse
import sys


def _positive_seconds(text):
    """Parses --timeout: whole seconds > 0 (nbclient counts in whole seconds)."""
    try:
        seconds = int(text)
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of seconds > 0, received {text!r}"
        )
    return seconds


def _dataset_name(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a data set name, received ''")
    return text.strip()


def _add_course_command(subcommands):
    from keras_ae.course import DEFAULT_CELL_TIMEOUT

    parser = subcommands.add_parser(
        "course",
        help="run the notebooks in order and write a report",
        description=(
            "Execute notebooks/*.ipynb in name order; save each executed notebook "
            "and an HTML copy, then report.json and report.md, in the output folder. "
            "Exit status 1 if any notebook fails."
        ),
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="fast profile (KERAS_AE_PROFILE=fast): few epochs, small subsets",
    )
    parser.add_argument(
        "--dataset",
        type=_dataset_name,
        metavar="NAME",
        help="data set for every notebook (KERAS_AE_DATASET), e.g. digits or mnist",
    )
    parser.add_argument(
        "--notebooks",
        nargs="+",
        metavar="PATTERN",
        help="run only notebooks whose name matches a pattern ('02_*') or contains it",
    )
    parser.add_argument(
        "--notebooks-dir",
        metavar="DIR",
        help="folder of the notebooks (default: notebooks/ of the repository)",
    )
    parser.add_argument(
        "--output",
        metavar="DIR",
        help="output folder (default: build/course in the repository)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_CELL_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit for one cell (default: {DEFAULT_CELL_TIMEOUT})",
    )
    # The handler gets this subparser, to report usage errors under "course".
    parser.set_defaults(handler=lambda args: _run_course_command(args, parser))


def _run_course_command(args, parser):
    from pathlib import Path

    from keras_ae import course

    try:
        notebooks_dir = course.find_notebooks_dir(args.notebooks_dir)
    except ValueError as error:
        parser.error(str(error))
    notebooks = course.select_notebooks(notebooks_dir, args.notebooks)
    if not notebooks:
        wanted = f" matching {args.notebooks}" if args.notebooks else ""
        parser.error(f"no notebooks{wanted} in {notebooks_dir}")
    output = Path(args.output) if args.output else notebooks_dir.parent / "build/course"
    report = course.run_course(
        notebooks,
        output,
        fast=args.fast,
        dataset=args.dataset,
        timeout=args.timeout,
        log=lambda line: print(line, flush=True),
    )
    return 1 if report["failed"] else 0


def build_parser():
    """Returns the `argparse` parser of `python -m keras_ae`."""
    parser = argparse.ArgumentParser(
        prog="python -m keras_ae",
        description="The keras-ae course: run its notebooks (more commands to come).",
    )
    subcommands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND"
    )
    _add_course_command(subcommands)
    # Later commands register here the same way, each with its own
    # _add_<name>_command(subcommands) and handler, e.g.:
    #   train     train one model from the command line and save it (.keras)
    #   evaluate  load a saved model and print its test metrics
    return parser


def main(argv=None):
    """Runs the command line and returns its exit status.

    Args:
        argv: Arguments without the program name; default `sys.argv[1:]`.

    Returns:
        0 on success, 1 if a command's work failed (e.g. a notebook), 2 for a
        usage error (argparse prints the reason on one line).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.handler(args)
    except SystemExit as exit_request:  # argparse's way to stop: --help, errors
        code = exit_request.code
        return code if isinstance(code, int) else (0 if code is None else 1)


if __name__ == "__main__":
    sys.exit(main())
