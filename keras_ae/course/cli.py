"""The work behind `python -m keras_ae train` and `python -m keras_ae evaluate`.

`train` builds and trains one of the course's models with
`keras_ae.train.registry.train_model`, showing one line of progress, and saves
three files side by side:

- `<stem>.keras`: the model (load it with `keras_ae.load_model`);
- `<stem>.png`: test images and their reconstructions (autoencoders, VAEs),
  and new samples (VAEs, GANs);
- `<stem>.json`: what `evaluate` needs to know without flags (the kind, the
  data set, the image shape, the sizes, epochs, seed, training time).

`evaluate` loads such a file and measures it with the protocols of
`keras_ae.evaluate.protocols` and `keras_ae.evaluate.metrics` that apply to its
kind. Without a
`<stem>.json` it tells the kind from the model's class and the data set from
its image shape.

This module imports only the standard library at first: TensorFlow is
imported when a model is trained or loaded, so the command line rejects bad
arguments at once.

Example (one epoch on the 8x8 digits, to a temporary folder):
    >>> import tempfile
    >>> from keras_ae.course.cli_evaluate import evaluate, format_report
    >>> path = f"{tempfile.mkdtemp()}/undercomplete.keras"
    >>> record = train("undercomplete", dataset="digits", num_epochs=1,
    ...                code_size=4, output=path, quiet=True)
    >>> print(format_report(evaluate(path)))
    /.../undercomplete.keras: undercomplete (autoencoder), measured on 450 digits
    test images 8x8x1 (data set: training metadata)
    trained 1 epochs in ... s, seed 0, keras_ae ...
    <BLANKLINE>
    | metric | value | unit |
    | ... |
    | reconstruction MSE | ... | per pixel |
    | reconstruction PSNR | ... | dB |
    | reconstruction SSIM | ... | |
    | PCA MSE, same code size | ... | per pixel |
    | PCA PSNR, same code size | ... | dB |
    | PCA components | 4 | |
"""

import json
import pathlib
import shutil
import sys
import time

from keras_ae._version import __version__
from keras_ae.train.kinds import FAMILIES, MODEL_KINDS

__all__ = [
    "DATASETS",
    "DEFAULT_OUTPUT_DIR",
    "DEFAULT_CODE_SIZE",
    "DEFAULT_LATENT_DIM",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LEARNING_RATE",
    "DEFAULT_EPOCHS",
    "OTHER_EPOCHS",
    "ELBO_SAMPLES",
    "FIGURE_COLUMNS",
    "METRICS",
    "CommandError",
    "normalize_kind",
    "default_output",
    "companion_paths",
    "default_epochs",
    "EpochProgress",
    "train",
]


# `keras_ae.data.KNOWN_DATASETS`, for the same reason.
DATASETS = ("mnist_5k", "digits", "mnist", "fashion_mnist")


DEFAULT_OUTPUT_DIR = pathlib.Path("build/models")


DEFAULT_CODE_SIZE = 32


DEFAULT_LATENT_DIM = 32


DEFAULT_BATCH_SIZE = 64


DEFAULT_LEARNING_RATE = 3e-3


# Default epochs per data set: the embedded sets are small (3,500 training images
# of mnist_5k, 1,077 of the 8x8 digits); the full TFDS sets have 55,000.
DEFAULT_EPOCHS = {"mnist_5k": 30, "digits": 100}


OTHER_EPOCHS = 5


ELBO_SAMPLES = 10  # draws of z per test image for the VAE's test ELBO


FIGURE_COLUMNS = 10


