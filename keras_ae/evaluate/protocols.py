"""Evaluation protocols: reconstruction, linear probes, anomaly detection, samples.

Each function runs a model (or a plain function) over a data set and returns a
dict of numbers computed with the array metrics of `keras_ae.evaluate.metrics`:

- `reconstruction_report`: MSE, PSNR and SSIM of a model's reconstructions.
- `tuned_probe_accuracy`: a linear probe whose regularization is chosen on
  the validation split; `probe_comparison`: linear-probe accuracy on codes, on
  raw pixels and on PCA codes of the same size.
- `one_class_protocol`: anomaly detection, one model per normal class, scored
  by `one_class_auroc`; `evaluate_one_class` scores its kept models on another
  split; `reconstruction_scores`, `negative_elbo_scores` and
  `pca_anomaly_scores` are the anomaly scores.
- `sample_quality`: Frechet distance on classifier features, its real-data
  floor, and the class coverage (`class_coverage`) of generated images.
- `to_markdown_table` and `write_table`: publish a comparison table.

Example:
    A function that adds 0.1 to every pixel stands in for a model:

    >>> x = 0.9 * np.random.default_rng(0).random((4, 8, 8, 1))
    >>> report = reconstruction_report(lambda x: x + 0.1, x)
    >>> print(to_markdown_table([{"model": "x + 0.1", **report}],
    ...                         ["model", "mse", "psnr", "ssim"], {"ssim": ".2f"}))
    | model   |  mse | psnr | ssim |
    | ------- | ---: | ---: | ---: |
    | x + 0.1 | 0.01 |   20 | 0.98 |
"""

import numpy as np

from keras_ae._validation import check_batch, check_positive_int
from keras_ae.evaluate.analysis import linear_probe_accuracy
from keras_ae.evaluate.metrics import (
    frechet_distance,
    mse,
    one_class_auroc,
    pca_baseline,
    psnr,
    ssim,
)
from keras_ae.tables import to_markdown_table, write_table  # noqa: F401  (re-exported)
from keras_ae.utils import predict_batches, set_seed

__all__ = [
    "reconstruction_report",
    "reconstruction_scores",
    "PROBE_CS",
    "tuned_probe_accuracy",
    "probe_comparison",
    "pca_anomaly_scores",
    "negative_elbo_scores",
    "one_class_protocol",
    "evaluate_one_class",
    "class_coverage",
    "sample_quality",
]


def _apply(model_or_fn, x, batch_size):
    """`predict_batches`, keeping a VAE encoder's first output (`z_mean`)."""
    batch_size = check_positive_int("batch_size", batch_size)
    return predict_batches(model_or_fn, x, batch_size, first_output=True)


def _reconstruct(model_or_fn, x, batch_size):
    reconstructions = _apply(model_or_fn, x, batch_size)
    if reconstructions.shape != x.shape:
        raise ValueError(
            "Expected reconstructions of the input's shape. Received: input shape "
            f"{x.shape}, output shape {reconstructions.shape}"
        )
    return reconstructions


def reconstruction_report(model_or_fn, x_test, data_range=1.0, batch_size=1024):
    """MSE, PSNR and SSIM of a model's reconstructions of `x_test`, in one call.

    Args:
        model_or_fn: A Keras model whose output has the shape of its input
            (called with `training=False`: a VAE decodes the posterior mean),
            or any function of a batch of images returning reconstructions,
            e.g. `lambda x: pca.inverse_transform(...)`.
        x_test: Images `(N, H, W, C)` in `[0, data_range]`.
        data_range: Difference between the largest and smallest pixel value.
        batch_size: Images reconstructed at once.

    Returns:
        A dict with `mse` (mean over images and pixels, as
        `keras_ae.evaluate.metrics.reconstruction_mse`), `psnr` (mean of the
        per-image PSNRs, dB) and `ssim` (mean of the per-image SSIMs).

    Example:
        >>> import keras
        >>> shift = keras.layers.Rescaling(1.0, offset=0.1)  # x + 0.1, a stand-in
        >>> x = 0.9 * np.random.default_rng(0).random((4, 8, 8, 1))
        >>> report = reconstruction_report(shift, x)
        >>> {name: round(value, 2) for name, value in report.items()}
        {'mse': 0.01, 'psnr': 20.0, 'ssim': 0.98}
    """
    x_test = check_batch("x_test", x_test)
    reconstructions = _reconstruct(model_or_fn, x_test, batch_size)
    return {
        "mse": mse(x_test, reconstructions),
        "psnr": psnr(x_test, reconstructions, data_range=data_range),
        "ssim": ssim(x_test, reconstructions, data_range=data_range),
    }


