"""Every model of the course trained with one budget, and measured the same way.

`train_model(kind, x_train, y_train)` builds and trains one of `MODEL_KINDS`
with the batch size and seed handling of every other kind (and the number of
epochs the caller gives it), and returns a `TrainedModel` that says what the
model can do (encode, reconstruct, generate). `measure` then runs the protocols
of `keras_ae.evaluate.protocols` that apply to it and returns one row of a comparison
table; a protocol that does not apply (a GAN has no encoder, so no
reconstruction, probe or reconstruction-based anomaly score) gives `None`.

Example (one epoch on the 8x8 digits; no classifier, so no sample scores):
    >>> from keras_ae.data import load_dataset
    >>> (x_train, y_train), (x_val, y_val), (x_test, y_test), _ = load_dataset("digits")
    >>> trained = train_model("undercomplete", x_train, num_epochs=1)
    >>> row = measure(trained, x_train, y_train, x_test, y_test,
    ...               x_val=x_val, y_val=y_val)
    >>> row["model"], row["code_size"], row["frechet_distance"]
    ('undercomplete', 8, None)
    >>> 0 < row["probe_codes"] <= 1  # a linear probe's test accuracy
    True
"""

import json
import pathlib
import time

import numpy as np

from keras_ae.evaluate import protocols
from keras_ae.tables import write_table
from keras_ae.train.registry import FAMILIES, TrainedModel, _check_kind, train_model

__all__ = [
    "COLUMNS",
    "FORMATS",
    "measure",
    "anomaly_auroc",
    "summarize_seeds",
    "write_comparison",
    "add_to_comparison",
]

# The comparison table's columns (notebook 08) and their number formats.
COLUMNS = ["model", "family", "params", "train_s", "epochs", "sample_ms", "mse", "psnr",
           "ssim", "probe_codes", "auroc", "frechet_distance", "num_covered",
           "all_within", "seeds", "mse_std", "fd_std"]  # fmt: skip
FORMATS = {"params": ",.0f", "train_s": ".1f", "epochs": ".0f", "sample_ms": ".3f",
           "mse": ".4f", "psnr": ".1f", "ssim": ".3f", "probe_codes": ".3f",
           "auroc": ".3f", "frechet_distance": ".1f", "num_covered": ".1f",
           "all_within": ".2f", "seeds": ".0f", "mse_std": ".4f",
           "fd_std": ".1f"}  # fmt: skip
# Keys a row must share with the table before it joins it.
MATCHING_KEYS = ("profile", "dataset")


