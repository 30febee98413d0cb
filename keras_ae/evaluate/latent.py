"""Looking at a latent space: grids, decoding points, interpolation, active dimensions
and sample scores.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm

from keras_ae._validation import check_int
from keras_ae.utils import predict_batches

__all__ = [
    "grid_points",
    "decode_points",
    "tile_images",
    "plot_latent_grid",
    "interpolate",
    "spherical_interpolate",
    "interpolate_images",
    "largest_step_share",
    "sample_scores",
    "active_dims",
]


def grid_points(num_per_side=10, *, bounds=None, probability_range=(0.05, 0.95)):
    """Returns the points of a regular `num_per_side` x `num_per_side` latent grid.

    Without `bounds`, each coordinate takes the values
    `norm.ppf(linspace(low, high, num_per_side))`: quantiles of N(0, 1), so that
    every step of the grid covers the same probability under a standard normal
    prior, and the grid is denser near 0 where the prior puts most of its mass.
    With `bounds`, each coordinate is evenly spaced between its two bounds (for
    example the box that holds an autoencoder's codes).

    The points are in row-major order as they appear on a page: the first row is
    the top of the plane (largest second coordinate), and the first coordinate
    grows from left to right.

    Args:
        num_per_side: Points along each axis, >= 2.
        bounds: None, or `((low_1, high_1), (low_2, high_2))`.
        probability_range: `(low, high)` with `0 < low < high < 1`, the
            probabilities of the first and last quantile (used without `bounds`).

    Returns:
        A float32 array `(num_per_side ** 2, 2)`.

    Example:
        >>> grid_points(2, bounds=((0.0, 1.0), (0.0, 2.0)))
        array([[0., 2.],
               [1., 2.],
               [0., 0.],
               [1., 0.]], dtype=float32)
    """
    num_per_side = check_int("num_per_side", num_per_side, 2)
    if bounds is None:
        low, high = np.asarray(probability_range, dtype="float64").reshape(-1)[[0, -1]]
        if np.size(probability_range) != 2 or not 0.0 < low < high < 1.0:
            raise ValueError(
                "Expected probability_range (low, high) with 0 < low < high < 1. "
                f"Received: probability_range={probability_range!r}"
            )
        values = norm.ppf(np.linspace(low, high, num_per_side))
        axes = (values, values)
    else:
        bounds = np.asarray(bounds, dtype="float64")
        if bounds.shape != (2, 2) or not np.all(bounds[:, 0] < bounds[:, 1]):
            raise ValueError(
                "Expected bounds ((low_1, high_1), (low_2, high_2)) with each low "
                f"below its high. Received: bounds={bounds.tolist()!r}"
            )
        axes = [np.linspace(low, high, num_per_side) for low, high in bounds]
    first, second = np.meshgrid(axes[0], axes[1][::-1])
    return np.stack([first.ravel(), second.ravel()], axis=1).astype("float32")


def _decoder_inputs(decoder, z, labels):
    if labels is None:
        return z
    num_classes = int(decoder.inputs[1].shape[-1])
    labels = np.broadcast_to(np.asarray(labels, dtype="int64"), (len(z),))
    return [z, np.eye(num_classes, dtype="float32")[labels]]


def decode_points(decoder, points, *, labels=None, batch_size=1024):
    """Decodes latent points with a decoder model.

    Args:
        decoder: A `keras.Model` mapping codes `(batch, latent_dim)` to images;
            for a conditional decoder (two inputs), also give `labels`.
        points: Array `(N, latent_dim)`, for example from `grid_points`.
        labels: For a conditional decoder, an int class or N int classes; they
            are one-hot encoded.
        batch_size: Points decoded at once.

    Returns:
        A NumPy array of N images.

    Example:
        >>> import keras
        >>> decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(64),
        ...                             keras.layers.Reshape((8, 8, 1))])
        >>> decode_points(decoder, grid_points(3)).shape  # a 3 x 3 grid of codes
        (9, 8, 8, 1)
    """
    points = np.asarray(points, dtype="float32")
    latent_dim = decoder.inputs[0].shape[-1]
    if points.ndim != 2 or len(points) == 0 or points.shape[1] != latent_dim:
        raise ValueError(
            f"Expected points of shape (N, {latent_dim}) with N >= 1, the "
            f"decoder's latent size. Received: points.shape={points.shape}"
        )
    batch_size = check_int("batch_size", batch_size, 1)
    inputs = _decoder_inputs(decoder, points, labels)
    return predict_batches(decoder, inputs, batch_size)


def tile_images(images, num_columns, *, padding=0, pad_value=1.0):
    """Tiles images `(N, H, W[, 1])` into one image, `num_columns` per row.

    Args:
        images: One-channel images; N must be a multiple of `num_columns`.
        num_columns: Images per row.
        padding: Pixels of `pad_value` between neighbouring images (not around
            the border).
        pad_value: Value of the padding pixels.

    Returns:
        A float32 array `(rows * H + (rows - 1) * padding, num_columns * W +
        (num_columns - 1) * padding)`: image `i` fills the block in row
        `i // num_columns` and column `i % num_columns`.

    Example:
        >>> tile_images(np.zeros((6, 8, 8, 1)), num_columns=3, padding=1).shape
        (17, 26)
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    num_columns = check_int("num_columns", num_columns, 1)
    padding = check_int("padding", padding, 0)
    if images.ndim != 3 or len(images) == 0 or len(images) % num_columns:
        raise ValueError(
            "Expected one-channel images (N, H, W[, 1]) with N a positive multiple "
            f"of num_columns={num_columns}. Received: images.shape={images.shape}"
        )
    num_rows, (height, width) = len(images) // num_columns, images.shape[1:]
    step_y, step_x = height + padding, width + padding
    mosaic = np.full(
        (num_rows * step_y - padding, num_columns * step_x - padding),
        pad_value,
        dtype="float32",
    )
    for index, image in enumerate(images):
        row, column = divmod(index, num_columns)
        top, left = row * step_y, column * step_x
        mosaic[top : top + height, left : left + width] = image
    return mosaic


