"""Command line: `python -m keras_ae COMMAND ...`, also installed as `keras-ae`.

Commands:
    course    Run the course's notebooks in order and write a report.
    train     Train one model of the course; save it, a figure and its metadata.
    evaluate  Load a saved model and print the test metrics that apply to it.

The work of `train` and `evaluate` is in `keras_ae.course.cli`; this module
only parses arguments, and checks them before TensorFlow is imported.

Example:
    python -m keras_ae course --fast
    python -m keras_ae course --notebooks "02_*" --dataset mnist --output build/try
    python -m keras_ae train vae --epochs 100
    python -m keras_ae evaluate build/models/vae.keras
"""

import argparse
import math
import os
import sys


class _Parser(argparse.ArgumentParser):
    """An `ArgumentParser` that can report usage errors as one line.

    With `one_line_errors=True` (the `train` and `evaluate` commands) an error
    prints `error: ...` on one line of stderr instead of the usage and the
    message, and unknown arguments are that parser's error. Otherwise it is a
    plain `ArgumentParser`.
    """

    def __init__(self, *args, one_line_errors=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.one_line_errors = one_line_errors

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if self.one_line_errors and extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def error(self, message):
        if not self.one_line_errors:
            super().error(message)
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


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
    from keras_ae.course.runner import DEFAULT_CELL_TIMEOUT

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
        help="data set for every notebook (KERAS_AE_DATASET), e.g. mnist_5k or mnist",
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

    from keras_ae.course import runner

    try:
        notebooks_dir = runner.find_notebooks_dir(args.notebooks_dir)
    except ValueError as error:
        parser.error(str(error))
    notebooks = runner.select_notebooks(notebooks_dir, args.notebooks)
    if not notebooks:
        wanted = f" matching {args.notebooks}" if args.notebooks else ""
        parser.error(f"no notebooks{wanted} in {notebooks_dir}")
    output = Path(args.output) if args.output else notebooks_dir.parent / "build/course"
    profile = "fast" if args.fast else "full"
    # For the estimate of the time left: the published times of the last full
    # and fast runs, overridden by the last run of this profile in `output`.
    expected = runner.published_seconds(notebooks_dir.parent, profile)
    expected.update(runner.previous_seconds(output, profile))
    report = runner.run_course(
        notebooks,
        output,
        fast=args.fast,
        dataset=args.dataset,
        timeout=args.timeout,
        log=lambda line: print(line, flush=True),
        expected_seconds=expected,
    )
    return 1 if report["failed"] else 0


# train and evaluate. Their arguments are checked here, before the handler
# imports keras_ae.course.cli' heavy parts (TensorFlow takes seconds to load).


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a whole number > 0, received {text!r}"
        )
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a whole number >= 0, received {text!r}"
        )
    return value


def _learning_rate(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0, received {text!r}")
    return value


def _name(text):
    """Model and data set names: `beta-vae` is `beta_vae`, `MNIST` is `mnist`."""
    from keras_ae.course.cli import normalize_kind

    return normalize_kind(text)


def _keras_path(text):
    if not text.endswith(".keras"):
        raise argparse.ArgumentTypeError(
            f"expected a file name ending in .keras, received {text!r}"
        )
    return text


def _add_train_command(subcommands):
    from keras_ae.course import cli
    from keras_ae.train.kinds import MODEL_KINDS

    kinds = ", ".join(MODEL_KINDS)
    parser = subcommands.add_parser(
        "train",
        one_line_errors=True,
        help="train one model of the course and save it (.keras, .png, .json)",
        description=(
            "Train one model of the course (keras_ae.train.registry.train_model) and "
            "save it as a .keras file, with a figure of reconstructions or samples "
            "(.png) and the training settings (.json) next to it. "
            f"MODEL is one of: {kinds}."
        ),
        epilog=(
            "The defaults train a model on the 3,500 training digits of mnist_5k "
            "in a few minutes at most on 2 CPU cores. "
            "Example: python -m keras_ae train vae --epochs 200 --output "
            "runs/vae.keras"
        ),
    )
    parser.add_argument(
        "model",
        type=_name,
        choices=MODEL_KINDS,
        metavar="MODEL",
        help="the kind of model ('-' may stand for '_')",
    )
    parser.add_argument(
        "--dataset",
        type=_name,
        choices=cli.DATASETS,
        metavar="NAME",
        help=(
            f"one of {', '.join(cli.DATASETS)} (default: $KERAS_AE_DATASET "
            "or mnist_5k; the full MNIST sets fall back to mnist_5k when offline)"
        ),
    )
    parser.add_argument(
        "--code-size",
        type=_positive_int,
        metavar="N",
        help=(
            "code size of an autoencoder, latent size of a VAE "
            f"(default: {cli.DEFAULT_CODE_SIZE})"
        ),
    )
    parser.add_argument(
        "--latent-dim",
        type=_positive_int,
        metavar="N",
        help=f"noise size of a GAN (default: {cli.DEFAULT_LATENT_DIM})",
    )
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        metavar="N",
        help=(
            "passes over the training images (default: "
            + ", ".join(f"{n} on {d}" for d, n in cli.DEFAULT_EPOCHS.items())
            + f", {cli.OTHER_EPOCHS} on the full MNIST sets)"
        ),
    )
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=cli.DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"images per step (default: {cli.DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--learning-rate",
        type=_learning_rate,
        metavar="X",
        help=(
            "initial Adam step of an autoencoder or VAE, decayed to 0 "
            f"(default: {cli.DEFAULT_LEARNING_RATE}; GANs use the tuned "
            "recipes of notebook 07)"
        ),
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=0,
        metavar="N",
        help="seed of the weights, the shuffling and the noise (default: 0)",
    )
    parser.add_argument(
        "--output",
        type=_keras_path,
        metavar="PATH",
        help=(
            "the .keras file to write (default: build/models/MODEL.keras); the "
            "figure and metadata go next to it as .png and .json"
        ),
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar or messages (errors are still reported)",
    )
    parser.set_defaults(handler=lambda args: _run_train_command(args, parser))


