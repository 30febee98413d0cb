import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from keras_ae.metrics import mse, pca_baseline, psnr, ssim


@pytest.fixture
def images():
    """Smooth random images and noisy copies, (6, 32, 32, 1) in [0, 1]."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    clean = np.stack(
        [np.sin(3 * xx * (i + 1)) * np.cos(2 * yy) * 0.5 + 0.5 for i in range(6)]
    )[..., None]
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1)
    return clean.astype("float32"), noisy.astype("float32")


def test_mse_matches_numpy(images):
    clean, noisy = images
    diff = clean.astype("float64") - noisy
    np.testing.assert_allclose(mse(clean, noisy), np.mean(diff**2), rtol=1e-12)
    per_image = mse(clean, noisy, axis=(1, 2, 3))
    np.testing.assert_allclose(per_image, np.mean(diff**2, axis=(1, 2, 3)))
    assert per_image.shape == (6,)
    assert mse(clean, clean) == 0.0


def test_psnr_matches_skimage_per_image(images):
    clean, noisy = images
    expected = [
        peak_signal_noise_ratio(c, n, data_range=1.0)
        for c, n in zip(clean, noisy, strict=True)
    ]
    np.testing.assert_allclose(psnr(clean, noisy, per_image=True), expected, rtol=1e-6)
    np.testing.assert_allclose(psnr(clean, noisy), np.mean(expected), rtol=1e-6)
    # data_range scales the peak: images in [0, 255] give the same PSNR.
    np.testing.assert_allclose(
        psnr(255 * clean, 255 * noisy, data_range=255.0), np.mean(expected), rtol=1e-6
    )


def test_psnr_of_exact_reconstruction_is_infinite(images):
    clean, _ = images
    assert psnr(clean, clean) == np.inf


def test_ssim_matches_skimage(images):
    clean, noisy = images
    expected = [
        structural_similarity(
            c[..., 0],
            n[..., 0],
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        for c, n in zip(clean, noisy, strict=True)
    ]
    np.testing.assert_allclose(ssim(clean, noisy, per_image=True), expected, atol=1e-4)
    np.testing.assert_allclose(ssim(clean, noisy), np.mean(expected), atol=1e-4)
    assert np.mean(expected) < 0.9  # the noise is visible to SSIM


def test_ssim_small_images_use_a_smaller_window():
    rng = np.random.default_rng(1)
    digits = rng.uniform(size=(4, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(ssim(digits, digits), 1.0, atol=1e-6)
    assert ssim(digits, rng.uniform(size=digits.shape)) < 0.5


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        mse(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="Expected data_range > 0"):
        psnr(np.zeros((2, 3)), np.zeros((2, 3)), data_range=0)


def test_pca_baseline_equals_svd_reconstruction():
    rng = np.random.default_rng(2)
    # Low-rank images plus noise, so the first components matter.
    basis = rng.normal(size=(5, 64))
    x_train = rng.normal(size=(300, 5)) @ basis + 0.1 * rng.normal(size=(300, 64))
    x_test = rng.normal(size=(40, 5)) @ basis + 0.1 * rng.normal(size=(40, 64))
    x_train = x_train.reshape(300, 8, 8, 1).astype("float32")
    x_test = x_test.reshape(40, 8, 8, 1).astype("float32")

    result = pca_baseline(x_train, x_test, code_size=5)

    train = x_train.reshape(300, -1).astype("float64")
    test = x_test.reshape(40, -1).astype("float64")
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    projection = vt[:5].T @ vt[:5]
    expected = ((test - mean) @ projection + mean).reshape(x_test.shape)
    np.testing.assert_allclose(result["reconstructions"], expected, atol=1e-5)
    np.testing.assert_allclose(result["mse"], np.mean((x_test - expected) ** 2))
    np.testing.assert_allclose(result["psnr"], psnr(x_test, expected), rtol=1e-6)
    assert result["model"].n_components_ == 5
    # Five components hold the signal: the error is close to the noise floor.
    assert result["mse"] < 0.02 < pca_baseline(x_train, x_test, code_size=1)["mse"]


def test_pca_baseline_wide_data_and_bad_code_size():
    rng = np.random.default_rng(3)
    x_train = rng.uniform(size=(20, 10, 10, 1))
    x_test = rng.uniform(size=(5, 10, 10, 1))
    result = pca_baseline(x_train, x_test, code_size=10)  # the "full" solver
    train = x_train.reshape(20, -1)
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    test = x_test.reshape(5, -1)
    expected = (test - mean) @ vt[:10].T @ vt[:10] + mean
    np.testing.assert_allclose(
        result["reconstructions"].reshape(5, -1), expected, atol=1e-5
    )
    with pytest.raises(ValueError, match="Expected 1 <= code_size <= 20"):
        pca_baseline(x_train, x_test, code_size=21)
