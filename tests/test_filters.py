import numpy as np
import pytest
from scipy import ndimage

from keras_ae.evaluate import filters
from keras_ae.evaluate.metrics import psnr


def random_images(shape=(3, 7, 6, 2), seed=0):
    return np.random.default_rng(seed).uniform(size=shape).astype("float32")


def per_image_reference(x, filter_2d):
    """Filters each image and channel on its own, with a 2-D scipy filter."""
    out = np.empty_like(x, dtype="float64")
    for n in range(x.shape[0]):
        for c in range(x.shape[3]):
            out[n, :, :, c] = filter_2d(x[n, :, :, c].astype("float64"))
    return out


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_gaussian_filter_matches_scipy_per_image_and_channel(sigma):
    x = random_images()
    expected = per_image_reference(x, lambda im: ndimage.gaussian_filter(im, sigma))
    result = filters.gaussian_filter_images(x, sigma=sigma)
    assert result.dtype == np.float32 and result.shape == x.shape
    np.testing.assert_allclose(result, expected, atol=1e-6)


@pytest.mark.parametrize("size", [2, 3, 5])
def test_median_filter_matches_scipy_per_image_and_channel(size):
    x = random_images(seed=1)
    expected = per_image_reference(x, lambda im: ndimage.median_filter(im, size))
    result = filters.median_filter_images(x, size=size)
    assert result.dtype == np.float32 and result.shape == x.shape
    np.testing.assert_allclose(result, expected, atol=1e-7)


def test_gaussian_filter_of_an_impulse_is_the_gaussian_kernel():
    # A unit impulse in the middle of a 9x9 image, sigma 1: scipy's kernel has
    # radius 4 (truncate=4), so the output is the whole normalized 2-D kernel.
    x = np.zeros((1, 9, 9, 1), "float32")
    x[0, 4, 4, 0] = 1.0
    offsets = np.arange(-4, 5)
    kernel_1d = np.exp(-(offsets**2) / 2.0)
    kernel_1d /= kernel_1d.sum()
    result = filters.gaussian_filter_images(x, sigma=1.0)
    np.testing.assert_allclose(
        result[0, :, :, 0], np.outer(kernel_1d, kernel_1d), atol=1e-7
    )
    assert result.sum() == pytest.approx(1.0, abs=1e-6)


def test_median_filter_removes_isolated_outliers_and_keeps_edges():
    # Left half 0.2, right half 0.8, with isolated salt and pepper pixels.
    clean = np.full((1, 8, 8, 1), 0.2, "float32")
    clean[:, :, 4:] = 0.8
    noisy = clean.copy()
    noisy[0, 1, 1, 0] = 1.0
    noisy[0, 5, 2, 0] = 1.0
    noisy[0, 2, 6, 0] = 0.0
    np.testing.assert_array_equal(filters.median_filter_images(noisy, size=3), clean)
    # A Gaussian filter spreads the outliers and blurs the edge instead.
    blurred = filters.gaussian_filter_images(noisy, sigma=1.0)
    assert np.abs(blurred - clean).max() > 0.1


def test_filters_keep_images_and_channels_apart():
    x = np.zeros((2, 6, 6, 3), "float32")
    x[0, ..., 1] = 1.0  # one bright channel of one image
    for result in (
        filters.gaussian_filter_images(x, sigma=2.0),
        filters.median_filter_images(x, size=3),
    ):
        np.testing.assert_allclose(result[0, ..., 1], 1.0, atol=1e-6)
        np.testing.assert_array_equal(result[0, ..., [0, 2]], 0.0)
        np.testing.assert_array_equal(result[1], 0.0)


def test_apply_filter_dispatches_by_name():
    x = random_images(seed=2)
    np.testing.assert_array_equal(
        filters.apply_filter(x, "gaussian", 0.75),
        filters.gaussian_filter_images(x, sigma=0.75),
    )
    np.testing.assert_array_equal(
        filters.apply_filter(x, "median", 3), filters.median_filter_images(x, size=3)
    )