def _run_train_command(args, parser):
    from keras_ae.course import cli
    from keras_ae.train.kinds import FAMILIES

    family = FAMILIES[args.model]
    if family == "gan":
        if args.code_size is not None:
            parser.error(
                f"--code-size does not apply to {args.model}, a GAN: use --latent-dim"
            )
        if args.learning_rate is not None:
            parser.error(
                f"--learning-rate does not apply to {args.model}, a GAN: it uses the "
                "tuned step sizes of notebook 07"
            )
    elif args.latent_dim is not None:
        parser.error(f"--latent-dim does not apply to {args.model}: use --code-size")
    # Figures are only saved: no window system needed (unless one was chosen).
    os.environ.setdefault("MPLBACKEND", "Agg")
    cli.train(
        args.model,
        dataset=args.dataset,
        code_size=args.code_size or cli.DEFAULT_CODE_SIZE,
        latent_dim=args.latent_dim or cli.DEFAULT_LATENT_DIM,
        num_epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate or cli.DEFAULT_LEARNING_RATE,
        seed=args.seed,
        output=args.output,
        quiet=args.quiet,
    )
    return 0


def _add_evaluate_command(subcommands):
    from keras_ae.course import cli

    parser = subcommands.add_parser(
        "evaluate",
        one_line_errors=True,
        help="load a saved model and print its test metrics",
        description=(
            "Load a .keras file saved by `train` (or any of the course's models) "
            "and print the test metrics that apply: reconstruction MSE, PSNR, SSIM "
            "and PCA's MSE at the same code size (autoencoders), the test ELBO "
            "(VAEs), Frechet distance and class coverage with the course's digit "
            "classifier (VAEs and GANs). The kind and data set come from the "
            ".json file next to the model, else from the model itself."
        ),
    )
    parser.add_argument("model_file", metavar="MODEL_FILE", help="a .keras file")
    parser.add_argument(
        "--dataset",
        type=_name,
        choices=cli.DATASETS,
        metavar="NAME",
        help="data set to measure on (default: the one the model was trained on)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=0,
        metavar="N",
        help="seed of the noise, ELBO draws and samples (default: 0)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the report as JSON on stdout"
    )
    parser.set_defaults(handler=_run_evaluate_command)


def _run_evaluate_command(args):
    from keras_ae.course import cli_evaluate

    path = cli_evaluate.check_model_file(args.model_file)  # fails before TensorFlow
    if args.json:
        with cli_evaluate.stdout_to_stderr():
            report = cli_evaluate.evaluate(path, dataset=args.dataset, seed=args.seed)
        print(cli_evaluate.report_json(report))
    else:
        report = cli_evaluate.evaluate(path, dataset=args.dataset, seed=args.seed)
        print(cli_evaluate.format_report(report))
    return 0


def build_parser():
    """Returns the `argparse` parser of `python -m keras_ae`."""
    parser = argparse.ArgumentParser(
        prog="python -m keras_ae",
        description=(
            "The keras-ae course: run its notebooks, train a model of the course, "
            "evaluate a saved model."
        ),
    )
    subcommands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    _add_course_command(subcommands)
    _add_train_command(subcommands)
    _add_evaluate_command(subcommands)
    return parser


def main(argv=None):
    """Runs the command line and returns its exit status.

    Args:
        argv: Arguments without the program name; default `sys.argv[1:]`.

    Returns:
        0 on success, 1 if a command's work failed (a notebook, a missing or
        unreadable model file; `error: ...` on one line of stderr), 2 for a
        usage error (argparse prints the reason).
    """
    from keras_ae.course.cli import CommandError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.handler(args)
    except SystemExit as exit_request:  # argparse's way to stop: --help, errors
        code = exit_request.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