def plot_latent_grid(
    images, points, *, padding=1, title=None, figsize=(6, 6), cmap="gray"
):
    """Shows the images decoded from a 2-D `grid_points` grid as one mosaic.

    The tick labels are the latent coordinates of the grid's columns (first
    coordinate) and rows (second coordinate), so the mosaic reads like the
    latent scatter plot of the same model.

    Args:
        images: The `num_per_side ** 2` decoded images, in the order of `points`.
        points: The grid's points, `(num_per_side ** 2, 2)`.
        padding: Pixels of a mid-grey line between neighbouring images.
        title: Optional axes title.
        figsize: Figure size in inches.
        cmap: Colormap.

    Returns:
        A `matplotlib.figure.Figure` with one axes holding the mosaic
        (`fig.axes[0].get_images()[0]`, the array of `tile_images`).

    Example:
        >>> points = grid_points(3)
        >>> images = np.random.default_rng(0).random((9, 8, 8, 1))  # or decoded
        >>> fig = plot_latent_grid(images, points)
        >>> fig.axes[0].get_images()[0].get_array().shape  # 3 * 8 + 2 padding
        (26, 26)
        >>> plt.close(fig)
    """
    points = np.asarray(points, dtype="float32")
    num_per_side = math.isqrt(len(points)) if points.ndim == 2 else 0
    if points.ndim != 2 or points.shape[1] != 2 or num_per_side**2 != len(points):
        raise ValueError(
            "Expected the points of a square 2-D grid, (n * n, 2). "
            f"Received: points.shape={points.shape}"
        )
    if len(images) != len(points):
        raise ValueError(
            "Expected one image per point. "
            f"Received: {len(images)} images for {len(points)} points"
        )
    mosaic = tile_images(images, num_per_side, padding=padding, pad_value=0.5)
    height, width = np.asarray(images).shape[1:3]
    fig, axis = plt.subplots(figsize=figsize)
    axis.imshow(
        np.clip(mosaic, 0.0, 1.0),
        cmap=cmap,
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
    )
    centres = np.arange(num_per_side)
    axis.set_xticks(centres * (width + padding) + (width - 1) / 2)
    axis.set_xticklabels([f"{value:.1f}" for value in points[:num_per_side, 0]])
    axis.set_yticks(centres * (height + padding) + (height - 1) / 2)
    axis.set_yticklabels([f"{value:.1f}" for value in points[::num_per_side, 1]])
    axis.tick_params(labelsize=7)
    axis.set_xlabel("code 1")
    axis.set_ylabel("code 2")
    if title:
        axis.set_title(title)
    fig.tight_layout()
    return fig


