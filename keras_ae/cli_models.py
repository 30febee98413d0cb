"""The work behind `python -m keras_ae train` and `python -m keras_ae evaluate`.

`train` builds and trains one of the course's models with
`keras_ae.comparison.train_model`, showing one line of progress, and saves
three files side by side:

- `<stem>.keras`: the model (load it with `keras_ae.load_model`);
- `<stem>.png`: test images and their reconstructions (autoencoders, VAEs),
  and new samples (VAEs, GANs);
- `<stem>.json`: what `evaluate` needs to know without flags (the kind, the
  data set, the image shape, the sizes, epochs, seed, training time).

`evaluate` loads such a file and measures it with the protocols of
`keras_ae.evaluation` and `keras_ae.metrics` that apply to its kind. Without a
`<stem>.json` it tells the kind from the model's class and the data set from
its image shape.

This module imports only the standard library at first: TensorFlow is
imported when a model is trained or loaded, so the command line rejects bad
arguments at once.

Example:
    >>> record = train("vae", num_epochs=100, output="build/models/vae.keras")
    >>> report = evaluate("build/models/vae.keras")
    >>> print(format_report(report))
"""

import contextlib
import json
import math
import numbers
import pathlib
import shutil
import sys
import time
import zipfile

import keras_ae
from keras_ae.kinds import FAMILIES, MODEL_KINDS

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
        >>> progress = EpochProgress(100)
        >>> callback = keras.callbacks.LambdaCallback(
        ...     on_epoch_end=lambda epoch, logs: progress.update(epoch + 1, logs),
        ...     on_train_end=lambda logs: progress.close())
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
            GANs use the recipes `keras_ae.comparison.GAN_RECIPES`).
        seed: Seed of the weights, the shuffling and the noise.
        output: Path of the `.keras` file; default `default_output(kind)`.
            The figure and metadata go next to it (`companion_paths`).
        quiet: If True, print nothing (notices of `load_dataset` excepted).

    Returns:
        The metadata written to the `.json` file, plus `model_path`,
        `figure_path` and `metadata_path`.

    Example:
        >>> train("dcgan", num_epochs=50, output="runs/dcgan.keras")["train_seconds"]
        21.3
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

    from keras_ae.comparison import train_model

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
        "keras_ae_version": keras_ae.__version__,
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

        noisy = np.asarray(corrupt(originals, model.noise, model.noise_level, seed))
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


