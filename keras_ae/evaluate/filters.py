"""Classical denoising filters: the baselines a denoising autoencoder should beat.

A Gaussian filter averages each pixel with its neighbours (good against Gaussian
noise, but it blurs edges); a median filter replaces each pixel by the median of
its neighbourhood (good against isolated outliers such as salt-and-pepper noise).
Both come from `scipy.ndimage` and filter every image and every channel on its
own. `best_classical_filter` picks the filter and its strength on validation
images, so that the test set stays unseen, as it does for a trained model.
"""

import numpy as np
from scipy import ndimage

from keras_ae._validation import is_number as _is_number
from keras_ae.evaluate.metrics import psnr

__all__ = [
    "FILTER_NAMES",
    "DEFAULT_SIGMAS",
    "DEFAULT_SIZES",
    "gaussian_filter_images",
    "median_filter_images",
    "apply_filter",
    "filter_grid_search",
    "best_classical_filter",
]


FILTER_NAMES = ("gaussian", "median")


DEFAULT_SIGMAS = (0.25, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0)


DEFAULT_SIZES = (2, 3, 4, 5)


def _as_images(x):
    images = np.asarray(x)
    if images.ndim != 4:
        raise ValueError(
            f"Expected images of shape (N, H, W, C). Received: x.shape={images.shape}"
        )
    return images


def gaussian_filter_images(x, sigma=1.0, mode="reflect"):
    """Blurs each image and channel with a Gaussian kernel (`scipy.ndimage`).

    Args:
        x: Images `(N, H, W, C)`.
        sigma: Standard deviation of the kernel in pixels, > 0.
        mode: How the borders are extended, as in
            `scipy.ndimage.gaussian_filter` (`"reflect"` mirrors the image).

    Returns:
        A float32 array shaped like `x`; images and channels never mix.

    Example:
        >>> x = np.zeros((1, 5, 5, 1))
        >>> x[0, 2, 2, 0] = 1.0  # one bright pixel
        >>> gaussian_filter_images(x, sigma=1.0)[0, 2, :, 0].round(3)
        array([0.023, 0.097, 0.159, 0.097, 0.023], dtype=float32)
    """
    images = _as_images(x)
    if not _is_number(sigma) or not sigma > 0:
        raise ValueError(f"Expected sigma > 0. Received: sigma={sigma!r}")
    # A zero sigma on the batch and channel axes leaves those axes unfiltered.
    filtered = ndimage.gaussian_filter(
        images.astype("float64"), sigma=(0, sigma, sigma, 0), mode=mode
    )
    return filtered.astype("float32")


def median_filter_images(x, size=3, mode="reflect"):
    """Replaces each pixel by the median of its `size` x `size` neighbourhood.

    Args:
        x: Images `(N, H, W, C)`.
        size: Side of the square neighbourhood in pixels, an int >= 1 (an even
            size centres the window half a pixel up and to the left, as in
            `scipy.ndimage.median_filter`).
        mode: How the borders are extended, as in `scipy.ndimage.median_filter`.

    Returns:
        A float32 array shaped like `x`, filtered per image and per channel.

    Example:
        >>> x = np.full((1, 5, 5, 1), 0.5)
        >>> x[0, 2, 2, 0] = 1.0  # one "salt" pixel
        >>> float(median_filter_images(x, size=3).max())  # removed
        0.5
    """
    images = _as_images(x)
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
        raise ValueError(f"Expected an int size >= 1. Received: size={size!r}")
    filtered = ndimage.median_filter(
        images.astype("float32"), size=(1, int(size), int(size), 1), mode=mode
    )
    return filtered.astype("float32")


def apply_filter(x, name, param):
    """Applies the filter `name` (one of `FILTER_NAMES`) with its parameter.

    Args:
        x: Images `(N, H, W, C)`.
        name: `"gaussian"` (then `param` is the sigma) or `"median"` (then
            `param` is the size).
        param: The filter's strength.

    Returns:
        The filtered images, a float32 array shaped like `x`.

    Example:
        >>> x = np.full((1, 5, 5, 1), 0.5)
        >>> x[0, 2, 2, 0] = 1.0
        >>> float(apply_filter(x, "median", 3).max())  # median_filter_images(x, 3)
        0.5
    """
    if name == "gaussian":
        return gaussian_filter_images(x, sigma=param)
    if name == "median":
        return median_filter_images(x, size=param)
    raise ValueError(
        f"Expected name to be one of {FILTER_NAMES}. Received: name={name!r}"
    )