def interpolate(z_start, z_end, num_steps=10):
    """Points on the straight line from `z_start` to `z_end`, both included.

    Args:
        z_start: A code `(latent_dim,)`, or a batch of codes `(N, latent_dim)`.
        z_end: Codes of the same shape.
        num_steps: Number of points per line, >= 2.

    Returns:
        A float32 array `(num_steps, latent_dim)` for one pair of codes,
        `(N, num_steps, latent_dim)` for a batch; step `i` is
        `(1 - t) * z_start + t * z_end` with `t = i / (num_steps - 1)`.

    Example:
        >>> interpolate([0.0, 0.0], [1.0, 2.0], num_steps=3)
        array([[0. , 0. ],
               [0.5, 1. ],
               [1. , 2. ]], dtype=float32)
    """
    z_start = np.asarray(z_start, dtype="float64")
    z_end = np.asarray(z_end, dtype="float64")
    if z_start.shape != z_end.shape or z_start.ndim not in (1, 2):
        raise ValueError(
            "Expected two codes (latent_dim,) or two batches (N, latent_dim) of the "
            f"same shape. Received: z_start.shape={z_start.shape}, "
            f"z_end.shape={z_end.shape}"
        )
    num_steps = check_int("num_steps", num_steps, 2)
    t = np.linspace(0.0, 1.0, num_steps)[:, None]
    lines = (1.0 - t) * z_start[..., None, :] + t * z_end[..., None, :]
    return lines.astype("float32")


def spherical_interpolate(z_start, z_end, num_steps=10):
    """Points on the great circle from `z_start` to `z_end`, both included.

    The direction moves along the great circle between the two codes' unit
    vectors (slerp, Shoemake 1985) and the length moves linearly from one
    code's length to the other's. A straight line between two codes of a
    Gaussian prior passes closer to the origin than either end, where few
    codes lie (draws of N(0, I) have length near `sqrt(latent_dim)`); this
    path keeps the length between the two ends. Codes pointing the same way
    (an angle below 1e-6 radians) get the straight line.

    Args:
        z_start: A code `(latent_dim,)`, or a batch of codes `(N, latent_dim)`,
            none of them zero.
        z_end: Codes of the same shape.
        num_steps: Number of points per path, >= 2.

    Returns:
        A float32 array `(num_steps, latent_dim)` for one pair of codes,
        `(N, num_steps, latent_dim)` for a batch; with `t = i / (num_steps -
        1)`, step `i` is `((1 - t) |a| + t |b|) (sin((1 - t) w) a / |a| +
        sin(t w) b / |b|) / sin(w)`, `w` the angle between `a` and `b`.

    Example:
        >>> spherical_interpolate([1.0, 0.0], [0.0, 3.0], num_steps=3).round(3)
        array([[1.   , 0.   ],
               [1.414, 1.414],
               [0.   , 3.   ]], dtype=float32)
    """
    lines = interpolate(z_start, z_end, num_steps)  # checks the arguments
    a = np.asarray(z_start, dtype="float64")[..., None, :]
    b = np.asarray(z_end, dtype="float64")[..., None, :]
    norm_a, norm_b = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    if np.any(norm_a == 0) or np.any(norm_b == 0):
        raise ValueError(
            "Expected codes of non-zero length: a zero code has no direction"
        )
    unit_a, unit_b = a / norm_a[..., None], b / norm_b[..., None]
    angle = np.arccos(np.clip((unit_a * unit_b).sum(axis=-1), -1.0, 1.0))[..., None]
    t = np.linspace(0.0, 1.0, lines.shape[-2])[:, None]
    curved = angle > 1e-6
    safe = np.where(curved, angle, 1.0)
    direction = (
        np.sin((1.0 - t) * safe) * unit_a + np.sin(t * safe) * unit_b
    ) / np.sin(safe)
    length = (1.0 - t) * norm_a[..., None] + t * norm_b[..., None]
    return np.where(curved, direction * length, lines).astype("float32")


