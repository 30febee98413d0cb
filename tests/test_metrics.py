import warnings

import numpy as np
import pytest
from scipy.linalg import sqrtm
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from sklearn.metrics import roc_auc_score

from keras_ae.evaluate.metrics import (
    alarm_threshold,
    detection_rates,
    frechet_distance,
    mse,
    one_class_auroc,
    pca_baseline,
    precision_at_k,
    psnr,
    ssim,
)


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
    with pytest.raises(ValueError, match="Expected data_range to be a number"):
        psnr(np.zeros((2, 3)), np.zeros((2, 3)), data_range="1")
    with pytest.raises(ValueError, match=r"Expected data_range > 0\. Received: .*nan"):
        ssim(np.zeros((1, 8, 8, 1)), np.zeros((1, 8, 8, 1)), data_range=np.nan)


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


# --------------------------------------------------------------------------
# one_class_auroc


def pairwise_auroc(scores, is_anomaly):
    """P(anomaly scores higher than normal), ties counting 1/2, by brute force."""
    anomalies, normals = scores[is_anomaly], scores[~is_anomaly]
    wins = (anomalies[:, None] > normals[None, :]).sum()
    ties = (anomalies[:, None] == normals[None, :]).sum()
    return (wins + 0.5 * ties) / (len(anomalies) * len(normals))


def test_one_class_auroc_hand_cases():
    # Anomalies (class 1) score 0.35 and 0.8, normals 0.1 and 0.4: 3 of the 4
    # (anomaly, normal) pairs are ordered correctly.
    assert one_class_auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0) == 0.75
    # A tie counts one half: (1 vs 1) -> 0.5, (2 vs 1) -> 1.
    assert one_class_auroc([1.0, 1.0, 2.0], [0, 1, 1], 0) == 0.75
    # Scores that put every anomaly above every normal image, and the reverse.
    assert one_class_auroc([0.0, 0.1, 5.0, 6.0, 7.0], [3, 3, 0, 1, 2], 3) == 1.0
    assert one_class_auroc([9.0, 8.0, 5.0, 6.0, 7.0], [3, 3, 0, 1, 2], 3) == 0.0


def test_one_class_auroc_matches_sklearn_and_brute_force():
    rng = np.random.default_rng(0)
    y_test = rng.integers(0, 5, size=300)
    # Class 2 is normal; the others score higher on average, with overlap.
    scores = rng.normal(size=300) + 0.8 * (y_test != 2)
    scores[:20] = np.round(scores[:20])  # a few ties
    value = one_class_auroc(scores, y_test, normal_class=2)
    assert value == pytest.approx(roc_auc_score(y_test != 2, scores), abs=1e-12)
    assert value == pytest.approx(pairwise_auroc(scores, y_test != 2), abs=1e-12)
    assert 0.6 < value < 0.85


def test_one_class_auroc_rejects_a_single_class_and_nan():
    with pytest.raises(ValueError, match="both the normal class and other"):
        one_class_auroc([0.1, 0.2], [4, 4], normal_class=4)
    with pytest.raises(ValueError, match="both the normal class and other"):
        one_class_auroc([0.1, 0.2], [1, 2], normal_class=4)
    with pytest.raises(ValueError, match="finite"):
        one_class_auroc([0.1, np.nan], [0, 1], normal_class=0)
    with pytest.raises(ValueError, match="one label per row"):
        one_class_auroc([0.1, 0.2, 0.3], [0, 1], normal_class=0)


# --------------------------------------------------------------------------
# precision_at_k


def brute_force_precision(queries, query_labels, gallery, gallery_labels, k, self_):
    distances = np.linalg.norm(queries[:, None, :] - gallery[None, :, :], axis=-1)
    if self_:
        np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, axis=1)[:, :k]
    return np.mean(gallery_labels[nearest] == query_labels[:, None])