def reconstruction_scores(model_or_fn, x, batch_size=1024):
    """Anomaly scores: each image's mean squared reconstruction error.

    Args:
        model_or_fn: A model or function mapping images to reconstructions (see
            `reconstruction_report`).
        x: Images `(N, ...)`.
        batch_size: Images reconstructed at once.

    Returns:
        A NumPy array `(N,)`, the mean over pixels of the squared error.

    Example:
        >>> x = np.zeros((3, 8, 8, 1))
        >>> x[2] = 0.5  # the third image is unlike the others
        >>> reconstruction_scores(np.zeros_like, x)  # a model that outputs black
        array([0.  , 0.  , 0.25])
    """
    x = check_batch("x", x)
    reconstructions = _reconstruct(model_or_fn, x, batch_size)
    return mse(x, reconstructions, axis=tuple(range(1, x.ndim)))


# Inverse L2 strengths a probe tries; the validation split picks one.
PROBE_CS = (0.01, 0.1, 1.0, 10.0)


def tuned_probe_accuracy(
    train_features,
    y_train,
    val_features,
    y_val,
    test_features,
    y_test,
    Cs=PROBE_CS,
):
    """Linear-probe test accuracy, its regularization chosen on validation.

    For each `C` in `Cs` a `linear_probe_accuracy` probe (logistic regression
    on standardized features) is trained on the training features and scored
    on the validation features; the `C` with the best validation accuracy (the
    smallest among ties, the strongest regularization) is then scored once on
    the test features.

    Args:
        train_features: Array `(N, ...)`; y_train: integer labels `(N,)`.
        val_features: Array `(V, ...)`; y_val: labels `(V,)`.
        test_features: Array `(M, ...)`; y_test: labels `(M,)`.
        Cs: Inverse L2 strengths to try, each > 0.

    Returns:
        A dict with `C` (the chosen one), `val` (its validation accuracy) and
        `test` (its test accuracy).

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, y_train), (x_val, y_val), (x_test, y_test), _ = load_dataset(
        ...     "digits")
        >>> tuned_probe_accuracy(x_train, y_train, x_val, y_val, x_test, y_test)
        {'C': ..., 'val': 0.9..., 'test': 0.9...}
    """
    Cs = tuple(Cs)
    if not Cs or any(
        isinstance(C, bool) or not isinstance(C, (int, float)) or not C > 0 for C in Cs
    ):
        raise ValueError(f"Expected Cs to be numbers > 0. Received: Cs={Cs!r}")
    val_accuracy = {
        C: linear_probe_accuracy(train_features, y_train, val_features, y_val, C=C)
        for C in Cs
    }
    best = max(sorted(Cs), key=lambda C: val_accuracy[C])
    test = linear_probe_accuracy(train_features, y_train, test_features, y_test, C=best)
    return {"C": best, "val": val_accuracy[best], "test": test}