def filter_grid_search(
    noisy, clean, sigmas=DEFAULT_SIGMAS, sizes=DEFAULT_SIZES, data_range=1.0
):
    """Scores every Gaussian sigma and median size by PSNR against clean images.

    Args:
        noisy: Corrupted images `(N, H, W, C)`: validation images, not test
            ones.
        clean: The same images without noise.
        sigmas: Sigmas of the Gaussian filter to try (may be empty).
        sizes: Sizes of the median filter to try (may be empty).
        data_range: Range of the pixel values, for `keras_ae.evaluate.metrics.psnr`.

    Returns:
        A list of `(name, param, psnr)` tuples, Gaussian ones first, in the
        order given; `psnr` is the mean PSNR in dB of the filtered images.

    Example:
        >>> from keras_ae.data import load_dataset
        >>> _, (x_val, _), _, _ = load_dataset("digits")
        >>> salt = np.random.default_rng(0).random(x_val.shape) < 0.1
        >>> noisy_val = np.where(salt, 1.0, x_val)
        >>> for name, param, score in filter_grid_search(
        ...         noisy_val, x_val, sigmas=(0.5, 1.0), sizes=(3,)):
        ...     print(f"{name} {param}: {score:.1f} dB")
        gaussian 0.5: 13.9 dB
        gaussian 1.0: 11.9 dB
        median 3: 12.7 dB
    """
    noisy = _as_images(noisy)
    clean = _as_images(clean)
    if noisy.shape != clean.shape:
        raise ValueError(
            "Expected noisy and clean images of the same shape. Received: "
            f"noisy.shape={noisy.shape}, clean.shape={clean.shape}"
        )
    candidates = [("gaussian", s) for s in sigmas] + [("median", s) for s in sizes]
    if not candidates:
        raise ValueError(
            "Expected at least one sigma or size to try. "
            f"Received: sigmas={sigmas!r}, sizes={sizes!r}"
        )
    return [
        (name, param, psnr(clean, apply_filter(noisy, name, param), data_range))
        for name, param in candidates
    ]


def best_classical_filter(
    noisy_val, clean_val, sigmas=DEFAULT_SIGMAS, sizes=DEFAULT_SIZES, data_range=1.0
):
    """Chooses the filter and strength with the best PSNR on validation images.

    Tune on validation images (as you choose a model's settings) and then apply
    the winner, unchanged, to the test images: choosing on the test set would
    flatter the baseline.

    Args:
        noisy_val: Corrupted validation images `(N, H, W, C)`.
        clean_val: The same images without noise.
        sigmas: Sigmas of the Gaussian filter to try.
        sizes: Sizes of the median filter to try.
        data_range: Range of the pixel values, for `keras_ae.evaluate.metrics.psnr`.

    Returns:
        `(name, param, psnr)`: the filter name (`"gaussian"` or `"median"`),
        its sigma or size, and its mean PSNR in dB on the validation images.

    Example:
        >>> from keras_ae.data import load_dataset
        >>> _, (x_val, _), (x_test, _), _ = load_dataset("digits")
        >>> rng = np.random.default_rng(0)
        >>> noisy_val = np.clip(x_val + rng.normal(0, 0.2, x_val.shape), 0, 1)
        >>> noisy_test = np.clip(x_test + rng.normal(0, 0.2, x_test.shape), 0, 1)
        >>> name, param, val_psnr = best_classical_filter(noisy_val, x_val)
        >>> name, param
        ('gaussian', 0.35)
        >>> test_psnr = psnr(x_test, apply_filter(noisy_test, name, param))
        >>> test_psnr > psnr(x_test, noisy_test)
        True
    """
    scores = filter_grid_search(noisy_val, clean_val, sigmas, sizes, data_range)
    return max(scores, key=lambda score: score[2])
