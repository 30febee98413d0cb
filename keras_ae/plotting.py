"""Figures the notebooks show: image grids, reconstructions, latent codes, curves.

Every function returns a `matplotlib.figure.Figure` and never calls `plt.show()`:
a notebook displays the returned figure by itself, a script saves it with
`fig.savefig(...)`, and the tests read the numbers back from its axes.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.lines import Line2D

__all__ = [
    "image_grid",
    "plot_rows",
    "plot_reconstructions",
    "plot_latent_scatter",
    "plot_history",
    "plot_filters",
    "plot_series_scores",
    "plot_series_grid",
]

# Qualitative colours for up to 20 classes; more classes get a continuous colorbar.
_MAX_LEGEND_CLASSES = 20


def _as_images(images, name="images"):
    """Returns `images` as a float array (N, H, W) or (N, H, W, 3) for `imshow`."""
    array = np.asarray(images)
    if array.ndim == 4 and array.shape[-1] in (1, 3):
        array = array[..., 0] if array.shape[-1] == 1 else array
    elif array.ndim != 3:
        raise ValueError(
            f"Expected {name} of shape (N, H, W), (N, H, W, 1) or (N, H, W, 3). "
            f"Received: {name}.shape={array.shape}"
        )
    if len(array) == 0:
        raise ValueError(
            f"Expected at least one image. Received: {name}.shape=(0, ...)"
        )
    return array.astype("float32")


def _show_image(axis, image, cmap):
    """Draws one image in [0, 1] on `axis` without ticks; clips it for display."""
    axis.imshow(np.clip(image, 0.0, 1.0), cmap=cmap, vmin=0.0, vmax=1.0)
    axis.set_xticks([])
    axis.set_yticks([])


def image_grid(
    images, *, num_columns=10, titles=None, cmap="gray", figsize=None, title=None
):
    """Shows images in a grid, `num_columns` per row.

    Args:
        images: Array of shape (N, H, W), (N, H, W, 1) or (N, H, W, 3) with values
            in [0, 1]. Values outside are clipped for display (not in the data).
        num_columns: Images per row.
        titles: Optional sequence of N strings, one above each image.
        cmap: Colormap for one-channel images (ignored for RGB).
        figsize: Figure size in inches; by default about 1.2 inches per image.
        title: Optional title above the whole grid.

    Returns:
        A `matplotlib.figure.Figure` with exactly N axes, one per image.

    Example:
        >>> images = np.random.default_rng(0).random((20, 8, 8, 1))
        >>> fig = image_grid(images, num_columns=10, title="Random images")
        >>> len(fig.axes)
        20
        >>> plt.close(fig)
    """
    images = _as_images(images)
    if not isinstance(num_columns, int) or num_columns < 1:
        raise ValueError(
            f"Expected num_columns to be an integer >= 1. Received: {num_columns!r}"
        )
    if titles is not None and len(titles) != len(images):
        raise ValueError(
            "Expected one title per image. "
            f"Received: {len(titles)} titles for {len(images)} images"
        )
    num_columns = min(num_columns, len(images))
    num_rows = math.ceil(len(images) / num_columns)
    if figsize is None:
        figsize = (1.2 * num_columns, 1.2 * num_rows + (0.4 if title else 0.0))
    fig, axes = plt.subplots(num_rows, num_columns, figsize=figsize, squeeze=False)
    axes = axes.ravel()
    for index, axis in enumerate(axes):
        if index >= len(images):
            fig.delaxes(axis)
            continue
        _show_image(axis, images[index], cmap)
        if titles is not None:
            axis.set_title(str(titles[index]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_rows(rows, *, num_images=10, cmap="gray", figsize=None, title=None):
    """Shows several image sets as aligned rows, one labelled row per set.

    Column `j` shows image `j` of every set, so a reader compares, say, a clean
    digit, its noisy version and the model's output one above the other.

    Args:
        rows: Dict from row label to an image array (N, H, W[, C]). Every array
            needs at least `num_images` images, or all its images are shown.
        num_images: Number of columns (images per row).
        cmap: Colormap for one-channel images.
        figsize: Figure size in inches; by default about 1.2 inches per image.
        title: Optional title above the figure.

    Returns:
        A `matplotlib.figure.Figure` with `len(rows) * num_images` axes in
        row-major order; the label of each row is the y-label of its first axis.

    Example:
        >>> clean = np.random.default_rng(0).random((10, 8, 8, 1))
        >>> fig = plot_rows({"clean": clean, "brighter": clean + 0.2}, num_images=5)
        >>> len(fig.axes), fig.axes[5].get_ylabel()
        (10, 'brighter')
        >>> plt.close(fig)
    """
    if not isinstance(rows, dict) or not rows:
        raise ValueError(
            "Expected rows to be a non-empty dict of label -> images. "
            f"Received: rows={rows!r}"
        )
    if not isinstance(num_images, int) or num_images < 1:
        raise ValueError(
            f"Expected num_images to be an integer >= 1. Received: {num_images!r}"
        )
    arrays = {label: _as_images(images, name=label) for label, images in rows.items()}
    num_images = min(num_images, *(len(array) for array in arrays.values()))
    if figsize is None:
        figsize = (1.2 * num_images + 1.0, 1.2 * len(arrays) + (0.4 if title else 0.0))
    fig, axes = plt.subplots(len(arrays), num_images, figsize=figsize, squeeze=False)
    for row_axes, (label, array) in zip(axes, arrays.items(), strict=True):
        for axis, image in zip(row_axes, array[:num_images], strict=True):
            _show_image(axis, image, cmap)
        row_axes[0].set_ylabel(label, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_reconstructions(
    originals,
    reconstructions,
    *,
    num_images=10,
    row_labels=("original", "reconstruction"),
    cmap="gray",
    figsize=None,
    title=None,
):
    """Shows inputs above their reconstructions.

    Args:
        originals: Images (N, H, W[, C]) in [0, 1].
        reconstructions: The model's outputs for `originals`, same shape.
        num_images: Number of pairs to show.
        row_labels: Labels of the two rows.
        cmap: Colormap for one-channel images.
        figsize: Figure size in inches.
        title: Optional title above the figure.

    Returns:
        A `matplotlib.figure.Figure`; see `plot_rows`, which this calls.

    Example:
        >>> from keras_ae.data import load_dataset
        >>> _, _, (x_test, _), _ = load_dataset("digits")
        >>> blurred = (x_test + np.roll(x_test, 1, axis=2)) / 2  # a stand-in model
        >>> fig = plot_reconstructions(x_test, blurred, num_images=8)
        >>> len(fig.axes)
        16
        >>> plt.close(fig)
    """
    originals = np.asarray(originals)
    reconstructions = np.asarray(reconstructions)
    if originals.shape != reconstructions.shape:
        raise ValueError(
            "Expected originals and reconstructions of the same shape. Received: "
            f"originals.shape={originals.shape}, "
            f"reconstructions.shape={reconstructions.shape}"
        )
    if len(row_labels) != 2 or row_labels[0] == row_labels[1]:
        raise ValueError(
            f"Expected two different row labels. Received: row_labels={row_labels!r}"
        )
    return plot_rows(
        {row_labels[0]: originals, row_labels[1]: reconstructions},
        num_images=num_images,
        cmap=cmap,
        figsize=figsize,
        title=title,
    )


def plot_latent_scatter(
    codes, labels=None, *, class_names=None, title=None, figsize=(6, 5), point_size=8
):
    """Plots 2-D codes as points coloured by their label.

    Integer labels (at most 20 classes) get one colour each and a legend; other
    labels (many classes, or a continuous value) get a colormap and a colorbar.

    Args:
        codes: Array (N, 2), for example `encoder.predict(x_test)` with
            `code_size=2`.
        labels: Optional array (N,) of labels or values to colour by.
        class_names: Optional names indexed by integer label, for the legend.
        title: Optional axes title.
        figsize: Figure size in inches.
        point_size: Marker area in points^2.

    Returns:
        A `matplotlib.figure.Figure` with one axes holding a single scatter
        (`fig.axes[0].collections[0]`) whose offsets are `codes`, in order.

    Example:
        >>> from sklearn.decomposition import PCA
        >>> from keras_ae.data import load_dataset
        >>> _, _, (x_test, y_test), _ = load_dataset("digits")
        >>> codes = PCA(2).fit_transform(x_test.reshape(len(x_test), -1))
        >>> fig = plot_latent_scatter(codes, y_test, title="PCA codes")
        >>> fig.axes[0].collections[0].get_offsets().shape
        (450, 2)
        >>> plt.close(fig)
    """
    codes = np.asarray(codes, dtype="float32")
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(
            f"Expected codes of shape (N, 2). Received: codes.shape={codes.shape}"
        )
    fig, axis = plt.subplots(figsize=figsize)
    if labels is None:
        axis.scatter(codes[:, 0], codes[:, 1], s=point_size)
    else:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(codes):
            raise ValueError(
                "Expected one label per code. "
                f"Received: {len(labels)} labels for {len(codes)} codes"
            )
        _colored_scatter(axis, fig, codes, labels, class_names, point_size)
    axis.set_xlabel("code 1")
    axis.set_ylabel("code 2")
    if title:
        axis.set_title(title)
    fig.tight_layout()
    return fig


def _colored_scatter(axis, fig, codes, labels, class_names, point_size):
    is_integer = np.issubdtype(labels.dtype, np.integer)
    if is_integer and labels.min() < 0:
        raise ValueError(f"Expected labels >= 0. Received: min label {labels.min()}")
    num_classes = len(class_names) if class_names is not None else None
    if is_integer and num_classes is None:
        num_classes = int(labels.max()) + 1
    if class_names is not None and (not is_integer or labels.max() >= num_classes):
        raise ValueError(
            "Expected integer labels below len(class_names). "
            f"Received: max label {labels.max()} with {num_classes} class names"
        )
    if not is_integer or num_classes > _MAX_LEGEND_CLASSES:
        points = axis.scatter(
            codes[:, 0], codes[:, 1], c=labels, cmap="viridis", s=point_size
        )
        fig.colorbar(points, ax=axis, label="label")
        return
    palette = plt.get_cmap("tab10" if num_classes <= 10 else "tab20")
    cmap = ListedColormap([palette(i) for i in range(num_classes)])
    # One colour bin per integer label: label k falls in [k - 0.5, k + 0.5).
    norm = BoundaryNorm(np.arange(num_classes + 1) - 0.5, num_classes)
    axis.scatter(codes[:, 0], codes[:, 1], c=labels, cmap=cmap, norm=norm, s=point_size)
    handles = [
        Line2D(
            [],
            [],
            linestyle="",
            marker="o",
            color=cmap(norm(label)),
            label=class_names[label] if class_names is not None else str(label),
        )
        for label in np.unique(labels)
    ]
    axis.legend(handles=handles, loc="best", fontsize=8, markerscale=1.2)


def plot_history(history, *, metrics=None, log_scale=False, figsize=None, title=None):
    """Plots training curves, one panel per metric, validation on the same panel.

    Args:
        history: The `keras.callbacks.History` returned by `model.fit`, or its
            `.history` dict of metric name -> list of per-epoch values.
        metrics: Names to plot, e.g. `["loss"]`. Default: every metric without
            the `val_` prefix, in the order Keras logged them.
        log_scale: Whether to use a logarithmic y axis (useful for losses that
            fall by orders of magnitude).
        figsize: Figure size in inches; by default 4 x 3 inches per panel.
        title: Optional title above the figure.

    Returns:
        A `matplotlib.figure.Figure` with one axes per metric; on each, the
        first line is the training curve and the second (if logged) the
        `val_` curve, both against epochs 1, 2, ...

    Example:
        >>> history = {"loss": [0.09, 0.05, 0.04], "val_loss": [0.08, 0.06, 0.05]}
        >>> fig = plot_history(history, log_scale=True)  # or fit's History
        >>> [line.get_label() for line in fig.axes[0].lines]
        ['training', 'validation']
        >>> plt.close(fig)
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError(
            "Expected a keras History or a non-empty dict of metric -> values. "
            f"Received: {history!r}"
        )
    if metrics is None:
        metrics = [name for name in logs if not name.startswith("val_")]
    elif isinstance(metrics, str):
        metrics = [metrics]
    missing = [name for name in metrics if name not in logs]
    if missing or not metrics:
        raise ValueError(
            f"Expected metrics among {sorted(logs)}. Received: metrics={metrics!r}"
        )
    if figsize is None:
        figsize = (4.0 * len(metrics), 3.0 + (0.3 if title else 0.0))
    fig, axes = plt.subplots(1, len(metrics), figsize=figsize, squeeze=False)
    for axis, name in zip(axes[0], metrics, strict=True):
        for key, label in ((name, "training"), (f"val_{name}", "validation")):
            if key in logs:
                values = np.asarray(logs[key], dtype="float64")
                axis.plot(np.arange(1, len(values) + 1), values, label=label)
        axis.set_xlabel("epoch")
        axis.set_title(name)
        if log_scale:
            axis.set_yscale("log")
        if f"val_{name}" in logs:
            axis.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _normalize_each(images):
    """Scales each image to [0, 1] by its own min and max; constant ones become 0.5."""
    flat = images.reshape(len(images), -1)
    low = flat.min(axis=1).reshape((-1,) + (1,) * (images.ndim - 1))
    high = flat.max(axis=1).reshape(low.shape)
    span = high - low
    safe_span = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (images - low) / safe_span, 0.5)


