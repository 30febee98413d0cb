"""Corruptions of images for denoising: Gaussian, masking and salt-and-pepper noise,
and square holes, for data in any value range (default [0, 1]).
"""

import keras
import numpy as np
from keras import ops

__all__ = [
    "NOISE_KINDS",
    "DEFAULT_VALUE_RANGE",
    "check_value_range",
    "add_gaussian_noise",
    "add_masking_noise",
    "add_salt_and_pepper",
    "corrupt",
    "block_mask",
]


NOISE_KINDS = ("gaussian", "masking", "salt_and_pepper")


DEFAULT_VALUE_RANGE = (0.0, 1.0)


def _check_level(value, argument, upper=None):
    if not isinstance(value, (int, float, np.number)):
        return  # a tensor inside a traced function: validated by the caller
    if value < 0 or (upper is not None and value > upper):
        expected = (
            f"0 <= {argument} <= {upper}" if upper is not None else f"{argument} >= 0"
        )
        raise ValueError(f"Expected {expected}. Received: {argument}={value!r}")


def check_value_range(value_range, allow_none=True):
    """Checks a `value_range` argument; returns `(low, high)` floats or None.

    Args:
        value_range: A pair `(low, high)` of finite numbers with `low < high`,
            or None (data without bounds) when `allow_none` is True.
        allow_none: Whether None is accepted.
    """
    if value_range is None and allow_none:
        return None
    wanted = "a pair (low, high) of finite numbers with low < high" + (
        ", or None" if allow_none else ""
    )
    try:
        low, high = value_range
        valid = all(
            isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
            for v in (low, high)
        )
    except (TypeError, ValueError):
        valid = False
    if not valid or not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"Expected value_range to be {wanted}. "
            f"Received: value_range={value_range!r}"
        )
    return float(low), float(high)


def _same_kind(result, like):
    return ops.convert_to_numpy(result) if isinstance(like, np.ndarray) else result


def _pixel_shape(x):
    """Shape of one random draw per pixel, shared by all channels of an image.

    Images `(N, H, W, C)` get one draw per pixel; any other shape (flat vectors
    `(N, D)`, say) one draw per value.
    """
    shape = ops.shape(x)
    return (*shape[:-1], 1) if len(shape) == 4 else shape


def add_gaussian_noise(x, stddev=0.2, seed=None, value_range=DEFAULT_VALUE_RANGE):
    """Adds N(0, stddev^2) noise to every value and clips to `value_range`.

    Args:
        x: Images `(N, H, W, C)`, a NumPy array or a tensor.
        stddev: Standard deviation of the noise, >= 0.
        seed: Int, None or `keras.random.SeedGenerator` (fresh noise per call).
        value_range: `(low, high)`, the range of the data, which the noisy
            values are clipped to: `(0.0, 1.0)` (the default) for images in
            [0, 1], `(-1.0, 1.0)` for images scaled to [-1, 1]; None for no
            clipping (standardized data, say).

    Returns:
        The noisy images, of the same kind as `x`.
    """
    _check_level(stddev, "stddev")
    value_range = check_value_range(value_range)
    x_tensor = ops.convert_to_tensor(x, "float32")
    noisy = x_tensor + keras.random.normal(
        ops.shape(x_tensor), stddev=stddev, seed=seed
    )
    if value_range is not None:
        noisy = ops.clip(noisy, *value_range)
    return _same_kind(noisy, x)


def add_masking_noise(x, fraction=0.3, seed=None, value_range=DEFAULT_VALUE_RANGE):
    """Sets a random `fraction` of the pixels (all channels of a pixel) to "off".

    "Off" is the low end of `value_range`: 0 for images in [0, 1] (the
    default), -1 for images in [-1, 1]; 0 when `value_range` is None.
    """
    _check_level(fraction, "fraction", upper=1)
    value_range = check_value_range(value_range)
    off = 0.0 if value_range is None else value_range[0]
    x_tensor = ops.convert_to_tensor(x, "float32")
    keep = keras.random.uniform(_pixel_shape(x_tensor), seed=seed) >= fraction
    return _same_kind(ops.where(keep, x_tensor, off), x)