def measure(
    trained,
    x_train,
    y_train,
    x_test,
    y_test,
    *,
    classifier=None,
    num_generated=None,
    seed=0,
    x_val=None,
    y_val=None,
    probe_baselines=True,
):
    """Measures a `TrainedModel` with every protocol that applies to it.

    - Reconstruction (autoencoders and VAEs; a VAE decodes its posterior mean):
      `mse`, `psnr` (dB), `ssim` on `x_test`.
    - Linear probe (models with an encoder): `probe_codes`, `probe_pixels`,
      `probe_pca` (PCA codes of the same size), test accuracies; with `x_val`
      each probe's regularization is chosen on the validation split
      (`keras_ae.evaluate.protocols.probe_comparison`).
    - Samples (VAEs and GANs, if `classifier` is given): `num_generated`
      samples; `num_covered` classes, `all_within` (every class between 5% and
      20% of them), `smallest_class` and `largest_class` (the fractions of the
      rarest and the commonest class) and `effective_classes` from all of them;
      `frechet_distance` of the first `len(x_val)` of them against `x_test`,
      next to its floor `real_floor`, `x_val` against `x_test`
      (`keras_ae.evaluate.protocols.sample_quality`). The validation images are ones
      that neither the classifier nor the model saw. Without `x_val`, the
      floor uses the first `num_generated` training images instead (an
      optimistic floor if the classifier trained on them). `sample_ms` is the
      time to generate one image in milliseconds, from the second of two
      identical calls (so that tracing is not counted).

    Args:
        trained: A `TrainedModel` from `train_model`.
        x_train: Training images; y_train: their labels.
        x_test: Test images; y_test: their labels.
        classifier: The course's classifier (`keras_ae.evaluate.classifier`), or None
            to skip the sample measurements.
        num_generated: Images generated; default `len(x_test)`.
        seed: Seed of the generated images.
        x_val: Optional validation images; y_val: their labels.
        probe_baselines: If False, skip the pixel and PCA probes (they are the
            same for every model: compute them once).

    Returns:
        A dict with the keys above (None where a protocol does not apply) and
        `model`, `family`, `params`, `train_s`, `epochs`, `code_size`.

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, y_train), _, (x_test, y_test), _ = load_dataset("digits")
        >>> gan = train_model("dense_gan", x_train, num_epochs=1)
        >>> row = measure(gan, x_train, y_train, x_test, y_test)
        >>> row["family"], row["mse"], row["probe_codes"]  # a GAN has no encoder
        ('gan', None, None)
    """
    if not isinstance(trained, TrainedModel):
        raise ValueError(f"Expected a TrainedModel. Received: {trained!r}")
    if (x_val is None) != (y_val is None):
        raise ValueError(
            "Expected both x_val and y_val, or neither. Received: "
            f"x_val {'None' if x_val is None else 'given'}, "
            f"y_val {'None' if y_val is None else 'given'}"
        )
    row = {
        "model": trained.kind,
        "family": trained.family,
        "params": trained.num_params,
        "train_s": trained.train_seconds,
        "epochs": trained.num_epochs,
        "code_size": trained.code_size,
    }
    keys = ("mse", "psnr", "ssim", "probe_codes", "probe_pixels", "probe_pca")
    row.update(dict.fromkeys(keys))
    if trained.encoder is not None:
        row.update(protocols.reconstruction_report(trained.model, x_test))
        probe = protocols.probe_comparison(
            trained.encoder,
            x_train,
            y_train,
            x_test,
            y_test,
            x_val=x_val,
            y_val=y_val,
            baselines=probe_baselines,
        )
        row.update(
            probe_codes=probe["codes"],
            probe_pixels=probe["pixels"],
            probe_pca=probe["pca"],
        )
    sample_keys = (
        "frechet_distance",
        "real_floor",
        "num_covered",
        "all_within",
        "effective_classes",
    )
    extra_keys = ("smallest_class", "largest_class", "sample_ms")
    row.update(dict.fromkeys((*sample_keys, *extra_keys)))
    if trained.generate is not None and classifier is not None:
        num_generated = len(x_test) if num_generated is None else int(num_generated)
        trained.generate(num_generated, seed)  # the same call, traced once
        start = time.perf_counter()
        generated = trained.generate(num_generated, seed)
        row["sample_ms"] = 1000 * (time.perf_counter() - start) / num_generated
        generated = np.clip(generated, 0.0, 1.0)
        heldout = x_train[:num_generated] if x_val is None else x_val
        quality = protocols.sample_quality(classifier, generated, x_test, heldout)
        row.update({key: quality[key] for key in sample_keys})
        row["smallest_class"] = float(np.min(quality["histogram"]))
        row["largest_class"] = float(np.max(quality["histogram"]))
    return row


def anomaly_auroc(kind, x_train, y_train, x_test, y_test, classes, **train_kwargs):
    """One-class anomaly AUROC of one model kind (`one_class_protocol`).

    For each normal class a fresh model of `kind` is trained with
    `train_model(kind, ..., **train_kwargs)` on that class's training images.
    Autoencoders score a test image by its reconstruction error, VAEs by
    minus its ELBO (`negative_elbo_scores`). GANs have no encoder, so no score
    of this kind: the result is None.

    Args:
        kind: One of `MODEL_KINDS`.
        x_train: Training images; y_train: their labels.
        x_test: Test images; y_test: their labels.
        classes: The normal classes to run.
        **train_kwargs: Passed to `train_model` (`num_epochs`, `seed`, ...).

    Returns:
        The dict of `one_class_protocol` (`per_class`, `mean`), or None.

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, y_train), _, (x_test, y_test), _ = load_dataset("digits")
        >>> result = anomaly_auroc("undercomplete", x_train, y_train, x_test, y_test,
        ...                        classes=(0,), num_epochs=1)  # zeros are normal
        >>> list(result["per_class"]), 0.5 < result["mean"] <= 1
        ([0], True)
        >>> print(anomaly_auroc("dcgan", x_train, y_train, x_test, y_test, (0,)))
        None
    """
    _check_kind(kind)
    family = FAMILIES[kind]
    if family == "gan":
        return None
    score = "reconstruction"
    if family == "vae":

        def score(vae, x):
            return protocols.negative_elbo_scores(vae, x)

    seed = train_kwargs.get("seed", 0)
    return protocols.one_class_protocol(
        lambda x_normal: train_model(kind, x_normal, **train_kwargs).model,
        x_train,
        y_train,
        x_test,
        y_test,
        classes=classes,
        score=score,
        seed=seed,
    )