def check_model_file(path):
    """Checks, without TensorFlow, that `path` looks like a `.keras` file.

    A `.keras` file is a zip archive holding `config.json`.

    Returns:
        The path as a `pathlib.Path`.

    Raises:
        CommandError: The file is missing, a folder, or not a Keras archive.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise CommandError(f"no such file: {path}")
    if path.is_dir():
        raise CommandError(f"{path} is a folder, not a .keras file")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        names = None
    if names is None or "config.json" not in names:
        raise CommandError(
            f"{path} is not a Keras model file (a .keras file saved by "
            "model.save or python -m keras_ae train)"
        )
    if path.suffix != ".keras":
        raise CommandError(f"expected a file name ending in .keras, got {path}")
    return path


def _read_metadata(metadata_path):
    if not metadata_path.exists():
        return None
    try:
        metadata = json.loads(metadata_path.read_text())
    except (OSError, ValueError):
        return None
    return metadata if isinstance(metadata, dict) else None


def _load_model(path):
    try:
        return keras_ae.load_model(path)
    except Exception as error:  # whatever Keras raises, the file is unreadable
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CommandError(f"cannot load {path} as a Keras model: {reason}") from None


def infer_kind(model):
    """Tells the course's model kind from a loaded model's class and layers.

    Args:
        model: A model loaded with `keras_ae.load_model`.

    Returns:
        One of `MODEL_KINDS`.

    Raises:
        CommandError: The model is none of the course's kinds.
    """
    import keras

    from keras_ae.gans import GAN, WGANGP, ConditionalGAN
    from keras_ae.training import ContractiveAutoencoder, DenoisingAutoencoder
    from keras_ae.vae import VAE, ConditionalVAE

    if isinstance(model, ConditionalVAE):
        raise CommandError("conditional VAEs are not supported by evaluate")
    if isinstance(model, VAE):
        return "vae" if model.beta == 1.0 else "beta_vae"
    if isinstance(model, WGANGP):
        return "wgan_gp"
    if isinstance(model, ConditionalGAN):
        return "conditional_gan"
    if isinstance(model, GAN):
        layers = model.generator.layers
        is_conv = any(
            isinstance(layer, keras.layers.Conv2DTranspose) for layer in layers
        )
        return "dcgan" if is_conv else "dense_gan"
    if isinstance(model, DenoisingAutoencoder):
        return "denoising"
    if isinstance(model, ContractiveAutoencoder):
        return "contractive"
    shapes = _io_shapes(model)
    if shapes is None or shapes[0] != shapes[1] or len(shapes[0]) != 3:
        raise CommandError(
            f"{model.name!r} is a Keras model but none of the course's autoencoders, "
            f"VAEs or GANs (input and output shapes {shapes})"
        )
    encoder = _encoder_of(model)
    sublayers = encoder._flatten_layers() if encoder is not None else model.layers
    if any(isinstance(layer, keras.layers.Conv2D) for layer in sublayers):
        return "convolutional"
    if any(getattr(layer, "activity_regularizer", None) for layer in sublayers):
        return "sparse"
    return "undercomplete"


def _io_shapes(model):
    try:
        return tuple(model.input_shape[1:]), tuple(model.output_shape[1:])
    except (AttributeError, ValueError, TypeError):
        return None


def _encoder_of(model):
    encoder = getattr(model, "encoder", None)
    if encoder is not None:
        return encoder
    try:
        return model.get_layer("encoder")
    except ValueError:
        return None


def image_shape_of(model, family):
    """The `(height, width, channels)` of the images a loaded model works on."""
    if family == "gan":
        shape = model.generator.output_shape[1:]
    else:
        shape = (_encoder_of(model) or model).input_shape[1:]
    return tuple(int(size) for size in shape)


def dataset_for_shape(image_shape):
    """The data set of the course whose images have `image_shape`, or None."""
    if tuple(image_shape) == (8, 8, 1):
        return "digits"
    if tuple(image_shape) == (28, 28, 1):
        # The course's own 28x28 set; mnist and fashion_mnist have the same
        # shape, and --dataset tells them apart.
        return "mnist_5k"
    return None


def evaluate(path, *, dataset=None, seed=0):
    """Loads a saved model and measures it on its data set's test images.

    - Autoencoders: reconstruction MSE, PSNR and SSIM
      (`keras_ae.evaluation.reconstruction_report`), and the MSE and PSNR of
      the PCA with as many components as the model's code has units
      (`keras_ae.metrics.pca_baseline`, capped at the number of pixels). A
      denoising autoencoder also gets the PSNR of its noisy inputs and of its
      outputs for them (its own noise, drawn with `seed`).
    - VAEs: the reconstruction metrics (the posterior mean decoded) and the
      test ELBO in nats (`VAE.test_elbo` with `ELBO_SAMPLES` draws).
    - VAEs and GANs: `keras_ae.evaluation.sample_quality` of as many samples
      as validation images with the course's classifier for the data set
      (`keras_ae.classifier.get_classifier`, trained on the training split):
      the Frechet distance of the samples to the test images next to that of
      the validation images (the floor: two real sets the classifier never
      trained on), and for a conditional GAN the fraction classified as the
      class asked for.

    Args:
        path: A `.keras` file, e.g. from `train`.
        dataset: Data set to measure on; default: the one in the `.json` file
            next to the model, else the one whose images have the model's
            shape (8x8 digits, 28x28 mnist_5k).
        seed: Seed of the noise, the ELBO draws and the samples.

    Returns:
        A dict with `model_file`, `kind`, `family`, `dataset`, `image_shape`,
        `num_test_images`, `metadata` (the training metadata or None),
        `metrics` (name -> number, see `METRICS`) and `skipped` (name ->
        reason).

    Example:
        >>> evaluate("build/models/undercomplete.keras")["metrics"]["mse"]
        0.0089
    """
    path = check_model_file(path)
    metadata = _read_metadata(companion_paths(path)[1])
    model = _load_model(path)
    kind = infer_kind(model)
    family = FAMILIES[kind]
    if metadata and metadata.get("kind") != kind:
        # The file decides; the .json may only name the beta of a VAE.
        if {metadata.get("kind"), kind} != {"vae", "beta_vae"}:
            raise CommandError(
                f"{path} holds a model of kind {kind} but "
                f"{companion_paths(path)[1].name} "
                f"says {metadata.get('kind')}; remove or fix that file"
            )
        kind = metadata["kind"]
    image_shape = image_shape_of(model, family)
    if dataset:
        dataset_source = "--dataset"
    elif metadata and metadata.get("dataset"):
        dataset, dataset_source = metadata["dataset"], "training metadata"
    else:
        dataset = dataset_for_shape(image_shape)
        dataset_source = "guessed from the image shape; --dataset chooses"
    if dataset is None:
        raise CommandError(
            f"cannot tell the data set of {path} (images {image_shape}); "
            "pass --dataset NAME"
        )
    data = _load_data(dataset)
    _, _, (x_test, _), info = data
    if tuple(info.image_shape) != image_shape:
        raise CommandError(
            f"{path} works on images {image_shape}, {info.name} has {info.image_shape}"
        )
    with _tensorflow_warnings_silenced():
        metrics, skipped = _measure(model, kind, metadata, data, seed)
    return {
        "model_file": str(path),
        "kind": kind,
        "family": family,
        "dataset": info.name,
        "dataset_source": dataset_source,
        "image_shape": list(image_shape),
        "num_test_images": len(x_test),
        "metadata": metadata,
        "metrics": metrics,
        "skipped": skipped,
    }


@contextlib.contextmanager
def _tensorflow_warnings_silenced():
    """Hides TensorFlow's Python warnings (retracing of predict functions)."""
    import logging

    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _measure(model, kind, metadata, data, seed):
    (x_train, _), (x_val, _), (x_test, _), info = data
    family = FAMILIES[kind]
    image_shape = tuple(info.image_shape)
    metrics, skipped = {}, {}
    if family in ("autoencoder", "vae"):
        from keras_ae.evaluation import reconstruction_report

        metrics.update(reconstruction_report(model, x_test))
    if family == "autoencoder":
        metrics.update(_pca_metrics(model, metadata, x_train, x_test, skipped))
    if kind == "denoising":
        metrics.update(_denoising_metrics(model, x_test, seed))
    if family == "vae":
        metrics["test_elbo"] = float(
            model.test_elbo(x_test, num_samples=ELBO_SAMPLES, seed=seed)
        )
    if family in ("vae", "gan"):
        metrics.update(
            _sample_metrics(model, kind, info, image_shape, x_val, x_test, seed)
        )
    return metrics, skipped