def test_alarm_threshold_and_detection_rates_hand_cases():
    normal = np.arange(1, 101, dtype="float64")  # 1, 2, ..., 100
    # NumPy's linear quantile at 0.95 of 1..100: 1 + 0.95 * 99 = 95.05.
    assert alarm_threshold(normal, 0.05) == pytest.approx(95.05)
    assert alarm_threshold(normal, 0.0) == 100.0
    flagged = np.mean(normal > alarm_threshold(normal, 0.2))
    assert flagged == pytest.approx(0.2)
    rates = detection_rates([0.1, 0.5, 0.9, 0.2], [3, 3, 1, 1], 3, threshold=0.3)
    assert rates == {"false_alarm_rate": 0.5, "detection_rate": 0.5}
    rates = detection_rates([0.1, 0.2, 0.9, 0.8, 0.3], [0, 0, 1, 2, 2], 0, 0.25)
    assert rates["false_alarm_rate"] == 0.0
    assert rates["detection_rate"] == pytest.approx(1.0)
    # A score equal to the threshold is not flagged.
    assert detection_rates([1.0, 1.0], [0, 1], 0, 1.0)["detection_rate"] == 0.0


def test_alarm_threshold_and_detection_rates_reject_bad_arguments():
    with pytest.raises(ValueError, match="0 <= false_alarm_rate < 1"):
        alarm_threshold([1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="finite scores"):
        alarm_threshold([1.0, np.nan])
    with pytest.raises(ValueError, match="finite scores"):
        alarm_threshold([])
    with pytest.raises(ValueError, match="both the normal class and other"):
        detection_rates([1.0, 2.0], [0, 0], 0, 1.5)


def test_precision_at_k_hand_case():
    gallery = np.array([[0.0], [1.0], [2.5], [10.0], [11.0]])
    labels = np.array([0, 0, 0, 1, 1])
    # Query 0.4 (label 0) -> 0, 1, 2.5: 3/3. Query 10.4 (label 1) -> 10, 11, 2.5:
    # 2/3. Mean 5/6.
    queries = np.array([[0.4], [10.4]])
    assert precision_at_k(queries, [0, 1], gallery, labels, k=3) == pytest.approx(5 / 6)
    # The gallery against itself: each point is its own nearest neighbour unless
    # excluded. With k=2, 10 and 11 then reach 2.5 (label 0): (2+2+2+1+1)/10.
    assert precision_at_k(gallery, labels, gallery, labels, k=2) == 1.0
    assert precision_at_k(
        gallery, labels, gallery, labels, k=2, exclude_self=True
    ) == pytest.approx(0.8)
    assert precision_at_k(gallery, labels, gallery, labels, k=1, exclude_self=True) == 1


def test_precision_at_k_matches_brute_force():
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(4, 5)) * 1.5
    gallery_labels = rng.integers(0, 4, size=200)
    gallery = centers[gallery_labels] + rng.normal(size=(200, 5))
    query_labels = rng.integers(0, 4, size=40)
    queries = centers[query_labels] + rng.normal(size=(40, 5))
    for k in (1, 7, 50):
        expected = brute_force_precision(
            queries, query_labels, gallery, gallery_labels, k, False
        )
        value = precision_at_k(queries, query_labels, gallery, gallery_labels, k=k)
        assert value == pytest.approx(expected, abs=1e-12)
    expected = brute_force_precision(
        gallery, gallery_labels, gallery, gallery_labels, 7, True
    )
    value = precision_at_k(
        gallery, gallery_labels, gallery, gallery_labels, k=7, exclude_self=True
    )
    assert value == pytest.approx(expected, abs=1e-12)
    assert 0.4 < value < 0.95  # the classes overlap: neither chance nor perfect
    # Images (N, H, W, C) are flattened.
    images = gallery.reshape(200, 5, 1, 1)
    assert precision_at_k(
        images, gallery_labels, images, gallery_labels, k=7, exclude_self=True
    ) == pytest.approx(expected, abs=1e-12)