def _filter_images(weights, image_shape):
    """Returns the images (N, H, W) or (N, H, W, 3) that a kernel's filters make."""
    if weights.ndim == 4:
        if image_shape is not None:
            raise ValueError(
                "Expected image_shape=None for a convolution kernel (its filters "
                f"are already images). Received: image_shape={image_shape!r} for "
                f"weights.shape={weights.shape}"
            )
        filters = np.moveaxis(weights, -1, 0)  # (filters, kh, kw, in_channels)
        return filters if weights.shape[2] == 3 else filters.mean(axis=-1)
    if image_shape is None:
        side = math.isqrt(weights.shape[0])
        if side * side != weights.shape[0]:
            raise ValueError(
                "Expected image_shape for a dense kernel whose input size is not a "
                f"square number. Received: image_shape=None for "
                f"weights.shape={weights.shape}"
            )
        image_shape = (side, side)
    valid = (
        isinstance(image_shape, (tuple, list))
        and len(image_shape) in (2, 3)
        and all(isinstance(d, (int, np.integer)) and d > 0 for d in image_shape)
        and (len(image_shape) == 2 or image_shape[2] in (1, 3))
    )
    if not valid or math.prod(image_shape) != weights.shape[0]:
        received = tuple(image_shape) if isinstance(image_shape, list) else image_shape
        raise ValueError(
            "Expected image_shape (height, width) or (height, width, 1 or 3) with "
            f"height * width * channels = {weights.shape[0]} (the kernel's input "
            f"size). Received: image_shape={received!r}"
        )
    images = weights.T.reshape((weights.shape[1], *image_shape))
    return images[..., 0] if images.ndim == 4 and images.shape[-1] == 1 else images


