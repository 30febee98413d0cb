"""Image-quality metrics for reconstructions, and the PCA baseline to compare with.

All functions take NumPy arrays (or anything `np.asarray` accepts) of images
`(N, H, W, C)` with values in `[0, data_range]` and return Python floats or NumPy
arrays.
"""

import numpy as np


def _as_pair(a, b):
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    if a.shape != b.shape:
        raise ValueError(
            "Expected arrays of the same shape. "
            f"Received: a.shape={a.shape}, b.shape={b.shape}"
        )
    return a, b


def _check_data_range(data_range):
    if not data_range > 0:
        raise ValueError(
            f"Expected data_range > 0. Received: data_range={data_range!r}"
        )


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
        >>> mse(x_test, reconstructions)
        0.0123
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
        >>> print(f"{psnr(x_test, reconstructions):.1f} dB")
    """
    _check_data_range(data_range)
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
        >>> print(f"SSIM {ssim(x_test, reconstructions):.3f}")
    """
    import tensorflow as tf

    _check_data_range(data_range)
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
        >>> baseline = pca_baseline(x_train, x_test, code_size=32)
        >>> print(f"PCA MSE {baseline['mse']:.4f}")
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