def summarize_seeds(rows):
    """Merges the rows of one model trained with several seeds into one row.

    Args:
        rows: Rows of `measure` for the same model, one per seed.

    Returns:
        The first row's `model` and `family`, the mean over the seeds of every
        number (None where no seed has one), `mse_std` and `fd_std` (standard
        deviations over the seeds of the test MSE and the Frechet distance; None
        with fewer than 2 values) and `seeds` (the number of rows).

    Example:
        >>> vae = {"model": "vae", "family": "vae"}
        >>> rows = [{**vae, "mse": 0.25, "frechet_distance": 10.0},  # seed 0
        ...         {**vae, "mse": 0.75, "frechet_distance": 12.0}]  # seed 1
        >>> summary = summarize_seeds(rows)
        >>> summary["mse"], summary["mse_std"], summary["fd_std"], summary["seeds"]
        (0.5, 0.25, 1.0, 2)
    """
    rows = list(rows)
    if not rows:
        raise ValueError("Expected at least one row. Received: rows=[]")

    def values(key):
        return [row[key] for row in rows if row.get(key) is not None]

    summary = {"model": rows[0]["model"], "family": rows[0]["family"]}
    for key, value in rows[0].items():
        if key in summary or isinstance(value, str):
            continue
        found = values(key)
        summary[key] = float(np.mean(found)) if found else None
    for key, name in (("mse", "mse_std"), ("frechet_distance", "fd_std")):
        found = values(key)
        summary[name] = float(np.std(found)) if len(found) > 1 else None
    summary["seeds"] = len(rows)
    return summary


def write_comparison(rows, results_dir):
    """Writes the comparison table to `results_dir`/comparison.json and .md.

    Args:
        rows: The table's rows (dicts); the Markdown file shows `COLUMNS`, the
            JSON file every key.
        results_dir: Folder of the two files (created if needed).

    Returns:
        The Markdown table.
    """
    folder = pathlib.Path(results_dir)
    return write_table(
        rows, folder / "comparison.json", folder / "comparison.md", COLUMNS, FORMATS
    )


def add_to_comparison(row, results_dir):
    """Adds one row to the table that `write_comparison` wrote, or replaces it.

    A notebook that trains a model outside notebook 08 (the diffusion model of
    notebook 11) puts its row, measured with the same protocol, into the same
    table. A row with the same `model` is replaced, so running the notebook
    again does not add a second one.

    Args:
        row: The new row; it needs a `model` key, and the `MATCHING_KEYS`
            (`profile`, `dataset`) with the values of the table's rows.
        results_dir: Folder of comparison.json and comparison.md.

    Returns:
        The new Markdown table, or None when `results_dir` holds no
        comparison.json (notebook 08 has not run there).

    Raises:
        ValueError: If `row` has no `model`, or if its profile or data set
            differs from the table's (numbers of a fast run next to a full
            run's), or the table has none (written before they were kept).

    Example:
        >>> import tempfile
        >>> row = {"model": "vae", "profile": "full", "dataset": "mnist_5k"}
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = write_comparison([row], folder)
        ...     table = add_to_comparison({**row, "model": "diffusion"}, folder)
        ...     [r["model"] for r in json.load(open(f"{folder}/comparison.json"))]
        ['vae', 'diffusion']
    """
    if "model" not in row:
        raise ValueError(f"Expected a row with a 'model' key. Received: {row!r}")
    path = pathlib.Path(results_dir) / "comparison.json"
    if not path.exists():
        return None
    rows = json.loads(path.read_text(encoding="utf-8"))
    for key in MATCHING_KEYS:
        found = {r.get(key) for r in rows}
        if found != {row.get(key)}:
            raise ValueError(
                f"Expected a row of the table's {key} {sorted(map(str, found))}. "
                f"Received: {key}={row.get(key)!r}; run notebook 08 with the same "
                f"{key} first"
            )
    rows = [r for r in rows if r["model"] != row["model"]] + [dict(row)]
    return write_comparison(rows, results_dir)
