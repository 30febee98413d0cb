"""Time-series evaluation: reconstruction scores of windows, detection reports,
classical detectors and filters.
"""

import numpy as np

from keras_ae._validation import check_positive_int
from keras_ae.models.sequences import _as_series, overlap_average, sliding_windows

__all__ = [
    "step_errors",
    "reconstruction_scores",
    "reconstruct_series",
    "segments",
    "point_adjust",
    "auroc",
    "normal_threshold",
    "detection_report",
    "moving_zscore_scores",
    "isolation_forest_scores",
    "moving_average",
    "savgol",
    "tune_filter",
    "compare_detectors",
    "format_reports",
    "discriminative_accuracy",
    "tstr_accuracy",
]


def step_errors(model, windows, batch_size=512):
    """Squared reconstruction error of every step of every window.

    Returns:
        float64 array `(num_windows, window_size)`: the squared error averaged
        over the channels.
    """
    windows = np.asarray(windows, dtype="float32")
    reconstructions = model.predict(windows, batch_size=batch_size, verbose=0)
    return np.mean((reconstructions.astype("float64") - windows) ** 2, axis=-1)


def reconstruction_scores(
    model, series, window_size, stride=1, per="step", center=False, batch_size=512
):
    """An anomaly score per time step from the windows' reconstruction errors.

    Args:
        model: An autoencoder of windows `(window_size, channels)`.
        series: The series `(T,)` or `(T, channels)`, scaled as in training.
        window_size: The model's window length.
        stride: Steps between windows (1 scores every step from every window
            that covers it).
        per: `"step"`: step t's score is the mean, over the windows that cover
            it, of the squared error *at t*: sharp, but a bad stretch that the
            model reconstructs well step by step scores low. `"window"`: each
            window's mean squared error, averaged over the windows that cover
            t: smoother, it spreads a window's error over all its steps, so
            it also uses steps after t. `"last"`: each window's mean squared
            error goes to its last step only, so step t's score uses no data
            after t (what a monitor running in real time can compute); the
            first `window_size - 1` steps get NaN.
        center: Whether the model was trained on centered windows (see
            `sliding_windows`).
        batch_size: Windows per forward pass.

    Returns:
        float64 array `(T,)` (NaN for steps that no window covers).
    """
    if per not in ("step", "window", "last"):
        raise ValueError(
            f"Expected per to be 'step', 'window' or 'last'. Received: per={per!r}"
        )
    series = _as_series(series)
    windows = sliding_windows(series, window_size, stride, center=center)
    errors = step_errors(model, windows, batch_size=batch_size)
    if per == "last":
        scores = np.full(len(series), np.nan)
        ends = np.arange(len(errors)) * stride + window_size - 1
        scores[ends] = errors.mean(axis=1)
        return scores
    if per == "window":
        errors = np.repeat(errors.mean(axis=1, keepdims=True), window_size, axis=1)
    return overlap_average(errors, len(series), stride)


def reconstruct_series(model, series, window_size, batch_size=512):
    """A model's output for a whole series: windows in, overlapping outputs averaged.

    Every window (stride 1) goes through `model` (an autoencoder or a
    denoiser of windows); time step t gets the mean of the outputs that the
    windows covering it give it.

    Returns:
        float64 array `(T, channels)`.
    """
    series = _as_series(series)
    windows = sliding_windows(series, window_size, stride=1)
    outputs = model.predict(windows, batch_size=batch_size, verbose=0)
    return np.stack(
        [
            overlap_average(outputs[..., channel], len(series), stride=1)
            for channel in range(series.shape[1])
        ],
        axis=-1,
    )


def _labels(labels, length=None):
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.isin(labels, (0, 1)).all():
        raise ValueError(
            "Expected labels of shape (T,) holding 0 (normal) and 1 (anomalous). "
            f"Received: shape={labels.shape}"
        )
    if length is not None and len(labels) != length:
        raise ValueError(
            f"Expected as many labels as scores ({length}). Received: {len(labels)}"
        )
    return labels.astype(bool)


def segments(labels):
    """The runs of 1s in `labels`, as `(start, end)` pairs (end excluded)."""
    labels = _labels(labels).astype("int8")
    edges = np.diff(np.concatenate([[0], labels, [0]]))
    return list(
        zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True)
    )


def point_adjust(predictions, labels):
    """Marks a whole true anomalous segment as predicted once any step of it is.

    Args:
        predictions: 0/1 (or bool) per step.
        labels: True 0/1 labels per step.

    Returns:
        bool array: `predictions` with every true segment that holds at least
        one predicted step set to True throughout.
    """
    predictions = _labels(np.asarray(predictions).astype("int64"))
    labels = _labels(labels, len(predictions))
    adjusted = predictions.copy()
    for start, end in segments(labels):
        if predictions[start:end].any():
            adjusted[start:end] = True
    return adjusted