def probe_comparison(
    encode_fn,
    x_train,
    y_train,
    x_test,
    y_test,
    code_size=None,
    batch_size=1024,
    *,
    x_val=None,
    y_val=None,
    Cs=PROBE_CS,
    baselines=True,
):
    """Linear-probe accuracy on an encoder's codes, on pixels and on PCA codes.

    Each accuracy is `keras_ae.evaluate.analysis.linear_probe_accuracy`: a logistic
    regression on standardized features, trained on the training set and scored
    on the test set; with `x_val` and `y_val` its regularization is chosen on
    the validation split first (`tuned_probe_accuracy`). The pixels are the
    upper reference (nothing is lost, but the classes may not be linearly
    separable); the PCA codes, fit on `x_train` with `code_size` components,
    are the linear code of the same size that the encoder should beat. On
    MNIST-sized data the pixel probe takes minutes on a CPU.

    Args:
        encode_fn: An encoder model (called with `training=False`; the first
            output is used, e.g. `z_mean` of a VAE encoder) or a function of a
            batch of images returning codes `(batch, ...)`.
        x_train: Training images `(N, ...)`.
        y_train: Integer labels `(N,)`.
        x_test: Test images `(M, ...)`.
        y_test: Integer labels `(M,)`.
        code_size: Number of PCA components; `None` uses the size of the codes.
        batch_size: Images encoded at once.
        x_val: Optional validation images, to choose each probe's `C` among
            `Cs`; None trains every probe with `C=1`.
        y_val: Their labels.
        Cs: Inverse L2 strengths tried on the validation split.
        baselines: If False, skip the pixel and PCA probes (they do not depend
            on the encoder: compute them once for many encoders).

    Returns:
        A dict with the test accuracies `codes`, `pixels` and `pca` (floats in
        [0, 1]; `pixels` and `pca` None without `baselines`), the `code_size`
        used for PCA and, with a validation split, `C` (dict from those three
        names to the chosen strength).

    Example:
        >>> import keras
        >>> from keras_ae.data import load_dataset
        >>> (x_train, y_train), _, (x_test, y_test), _ = load_dataset("digits")
        >>> encoder = keras.Sequential([  # untrained: a random projection
        ...     keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(8)])
        >>> probe_comparison(encoder, x_train, y_train, x_test, y_test)
        {'codes': 0..., 'pixels': 0.9..., 'pca': 0.8..., 'code_size': 8}
    """
    x_train = check_batch("x_train", x_train)
    x_test = check_batch("x_test", x_test)
    if (x_val is None) != (y_val is None):
        raise ValueError(
            "Expected both x_val and y_val, or neither. Received: "
            f"x_val {'None' if x_val is None else 'given'}, "
            f"y_val {'None' if y_val is None else 'given'}"
        )
    splits = [x_train, x_test]
    if x_val is not None:
        splits.append(check_batch("x_val", x_val))
    codes = [_apply(encode_fn, x, batch_size).reshape(len(x), -1) for x in splits]
    if code_size is None:
        code_size = codes[0].shape[1]
    features = {"codes": codes}
    if baselines:
        pca = pca_baseline(x_train, x_test, code_size)["model"]
        features["pixels"] = [x.reshape(len(x), -1) for x in splits]
        features["pca"] = [pca.transform(x.reshape(len(x), -1)) for x in splits]
    result = {"codes": None, "pixels": None, "pca": None, "code_size": int(code_size)}
    chosen = {}
    for name, (train, test, *val) in features.items():
        if x_val is None:
            result[name] = linear_probe_accuracy(train, y_train, test, y_test)
        else:
            probe = tuned_probe_accuracy(
                train, y_train, val[0], y_val, test, y_test, Cs=Cs
            )
            result[name], chosen[name] = probe["test"], probe["C"]
    if x_val is not None:
        result["C"] = chosen
    return result


def pca_anomaly_scores(x_train_one_class, x_test, code_size):
    """Anomaly scores of the PCA baseline: the residual off the normal subspace.

    A PCA with `code_size` components is fit on the normal class
    (`keras_ae.evaluate.metrics.pca_baseline`); an image's score is the mean squared
    difference between it and its projection onto that subspace (through the
    training mean), the error of the best linear autoencoder of that size.

    Args:
        x_train_one_class: Training images `(N, ...)` of the normal class.
        x_test: Images to score `(M, ...)`, same image shape.
        code_size: Number of principal components, 1 to `min(N, pixels)`.

    Returns:
        A NumPy array `(M,)` of scores, higher for images farther from the
        subspace.

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, y_train), _, (x_test, y_test), _ = load_dataset("digits")
        >>> scores = pca_anomaly_scores(x_train[y_train == 0], x_test, 8)
        >>> scores.shape
        (450,)
        >>> round(one_class_auroc(scores, y_test, normal_class=0), 2)
        1.0
    """
    x_test = check_batch("x_test", x_test)
    pca = pca_baseline(x_train_one_class, x_test, code_size)["model"]
    test = x_test.reshape(len(x_test), -1).astype("float64")
    residuals = test - pca.inverse_transform(pca.transform(test))
    return np.mean(residuals**2, axis=1)