def interpolate_images(encode, decode, x_start, x_end, num_steps=10):
    """Encodes pairs of images, interpolates between their codes, decodes each step.

    Args:
        encode: Callable mapping a batch of images to codes `(batch, latent_dim)`,
            e.g. `vae.encode` (the means of `q(z | x)`) or an encoder's `predict`.
        decode: Callable mapping codes `(batch, latent_dim)` to images, e.g.
            `vae.decode`, or `lambda z: decode_points(decoder, z)`.
        x_start: The first images, a batch `(N, H, W, C)`.
        x_end: The last images, same shape.
        num_steps: Number of images per pair, >= 2.

    Returns:
        A NumPy array `(N, num_steps, H, W, C)`: row `n` goes from the decoded
        code of `x_start[n]` to that of `x_end[n]`.

    Example:
        With the pixels as codes, the path is a cross-fade:

        >>> def flatten(x):  # an encoder; a VAE's would be vae.encode
        ...     return x.reshape(len(x), -1)
        >>> def unflatten(z):  # its decoder
        ...     return z.reshape(-1, 8, 8, 1)
        >>> black, white = np.zeros((1, 8, 8, 1)), np.ones((1, 8, 8, 1))
        >>> rows = interpolate_images(flatten, unflatten, black, white, num_steps=5)
        >>> rows.shape  # one row of five images
        (1, 5, 8, 8, 1)
        >>> rows[0, :, 0, 0, 0]
        array([0.  , 0.25, 0.5 , 0.75, 1.  ], dtype=float32)
    """
    x_start = np.asarray(x_start, dtype="float32")
    x_end = np.asarray(x_end, dtype="float32")
    if x_start.shape != x_end.shape or x_start.ndim < 2 or len(x_start) == 0:
        raise ValueError(
            "Expected two non-empty batches of images of the same shape. "
            f"Received: {x_start.shape} and {x_end.shape}"
        )
    num_pairs = len(x_start)
    codes = np.asarray(encode(np.concatenate([x_start, x_end])))
    lines = interpolate(codes[:num_pairs], codes[num_pairs:], num_steps)
    images = np.asarray(decode(lines.reshape(num_pairs * num_steps, -1)))
    return images.reshape(num_pairs, num_steps, *images.shape[1:])


def largest_step_share(paths):
    """Fraction of each path's total change made in its largest single step.

    For a path of images `x_0, ..., x_{T-1}` (for example a row of
    `interpolate_images`), the steps are the Euclidean pixel distances
    `||x_{t+1} - x_t||`; the share is the largest step divided by their sum. It
    is `1 / (T - 1)` for a path that changes evenly (a pixel cross-fade) and
    close to 1 for a path that stays put and then jumps.

    Args:
        paths: Array `(N, T, ...)` of N paths of T >= 2 images each.

    Returns:
        A NumPy array `(N,)` of shares (`nan` for a path that never changes).

    Example:
        >>> fade = np.linspace(0.0, 1.0, 5).reshape(1, 5, 1)  # even steps
        >>> jump = np.array([0.0, 0.0, 0.0, 0.0, 1.0]).reshape(1, 5, 1)
        >>> largest_step_share(np.concatenate([fade, jump]))
        array([0.25, 1.  ])
    """
    paths = np.asarray(paths, dtype="float64")
    if paths.ndim < 2 or paths.shape[1] < 2:
        raise ValueError(
            "Expected paths (N, T, ...) with T >= 2 steps. "
            f"Received: paths.shape={paths.shape}"
        )
    flat = paths.reshape(paths.shape[0], paths.shape[1], -1)
    steps = np.linalg.norm(np.diff(flat, axis=1), axis=2)
    total = steps.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, steps.max(axis=1) / total, np.nan)


