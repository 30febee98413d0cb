"""Judging generated images: sampling a generator, conditional accuracy, class
histograms, sample reports.
"""

import matplotlib.pyplot as plt
import numpy as np

from keras_ae._validation import check_positive_int

__all__ = [
    "generate_images",
    "conditional_accuracy",
    "sample_report",
    "plot_class_histograms",
]


def generate_images(model, num_images, seed=0):
    """Samples any of the course's GANs; returns `(images, labels)`.

    A conditional GAN is asked for the classes `0, 1, ..., K - 1, 0, 1, ...`
    in turn, so that every class gets `num_images / K` images (give a multiple
    of K for exact equality); `labels` are those requested classes. For the
    other GANs `labels` is None.

    Args:
        model: A trained `GAN`, `ConditionalGAN` or `WGANGP`.
        num_images: How many images.
        seed: Int: the same images every call.

    Returns:
        `(images, labels)`: a NumPy array `(num_images, H, W, C)` and a NumPy
        array of ints or None.
    """
    num_images = check_positive_int("num_images", num_images)
    if getattr(model, "conditional", False):
        labels = np.arange(num_images) % model.num_classes
        return model.sample(len(labels), labels, seed=seed), labels
    return model.sample(num_images, seed=seed), None


def conditional_accuracy(classifier, model, num_images=1000, seed=0, batch_size=256):
    """How often a classifier sees the class a conditional GAN was asked for.

    Args:
        classifier: A `keras.Model` mapping images to class probabilities,
            e.g. `keras_ae.evaluate.classifier.get_classifier()`.
        model: A trained `ConditionalGAN`.
        num_images: Images to generate, the classes in turn (see
            `generate_images`).
        seed: Seed of the latent noise.
        batch_size: Images classified at once.

    Returns:
        A dict with `accuracy` (fraction of all images classified as their
        requested class), `per_class` (that fraction for each requested class,
        a NumPy array) and `confusion` (counts, rows the requested class,
        columns the predicted one).

    Example:
        A classifier that always answers 0 (a stand-in for `get_classifier`)
        agrees with the class asked for once in three, for three classes:

        >>> import keras
        >>> from keras_ae.models import gan_builders
        >>> from keras_ae.models.gans import ConditionalGAN
        >>> cgan = ConditionalGAN(  # untrained
        ...     gan_builders.build_dense_generator(8, (8, 8, 1), (16,), num_classes=3),
        ...     gan_builders.build_dense_discriminator((8, 8, 1), (16,), num_classes=3))
        >>> always_0 = keras.Sequential([
        ...     keras.Input((8, 8, 1)), keras.layers.Flatten(),
        ...     keras.layers.Dense(3, "softmax", kernel_initializer="zeros")])
        >>> result = conditional_accuracy(always_0, cgan, num_images=30)
        >>> round(result["accuracy"], 3), result["per_class"]
        (0.333, array([1., 0., 0.]))
        >>> result["confusion"]  # rows: the class asked for; columns: predicted
        array([[10,  0,  0],
               [10,  0,  0],
               [10,  0,  0]])
    """
    if not getattr(model, "conditional", False):
        raise ValueError(
            "Expected a conditional GAN (with num_classes and label inputs). "
            f"Received: model={model!r}"
        )
    images, labels = generate_images(model, num_images, seed=seed)
    probabilities = classifier.predict(images, batch_size=batch_size, verbose=0)
    predicted = np.asarray(probabilities).argmax(axis=1)
    num_classes = max(model.num_classes, probabilities.shape[1])
    confusion = np.zeros((num_classes, num_classes), dtype="int64")
    np.add.at(confusion, (labels, predicted), 1)
    requested = confusion.sum(axis=1)
    per_class = np.divide(
        np.diag(confusion),
        requested,
        out=np.full(num_classes, np.nan),
        where=requested > 0,
    )
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "per_class": per_class,
        "confusion": confusion,
    }