def plot_filters(
    weights, *, image_shape=None, num_filters=None, num_columns=8, title=None
):
    """Draws learned features as images: one per filter or per hidden unit.

    A convolution kernel `(kernel_height, kernel_width, in_channels, filters)`
    gives one small image per filter: the mean over the input channels (a
    grayscale image), or the colour image itself when `in_channels == 3`. A
    dense kernel `(input_dim, units)` gives one image per unit: the unit's
    incoming weights reshaped to `image_shape` (of all inputs of the same
    norm, the pattern that excites the unit most). Each image is scaled to its
    own minimum and maximum (black the most negative weight, white the most
    positive), so the picture shows the pattern, not the size, of the
    weights; a constant filter is mid-gray.

    Args:
        weights: The kernel, e.g. `model.get_layer("conv_1").kernel` or
            `layer.get_weights()[0]`, of shape `(kh, kw, in_channels, filters)`
            or `(input_dim, units)`.
        image_shape: For a dense kernel, the image shape of its input, such as
            `(8, 8)` or `(32, 32, 3)`; by default a square grayscale image if
            `input_dim` is a square number. Must be `None` for a convolution
            kernel.
        num_filters: Show only the first `num_filters` filters (or units);
            `None` shows all of them.
        num_columns: Images per row.
        title: Optional title above the figure.

    Returns:
        A `matplotlib.figure.Figure` with one axes per filter, in order, each
        titled with the filter's index; the image data of axes `i` is filter
        `i` scaled to [0, 1].

    Example:
        >>> import keras
        >>> conv = keras.layers.Conv2D(8, 3)
        >>> conv.build((None, 8, 8, 1))
        >>> fig = plot_filters(conv.kernel)  # eight 3 x 3 filters
        >>> len(fig.axes), fig.axes[0].get_images()[0].get_array().shape
        (8, (3, 3))
        >>> dense = keras.layers.Dense(16)
        >>> dense.build((None, 64))
        >>> fig2 = plot_filters(dense.kernel, image_shape=(8, 8), num_filters=4)
        >>> len(fig2.axes)
        4
        >>> plt.close(fig)
        >>> plt.close(fig2)
    """
    array = np.asarray(weights, dtype="float64")
    if array.ndim not in (2, 4) or 0 in array.shape:
        raise ValueError(
            "Expected a convolution kernel (kernel_height, kernel_width, "
            "in_channels, filters) or a dense kernel (input_dim, units). "
            f"Received: weights.shape={array.shape}"
        )
    images = _filter_images(array, image_shape)
    if num_filters is not None:
        if (
            isinstance(num_filters, bool)
            or not isinstance(num_filters, (int, np.integer))
            or not 1 <= num_filters <= len(images)
        ):
            raise ValueError(
                f"Expected num_filters to be None or an integer between 1 and "
                f"{len(images)}. Received: num_filters={num_filters!r}"
            )
        images = images[:num_filters]
    images = _normalize_each(images).astype("float32")
    return image_grid(
        images,
        num_columns=num_columns,
        titles=[str(index) for index in range(len(images))],
        title=title,
    )