def auroc(scores, labels):
    """Area under the ROC curve of `scores` for `labels` (ties count one half).

    The probability that a random anomalous step scores higher than a random
    normal one, by the Mann-Whitney rank statistic.
    """
    scores = np.asarray(scores, dtype="float64")
    labels = _labels(labels, len(scores))
    if labels.all() or not labels.any():
        raise ValueError("Expected both normal and anomalous steps in labels")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # Average ranks of tied scores.
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2
    positives = labels.sum()
    negatives = len(labels) - positives
    return float(
        (ranks[labels].sum() - positives * (positives + 1) / 2)
        / (positives * negatives)
    )


def normal_threshold(normal_scores, quantile=0.999):
    """A threshold at the `quantile` of scores of normal steps (NaNs ignored)."""
    normal_scores = np.asarray(normal_scores, dtype="float64")
    if not 0 < quantile <= 1:
        raise ValueError(f"Expected 0 < quantile <= 1. Received: quantile={quantile}")
    return float(np.nanquantile(normal_scores, quantile))


def detection_report(scores, labels, threshold):
    """Precision, recall and F1 of `scores > threshold`, plain and point-adjusted.

    Steps whose score is NaN (no window covered them) count as not flagged.

    Returns:
        A dict: `auroc` (NaN scores replaced by the lowest score), `precision`,
        `recall`, `f1`, `precision_pa`, `recall_pa`, `f1_pa` (point-adjusted),
        `flagged` (number of steps flagged) and `segments_found` of
        `num_segments`.
    """
    scores = np.asarray(scores, dtype="float64")
    labels = _labels(labels, len(scores))
    predicted = np.nan_to_num(scores, nan=-np.inf) > threshold
    report = {"auroc": auroc(np.nan_to_num(scores, nan=np.nanmin(scores)), labels)}
    for suffix, flags in (("", predicted), ("_pa", point_adjust(predicted, labels))):
        true_positives = np.sum(flags & labels)
        precision = true_positives / flags.sum() if flags.any() else 0.0
        recall = true_positives / labels.sum()
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision + recall > 0
            else 0.0
        )
        report.update(
            {
                f"precision{suffix}": float(precision),
                f"recall{suffix}": float(recall),
                f"f1{suffix}": float(f1),
            }
        )
    found = [predicted[start:end].any() for start, end in segments(labels)]
    report.update(
        flagged=int(predicted.sum()),
        segments_found=int(sum(found)),
        num_segments=len(found),
    )
    return report


def moving_zscore_scores(series, window=50):
    """|x_t - mean| / std of the `window` steps before t, largest over channels.

    The first `window` steps, which have no full history, get NaN.
    """
    series = _as_series(series, "float64")
    window = check_positive_int("window", window)
    if window >= len(series):
        raise ValueError(
            f"Expected window < the series length {len(series)}. Received: {window}"
        )
    history = np.lib.stride_tricks.sliding_window_view(series[:-1], window, axis=0)
    mean, std = history.mean(axis=-1), history.std(axis=-1)
    z = np.abs(series[window:] - mean) / np.maximum(std, 1e-12)
    return np.concatenate([np.full(window, np.nan), z.max(axis=-1)])


def isolation_forest_scores(
    train_series, series, window_size, stride=1, seed=0, num_trees=200
):
    """Isolation-forest anomaly scores per step, fitted on normal windows.

    scikit-learn's `IsolationForest` is fitted on the windows of
    `train_series`; every window of `series` gets its anomaly score (higher is
    more anomalous), spread over its steps with `overlap_average`.
    """
    from sklearn.ensemble import IsolationForest

    train = sliding_windows(train_series, window_size, stride)
    windows = sliding_windows(series, window_size, stride)
    forest = IsolationForest(n_estimators=num_trees, random_state=seed)
    forest.fit(train.reshape(len(train), -1))
    window_scores = -forest.score_samples(windows.reshape(len(windows), -1))
    per_step = np.repeat(window_scores[:, None], window_size, axis=1)
    return overlap_average(per_step, len(_as_series(series)), stride)


def moving_average(series, width):
    """Centered moving average of odd `width` along time (edges: shorter windows)."""
    series = _as_series(series, "float64")
    width = check_positive_int("width", width)
    if width % 2 == 0:
        raise ValueError(f"Expected an odd width. Received: width={width}")
    half = width // 2
    padded = np.pad(series, ((half, half), (0, 0)))
    counts = np.pad(np.ones(len(series)), half)
    kernel = np.ones(width)
    sums = np.stack(
        [
            np.convolve(padded[:, c], kernel, mode="valid")
            for c in range(series.shape[1])
        ],
        axis=-1,
    )
    return sums / np.convolve(counts, kernel, mode="valid")[:, None]