def sample_scores(classifier, images, batch_size=256):
    """Scores generated images with a classifier trained on real ones.

    Args:
        classifier: A `keras.Model` mapping images to class probabilities, such
            as `keras_ae.evaluate.classifier.get_classifier()`.
        images: Images `(N, H, W, C)` of the classifier's input shape.
        batch_size: Images classified at once.

    Returns:
        A dict:

        - `"confidence"`: mean over the images of the largest class probability
          (1 when the classifier is sure about every image, 1 / num_classes
          when it cannot tell at all).
        - `"histogram"`: fraction of the images whose most probable class is
          each class (a NumPy array that sums to 1).
        - `"effective_classes"`: `exp(entropy of the histogram)`, the number of
          equally frequent classes with the same spread: num_classes when the
          predicted classes are uniform, 1 when every image is one class.
        - `"classifier_score"`: `exp(mean_n KL(p(y | x_n) || p(y)))` with `p(y)`
          the mean predicted distribution, the "inception score" of Salimans et
          al. (2016) computed with this classifier: high only when each image
          is confidently one class and the classes vary.

    Example:
        A classifier that cannot tell (every class 1/10; ties go to class 0):

        >>> import keras
        >>> blind = keras.Sequential([
        ...     keras.Input((8, 8, 1)), keras.layers.Flatten(),
        ...     keras.layers.Dense(10, "softmax", kernel_initializer="zeros")])
        >>> images = np.random.default_rng(0).random((50, 8, 8, 1))
        >>> scores = sample_scores(blind, images)
        >>> round(scores["confidence"], 3), scores["histogram"][:3]
        (0.1, array([1., 0., 0.]))
        >>> scores["effective_classes"], round(scores["classifier_score"], 3)
        (1.0, 1.0)
    """
    probabilities = classifier.predict(images, batch_size=batch_size, verbose=0)
    probabilities = np.asarray(probabilities, dtype="float64")
    num_classes = probabilities.shape[1]
    counts = np.bincount(probabilities.argmax(axis=1), minlength=num_classes)
    histogram = counts / len(probabilities)
    nonzero = histogram[histogram > 0]
    marginal = probabilities.mean(axis=0)
    eps = 1e-12
    kl = np.sum(
        probabilities * (np.log(probabilities + eps) - np.log(marginal + eps)), axis=1
    )
    return {
        "confidence": float(probabilities.max(axis=1).mean()),
        "histogram": histogram,
        "effective_classes": float(np.exp(-np.sum(nonzero * np.log(nonzero)))),
        "classifier_score": float(np.exp(kl.mean())),
    }


def active_dims(encoder, x, threshold=0.01, batch_size=1024):
    """Counts the latent dimensions a VAE encoder uses (Burda et al., 2016).

    Dimension `j` is active when its posterior mean `z_mean_j` varies with the
    input: `Var_x(z_mean_j) > threshold`. An inactive dimension has
    `q(z_j | x)` equal to the prior for every `x` (KL 0): the decoder ignores it.

    Args:
        encoder: A VAE encoder mapping images to `[z_mean, z_log_var]`.
        x: Images, e.g. `x_test`.
        threshold: Variance above which a dimension counts as active.
        batch_size: Images encoded at once.

    Returns:
        An int between 0 and `latent_dim`.

    Example:
        >>> def encoder(x):  # z_mean_1 follows the brightness, z_mean_2 is fixed
        ...     brightness = x.reshape(len(x), -1).mean(axis=1)
        ...     z_mean = np.stack([brightness, np.zeros_like(brightness)], axis=1)
        ...     return [z_mean, np.zeros_like(z_mean)]  # [z_mean, z_log_var]
        >>> x = np.linspace(0.0, 1.0, 100).reshape(100, 1, 1, 1) * np.ones((8, 8, 1))
        >>> active_dims(encoder, x)
        1
    """
    x = np.asarray(x, dtype="float32")
    batch_size = check_int("batch_size", batch_size, 1)
    means = predict_batches(encoder, x, batch_size, first_output=True)
    variances = means.astype("float64").var(axis=0)
    return int(np.sum(variances > threshold))
