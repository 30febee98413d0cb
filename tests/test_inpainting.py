"""Tests for keras_ae.evaluate.inpainting against NumPy loops, skimage and
keras_ae.evaluate.metrics.
"""

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from keras_ae import data
from keras_ae.evaluate import metrics
from keras_ae.evaluate.inpainting import fill_with_border_mean, masked_mse, masked_psnr


@pytest.fixture
def images():
    """Random images (5, 8, 8, 1) in [0, 1], noisy copies, and 3x3 block masks."""
    rng = np.random.default_rng(0)
    clean = rng.uniform(size=(5, 8, 8, 1)).astype("float32")
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype("float32")
    _, mask = data.block_mask(clean, block_size=3, seed=1)
    return clean, noisy, mask


def test_masked_psnr_equals_metrics_psnr_on_the_block_pixels(images):
    clean, noisy, mask = images
    assert mask.sum() == 5 * 9
    inside = mask[..., 0] == 1
    block_clean = clean[..., 0][inside].reshape(5, 9)
    block_noisy = noisy[..., 0][inside].reshape(5, 9)
    np.testing.assert_allclose(
        masked_psnr(clean, noisy, mask), metrics.psnr(block_clean, block_noisy)
    )
    expected = [
        peak_signal_noise_ratio(c, n, data_range=1.0)
        for c, n in zip(block_clean, block_noisy, strict=True)
    ]
    np.testing.assert_allclose(
        masked_psnr(clean, noisy, mask, per_image=True), expected, rtol=1e-6
    )
    np.testing.assert_allclose(
        masked_mse(clean, noisy, mask), np.mean((block_clean - block_noisy) ** 2)
    )


def test_masked_scores_ignore_pixels_outside_the_mask(images):
    clean, noisy, mask = images
    changed = np.where(mask == 1, noisy, 1.0 - clean)  # wrong everywhere else
    assert masked_psnr(clean, changed, mask) == masked_psnr(clean, noisy, mask)
    assert masked_psnr(clean, clean, mask) == np.inf
    assert masked_mse(clean, clean, mask) == 0.0


def test_pooled_masked_psnr_is_the_psnr_of_all_masked_pixels_together(images):
    clean, noisy, mask = images
    exact = np.where(mask[:1] == 1, clean[:1], noisy[:1])  # image 0: hole exact
    filled = np.concatenate([exact, noisy[1:]])
    assert masked_psnr(clean, filled, mask) == np.inf
    inside = np.broadcast_to(mask, clean.shape) == 1
    pooled_mse = np.mean((clean[inside] - filled[inside]) ** 2)
    expected = peak_signal_noise_ratio(clean[inside], filled[inside], data_range=1.0)
    np.testing.assert_allclose(10 * np.log10(1 / pooled_mse), expected, rtol=1e-6)
    np.testing.assert_allclose(
        masked_psnr(clean, filled, mask, pooled=True), expected, rtol=1e-6
    )
    np.testing.assert_allclose(
        masked_psnr(255 * clean, 255 * filled, mask, data_range=255.0, pooled=True),
        expected,
        rtol=1e-6,
    )
    assert masked_psnr(clean, clean, mask, pooled=True) == np.inf
    with pytest.raises(ValueError, match="per_image=True, pooled=True"):
        masked_psnr(clean, noisy, mask, per_image=True, pooled=True)


def test_masked_mse_with_masks_of_different_sizes_and_colour_images():
    rng = np.random.default_rng(2)
    a = rng.uniform(size=(4, 6, 6, 3))
    b = rng.uniform(size=(4, 6, 6, 3))
    mask = (rng.uniform(size=(4, 6, 6, 1)) < 0.3).astype("float32")
    mask[:, 0, 0, 0] = 1.0  # at least one masked pixel per image
    expected = [
        np.mean((a[i] - b[i])[mask[i, ..., 0] == 1] ** 2) for i in range(len(a))
    ]
    np.testing.assert_allclose(masked_mse(a, b, mask, per_image=True), expected)
    pooled = np.sum(mask * (a - b) ** 2) / (3 * mask.sum())
    np.testing.assert_allclose(masked_mse(a, b, mask), pooled)
    np.testing.assert_allclose(
        masked_psnr(255 * a, 255 * b, mask, data_range=255.0),
        np.mean(-10 * np.log10(expected)),
    )


def test_fill_with_border_mean_by_hand():
    x = np.arange(25, dtype="float32").reshape(1, 5, 5, 1)
    mask = np.zeros_like(x)
    mask[0, 1:3, 1:3, 0] = 1.0  # a 2x2 hole; its border is the 4x4 square around it
    filled = fill_with_border_mean(x, mask)
    square = x[0, 0:4, 0:4, 0]
    expected_mean = (square.sum() - x[0, 1:3, 1:3, 0].sum()) / 12
    np.testing.assert_allclose(filled[0, 1:3, 1:3, 0], np.full((2, 2), expected_mean))
    np.testing.assert_array_equal(filled[mask == 0], x[mask == 0])
    # A hole in the corner has only the neighbours inside the image.
    corner = np.zeros_like(x)
    corner[0, 0, 0, 0] = 1.0
    filled = fill_with_border_mean(x, corner)
    assert filled[0, 0, 0, 0] == pytest.approx((1 + 5 + 6) / 3)


def test_fill_with_border_mean_matches_a_loop_per_channel():
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(3, 7, 7, 2)).astype("float32")
    x_masked, mask = data.block_mask(x, block_size=3, seed=4)
    filled = fill_with_border_mean(x_masked, mask)  # masked or original: same result
    np.testing.assert_allclose(filled, fill_with_border_mean(x, mask))
    for i in range(len(x)):
        rows, cols = np.nonzero(mask[i, ..., 0])
        border = [
            (r, c)
            for r in range(7)
            for c in range(7)
            if mask[i, r, c, 0] == 0
            and np.any((np.abs(rows - r) <= 1) & (np.abs(cols - c) <= 1))
        ]
        assert len(border) in (7, 11, 16)  # corner, edge or inside the image
        for channel in range(2):
            mean = np.mean([x[i, r, c, channel] for r, c in border])
            np.testing.assert_allclose(filled[i, rows, cols, channel], mean, rtol=1e-6)
    assert filled.dtype == np.float32


@pytest.mark.parametrize(
    "mask_shape, message",
    [((2, 4, 4), r"mask.shape=\(2, 4, 4\)"), ((2, 4, 5, 1), r"\(2, 4, 4, 1\)")],
)
def test_rejects_masks_of_the_wrong_shape(mask_shape, message):
    x = np.zeros((2, 4, 4, 1))
    with pytest.raises(ValueError, match=message):
        masked_psnr(x, x, np.ones(mask_shape))


def test_rejects_bad_inputs():
    x = np.zeros((2, 4, 4, 1))
    mask = np.zeros((2, 4, 4, 1))
    with pytest.raises(ValueError, match=r"image\(s\) \[0, 1\]"):
        masked_mse(x, x, mask)
    with pytest.raises(ValueError, match="a mask of 0s and 1s"):
        masked_mse(x, x, mask + 0.5)
    with pytest.raises(ValueError, match=r"b.shape=\(2, 4, 3, 1\)"):
        masked_mse(x, np.zeros((2, 4, 3, 1)), mask)
    with pytest.raises(ValueError, match="covers the whole"):
        fill_with_border_mean(x, np.ones_like(x))
    with pytest.raises(ValueError, match="data_range=0"):
        masked_psnr(x, x, np.ones_like(x), data_range=0)