def savgol(series, width, order=2):
    """Savitzky-Golay smoothing (`scipy.signal.savgol_filter`) along time."""
    from scipy.signal import savgol_filter

    series = _as_series(series, "float64")
    width = check_positive_int("width", width)
    if width % 2 == 0 or width <= order:
        raise ValueError(
            f"Expected an odd width > order={order}. Received: width={width}"
        )
    return savgol_filter(series, width, order, axis=0, mode="interp")


def tune_filter(filter_fn, noisy, clean, widths):
    """The width from `widths` whose filtered `noisy` is closest to `clean` (MSE).

    Args:
        filter_fn: `moving_average`, `savgol` or any `(series, width) -> series`.
        noisy, clean: Validation series, same shape.
        widths: Candidate widths.

    Returns:
        `(best_width, {width: mse})`.
    """
    clean = _as_series(clean, "float64")
    errors = {
        int(width): float(np.mean((filter_fn(noisy, width) - clean) ** 2))
        for width in widths
    }
    return min(errors, key=errors.get), errors


def compare_detectors(detectors, labels, splits, quantile=1.0, margin=0):
    """Runs the course's protocol for several detectors of one series.

    Each detector's threshold is the `quantile` of its scores on the normal
    validation steps `[train_end, val_end - margin)`; its `detection_report`
    is computed on the test steps `[val_end, T)`.

    Args:
        detectors: Dict from a name to anomaly scores `(T,)`.
        labels: True 0/1 labels `(T,)`.
        splits: `(train_end, val_end)`, as `keras_ae.series_data` returns them.
        quantile: Quantile of the validation scores used as threshold.
        margin: Validation steps left out at the end: a score computed from
            windows of `W` steps lets the last `W - 1` validation steps see
            test steps (an anomaly right after the split would raise the
            threshold), so pass `margin=W - 1`.

    Returns:
        Dict from the name to its report, with `threshold` added.
    """
    train_end, val_end = splits
    margin = int(margin)
    if not 0 <= margin < val_end - train_end:
        raise ValueError(
            f"Expected 0 <= margin < {val_end - train_end} (the validation steps). "
            f"Received: margin={margin}"
        )
    reports = {}
    for name, scores in detectors.items():
        scores = np.asarray(scores, dtype="float64")
        threshold = normal_threshold(scores[train_end : val_end - margin], quantile)
        reports[name] = {
            **detection_report(scores[val_end:], labels[val_end:], threshold),
            "threshold": threshold,
        }
    return reports


def format_reports(reports):
    """The reports of `compare_detectors` as a fixed-width text table."""
    width = max(len("detector"), *(len(name) for name in reports))
    lines = [f"{'detector':>{width}}  AUROC     F1  F1 PA  flagged  found"]
    for name, r in reports.items():
        lines.append(
            f"{name:>{width}}  {r['auroc']:5.3f}  {r['f1']:5.3f}  {r['f1_pa']:5.3f}  "
            f"{r['flagged']:7d}  {r['segments_found']:2d}/{r['num_segments']}"
        )
    return "\n".join(lines)


def discriminative_accuracy(real, generated, seed=0, num_trees=200):
    """How well a random forest tells real series from generated ones.

    The real and generated series are pooled, shuffled with `seed` and cut in
    two halves; a random forest trained on one half is scored on the other.

    Returns:
        Held-out accuracy: 0.5 when the two sets cannot be told apart (the
        best a generator can do), 1.0 when they always can.
    """
    from sklearn.ensemble import RandomForestClassifier

    real, generated = np.asarray(real), np.asarray(generated)
    x = np.concatenate([real, generated]).reshape(len(real) + len(generated), -1)
    y = np.r_[np.zeros(len(real)), np.ones(len(generated))]
    order = np.random.default_rng(seed).permutation(len(x))
    train, test = order[: len(x) // 2], order[len(x) // 2 :]
    forest = RandomForestClassifier(num_trees, random_state=seed)
    forest.fit(x[train], y[train])
    return float(forest.score(x[test], y[test]))


def tstr_accuracy(x_train, y_train, x_test, y_test):
    """Accuracy on `(x_test, y_test)` of a logistic regression fit on the training set.

    Fit on generated series and tested on real ones, it is the
    train-on-synthetic, test-on-real (TSTR) score of a generator; fit on real
    training series, the train-on-real baseline (TRTR).
    """
    from sklearn.linear_model import LogisticRegression

    x_train, x_test = np.asarray(x_train), np.asarray(x_test)
    model = LogisticRegression(max_iter=2000)
    model.fit(x_train.reshape(len(x_train), -1), y_train)
    return float(model.score(x_test.reshape(len(x_test), -1), y_test))