def test_precision_at_k_rejects_bad_arguments():
    x, y = np.zeros((5, 2)), np.arange(5)
    with pytest.raises(ValueError, match=r"Expected 1 <= k <= 4. Received: k=5"):
        precision_at_k(x, y, x, y, k=5, exclude_self=True)
    with pytest.raises(ValueError, match="queries to be the gallery itself"):
        precision_at_k(x[:2], y[:2], x, y, k=1, exclude_self=True)
    with pytest.raises(ValueError, match="same size"):
        precision_at_k(np.zeros((2, 3)), [0, 1], x, y, k=1)


# --------------------------------------------------------------------------
# frechet_distance


def with_statistics(rng, num_rows, mean, covariance):
    """Samples whose mean and np.cov are exactly `mean` and `covariance`."""
    z = rng.normal(size=(num_rows, len(mean)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    return z @ np.linalg.cholesky(covariance).T + mean


def psd_sqrt(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def test_frechet_distance_one_dimension_and_identical_sets():
    # For 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s.
    a = np.array([0.0, 2.0, 4.0])  # mean 2, sample variance 4
    b = np.array([5.0, 6.0])  # mean 5.5, sample variance 0.5
    expected = 3.5**2 + (2.0 - np.sqrt(0.5)) ** 2
    assert frechet_distance(a[:, None], b[:, None]) == pytest.approx(expected)
    rng = np.random.default_rng(2)
    features = rng.normal(size=(100, 8))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)
    # Shuffling the rows changes nothing; shifting one set adds ||shift||^2.
    shift = np.arange(8) * 0.1
    assert frechet_distance(features, features[::-1] + shift) == pytest.approx(
        np.sum(shift**2), abs=1e-8
    )


def test_frechet_distance_diagonal_gaussians_closed_form():
    rng = np.random.default_rng(3)
    mean_a, mean_b = rng.normal(size=6), rng.normal(size=6)
    var_a, var_b = rng.uniform(0.2, 3.0, size=6), rng.uniform(0.2, 3.0, size=6)
    a = with_statistics(rng, 500, mean_a, np.diag(var_a))
    b = with_statistics(rng, 300, mean_b, np.diag(var_b))
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum(
        (np.sqrt(var_a) - np.sqrt(var_b)) ** 2
    )
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_full_covariances_closed_form():
    rng = np.random.default_rng(4)
    factor_a, factor_b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    cov_a = factor_a @ factor_a.T + 0.1 * np.eye(5)
    cov_b = factor_b @ factor_b.T + 0.1 * np.eye(5)
    mean_a, mean_b = rng.normal(size=5), rng.normal(size=5)
    a = with_statistics(rng, 400, mean_a, cov_a)
    b = with_statistics(rng, 400, mean_b, cov_b)
    # tr((S_a S_b)^(1/2)) = tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)), a symmetric root.
    root_a = psd_sqrt(cov_a)
    cross = np.trace(psd_sqrt(root_a @ cov_b @ root_a))
    expected = (
        np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    )
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_with_singular_covariances():
    # Fewer rows than features, and a feature that is always 0 (a dead unit):
    # both covariances are singular, yet the distance is finite and correct.
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(6, 10)), rng.normal(size=(8, 10)) + 0.5
    a[:, 3] = b[:, 3] = 0.0
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = psd_sqrt(cov_a)
    expected = (
        np.sum((a.mean(0) - b.mean(0)) ** 2)
        + np.trace(cov_a)
        + np.trace(cov_b)
        - 2 * np.trace(psd_sqrt(root_a @ cov_b @ root_a))
    )
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_rejects_bad_shapes():
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="same size"):
        frechet_distance(np.zeros((4, 3)), np.zeros((5, 2)))


