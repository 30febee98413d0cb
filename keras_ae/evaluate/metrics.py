"""Metrics on NumPy arrays: reconstructions, anomaly scores, retrieval, samples.

- Reconstruction: `mse`, `psnr`, `ssim` on images `(N, H, W, C)` with values in
  `[0, data_range]`, and `pca_baseline`, the linear autoencoder to beat.
- Anomaly detection: `one_class_auroc`; `alarm_threshold` and `detection_rates`
  for a detector that must decide.
- Retrieval: `precision_at_k` with Euclidean nearest neighbours.
- Generated samples: `frechet_distance` between two sets of features.

All functions take NumPy arrays (or anything `np.asarray` accepts) and return
Python floats, ints, bools or NumPy arrays. The model-level protocols built on
them live in `keras_ae.evaluate.protocols`.
"""

import warnings

import numpy as np
import tensorflow as tf

from keras_ae._validation import (
    check_batch,
    check_positive_int,
    check_positive_number,
)
from keras_ae.evaluate.analysis import linear_probe_accuracy  # noqa: F401  (re-exported)
from keras_ae.utils import predict_batches

__all__ = [
    "principal_angles",
    "reconstruction_mse",
    "mse",
    "psnr",
    "ssim",
    "pca_baseline",
    "one_class_auroc",
    "alarm_threshold",
    "detection_rates",
    "precision_at_k",
    "frechet_distance",
]


def principal_angles(a, b, degrees=True):
    """Returns the principal angles between the column spaces of two matrices.

    The principal angles between two subspaces are the angles between their
    best-aligned pairs of directions: all zero when the subspaces are equal, 90
    degrees for a direction of one orthogonal to the whole other. They compare
    subspaces whatever basis spans them, such as a linear decoder's kernel and
    PCA's components. Computed by `scipy.linalg.subspace_angles` (Knyazev and
    Argentati's algorithm, accurate for small angles too), sorted increasing.

    Args:
        a: Array of shape `(n, k)`; its columns span the first subspace. For a
            decoder kernel of shape `(code_size, n)` pass `kernel.T`.
        b: Array of shape `(n, m)`; for PCA, `pca.components_.T`.
        degrees: Whether to return degrees (default) or radians.

    Returns:
        NumPy array of the `min(k, m)` angles (fewer if a matrix's columns are
        linearly dependent: one per dimension of the smaller subspace), in
        increasing order.

    Example:

    >>> principal_angles(np.eye(3)[:, :2], np.eye(3)[:, 1:]).round(6)
    array([ 0., 90.])
    """
    from scipy.linalg import subspace_angles

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(
            "Expected two matrices with the same number of rows. "
            f"Received: a.shape={a.shape}, b.shape={b.shape}"
        )
    # scipy returns the largest angle first.
    angles = np.sort(subspace_angles(a, b))
    return np.degrees(angles) if degrees else angles


def reconstruction_mse(model, x, *, per_pixel=False, batch_size=1024):
    """Mean squared error between inputs and a model's reconstructions of them.

    Args:
        model: A model whose output has the shape of its input.
        x: Inputs `(N, ...)`.
        per_pixel: If `True`, average over the images only and return one value
            per pixel (and channel), an error map of shape `x.shape[1:]`.
        batch_size: Number of inputs passed to the model at once.

    Returns:
        A float (the mean over all images and pixels), or a NumPy array of shape
        `x.shape[1:]` when `per_pixel` is `True`.

    Example:

    >>> import keras
    >>> halve = keras.layers.Rescaling(0.5)  # a stand-in for an autoencoder
    >>> x = np.full((4, 8, 8, 1), 0.5, "float32")
    >>> reconstruction_mse(halve, x)  # (0.5 - 0.25) ** 2
    0.0625
    >>> reconstruction_mse(halve, x, per_pixel=True).shape
    (8, 8, 1)
    """
    x = check_batch("x", x)
    batch_size = check_positive_int("batch_size", batch_size)
    # Direct calls rather than `model.predict`: no tf.function to trace for each
    # new model, which on small data is most of the cost (and TF warns about it).
    reconstructions = predict_batches(model, x, batch_size).astype("float64")
    if reconstructions.shape != x.shape:
        raise ValueError(
            "Expected a model whose output has the shape of its input. Received: "
            f"input shape {x.shape}, output shape {reconstructions.shape}"
        )
    squared_errors = (reconstructions - x) ** 2
    if per_pixel:
        return squared_errors.mean(axis=0)
    return float(squared_errors.mean())