def add_salt_and_pepper(x, fraction=0.1, seed=None, value_range=DEFAULT_VALUE_RANGE):
    """Sets a random `fraction` of the pixels to the low or high end, half each.

    The ends are those of `value_range`: 0 and 1 for images in [0, 1] (the
    default), -1 and 1 for images in [-1, 1]. Salt and pepper needs bounded
    data, so `value_range` cannot be None.
    """
    _check_level(fraction, "fraction", upper=1)
    low, high = check_value_range(value_range, allow_none=False)
    x_tensor = ops.convert_to_tensor(x, "float32")
    draw = keras.random.uniform(_pixel_shape(x_tensor), seed=seed)
    salted = ops.where(draw > 1.0 - fraction / 2.0, high, x_tensor)
    return _same_kind(ops.where(draw < fraction / 2.0, low, salted), x)


_CORRUPTIONS = {
    "gaussian": add_gaussian_noise,
    "masking": add_masking_noise,
    "salt_and_pepper": add_salt_and_pepper,
}


def corrupt(x, kind, level, seed=None, value_range=DEFAULT_VALUE_RANGE):
    """Applies the noise `kind` (one of `NOISE_KINDS`) at `level`.

    `level` is the standard deviation for `"gaussian"` and the fraction of
    pixels hit for `"masking"` and `"salt_and_pepper"`. `value_range` is the
    range of the data, `(0.0, 1.0)` by default: Gaussian noise is clipped to
    it, masking sets pixels to its low end, salt and pepper to either end (see
    `add_gaussian_noise`, `add_masking_noise`, `add_salt_and_pepper`).

    Example:
        >>> x = np.full((2, 8, 8, 1), 0.5, "float32")
        >>> noisy = corrupt(x, "gaussian", 0.3, seed=0)
        >>> noisy.shape, bool(noisy.min() >= 0.0 and noisy.max() <= 1.0)  # clipped
        ((2, 8, 8, 1), True)
        >>> np.unique(corrupt(x, "masking", 0.5, seed=0, value_range=(-1.0, 1.0)))
        array([-1. ,  0.5], dtype=float32)
    """
    if kind not in _CORRUPTIONS:
        raise ValueError(
            f"Expected kind to be one of {NOISE_KINDS}. Received: kind={kind!r}"
        )
    return _CORRUPTIONS[kind](x, level, seed=seed, value_range=value_range)


def block_mask(x, block_size, seed=None, value_range=DEFAULT_VALUE_RANGE):
    """Removes one square block per image, at a random position.

    Args:
        x: Images `(N, H, W, C)`.
        block_size: Side of the block, at most the image's smaller side.
        seed: Int, None or `keras.random.SeedGenerator`.
        value_range: `(low, high)`, the range of the data: removed pixels are
            set to `low` (0 for the default `(0.0, 1.0)`, -1 for images in
            [-1, 1]); to 0 when None.

    Returns:
        `(x_masked, mask)`: the images with the block set to `low`, and a float
        mask `(N, H, W, 1)` that is 1 where pixels were removed.

    Example:
        >>> x_masked, mask = block_mask(np.ones((2, 8, 8, 1)), block_size=3, seed=0)
        >>> mask.sum(axis=(1, 2, 3))  # 3 x 3 pixels removed from each image
        array([9., 9.], dtype=float32)
        >>> int((x_masked == 0).sum())
        18
    """
    value_range = check_value_range(value_range)
    off = 0.0 if value_range is None else value_range[0]
    x_tensor = ops.convert_to_tensor(x, "float32")
    height, width = x_tensor.shape[1], x_tensor.shape[2]
    if not isinstance(block_size, (int, np.integer)) or not 1 <= block_size <= min(
        height, width
    ):
        raise ValueError(
            f"Expected an int 1 <= block_size <= {min(height, width)} (the image's "
            f"smaller side). Received: block_size={block_size!r}"
        )
    batch = ops.shape(x_tensor)[0]
    # One draw for both corners, so an int seed does not give top == left.
    corner = keras.random.uniform((batch, 2), seed=seed)
    top = ops.floor(corner[:, 0] * (height - block_size + 1))
    left = ops.floor(corner[:, 1] * (width - block_size + 1))
    top = ops.reshape(ops.cast(top, "int32"), (-1, 1, 1, 1))
    left = ops.reshape(ops.cast(left, "int32"), (-1, 1, 1, 1))
    rows = ops.reshape(ops.arange(height), (1, height, 1, 1))
    cols = ops.reshape(ops.arange(width), (1, 1, width, 1))
    inside = ops.logical_and(
        ops.logical_and(rows >= top, rows < top + block_size),
        ops.logical_and(cols >= left, cols < left + block_size),
    )
    mask = ops.cast(inside, "float32")
    return _same_kind(ops.where(inside, off, x_tensor), x), _same_kind(mask, x)
