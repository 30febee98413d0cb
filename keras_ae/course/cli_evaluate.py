"""`python -m keras_ae evaluate`: measure a saved model of the course on its data set's
test split.
"""

import contextlib
import json
import math
import numbers
import pathlib
import sys
import zipfile

from keras_ae.course.cli import (
    ELBO_SAMPLES,
    METRICS,
    CommandError,
    _load_data,
    companion_paths,
)
from keras_ae.models.saving import load_model
from keras_ae.train.kinds import FAMILIES

__all__ = [
    "check_model_file",
    "infer_kind",
    "image_shape_of",
    "dataset_for_shape",
    "evaluate",
    "report_json",
    "format_report",
    "stdout_to_stderr",
]


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
        return load_model(path)
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

    from keras_ae.models.contractive import ContractiveAutoencoder
    from keras_ae.models.denoising import DenoisingAutoencoder
    from keras_ae.models.gans import GAN, ConditionalGAN
    from keras_ae.models.vae import VAE, ConditionalVAE
    from keras_ae.models.wgan import WGANGP

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
      (`keras_ae.evaluate.protocols.reconstruction_report`), and the MSE and PSNR of
      the PCA with as many components as the model's code has units
      (`keras_ae.evaluate.metrics.pca_baseline`, capped at the number of pixels). A
      denoising autoencoder also gets the PSNR of its noisy inputs and of its
      outputs for them (its own noise, drawn with `seed`).
    - VAEs: the reconstruction metrics (the posterior mean decoded) and the
      test ELBO in nats (`VAE.test_elbo` with `ELBO_SAMPLES` draws).
    - VAEs and GANs: `keras_ae.evaluate.protocols.sample_quality` of as many samples
      as validation images with the course's classifier for the data set
      (`keras_ae.evaluate.classifier.get_classifier`, trained on the training split):
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
        >>> import tempfile
        >>> from keras_ae.models.autoencoders import build_dense_autoencoder
        >>> path = f"{tempfile.mkdtemp()}/untrained.keras"  # no .json next to it
        >>> build_dense_autoencoder((8, 8, 1), 4, hidden_units=(16,)).save(path)
        >>> report = evaluate(path)
        >>> report["kind"], report["dataset"], report["num_test_images"]
        ('undercomplete', 'digits', 450)
        >>> report["dataset_source"]
        'guessed from the image shape; --dataset chooses'
        >>> sorted(report["metrics"])
        ['mse', 'pca_components', 'pca_mse', 'pca_psnr', 'psnr', 'ssim']
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
        from keras_ae.evaluate.protocols import reconstruction_report

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

    from keras_ae.evaluate.metrics import pca_baseline

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
    from keras_ae.evaluate.metrics import mse, psnr

    noisy = np.asarray(
        corrupt(
            x_test,
            model.noise,
            model.noise_level,
            seed=seed,
            value_range=model.value_range,
        )
    )
    denoised = np.asarray(model.predict(noisy, verbose=0))
    return {
        "noisy_psnr": psnr(x_test, noisy),
        "denoised_mse": mse(x_test, denoised),
        "denoised_psnr": psnr(x_test, denoised),
    }


def _sample_metrics(model, kind, info, image_shape, x_val, x_test, seed):
    import numpy as np

    from keras_ae.evaluate.classifier import get_classifier
    from keras_ae.evaluate.protocols import sample_quality

    classifier = get_classifier(info.name, image_size=image_shape[:2])
    # As many samples as validation images: the floor compares those with the
    # test images, and the distance depends on the sizes of the sets.
    num_images = len(x_val)
    if FAMILIES[kind] == "vae":
        generated = model.sample(num_images, seed=seed)
    else:
        from keras_ae.evaluate.samples import generate_images

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
        from keras_ae.evaluate.samples import conditional_accuracy

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