def _as_pair(a, b):
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    if a.shape != b.shape:
        raise ValueError(
            "Expected arrays of the same shape. "
            f"Received: a.shape={a.shape}, b.shape={b.shape}"
        )
    return a, b


def mse(a, b, axis=None):
    """Mean squared error between `a` and `b`.

    Args:
        a: Array, for example the original images.
        b: Array of the same shape, for example the reconstructions.
        axis: Axes to average over. `None` (the default) averages everything and
            returns a float; `axis=(1, 2, 3)` gives one value per image.

    Returns:
        A float, or a NumPy array when `axis` leaves axes over.

    Example:
        >>> a, b = np.zeros((2, 8, 8, 1)), np.full((2, 8, 8, 1), 0.1)
        >>> round(mse(a, b), 6)
        0.01
        >>> mse(a, b, axis=(1, 2, 3)).round(6)  # one value per image
        array([0.01, 0.01])
    """
    a, b = _as_pair(a, b)
    result = np.mean((a - b) ** 2, axis=axis)
    return float(result) if np.ndim(result) == 0 else result


def psnr(a, b, data_range=1.0, per_image=False):
    """Peak signal-to-noise ratio in decibels: `10 * log10(data_range^2 / MSE)`.

    The MSE is taken per image (over all axes but the first), so each image gets
    its own PSNR; by default the mean of those is returned, as image papers
    report it. An image reconstructed exactly has an infinite PSNR.

    Args:
        a: Images `(N, ...)`, the reference.
        b: Images of the same shape, the reconstructions.
        data_range: Difference between the largest and smallest possible value
            (1.0 for images in [0, 1]).
        per_image: If True, return the array of `N` per-image values.

    Returns:
        The mean PSNR in dB (a float), or a NumPy array of per-image PSNRs.

    Example:
        >>> x = np.random.default_rng(0).random((4, 8, 8, 1))
        >>> print(f"{psnr(x, x + 0.1):.1f} dB")  # 10 * log10(1 / 0.1 ** 2)
        20.0 dB
        >>> psnr(x, x)
        inf
    """
    data_range = check_positive_number("data_range", data_range)
    a, b = _as_pair(a, b)
    per_image_mse = np.mean((a - b) ** 2, axis=tuple(range(1, a.ndim)))
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(data_range**2 / per_image_mse)
    return values if per_image else float(np.mean(values))


def ssim(a, b, data_range=1.0, per_image=False, filter_size=11, filter_sigma=1.5):
    """Structural similarity, computed by `tf.image.ssim`.

    The SSIM map uses an 11 x 11 Gaussian window (sigma 1.5) without padding, as
    in Wang et al. (2004) and `skimage.metrics.structural_similarity(...,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`. For images
    smaller than the window (8 x 8 digits) the window shrinks to the image size.

    Args:
        a: Images `(N, H, W, C)`, the reference.
        b: Images of the same shape, the reconstructions.
        data_range: Difference between the largest and smallest possible value.
        per_image: If True, return the array of `N` per-image values.
        filter_size: Size of the Gaussian window.
        filter_sigma: Standard deviation of the Gaussian window.

    Returns:
        The mean SSIM (a float, 1.0 for identical images), or a NumPy array of
        per-image values.

    Example:
        >>> x = np.random.default_rng(0).random((4, 8, 8, 1))
        >>> print(f"SSIM {ssim(x, x):.3f}")
        SSIM 1.000
        >>> print(f"SSIM {ssim(x, 1 - x):.3f}")  # the structure inverted
        SSIM -0.9...
    """

    data_range = check_positive_number("data_range", data_range)
    a, b = _as_pair(a, b)
    if a.ndim != 4:
        raise ValueError(f"Expected images of shape (N, H, W, C). Received: {a.shape}")
    filter_size = int(min(filter_size, a.shape[1], a.shape[2]))
    values = tf.image.ssim(
        tf.constant(a, tf.float32),
        tf.constant(b, tf.float32),
        max_val=float(data_range),
        filter_size=filter_size,
        filter_sigma=filter_sigma,
    ).numpy()
    values = values.astype("float64")
    return values if per_image else float(np.mean(values))