def test_grid_search_scores_each_candidate_by_psnr():
    clean = random_images((4, 8, 8, 1), seed=3)
    noisy = np.clip(clean + np.random.default_rng(4).normal(0, 0.2, clean.shape), 0, 1)
    grid = filters.filter_grid_search(noisy, clean, sigmas=(0.5, 1.0), sizes=(3,))
    assert [(name, param) for name, param, _ in grid] == [
        ("gaussian", 0.5),
        ("gaussian", 1.0),
        ("median", 3),
    ]
    references = [
        psnr(
            clean,
            per_image_reference(noisy, lambda im: ndimage.gaussian_filter(im, 0.5)),
        ),
        psnr(
            clean,
            per_image_reference(noisy, lambda im: ndimage.gaussian_filter(im, 1.0)),
        ),
        psnr(
            clean, per_image_reference(noisy, lambda im: ndimage.median_filter(im, 3))
        ),
    ]
    np.testing.assert_allclose([score for _, _, score in grid], references, rtol=1e-5)


def test_best_filter_is_a_wide_gaussian_for_noise_on_flat_images():
    # On constant images, the more a filter averages, the more noise it removes.
    clean = np.full((20, 16, 16, 1), 0.5, "float32")
    noisy = clean + np.random.default_rng(5).normal(0, 0.1, clean.shape).astype(
        "float32"
    )
    name, param, score = filters.best_classical_filter(
        noisy, clean, sigmas=(0.5, 1.0, 2.0), sizes=()
    )
    assert (name, param) == ("gaussian", 2.0)
    assert score == pytest.approx(
        psnr(clean, filters.gaussian_filter_images(noisy, 2.0))
    )
    assert score > psnr(clean, noisy) + 10  # 20 dB noisy; sigma 2 averages ~50 pixels


def test_best_filter_is_the_median_for_isolated_salt_and_pepper():
    # Horizontal ramps: a 3x3 median returns the middle column's value, also at
    # the mirrored borders, even with one outlier in the window. Median sizes 2
    # and 5 and every Gaussian filter change a ramp.
    offsets = np.random.default_rng(6).uniform(0.2, 0.4, (10, 1, 1, 1))
    ramp = 0.05 * np.arange(8).reshape(1, 1, 8, 1)
    clean = np.broadcast_to(offsets + ramp, (10, 8, 8, 1)).astype("float32")
    noisy = clean.copy()
    noisy[:, 1, 1] = 1.0  # no 3x3 window holds both outliers
    noisy[:, 5, 6] = 0.0
    np.testing.assert_array_equal(filters.median_filter_images(noisy, 3), clean)
    name, param, score = filters.best_classical_filter(noisy, clean)
    assert (name, param, score) == ("median", 3, np.inf)  # exact restoration
    others = [s for n, p, s in filters.filter_grid_search(noisy, clean) if p != 3]
    assert len(others) == 10 and max(others) < np.inf


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: filters.gaussian_filter_images(x, sigma=0), "sigma > 0"),
        (lambda x: filters.gaussian_filter_images(x, sigma=True), "sigma > 0"),
        (lambda x: filters.median_filter_images(x, size=0), "size >= 1"),
        (lambda x: filters.median_filter_images(x, size=2.5), "size >= 1"),
        (lambda x: filters.apply_filter(x, "bilateral", 1), "one of"),
        (lambda x: filters.gaussian_filter_images(x[0], sigma=1), "(N, H, W, C)"),
        (lambda x: filters.filter_grid_search(x, x[:1]), "same shape"),
        (
            lambda x: filters.best_classical_filter(x, x, sigmas=(), sizes=()),
            "at least",
        ),
    ],
)
def test_bad_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match="Expected.*Received") as info:
        call(random_images())
    assert message in str(info.value)