def sample_report(
    classifier,
    model,
    x_real_test,
    x_real_heldout,
    num_images=1000,
    low=0.05,
    high=0.20,
    seed=1,
):
    """Judges a GAN's samples with a classifier trained on real images.

    Generates `num_images` images, and measures with the classifier which
    classes they show (`keras_ae.evaluate.classifier.class_histogram`, then
    `keras_ae.evaluate.protocols.class_coverage`: mode collapse shows as classes near
    0) and how far their features are from those of the real test images
    (`keras_ae.evaluate.protocols.sample_quality`). Its floor, the distance from other
    real images to the test images, is computed from as many held-out images
    as generated ones (the smaller count of the two), since the distance grows
    as the sets shrink.

    Args:
        classifier: A `keras.Model` mapping images to class probabilities,
            e.g. `keras_ae.evaluate.classifier.get_classifier()`.
        model: A trained `GAN` or `WGANGP` (a `ConditionalGAN` is sampled with
            the classes in turn, see `generate_images`).
        x_real_test: Real test images.
        x_real_heldout: Other real images that neither the classifier nor the
            GAN saw (the validation split), for the floor.
        num_images: Images to generate.
        low: Lowest fraction of the samples every class should get.
        high: Highest fraction any class should get.
        seed: Seed of the latent noise.

    Returns:
        A dict with `images` (the generated images), `histogram` (fraction
        per class), `smallest` and `largest` (its extremes), `met` (bool:
        every fraction in `[low, high]`), `frechet_distance`, `real_floor`
        and `num_compared` (images per set in the two distances).

    Example:
        >>> import keras
        >>> from keras_ae.data import load_dataset
        >>> from keras_ae.models import gan_builders
        >>> from keras_ae.models.gans import GAN
        >>> _, (x_val, _), (x_test, _), _ = load_dataset("digits")
        >>> gan = GAN(gan_builders.build_dense_generator(8, (8, 8, 1), (16,)),
        ...           gan_builders.build_dense_discriminator((8, 8, 1), (16,)))
        >>> always_0 = keras.Sequential([  # a stand-in for get_classifier("digits")
        ...     keras.Input((8, 8, 1)), keras.layers.Flatten(),
        ...     keras.layers.Dense(10, "softmax", kernel_initializer="zeros")])
        >>> report = sample_report(always_0, gan, x_test, x_val, num_images=100)
        >>> report["smallest"], report["largest"], report["met"]  # all "0"s
        (0.0, 1.0, False)
        >>> report["images"].shape, report["num_compared"]
        ((100, 8, 8, 1), 100)
    """
    from keras_ae.evaluate.classifier import class_histogram
    from keras_ae.evaluate.protocols import class_coverage, sample_quality

    images, _ = generate_images(model, num_images, seed=seed)
    histogram = class_histogram(classifier, images)
    coverage = class_coverage(histogram, low=low, high=high)
    quality = sample_quality(classifier, images, x_real_test, x_real_heldout)
    return {
        "images": images,
        "histogram": histogram,
        "smallest": float(histogram.min()),
        "largest": float(histogram.max()),
        "met": coverage["all_within"],
        "frechet_distance": float(quality["frechet_distance"]),
        "real_floor": float(quality["real_floor"]),
        "num_compared": int(quality["num_compared"]),
    }


def plot_class_histograms(histograms, *, low=None, high=None, figsize=None, title=None):
    """Draws grouped bars: the fraction of each model's samples per class.

    Args:
        histograms: Dict from a model's name to its class fractions
            `(num_classes,)`, e.g. from `keras_ae.evaluate.classifier.class_histogram`.
        low: Optional lower target fraction, drawn as a dashed line.
        high: Optional upper target fraction, drawn as a dashed line.
        figsize: Figure size in inches.
        title: Optional title.

    Returns:
        A `matplotlib.figure.Figure` with one axes; its bar containers follow
        the order of `histograms`.

    Example:
        >>> histograms = {"even": np.full(10, 0.1), "collapsed": np.eye(10)[3]}
        >>> fig = plot_class_histograms(histograms, low=0.05, high=0.2)
        >>> [len(bars) for bars in fig.axes[0].containers]
        [10, 10]
        >>> plt.close(fig)
    """
    if not isinstance(histograms, dict) or not histograms:
        raise ValueError(
            "Expected histograms to be a non-empty dict of name -> fractions. "
            f"Received: histograms={histograms!r}"
        )
    arrays = {name: np.asarray(h, dtype="float64") for name, h in histograms.items()}
    num_classes = len(next(iter(arrays.values())))
    if any(a.shape != (num_classes,) for a in arrays.values()):
        shapes = {name: a.shape for name, a in arrays.items()}
        raise ValueError(
            f"Expected every histogram to have shape ({num_classes},). "
            f"Received: {shapes}"
        )
    fig, axis = plt.subplots(figsize=figsize or (1.0 + 0.7 * num_classes, 3.2))
    width = 0.8 / len(arrays)
    classes = np.arange(num_classes)
    for i, (name, fractions) in enumerate(arrays.items()):
        axis.bar(
            classes + (i - (len(arrays) - 1) / 2) * width, fractions, width, label=name
        )
    for level in (low, high):
        if level is not None:
            axis.axhline(level, color="black", linestyle="--", linewidth=1)
    axis.set_xticks(classes)
    axis.set_xlabel("class predicted by the classifier")
    axis.set_ylabel("fraction of samples")
    axis.legend(fontsize=8, ncol=min(4, len(arrays)))
    if title:
        axis.set_title(title)
    fig.tight_layout()
    return fig
