"""Scoring inpainting: errors inside the removed pixels, and a simple fill to beat.

An inpainting model sees images with a hole (for example a block removed by
`keras_ae.data.block_mask`) and fills it in. Its error over the whole image is
mostly the error on pixels it was given, so these functions score only the
pixels inside the hole. `fill_with_border_mean`, which fills each hole with the
mean of the known pixels around it, is the baseline a model has to beat.

Masks follow `block_mask`: float arrays `(N, H, W, 1)` (or `(N, H, W, C)`) that
are 1 where pixels were removed and 0 elsewhere; a one-channel mask applies to
every channel of the images.
"""

import numpy as np

__all__ = [
    "masked_mse",
    "masked_psnr",
    "fill_with_border_mean",
]


def _check_images_and_mask(images, mask, names=("a",)):
    images = [np.asarray(x, dtype="float64") for x in images]
    mask = np.asarray(mask, dtype="float64")
    for name, x in zip(names, images, strict=True):
        if x.ndim != 4:
            raise ValueError(
                f"Expected {name} of shape (N, H, W, C). Received: {name}.shape="
                f"{x.shape}"
            )
    shapes = {x.shape for x in images}
    if len(shapes) != 1:
        received = ", ".join(
            f"{name}.shape={x.shape}" for name, x in zip(names, images, strict=True)
        )
        raise ValueError(f"Expected images of the same shape. Received: {received}")
    shape = images[0].shape
    if (
        mask.ndim != 4
        or mask.shape[:3] != shape[:3]
        or mask.shape[3]
        not in (
            1,
            shape[3],
        )
    ):
        raise ValueError(
            f"Expected mask of shape {(*shape[:3], 1)} or {shape}. "
            f"Received: mask.shape={mask.shape}"
        )
    if not np.all((mask == 0) | (mask == 1)):
        raise ValueError(
            "Expected a mask of 0s and 1s (1 where pixels were removed). Received: "
            f"values {np.unique(mask)[:5]}..."
        )
    mask = np.broadcast_to(mask, shape)
    counts = mask.sum(axis=(1, 2, 3))
    if np.any(counts == 0):
        raise ValueError(
            "Expected at least one masked pixel in every image. Received: no "
            f"masked pixel in image(s) {np.flatnonzero(counts == 0)[:10].tolist()}"
        )
    return images, mask


def masked_mse(a, b, mask, per_image=False):
    """Mean squared error over the masked pixels only.

    Args:
        a: Images `(N, H, W, C)`, the reference (the original images).
        b: Images of the same shape, for example the filled-in images.
        mask: Array `(N, H, W, 1)` or `(N, H, W, C)`, 1 on the pixels to score
            (the removed ones) and 0 elsewhere; every image needs at least one.
        per_image: If True, return one MSE per image.

    Returns:
        The mean of the squared differences over all masked pixels and
        channels of all images (a float), or a NumPy array of `N` per-image
        values. Pixels outside the mask do not count.

    Example:
        >>> a = np.zeros((1, 4, 4, 1))
        >>> mask = np.zeros_like(a)
        >>> mask[0, :2, :2] = 1  # a 2 x 2 hole
        >>> b = a + 0.5 * mask  # off by 0.5 inside the hole
        >>> b[0, 3, 3] = 1.0  # and by 1 outside it, which does not count
        >>> masked_mse(a, b, mask)
        0.25
    """
    (a, b), mask = _check_images_and_mask((a, b), mask, names=("a", "b"))
    squared = mask * (a - b) ** 2
    if per_image:
        return squared.sum(axis=(1, 2, 3)) / mask.sum(axis=(1, 2, 3))
    return float(squared.sum() / mask.sum())