def pca_baseline(x_train, x_test, code_size):
    """Reconstructs `x_test` through a PCA with `code_size` components.

    PCA is the best linear autoencoder: its reconstruction error is the bar a
    (nonlinear) autoencoder with the same `code_size` should beat. The PCA is fit
    on `x_train` (flattened, centered by the training mean) and the
    reconstructions are not clipped to the pixel range.

    Args:
        x_train: Training images `(N, ...)`.
        x_test: Test images `(M, ...)`, same image shape.
        code_size: Number of principal components, between 1 and
            `min(N, number of pixels)`.

    Returns:
        A dict with `mse` (float, mean over all test pixels), `psnr` (mean per
        image, dB, for `data_range=1`), `model` (the fitted
        `sklearn.decomposition.PCA`) and `reconstructions` (array shaped like
        `x_test`).

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, _), _, (x_test, _), _ = load_dataset("digits")  # 8 x 8
        >>> print(f"PCA MSE {pca_baseline(x_train, x_test, code_size=8)['mse']:.3f}")
        PCA MSE 0.025
        >>> print(f"{pca_baseline(x_train, x_test, code_size=64)['mse']:.3f}")  # all
        0.000
    """
    from sklearn.decomposition import PCA

    train = np.asarray(x_train, dtype="float64").reshape(len(x_train), -1)
    test = np.asarray(x_test, dtype="float64").reshape(len(x_test), -1)
    num_samples, num_features = train.shape
    if test.shape[1] != num_features:
        raise ValueError(
            "Expected x_train and x_test with the same image shape. Received: "
            f"x_train.shape={np.shape(x_train)}, x_test.shape={np.shape(x_test)}"
        )
    if not isinstance(code_size, (int, np.integer)) or not (
        1 <= code_size <= min(num_samples, num_features)
    ):
        raise ValueError(
            f"Expected 1 <= code_size <= {min(num_samples, num_features)}. "
            f"Received: code_size={code_size!r}"
        )
    # Both solvers are exact; the covariance one (scikit-learn >= 1.5) is about ten
    # times faster on tall data such as MNIST.
    solver = "covariance_eigh" if num_samples >= num_features else "full"
    model = PCA(n_components=int(code_size), svd_solver=solver).fit(train)
    reconstructions = model.inverse_transform(model.transform(test))
    reconstructions = reconstructions.reshape(np.shape(x_test))
    return {
        "mse": mse(x_test, reconstructions),
        "psnr": psnr(x_test, reconstructions),
        "model": model,
        "reconstructions": reconstructions.astype("float32"),
    }


def _as_matrix(name, x):
    """Flattens `(N, ...)` to a float64 `(N, d)` matrix; rejects empty input."""
    x = np.asarray(x, dtype="float64")
    if x.ndim < 1 or len(x) == 0:
        raise ValueError(
            f"Expected {name} to be a non-empty array (N, ...). "
            f"Received: {name}.shape={x.shape}"
        )
    return x.reshape(len(x), -1)