def _shade_segments(axis, labels, steps, color="tab:red", label="true anomaly"):
    labels = np.asarray(labels).astype("int8")
    edges = np.diff(np.concatenate([[0], labels, [0]]))
    for number, (start, end) in enumerate(
        zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True)
    ):
        # A point anomaly gets a visible band: at least one step wide.
        axis.axvspan(
            steps[start] - 0.5, steps[end - 1] + 0.5, color=color, alpha=0.25,
            label=label if number == 0 else None,
        )  # fmt: skip


def plot_series_scores(
    values,
    scores,
    threshold=None,
    labels=None,
    *,
    start=0,
    marks=None,
    figsize=(10, 4.5),
    title=None,
):
    """Plots a series above its anomaly score, with the threshold and true anomalies.

    Args:
        values: The series `(T,)` or `(T, channels)` (channels drawn as lines).
        scores: Anomaly score per step `(T,)` (NaN where there is none).
        threshold: Optional threshold, drawn as a dashed line on the scores;
            the steps above it are marked on the series.
        labels: Optional true 0/1 labels per step; anomalous runs are shaded.
        start: Time index of the first step (for the x axis).
        marks: Optional dict from a label to a time index, drawn as dotted
            vertical lines on both axes (e.g. where validation and test begin).
        figsize: Figure size in inches.
        title: Optional title above the figure.

    Returns:
        A `matplotlib.figure.Figure` with two axes sharing the time axis: the
        series (first line: `values`) and the score (first line: `scores`).
    """
    values = np.asarray(values, dtype="float64")
    values = values[:, None] if values.ndim == 1 else values
    scores = np.asarray(scores, dtype="float64")
    if values.ndim != 2 or scores.shape != (len(values),):
        raise ValueError(
            "Expected values (T,) or (T, channels) and scores (T,). Received: "
            f"values {values.shape}, scores {scores.shape}"
        )
    steps = np.arange(start, start + len(values))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=figsize, sharex=True)
    top.plot(steps, values, linewidth=0.8)
    bottom.plot(steps, scores, color="tab:purple", linewidth=0.8, label="score")
    if threshold is not None:
        bottom.axhline(threshold, color="black", linestyle="--", label="threshold")
        flagged = np.nan_to_num(scores, nan=-np.inf) > threshold
        top.plot(
            steps[flagged], values[flagged, 0], ".", color="tab:orange",
            markersize=3, label="flagged",
        )  # fmt: skip
    if labels is not None:
        for axis in (top, bottom):
            _shade_segments(axis, labels, steps)
    for text, step in (marks or {}).items():
        for axis in (top, bottom):
            axis.axvline(step, color="gray", linestyle=":", linewidth=1)
        top.annotate(
            text, (step, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -10),
            textcoords="offset points", fontsize="small", color="gray",
        )  # fmt: skip
    top.set_ylabel("series")
    bottom.set_ylabel("score")
    bottom.set_xlabel("time step")
    for axis in (top, bottom):
        if axis.get_legend_handles_labels()[0]:
            axis.legend(loc="upper left", fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_series_grid(rows, *, num_series=8, figsize=None, title=None):
    """Plots several sets of series, one row of small panels per set.

    Args:
        rows: Dict from a row label to series `(N, T)` or `(N, T, channels)`.
        num_series: Panels per row (at most the shortest set's N).
        figsize: Figure size; by default 1.6 x 1.2 inches per panel.
        title: Optional title above the figure.

    Returns:
        A `matplotlib.figure.Figure`; panel `[r, c]` draws `rows[r][c]`, all
        panels on one y scale.
    """
    if not isinstance(rows, dict) or not rows:
        raise ValueError(
            f"Expected a non-empty dict of label -> series. Received: {rows!r}"
        )
    sets = {name: np.asarray(x, dtype="float64") for name, x in rows.items()}
    count = min(num_series, *(len(x) for x in sets.values()))
    if count < 1:
        raise ValueError("Expected at least one series in every row")
    low = min(float(np.nanmin(x[:count])) for x in sets.values())
    high = max(float(np.nanmax(x[:count])) for x in sets.values())
    figsize = figsize or (1.6 * count, 1.2 * len(sets) + (0.3 if title else 0))
    fig, axes = plt.subplots(
        len(sets), count, figsize=figsize, sharey=True, squeeze=False
    )
    for row, (name, x) in zip(axes, sets.items(), strict=True):
        for column, axis in enumerate(row):
            axis.plot(x[column].reshape(len(x[column]), -1), linewidth=0.8)
            axis.set_ylim(low, high)
            axis.set_xticks([])
        row[0].set_ylabel(name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