def negative_elbo_scores(vae, x, num_samples=1, seed=0):
    """Anomaly scores of a VAE: minus the ELBO of each image, in nats.

    The per-image terms of `VAE.test_elbo` (same estimate, same draws for the
    same `seed`): `-(E_q[log p(x | z)] - KL(q(z | x) || N(0, I)))`, the
    expectation estimated with `num_samples` draws of `z`.

    Args:
        vae: A trained `keras_ae.models.vae.VAE` (not conditional).
        x: Images `(N, ...)`.
        num_samples: Draws of `z` per image, > 0.
        seed: Int or None, the seed of the draws.

    Returns:
        A NumPy array `(N,)`; its mean is `-vae.test_elbo(x, num_samples, seed)`.

    Example:
        >>> from keras_ae.models import vae_builders
        >>> from keras_ae.models.vae import VAE
        >>> vae = VAE(  # untrained
        ...     vae_builders.build_vae_encoder((8, 8, 1), 2, hidden_units=(16,)),
        ...     vae_builders.build_vae_decoder((8, 8, 1), 2, hidden_units=(16,)))
        >>> x = np.random.default_rng(0).random((20, 8, 8, 1))  # untrained: any x
        >>> scores = negative_elbo_scores(vae, x, num_samples=2, seed=0)
        >>> scores.shape
        (20,)
        >>> bool(np.isclose(scores.mean(), -vae.test_elbo(x, num_samples=2, seed=0)))
        True

        As the score of `one_class_protocol`: `score=lambda vae, x:
        negative_elbo_scores(vae, x, num_samples=10)`.
    """
    if getattr(vae, "conditional", None) is not False:
        raise ValueError(
            f"Expected an unconditional keras_ae.models.vae.VAE. Received: {vae!r}"
        )
    x = check_batch("x", x)
    return -vae.test_elbo(x, num_samples=num_samples, seed=seed, per_image=True)


def one_class_protocol(
    build_and_train_fn,
    x_train,
    y_train,
    x_test,
    y_test,
    classes=range(10),
    score="reconstruction",
    seed=0,
    keep_models=False,
):
    """One-class anomaly detection: one model per normal class, AUROC per class.

    For each class `c`: the seeds are set to `seed`, a model is trained on the
    training images of class `c` only, every test image is scored, and
    `one_class_auroc` measures how well the scores separate class `c` (normal)
    from all the others (anomalies).

    Args:
        build_and_train_fn: Function `x_normal -> model`, building and training a
            model on the images of the normal class.
        x_train: Training images `(N, ...)`.
        y_train: Labels `(N,)`.
        x_test: Test images `(M, ...)`.
        y_test: Labels `(M,)`; each class in `classes` and some other class
            must appear.
        classes: The normal classes to run.
        score: `"reconstruction"` (`reconstruction_scores` of the model) or a
            function `(model, x_test) -> scores (M,)`, higher for more
            anomalous, e.g. `lambda vae, x: negative_elbo_scores(vae, x)`.
        seed: Seed set with `keras_ae.utils.set_seed` before each class, or
            None to leave the seeds alone.
        keep_models: If True, also return the trained models, so that they can
            be scored on another split (`evaluate_one_class`): pass the
            validation split as `x_test` to choose a hyperparameter, then
            score the chosen models once on the test split.

    Returns:
        A dict with `per_class` (class -> AUROC), `mean` (their mean) and, with
        `keep_models`, `models` (class -> model).

    Example:
        The PCA baseline: the "model" is the normal class's images, and the
        score fits a PCA to them (`build_and_train_fn` would train an
        autoencoder, scored by its reconstruction errors by default):

        >>> from keras_ae.data import load_dataset
        >>> (x_train, y_train), _, (x_test, y_test), _ = load_dataset("digits")
        >>> protocol = one_class_protocol(
        ...     lambda x_normal: x_normal, x_train, y_train, x_test, y_test,
        ...     classes=[0, 1], score=lambda x_normal, x: pca_anomaly_scores(
        ...         x_normal, x, code_size=8))
        >>> {c: round(auroc, 3) for c, auroc in protocol["per_class"].items()}
        {0: 1.0, 1: 0.999}
    """
    if not callable(build_and_train_fn):
        raise ValueError(
            "Expected build_and_train_fn to be a function x_normal -> model. "
            f"Received: {build_and_train_fn!r}"
        )
    score_fn = _score_function(score)
    x_train, x_test = np.asarray(x_train), np.asarray(x_test)
    y_train = np.asarray(y_train).reshape(-1)
    y_test = np.asarray(y_test).reshape(-1)
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError(
            "Expected one label per image. Received: "
            f"{len(x_train)} training images and {len(y_train)} labels, "
            f"{len(x_test)} test images and {len(y_test)} labels"
        )
    classes = list(classes)
    missing = [c for c in classes if not np.any(y_train == c)]
    if not classes or missing:
        raise ValueError(
            "Expected classes that appear in y_train. "
            f"Received: classes={classes!r}, missing {missing!r}"
        )
    models = {}
    for normal_class in classes:
        if seed is not None:
            set_seed(seed)
        models[normal_class] = build_and_train_fn(x_train[y_train == normal_class])
    result = evaluate_one_class(models, x_test, y_test, score=score_fn)
    if keep_models:
        result["models"] = models
    return result