def _as_labels(name, labels, num_rows):
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != num_rows:
        raise ValueError(
            f"Expected one label per row in {name}. "
            f"Received: {num_rows} rows and {len(labels)} labels"
        )
    return labels


def one_class_auroc(scores, y_test, normal_class):
    """Area under the ROC curve of anomaly scores, one class being normal.

    The one-class protocol: a model sees only images of `normal_class` in
    training and gives every test image an anomaly score (higher means less
    like the training data, e.g. the reconstruction error). Images of every
    other class are the anomalies, the positive label of
    `sklearn.metrics.roc_auc_score`. The AUROC is the probability that a random
    anomaly scores higher than a random normal image (ties count one half):
    1 separates them perfectly, 0.5 is chance.

    Args:
        scores: Anomaly scores `(N,)`, higher for more anomalous images.
        y_test: Class labels `(N,)` of the scored images.
        normal_class: The class that was normal in training.

    Returns:
        The AUROC, a float in [0, 1].

    Example:
        >>> labels = [3, 3, 5, 8]  # class 3 is normal
        >>> one_class_auroc([0.1, 0.2, 0.7, 0.9], labels, normal_class=3)
        1.0
        >>> one_class_auroc([0.1, 0.8, 0.7, 0.9], labels, normal_class=3)  # 3 of 4
        0.75
    """
    from sklearn.metrics import roc_auc_score

    scores = np.asarray(scores, dtype="float64").reshape(-1)
    is_anomaly = _as_labels("scores", y_test, len(scores)) != normal_class
    if is_anomaly.all() or not is_anomaly.any():
        raise ValueError(
            "Expected y_test to hold both the normal class and other classes. "
            f"Received: normal_class={normal_class!r}, "
            f"{int((~is_anomaly).sum())} normal and {int(is_anomaly.sum())} "
            "anomalous labels"
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("Expected finite scores. Received: NaN or infinite values")
    return float(roc_auc_score(is_anomaly, scores))


def alarm_threshold(normal_scores, false_alarm_rate=0.05):
    """The anomaly-score threshold that flags a given fraction of normal images.

    Choose it on normal images of the validation split, never the test split:
    it is the `1 - false_alarm_rate` quantile of their scores (NumPy's linear
    interpolation), so about that fraction of normal validation images score
    above it.

    Args:
        normal_scores: Anomaly scores `(N,)` of normal images, finite.
        false_alarm_rate: Target fraction of normal images flagged, in [0, 1).

    Returns:
        The threshold, a float: an image is flagged if its score is above it.

    Example:
        >>> normal_val_scores = np.arange(1.0, 101.0)  # 1, 2, ..., 100
        >>> threshold = alarm_threshold(normal_val_scores, false_alarm_rate=0.05)
        >>> round(threshold, 2)
        95.05
        >>> detection_rates([10.0, 99.0, 96.0, 50.0], [0, 0, 1, 1], 0, threshold)
        {'false_alarm_rate': 0.5, 'detection_rate': 0.5}
    """
    scores = np.asarray(normal_scores, dtype="float64").reshape(-1)
    if len(scores) == 0 or not np.all(np.isfinite(scores)):
        raise ValueError(
            "Expected a non-empty array of finite scores. "
            f"Received: normal_scores of shape {scores.shape}"
        )
    if isinstance(false_alarm_rate, bool) or not 0 <= false_alarm_rate < 1:
        raise ValueError(
            "Expected 0 <= false_alarm_rate < 1. "
            f"Received: false_alarm_rate={false_alarm_rate!r}"
        )
    return float(np.quantile(scores, 1.0 - false_alarm_rate))


def detection_rates(scores, labels, normal_class, threshold):
    """False-alarm and detection rates of a thresholded anomaly score.

    Args:
        scores: Anomaly scores `(N,)`, higher for more anomalous images.
        labels: Class labels `(N,)`.
        normal_class: The class that is normal; every other class is an anomaly.
        threshold: An image is flagged as an anomaly if its score is above it.

    Returns:
        A dict with `false_alarm_rate` (fraction of normal images flagged) and
        `detection_rate` (fraction of anomalies flagged).

    Example:
        >>> detection_rates([0.1, 0.5, 0.9, 0.2], [3, 3, 1, 1], 3, threshold=0.3)
        {'false_alarm_rate': 0.5, 'detection_rate': 0.5}
    """
    scores = np.asarray(scores, dtype="float64").reshape(-1)
    is_anomaly = _as_labels("scores", labels, len(scores)) != normal_class
    if is_anomaly.all() or not is_anomaly.any():
        raise ValueError(
            "Expected labels holding both the normal class and other classes. "
            f"Received: normal_class={normal_class!r}"
        )
    flagged = scores > float(threshold)
    return {
        "false_alarm_rate": float(flagged[~is_anomaly].mean()),
        "detection_rate": float(flagged[is_anomaly].mean()),
    }


def precision_at_k(
    query_features,
    query_labels,
    gallery_features,
    gallery_labels,
    k=10,
    exclude_self=False,
):
    """Fraction of each query's `k` nearest neighbours that share its label.

    Retrieval with a representation: for every query, the `k` gallery items
    closest in Euclidean distance (`sklearn.neighbors.NearestNeighbors`) are
    retrieved; the precision of a query is the fraction of them with the
    query's label, and the result is the mean over the queries.

    Args:
        query_features: Features `(M, ...)`, flattened to `(M, d)`.
        query_labels: Labels `(M,)`.
        gallery_features: Features `(N, ...)` to retrieve from, same size `d`.
        gallery_labels: Labels `(N,)`.
        k: Number of neighbours, at most `N` (`N - 1` with `exclude_self`).
        exclude_self: Set it when the queries are the gallery itself (the same
            arrays): each query is then left out of its own neighbours.

    Returns:
        The mean precision at `k`, a float in [0, 1].

    Example:
        >>> codes = np.array([[0.0], [0.1], [5.0], [5.1]])
        >>> labels = np.array([0, 0, 1, 1])
        >>> precision_at_k(codes, labels, codes, labels, k=1, exclude_self=True)
        1.0
        >>> precision_at_k(codes, labels, codes, labels, k=2, exclude_self=True)
        0.5
    """
    from sklearn.neighbors import NearestNeighbors

    queries = _as_matrix("query_features", query_features)
    gallery = _as_matrix("gallery_features", gallery_features)
    query_labels = _as_labels("query_features", query_labels, len(queries))
    gallery_labels = _as_labels("gallery_features", gallery_labels, len(gallery))
    if queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            "Expected query and gallery features of the same size. Received: "
            f"{queries.shape[1]} and {gallery.shape[1]} values per row"
        )
    if exclude_self and not (
        np.array_equal(queries, gallery)
        and np.array_equal(query_labels, gallery_labels)
    ):
        raise ValueError(
            "Expected the queries to be the gallery itself with exclude_self=True. "
            "Received: different features or labels"
        )
    max_k = len(gallery) - int(bool(exclude_self))
    if (
        isinstance(k, bool)
        or not isinstance(k, (int, np.integer))
        or not (1 <= k <= max_k)
    ):
        raise ValueError(f"Expected 1 <= k <= {max_k}. Received: k={k!r}")
    neighbours = NearestNeighbors(n_neighbors=int(k)).fit(gallery)
    # Without X, kneighbors leaves each point out of its own neighbours, by
    # index, so duplicates of a query still count.
    _, indices = neighbours.kneighbors(None if exclude_self else queries)
    hits = gallery_labels[indices] == query_labels[:, None]
    return float(hits.mean())