# Metric key -> (label, unit) for the table of `format_report`.
METRICS = {
    "mse": ("reconstruction MSE", "per pixel"),
    "psnr": ("reconstruction PSNR", "dB"),
    "ssim": ("reconstruction SSIM", ""),
    "pca_mse": ("PCA MSE, same code size", "per pixel"),
    "pca_psnr": ("PCA PSNR, same code size", "dB"),
    "pca_components": ("PCA components", ""),
    "noisy_psnr": ("PSNR of the noisy inputs", "dB"),
    "denoised_mse": ("denoised MSE", "per pixel"),
    "denoised_psnr": ("denoised PSNR", "dB"),
    "test_elbo": ("test ELBO", "nats per image"),
    "frechet_distance": ("Frechet distance to test images", "classifier features"),
    "real_floor": ("Frechet distance, real vs real", "classifier features"),
    "num_covered": ("classes covered", "of 10"),
    "effective_classes": ("effective classes", "exp(entropy)"),
    "confidence": ("classifier confidence", "mean max prob."),
    "conditional_accuracy": ("classified as requested", "fraction"),
}


class CommandError(Exception):
    """A failure the command line reports as one line, with exit status 1."""


def normalize_kind(text):
    """Returns the model kind named by `text` (`"beta-vae"` -> `"beta_vae"`)."""
    return text.strip().lower().replace("-", "_")


def default_output(kind):
    """Returns `build/models/<kind>.keras`, relative to the working directory."""
    return DEFAULT_OUTPUT_DIR / f"{kind}.keras"


def companion_paths(model_path):
    """Returns the figure and metadata paths next to a `.keras` file."""
    model_path = pathlib.Path(model_path)
    return model_path.with_suffix(".png"), model_path.with_suffix(".json")


def default_epochs(dataset_name):
    """Epochs used when none are given: `DEFAULT_EPOCHS`, else `OTHER_EPOCHS`."""
    return DEFAULT_EPOCHS.get(dataset_name, OTHER_EPOCHS)


class EpochProgress:
    """One line of progress over the epochs of a training run.

    On a terminal the line is rewritten in place after every epoch; elsewhere
    (a log file, a pipe) a line is written every tenth of the run. The line
    shows the epoch, a bar, the elapsed time, an estimate of the time left
    (from the epochs after the first, which also traces the model) and the
    losses of the last epoch.

    Args:
        num_epochs: Epochs of the run, > 0.
        stream: Where to write; default `sys.stdout`.
        dynamic: Rewrite one line (True) or write separate lines (False);
            default: whether `stream` is a terminal.

    Example:
        >>> progress = EpochProgress(3, dynamic=False)  # one line per epoch
        >>> for epoch in (1, 2, 3):  # from a callback's on_epoch_end
        ...     progress.update(epoch, {"loss": 0.3 / epoch, "val_loss": 0.4 / epoch})
        epoch 1/3 [=======             ] ...s, ETA ? - loss 0.3 - val_loss 0.4
        epoch 2/3 [=============       ] ...s, ETA ...s - loss 0.15 - val_loss 0.2
        epoch 3/3 [====================] ...s, ETA 0s - loss 0.1 - val_loss 0.1333
    """

    def __init__(self, num_epochs, stream=None, dynamic=None):
        self.num_epochs = int(num_epochs)
        self.stream = sys.stdout if stream is None else stream
        if dynamic is None:
            dynamic = bool(getattr(self.stream, "isatty", lambda: False)())
        self.dynamic = dynamic
        self._every = max(1, self.num_epochs // 10)
        self._start = time.monotonic()
        self._first_epoch_end = None
        self._open_line = 0  # characters of a line not yet ended

    def format_line(self, epoch, logs, elapsed, remaining):
        width = len(str(self.num_epochs))
        done = round(20 * epoch / self.num_epochs)
        bar = "=" * done + " " * (20 - done)
        eta = "?" if remaining is None else _duration(remaining)
        names = sorted(
            (name for name in logs or {} if name.endswith("loss")),
            key=lambda name: name != "loss",  # the total first, then in order
        )
        losses = "".join(f" - {name} {float(logs[name]):.4g}" for name in names)
        return (
            f"epoch {epoch:>{width}}/{self.num_epochs} [{bar}] "
            f"{_duration(elapsed)}, ETA {eta}{losses}"
        )

    def update(self, epoch, logs=None):
        """Shows the state after `epoch` (1-based) with that epoch's `logs`."""
        now = time.monotonic()
        if epoch == 1 or self._first_epoch_end is None:
            self._first_epoch_end = (now, epoch)
        first_time, first_epoch = self._first_epoch_end
        remaining = None
        if epoch > first_epoch:
            per_epoch = (now - first_time) / (epoch - first_epoch)
            remaining = per_epoch * (self.num_epochs - epoch)
        elif epoch == self.num_epochs:
            remaining = 0.0
        line = self.format_line(epoch, logs, now - self._start, remaining)
        if self.dynamic:
            columns = shutil.get_terminal_size((100, 24)).columns
            line = line[: max(columns - 1, 20)]
            self.stream.write("\r" + line.ljust(self._open_line))
            self._open_line = len(line)
        elif epoch % self._every == 0 or epoch == self.num_epochs:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        """Ends the line being rewritten, if any."""
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = 0


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _progress_callback(progress):
    import keras

    return keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: progress.update(epoch + 1, logs),
        on_train_end=lambda logs: progress.close(),
    )