def _pca_metrics(model, metadata, x_train, x_test, skipped):
    import numpy as np

    from keras_ae.metrics import pca_baseline

    code_units = (metadata or {}).get("code_units")
    encoder = _encoder_of(model)
    if encoder is not None:
        code_units = math.prod(encoder.output_shape[1:])
    num_pixels = int(np.prod(x_train.shape[1:]))
    if not code_units:
        skipped["PCA baseline"] = "the model's code size is unknown"
        return {}
    if code_units >= min(len(x_train), num_pixels):
        skipped["PCA baseline"] = (
            f"the code ({code_units} units) is as large as the image ({num_pixels} "
            "values): PCA of that size reconstructs exactly"
        )
        return {}
    components = int(code_units)
    baseline = pca_baseline(x_train, x_test, components)
    return {
        "pca_mse": baseline["mse"],
        "pca_psnr": baseline["psnr"],
        "pca_components": components,
    }


def _denoising_metrics(model, x_test, seed):
    import numpy as np

    from keras_ae.data import corrupt
    from keras_ae.metrics import mse, psnr

    noisy = np.asarray(corrupt(x_test, model.noise, model.noise_level, seed=seed))
    denoised = np.asarray(model.predict(noisy, verbose=0))
    return {
        "noisy_psnr": psnr(x_test, noisy),
        "denoised_mse": mse(x_test, denoised),
        "denoised_psnr": psnr(x_test, denoised),
    }