def frechet_distance(features_a, features_b, eps=1e-6):
    """Frechet distance between Gaussians fit to two sets of features.

    `||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`, with the means `mu`
    and (unbiased, `np.cov`) covariances `S` of the two sets: the squared
    2-Wasserstein distance between the Gaussians. With Inception features it is
    the FID of Heusel et al. (2017); the course uses its own classifier's
    features, so values compare only with the same classifier and set sizes.
    The estimate is biased upwards for small sets: compare sets of equal size.

    The matrix square root is `scipy.linalg.sqrtm`, handled as the reference
    implementation (pytorch-fid) handles it: if the product `S_a S_b` is so
    singular that the root is not finite, `eps` is added to the diagonal of both
    covariances, with a `RuntimeWarning`, and the root computed again. The
    root of a product of two covariances has real eigenvalues, so an
    imaginary part can only be round-off: it is dropped when every diagonal
    entry's imaginary part is within `1e-3 * max(1, |trace|)` of 0 (pytorch-fid's
    `atol=1e-3`, scaled with the features), and a `ValueError` is raised
    otherwise.

    Args:
        features_a: Features `(N, ...)`, flattened to `(N, d)`; N >= 2.
        features_b: Features `(M, ...)` of the same size `d`; M >= 2.
        eps: Diagonal offset used when the square root is not finite, >= 0.

    Returns:
        The distance, a float >= 0 (0 for two sets with the same mean and
        covariance).

    Raises:
        ValueError: The square root has a non-negligible imaginary part.

    Example:
        >>> a = np.random.default_rng(0).normal(size=(1000, 2))
        >>> round(frechet_distance(a, a + [3.0, 4.0]), 6)  # same S: ||shift||^2
        25.0
        >>> round(frechet_distance(a, a), 6)
        0.0
    """
    from scipy.linalg import LinAlgWarning, sqrtm

    a = _as_matrix("features_a", features_a)
    b = _as_matrix("features_b", features_b)
    if a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(
            "Expected at least 2 rows in each set and features of the same size. "
            f"Received: features_a.shape={a.shape}, features_b.shape={b.shape}"
        )
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.number)):
        raise ValueError(f"Expected a number eps >= 0. Received: eps={eps!r}")
    if not eps >= 0:
        raise ValueError(f"Expected eps >= 0. Received: eps={eps!r}")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))

    def product_sqrt(cov_a, cov_b):
        with warnings.catch_warnings():
            # A singular product (dead units, fewer rows than features) warns
            # but usually still has an accurate root; a failure shows as
            # non-finite values, checked below.
            warnings.simplefilter("ignore", LinAlgWarning)
            return sqrtm(cov_a @ cov_b)

    root = product_sqrt(cov_a, cov_b)
    if not np.all(np.isfinite(root)):
        warnings.warn(
            "frechet_distance: the product of the covariances is singular; "
            f"adding eps={eps:g} to their diagonals.",
            RuntimeWarning,
            stacklevel=2,
        )
        offset = eps * np.eye(len(cov_a))
        root = product_sqrt(cov_a + offset, cov_b + offset)
        if not np.all(np.isfinite(root)):
            raise ValueError(
                "Expected the covariances' product to have a finite square root. "
                f"Received: none even with eps={eps:g} added to the diagonals"
            )
    if np.iscomplexobj(root):
        imaginary = np.abs(np.diagonal(root).imag)
        tolerance = 1e-3 * max(1.0, abs(float(np.trace(root.real))))
        if not np.all(imaginary <= tolerance):
            raise ValueError(
                "Expected a real square root of the covariances' product. Received: "
                f"an imaginary part of up to {imaginary.max():.3g} on its diagonal "
                f"(tolerance {tolerance:.3g}); more rows per set, or a larger eps "
                "with fewer features, may help"
            )
        root = root.real
    distance = (
        np.sum((mean_a - mean_b) ** 2)
        + np.trace(cov_a)
        + np.trace(cov_b)
        - 2 * np.trace(root)
    )
    # Round-off can leave a tiny negative number for identical statistics.
    return float(max(distance, 0.0))
