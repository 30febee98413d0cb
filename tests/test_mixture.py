"""Tests for keras_ae.evaluate.mixture against NumPy and closed forms."""

import math

import numpy as np
import pytest

from keras_ae.evaluate.mixture import mode_coverage, ring_means, sample_ring


def test_ring_means_are_evenly_spaced_on_the_circle():
    means = ring_means(8, radius=2.0)
    assert means.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 2.0, rtol=1e-6)
    # Neighbours are one chord 2 r sin(pi / 8) apart.
    chords = np.linalg.norm(means - np.roll(means, 1, axis=0), axis=1)
    np.testing.assert_allclose(chords, 2 * 2.0 * math.sin(math.pi / 8), rtol=1e-6)
    np.testing.assert_allclose(means[2], [0.0, 2.0], atol=1e-6)


def test_sample_ring_moments_match_the_mixture():
    points = sample_ring(80_000, num_modes=8, radius=2.0, std=0.05, seed=1)
    assert points.dtype == np.float32 and points.shape == (80_000, 2)
    # The mixture's mean is 0 and its covariance (r^2 / 2 + std^2) I.
    np.testing.assert_allclose(points.mean(axis=0), 0.0, atol=0.02)
    np.testing.assert_allclose(
        np.cov(points.T), (2.0**2 / 2 + 0.05**2) * np.eye(2), atol=0.03
    )
    assert np.array_equal(points, sample_ring(80_000, std=0.05, seed=1))


def test_real_points_score_the_chi_square_share_within_three_sigma():
    std = 0.05
    points = sample_ring(40_000, std=std, seed=2)
    coverage = mode_coverage(points, std=std)
    expected = 1.0 - math.exp(-(3.0**2) / 2)  # P(chi^2_2 <= 9)
    assert coverage["num_covered"] == 8
    assert coverage["high_quality"] == pytest.approx(expected, abs=0.003)
    np.testing.assert_allclose(coverage["shares"], expected / 8, atol=0.006)
    # Two sigmas: 1 - exp(-2).
    two = mode_coverage(points, std=std, num_sigmas=2.0)
    assert two["high_quality"] == pytest.approx(1 - math.exp(-2.0), abs=0.006)


def test_shares_match_a_brute_force_count():
    rng = np.random.default_rng(3)
    points = rng.uniform(-2.5, 2.5, size=(3000, 2))
    means = ring_means()
    coverage = mode_coverage(points, std=0.2)
    for k, mean in enumerate(means):
        inside = np.sum((points - mean) ** 2, axis=1) <= (3 * 0.2) ** 2
        assert coverage["shares"][k] == pytest.approx(inside.mean())


def test_a_collapsed_sampler_covers_few_modes():
    rng = np.random.default_rng(4)
    means = ring_means()
    # 90% of the samples on mode 0, 8% on mode 3, 2% on mode 5.
    modes = rng.choice([0, 3, 5], size=5000, p=[0.9, 0.08, 0.02])
    points = means[modes] + 0.02 * rng.standard_normal((5000, 2))
    coverage = mode_coverage(points)
    # Mode 5 holds 2% < 1/32 of the samples: not covered.
    assert coverage["num_covered"] == 2
    assert mode_coverage(points, min_share=0.01)["num_covered"] == 3
    assert coverage["shares"][[1, 2, 4, 6, 7]].sum() == 0


def test_bad_points_are_refused():
    with pytest.raises(ValueError, match="shape"):
        mode_coverage(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="std"):
        sample_ring(3, std=0.0)
