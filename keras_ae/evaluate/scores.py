"""Small helpers for anomaly scores: flattening, score functions, ROC points.

- `flat` turns images `(N, H, W, C)` into rows `(N, H * W * C)` for NumPy and
  scikit-learn.
- `pca_score` and `elbo_score` make the `score=` functions that
  `keras_ae.evaluate.protocols.one_class_protocol` and `evaluate_one_class`
  take: `(model, x) -> scores`.
- `roc_points` gives the whole ROC curve of an anomaly score: the false-alarm
  and detection rates at every threshold, the curve whose area is the AUROC.
"""

import numpy as np

from keras_ae.evaluate.protocols import negative_elbo_scores, pca_anomaly_scores

__all__ = ["flat", "pca_score", "elbo_score", "roc_points"]


def flat(x):
    """Rows `(N, values)` of a batch `(N, ...)`, as a NumPy array.

    Example:
        >>> flat(np.zeros((2, 3, 3, 1))).shape
        (2, 9)
    """
    x = np.asarray(x)
    return x.reshape(len(x), -1)


def pca_score(code_size):
    """A score function `(x_normal, x) -> scores`: the PCA residual.

    The "model" of the normal class is its images; the score is
    `pca_anomaly_scores(x_normal, x, code_size)`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x_normal = rng.normal(size=(20, 4)) * [1.0, 1.0, 0.0, 0.0]
        >>> pca_score(2)(x_normal, [[0.0, 0.0, 3.0, 0.0]]).round(3)
        array([2.25])
    """
    return lambda x_normal, x: pca_anomaly_scores(x_normal, x, code_size)


def elbo_score(num_samples=10, seed=0):
    """A score function `(vae, x) -> scores`: the negative ELBO in nats.

    `negative_elbo_scores(vae, x, num_samples, seed)`, with the same draws of
    `z` every time it is called.

    Example:
        >>> score = elbo_score(num_samples=10, seed=0)
        >>> callable(score)
        True
    """
    return lambda vae, x: negative_elbo_scores(
        vae, x, num_samples=num_samples, seed=seed
    )


def roc_points(scores, labels, normal_class):
    """The ROC curve of an anomaly score: (false-alarm rate, detection rate) pairs.

    Every distinct score is a threshold (an image is flagged if its score is
    at or above it); the curve starts at (0, 0), flagging nothing, and ends at
    (1, 1), flagging everything. Its area is `one_class_auroc`.

    Args:
        scores: Anomaly scores `(N,)`, higher for more anomalous images.
        labels: Class labels `(N,)`.
        normal_class: The normal class; every other class is an anomaly.

    Returns:
        A dict with `false_alarm_rate`, `detection_rate` and `thresholds`
        (NumPy arrays of the same length; the first threshold is `inf`).

    Example:
        >>> roc = roc_points([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], normal_class=0)
        >>> roc["false_alarm_rate"], roc["detection_rate"]
        (array([0. , 0. , 0.5, 0.5, 1. ]), array([0. , 0.5, 0.5, 1. , 1. ]))
    """
    scores = np.asarray(scores, dtype="float64").reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if len(scores) != len(labels) or not np.all(np.isfinite(scores)):
        raise ValueError(
            "Expected one finite score per label. "
            f"Received: {len(scores)} scores and {len(labels)} labels"
        )
    is_anomaly = labels != normal_class
    if is_anomaly.all() or not is_anomaly.any():
        raise ValueError(
            "Expected labels holding both the normal class and other classes. "
            f"Received: normal_class={normal_class!r}"
        )
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_anomaly = scores[order], is_anomaly[order]
    # The last position of each distinct score: flag everything down to it.
    last = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(scores) - 1]
    detected = np.cumsum(sorted_anomaly)[last]
    false_alarms = np.cumsum(~sorted_anomaly)[last]
    return {
        "false_alarm_rate": np.r_[0.0, false_alarms / (~is_anomaly).sum()],
        "detection_rate": np.r_[0.0, detected / is_anomaly.sum()],
        "thresholds": np.r_[np.inf, sorted_scores[last]],
    }