def _score_function(score):
    if score == "reconstruction":
        return reconstruction_scores
    if callable(score):
        return score
    raise ValueError(
        "Expected score to be 'reconstruction' or a function "
        f"(model, x_test) -> scores. Received: score={score!r}"
    )


def evaluate_one_class(models, x, y, score="reconstruction"):
    """AUROC of one-class models, each on its own normal class, on a data split.

    Args:
        models: Dict from a normal class to the model trained on it (the
            `models` of `one_class_protocol(..., keep_models=True)`).
        x: Images to score `(M, ...)`.
        y: Their labels `(M,)`; each class of `models` and some other class
            must appear.
        score: `"reconstruction"` or a function `(model, x) -> scores (M,)`,
            as in `one_class_protocol`.

    Returns:
        A dict with `per_class` (class -> AUROC) and `mean` (their mean).

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, y_train), (x_val, y_val), (x_test, y_test), _ = load_dataset(
        ...     "digits")
        >>> def pca_score(x_normal, x):  # the PCA baseline (see one_class_protocol)
        ...     return pca_anomaly_scores(x_normal, x, code_size=8)
        >>> on_val = one_class_protocol(lambda x: x, x_train, y_train, x_val, y_val,
        ...                             [0, 1], score=pca_score, keep_models=True)
        >>> sorted(on_val["models"])
        [0, 1]
        >>> evaluate_one_class(on_val["models"], x_test, y_test, pca_score)["mean"]
        0.9...
    """
    score_fn = _score_function(score)
    if not isinstance(models, dict) or not models:
        raise ValueError(
            "Expected models to be a non-empty dict class -> model. "
            f"Received: {models!r}"
        )
    x = np.asarray(x)
    y = np.asarray(y).reshape(-1)
    if len(x) != len(y):
        raise ValueError(
            f"Expected one label per image. Received: {len(x)} images and "
            f"{len(y)} labels"
        )
    per_class = {}
    for normal_class, model in models.items():
        scores = np.asarray(score_fn(model, x), dtype="float64").reshape(-1)
        if len(scores) != len(x):
            raise ValueError(
                f"Expected one score per image ({len(x)}). "
                f"Received: {len(scores)} scores for class {normal_class!r}"
            )
        per_class[normal_class] = one_class_auroc(scores, y, normal_class)
    return {"per_class": per_class, "mean": float(np.mean(list(per_class.values())))}


def class_coverage(histogram, threshold=0.01, low=None, high=None):
    """How many classes a set of samples covers, and how evenly.

    Takes the class histogram of generated samples (for example
    `keras_ae.evaluate.classifier.class_histogram`, or counts from `np.bincount`) and
    normalizes it to fractions. A model that collapses onto a few classes
    covers few; one that generates all classes in equal measure has every
    fraction near `1 / num_classes`.

    Args:
        histogram: Counts or fractions `(num_classes,)`, >= 0, not all 0.
        threshold: A class is covered if it receives at least this fraction
            of the samples.
        low: Lowest fraction for `all_within`; default half the uniform share,
            `0.5 / num_classes`.
        high: Highest fraction for `all_within`; default twice the uniform
            share, `2 / num_classes`.

    Returns:
        A dict with `num_covered` (int, classes with fraction >= `threshold`),
        `covered` (list of those class indices), `all_within` (bool, every
        fraction in `[low, high]`), `fractions` (NumPy array summing to 1) and
        the `low` and `high` used.

    Example:
        >>> coverage = class_coverage([50, 45, 0, 5])  # counts of 4 classes
        >>> coverage["num_covered"], coverage["covered"], coverage["all_within"]
        (3, [0, 1, 3], False)
        >>> coverage["fractions"], coverage["low"], coverage["high"]
        (array([0.5 , 0.45, 0.  , 0.05]), 0.125, 0.5)
    """
    counts = np.asarray(histogram, dtype="float64")
    if counts.ndim != 1 or len(counts) == 0 or np.any(counts < 0):
        raise ValueError(
            "Expected histogram to be a non-empty 1-D array of counts or "
            f"fractions >= 0. Received: histogram={histogram!r}"
        )
    if not counts.sum() > 0:
        raise ValueError("Expected a histogram with some samples. Received: all 0")
    fractions = counts / counts.sum()
    num_classes = len(fractions)
    low = 0.5 / num_classes if low is None else float(low)
    high = 2.0 / num_classes if high is None else float(high)
    if not 0 <= low <= high:
        raise ValueError(
            f"Expected 0 <= low <= high. Received: low={low!r}, high={high!r}"
        )
    covered = np.flatnonzero(fractions >= threshold)
    return {
        "num_covered": int(len(covered)),
        "covered": [int(c) for c in covered],
        "all_within": bool(np.all((fractions >= low) & (fractions <= high))),
        "fractions": fractions,
        "low": low,
        "high": high,
    }