def _load_data(name, image_size=None):
    from keras_ae.data import load_dataset

    try:
        return load_dataset(name, image_size=image_size)
    except ValueError as error:
        raise CommandError(str(error)) from None


def _prepare_output(output):
    path = pathlib.Path(output)
    if path.suffix != ".keras":
        raise CommandError(f"expected an output path ending in .keras, got {path}")
    if path.is_dir():
        raise CommandError(f"the output path {path} is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"cannot create the folder {path.parent}: {error}") from None
    return path


def train(
    kind,
    *,
    dataset=None,
    code_size=DEFAULT_CODE_SIZE,
    latent_dim=DEFAULT_LATENT_DIM,
    num_epochs=None,
    batch_size=DEFAULT_BATCH_SIZE,
    learning_rate=DEFAULT_LEARNING_RATE,
    seed=0,
    output=None,
    quiet=False,
):
    """Trains one model of the course and saves it with a figure and metadata.

    Args:
        kind: One of `MODEL_KINDS` (`"-"` may stand for `"_"`).
        dataset: A `keras_ae.data.load_dataset` name; default
            `keras_ae.data.default_dataset()` (`$KERAS_AE_DATASET` or mnist_5k).
        code_size: Code size of the autoencoders, latent size of the VAEs.
        latent_dim: Noise size of the GANs.
        num_epochs: Passes over the training images; default
            `default_epochs(dataset)`.
        batch_size: Images per step.
        learning_rate: Initial Adam step of the autoencoders and VAEs (the
            GANs use the recipes `keras_ae.train.gan_recipes.GAN_RECIPES`).
        seed: Seed of the weights, the shuffling and the noise.
        output: Path of the `.keras` file; default `default_output(kind)`.
            The figure and metadata go next to it (`companion_paths`).
        quiet: If True, print nothing (notices of `load_dataset` excepted).

    Returns:
        The metadata written to the `.json` file, plus `model_path`,
        `figure_path` and `metadata_path`.

    Example:
        >>> train("beta-vea")  # checked before TensorFlow is imported
        Traceback (most recent call last):
        ...
        keras_ae.course.cli.CommandError: unknown model 'beta_vea'; choose from (...)
        >>> companion_paths("runs/dcgan.keras")  # the figure and metadata files
        (PosixPath('runs/dcgan.png'), PosixPath('runs/dcgan.json'))
    """
    kind = normalize_kind(kind)
    if kind not in FAMILIES:
        raise CommandError(f"unknown model {kind!r}; choose from {MODEL_KINDS}")
    family = FAMILIES[kind]
    model_path = _prepare_output(output or default_output(kind))
    figure_path, metadata_path = companion_paths(model_path)
    (x_train, y_train), _, (x_test, _), info = _load_data(dataset)
    if num_epochs is None:
        num_epochs = default_epochs(info.name)
    sizes = f"latent_dim {latent_dim}" if family == "gan" else f"code_size {code_size}"
    if not quiet:
        height, width, channels = info.image_shape
        print(
            f"Training {kind} on {info.name} ({len(x_train)} images "
            f"{height}x{width}x{channels}): {num_epochs} epochs, batch_size "
            f"{batch_size}, {sizes}, seed {seed}",
            flush=True,
        )

    from keras_ae.train.registry import train_model

    callbacks = None if quiet else [_progress_callback(EpochProgress(num_epochs))]
    try:
        trained = train_model(
            kind,
            x_train,
            y_train,
            code_size=code_size,
            latent_dim=latent_dim,
            num_epochs=num_epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
            callbacks=callbacks,
        )
    except ValueError as error:  # e.g. a DCGAN on images of an odd size
        raise CommandError(f"cannot train {kind} on {info.name}: {error}") from None
    import matplotlib.pyplot as plt

    figure = _figure(trained, x_test, info.name, seed)
    # A .json left by an earlier model at this path must not describe this one.
    try:
        metadata_path.unlink(missing_ok=True)
    except OSError as error:
        raise CommandError(f"cannot replace {metadata_path}: {error}") from None
    try:
        for target, write in (
            (model_path, trained.model.save),
            (figure_path, lambda target: figure.savefig(target, dpi=100)),
        ):
            try:
                write(target)
            except OSError as error:
                raise CommandError(f"cannot write {target}: {error}") from None
    finally:
        plt.close(figure)
    metadata = {
        "kind": kind,
        "family": family,
        "dataset": info.name,
        "requested_dataset": info.requested,
        "image_shape": list(info.image_shape),
        "code_size": None if family == "gan" else code_size,
        "code_units": None if family == "gan" else trained.code_size,
        "latent_dim": latent_dim if family == "gan" else None,
        "num_epochs": num_epochs,
        "batch_size": batch_size,
        "learning_rate": None if family == "gan" else learning_rate,
        "seed": seed,
        "num_params": trained.num_params,
        "train_seconds": round(trained.train_seconds, 2),
        "keras_ae_version": __version__,
    }
    try:
        metadata_path.write_text(json.dumps(metadata, indent=2) + "\n")
    except OSError as error:
        raise CommandError(f"cannot write {metadata_path}: {error}") from None
    if not quiet:
        print(
            f"Trained in {trained.train_seconds:.1f} s. Saved {model_path}, "
            f"{figure_path.name} and {metadata_path.name}.\n"
            f"Evaluate it with: python -m keras_ae evaluate {model_path}",
            flush=True,
        )
    paths = {
        "model_path": str(model_path),
        "figure_path": str(figure_path),
        "metadata_path": str(metadata_path),
    }
    return {**metadata, **paths}


def _figure(trained, x_test, dataset_name, seed):
    """Reconstructions and/or samples of a freshly trained model."""
    import numpy as np

    from keras_ae import plotting

    title = f"{trained.kind} on {dataset_name}, {trained.num_epochs} epochs"
    originals = x_test[:FIGURE_COLUMNS]
    model = trained.model
    if trained.family == "gan":
        images = trained.generate(4 * FIGURE_COLUMNS, seed)
        if trained.kind == "conditional_gan":
            title += " (column j: class j)"
        return plotting.image_grid(
            np.clip(images, 0, 1), num_columns=FIGURE_COLUMNS, title=title
        )
    if trained.kind == "denoising":
        from keras_ae.data import corrupt

        noisy = np.asarray(
            corrupt(
                originals,
                model.noise,
                model.noise_level,
                seed,
                value_range=model.value_range,
            )
        )
        rows = {
            "original": originals,
            "noisy": noisy,
            "denoised": model.predict(noisy, verbose=0),
        }
    else:
        rows = {
            "original": originals,
            "reconstruction": model.predict(originals, verbose=0),
        }
    if trained.family == "vae":
        rows["sample"] = trained.generate(FIGURE_COLUMNS, seed)
    return plotting.plot_rows(rows, num_images=FIGURE_COLUMNS, title=title)