def _sample_metrics(model, kind, info, image_shape, x_val, x_test, seed):
    import numpy as np

    from keras_ae.classifier import get_classifier
    from keras_ae.evaluation import sample_quality

    classifier = get_classifier(info.name, image_size=image_shape[:2])
    # As many samples as validation images: the floor compares those with the
    # test images, and the distance depends on the sizes of the sets.
    num_images = len(x_val)
    if FAMILIES[kind] == "vae":
        generated = model.sample(num_images, seed=seed)
    else:
        from keras_ae.gan_experiments import generate_images

        generated, _ = generate_images(model, num_images, seed=seed)
    generated = np.clip(np.asarray(generated), 0.0, 1.0)
    quality = sample_quality(classifier, generated, x_test, x_val)
    keys = (
        "frechet_distance",
        "real_floor",
        "num_covered",
        "effective_classes",
        "confidence",
    )
    metrics = {key: quality[key] for key in keys}
    if kind == "conditional_gan":
        from keras_ae.gan_experiments import conditional_accuracy

        accuracy = conditional_accuracy(classifier, model, num_images, seed=seed)
        metrics["conditional_accuracy"] = accuracy["accuracy"]
    return metrics


def _plain(value):
    """A JSON-friendly value: a Python int or float, None for NaN or infinity."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def report_json(report):
    """The report of `evaluate` as strict JSON text."""
    plain = dict(report)
    plain["metrics"] = {key: _plain(value) for key, value in report["metrics"].items()}
    return json.dumps(plain, indent=2, allow_nan=False)


def format_report(report):
    """The report of `evaluate` as a few lines and a Markdown table."""
    from keras_ae.tables import to_markdown_table

    height, width, channels = report["image_shape"]
    kind = report["kind"]
    if report["family"] != kind:
        kind += f" ({report['family']})"
    lines = [
        f"{report['model_file']}: {kind}, measured on {report['num_test_images']} "
        f"{report['dataset']} test images {height}x{width}x{channels} "
        f"(data set: {report.get('dataset_source', 'given')})"
    ]
    metadata = report["metadata"]
    if metadata:
        lines.append(
            f"trained {metadata.get('num_epochs')} epochs in "
            f"{metadata.get('train_seconds')} s, seed {metadata.get('seed')}, "
            f"keras_ae {metadata.get('keras_ae_version')}"
        )
    rows = []
    for key, value in report["metrics"].items():
        label, unit = METRICS.get(key, (key, ""))
        rows.append({"metric": label, "value": _plain(value), "unit": unit})
    lines.append("")
    if rows:
        lines.append(to_markdown_table(rows, ["metric", "value", "unit"]))
    for name, reason in report["skipped"].items():
        lines.append(f"skipped {name}: {reason}")
    return "\n".join(lines)


@contextlib.contextmanager
def stdout_to_stderr():
    """Sends the library's notices to stderr, keeping stdout for JSON."""
    with contextlib.redirect_stdout(sys.stderr):
        yield