def sample_quality(
    classifier, generated, x_real_test, x_real_heldout, threshold=0.01, batch_size=256
):
    """How real a set of generated images looks to the course's classifier.

    Features are the classifier's penultimate activations
    (`keras_ae.evaluate.classifier.features`). The Frechet distance between generated
    and real test features is compared with its floor, the distance between two
    real sets (held-out images and the test images): a generator can hardly do
    better than the floor. The distance grows as the sets shrink, so both are
    computed from sets of the same size: the first `n` generated and the first
    `n` held-out images, `n` the smaller of the two counts. The held-out images
    must be ones the classifier never saw (the validation split), or the floor
    is too low. The class numbers come from all the generated images, through
    `keras_ae.evaluate.latent.sample_scores` and `class_coverage`.

    Args:
        classifier: A `keras.Model` mapping images to class probabilities, e.g.
            `keras_ae.evaluate.classifier.get_classifier(...)`.
        generated: Generated images `(N, H, W, C)` of the classifier's input
            shape, in [0, 1].
        x_real_test: Real test images.
        x_real_heldout: Other real images that neither the classifier nor the
            generator saw (the validation split), for the real-against-real
            floor.
        threshold: Fraction of the samples a class needs to count as covered.
        batch_size: Images classified at once.

    Returns:
        A dict with `frechet_distance` (generated against test), `real_floor`
        (held-out against test), `num_compared` (`n`), `histogram` (fraction of
        samples predicted as each class), `num_covered` and `all_within` (see
        `class_coverage`), `confidence` (mean largest class probability),
        `effective_classes` and `classifier_score` (see
        `keras_ae.evaluate.latent.sample_scores`).

    Example:
        >>> from keras_ae.data import load_dataset
        >>> from keras_ae.evaluate.classifier import build_classifier
        >>> _, (x_val, _), (x_test, _), _ = load_dataset("digits")
        >>> classifier = build_classifier((8, 8, 1))  # untrained stand-in
        >>> noise = np.random.default_rng(0).random((200, 8, 8, 1))  # "generated"
        >>> quality = sample_quality(classifier, noise, x_test, x_val)
        >>> quality["num_compared"]
        200
        >>> bool(quality["frechet_distance"] > quality["real_floor"])
        True
    """
    from keras_ae.evaluate.classifier import features
    from keras_ae.evaluate.latent import sample_scores

    generated = check_batch("generated", generated)
    x_real_test = check_batch("x_real_test", x_real_test)
    x_real_heldout = check_batch("x_real_heldout", x_real_heldout)
    test_features = features(classifier, x_real_test, batch_size=batch_size)
    scores = sample_scores(classifier, generated, batch_size=batch_size)
    coverage = class_coverage(scores["histogram"], threshold=threshold)
    num_compared = min(len(generated), len(x_real_heldout))
    return {
        "frechet_distance": frechet_distance(
            features(classifier, generated[:num_compared], batch_size=batch_size),
            test_features,
        ),
        "real_floor": frechet_distance(
            features(classifier, x_real_heldout[:num_compared], batch_size=batch_size),
            test_features,
        ),
        "num_compared": num_compared,
        "histogram": scores["histogram"],
        "num_covered": coverage["num_covered"],
        "all_within": coverage["all_within"],
        "confidence": scores["confidence"],
        "effective_classes": scores["effective_classes"],
        "classifier_score": scores["classifier_score"],
    }