def masked_psnr(a, b, mask, data_range=1.0, per_image=False, pooled=False):
    """Peak signal-to-noise ratio in decibels over the masked pixels only.

    Each image gets `10 * log10(data_range^2 / MSE)`, with its MSE taken over
    its masked pixels; like `keras_ae.evaluate.metrics.psnr`, the mean over images is
    returned. For masks of the same size in every image (a block mask) this
    equals `metrics.psnr` applied to the masked pixels alone.

    An image whose hole is filled exactly (for example an empty hole in a black
    background filled with zeros) has an infinite PSNR, and then so has the
    mean. `pooled=True` avoids that: it returns the PSNR of the squared error
    pooled over the masked pixels of all images, `10 * log10(data_range^2 /
    masked_mse(a, b, mask))`, finite unless every hole is filled exactly.

    Args:
        a: Images `(N, H, W, C)`, the reference (the original images).
        b: Images of the same shape, for example the filled-in images.
        mask: Array `(N, H, W, 1)` or `(N, H, W, C)`, 1 on the pixels to score.
        data_range: Difference between the largest and smallest possible value
            (1.0 for images in [0, 1]).
        per_image: If True, return the array of `N` per-image values.
        pooled: If True, return the PSNR of the pooled squared error instead
            of the mean of the per-image PSNRs (not with `per_image`).

    Returns:
        The mean PSNR in dB (a float; infinite if any hole is filled exactly),
        the pooled PSNR with `pooled=True`, or a NumPy array of per-image PSNRs.

    Example:
        >>> a = np.zeros((1, 4, 4, 1))
        >>> mask = np.zeros_like(a)
        >>> mask[0, :2, :2] = 1
        >>> filled = a + 0.1 * mask  # off by 0.1 inside the hole
        >>> print(f"{masked_psnr(a, filled, mask):.1f} dB inside the block")
        20.0 dB inside the block
    """
    if not data_range > 0:
        raise ValueError(
            f"Expected data_range > 0. Received: data_range={data_range!r}"
        )
    if pooled and per_image:
        raise ValueError(
            "Expected at most one of per_image and pooled. Received: "
            "per_image=True, pooled=True"
        )
    errors = np.asarray(masked_mse(a, b, mask, per_image=not pooled))
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(data_range**2 / errors)
    return values if per_image else float(np.mean(values))


def _border(mask):
    """Pixels outside `mask` (N, H, W) that touch it, also diagonally."""
    padded = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
    height, width = mask.shape[1:]
    dilated = np.zeros_like(mask)
    for dy in range(3):
        for dx in range(3):
            dilated = np.maximum(dilated, padded[:, dy : dy + height, dx : dx + width])
    return dilated * (1.0 - mask)


def fill_with_border_mean(x, mask):
    """Fills the masked pixels of each image with the mean of the pixels around them.

    The border of a hole is the set of known pixels that touch it (the eight
    neighbours of each masked pixel, inside the image). Each channel of each
    image gets its own mean. This is the simplest inpainting that uses the
    image itself: a model that cannot beat it has learned nothing about shapes.

    Args:
        x: Images `(N, H, W, C)`; only the pixels outside the mask are read, so
            either the original or the masked images can be passed.
        mask: Array `(N, H, W, 1)` or `(N, H, W, C)`, 1 where pixels were
            removed. Every image needs at least one masked pixel and one known
            pixel next to it.

    Returns:
        A float32 array shaped like `x`: `x` outside the mask, the border mean
        inside it.

    Example:
        >>> x = np.tile(np.linspace(0.0, 1.0, 8), (1, 8, 1))[..., None]  # a ramp
        >>> mask = np.zeros_like(x)
        >>> mask[0, 2:5, 2:5] = 1  # a 3 x 3 hole, columns 2 to 4
        >>> filled = fill_with_border_mean(x * (1 - mask), mask)
        >>> filled[0, 3, 2:5, 0].round(3)  # the ramp's value at column 3, 3 / 7
        array([0.429, 0.429, 0.429], dtype=float32)
        >>> round(masked_mse(x, filled, mask), 4)  # 2/3 of the pixels off by 1/7
        0.0136
    """
    (x,), mask = _check_images_and_mask((x,), mask, names=("x",))
    borders = np.stack([_border(mask[..., c]) for c in range(mask.shape[-1])], axis=-1)
    counts = borders.sum(axis=(1, 2))  # (N, C)
    if np.any(counts == 0):
        raise ValueError(
            "Expected a known pixel next to the mask in every image. Received: a "
            "mask that covers the whole of image(s) "
            f"{np.flatnonzero(np.any(counts == 0, axis=1))[:10].tolist()}"
        )
    means = (borders * x).sum(axis=(1, 2)) / counts  # (N, C)
    filled = np.where(mask == 1, means[:, None, None, :], x)
    return filled.astype("float32")