def test_frechet_distance_of_equal_covariances_is_the_squared_mean_distance():
    # (S S)^(1/2) = S for a covariance S, so the trace terms cancel. The
    # reference uses scipy.linalg.sqrtm itself on the exact covariance.
    rng = np.random.default_rng(6)
    factor = rng.normal(size=(7, 7))
    covariance = factor @ factor.T + 0.05 * np.eye(7)
    mean_a, mean_b = rng.normal(size=7), rng.normal(size=7) + 1.0
    a = with_statistics(rng, 300, mean_a, covariance)
    b = with_statistics(rng, 200, mean_b, covariance)
    np.testing.assert_allclose(sqrtm(covariance @ covariance), covariance, atol=1e-9)

    assert frechet_distance(a, b) == pytest.approx(
        np.sum((mean_a - mean_b) ** 2), rel=1e-8
    )


def test_frechet_distance_drops_round_off_imaginary_parts():
    # Fewer rows than features: scipy's root of the singular product is complex
    # with imaginary parts of order 1e-7, which are round-off.
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 20)), rng.normal(size=(5, 20)) + 0.3
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = sqrtm(cov_a @ cov_b)
    assert np.iscomplexobj(root)
    assert 0 < np.abs(np.diagonal(root).imag).max() < 1e-5
    root_a = psd_sqrt(cov_a)
    expected = (
        np.sum((a.mean(0) - b.mean(0)) ** 2)
        + np.trace(cov_a)
        + np.trace(cov_b)
        - 2 * np.trace(psd_sqrt(root_a @ cov_b @ root_a))
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither a fallback nor a complex warning
        assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_adds_eps_when_the_root_of_the_product_fails():
    # Three rows of three features: both covariances have rank 2 and their
    # product is a rank-one matrix with a 2x2 Jordan block at 0, which has no
    # square root; scipy returns inf. As pytorch-fid does, eps is added to the
    # diagonals of both covariances and the root taken again.
    a = np.array([[-1.0, 0.0, -1.0], [-1.0, -1.0, 0.0], [-1.0, -1.0, 1.0]])
    b = np.array([[1.0, -1.0, 1.0], [0.0, -1.0, 1.0], [1.0, 0.0, -1.0]])
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not np.all(np.isfinite(sqrtm(cov_a @ cov_b)))
    eps = 1e-6
    offset = eps * np.eye(3)
    root_a = psd_sqrt(cov_a + offset)
    cross = np.trace(psd_sqrt(root_a @ (cov_b + offset) @ root_a))
    mean_term = np.sum((a.mean(0) - b.mean(0)) ** 2)
    expected = mean_term + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    # Without eps the product's only non-zero eigenvalue is its trace.
    exact = mean_term + np.trace(cov_a) + np.trace(cov_b)
    exact -= 2 * np.sqrt(np.trace(cov_a @ cov_b))

    with pytest.warns(RuntimeWarning, match=r"singular; adding eps=1e-06"):
        distance = frechet_distance(a, b, eps=eps)

    assert distance == pytest.approx(expected, rel=1e-6)
    assert distance == pytest.approx(exact, abs=1e-2)


@pytest.mark.parametrize("imaginary, raises", [(1e-9, False), (0.5, True)])
def test_frechet_distance_checks_the_imaginary_part(monkeypatch, imaginary, raises):
    import scipy.linalg

    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(60, 4))
    expected = frechet_distance(a, b)
    real_sqrtm = scipy.linalg.sqrtm
    monkeypatch.setattr(
        scipy.linalg, "sqrtm", lambda m: real_sqrtm(m) + 1j * imaginary * np.eye(4)
    )
    if raises:
        with pytest.raises(ValueError, match=r"imaginary part of up to 0\.5"):
            frechet_distance(a, b)
    else:
        assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("eps", [-1e-6, "1e-6", True])
def test_frechet_distance_rejects_bad_eps(eps):
    with pytest.raises(ValueError, match=r"eps >= 0"):
        frechet_distance(np.eye(3), np.eye(3), eps=eps)
