"""A 2-D mixture of Gaussians on a ring, and how many of its modes a sampler covers.

The classic toy problem for mode collapse (Metz et al., 2017, unrolled GANs):
`num_modes` isotropic Gaussians of standard deviation `std`, their means evenly
spaced on a circle of radius `radius`, each drawn with the same probability.
A generator that has collapsed puts its samples near a few of the means.

- `ring_means` gives the means, `sample_ring` draws points.
- `mode_coverage` counts, for each mode, the share of samples within
  `num_sigmas * std` of its mean, and the modes whose share is large enough.

For a 2-D isotropic Gaussian the share of its points within `k` standard
deviations of the mean is `1 - exp(-k ** 2 / 2)` (98.9% for `k = 3`): real
points of the ring score about that in total, `1 / num_modes` of it per mode.

>>> points = sample_ring(4000, seed=0)
>>> coverage = mode_coverage(points)
>>> coverage["num_covered"], round(coverage["high_quality"], 2)
(8, 0.99)
"""

import numpy as np

from keras_ae._validation import check_int, check_positive_number, check_seed

__all__ = ["ring_means", "sample_ring", "mode_coverage"]


def ring_means(num_modes=8, radius=2.0):
    """The means of the mixture: `num_modes` points evenly spaced on a circle.

    Args:
        num_modes: Number of Gaussians, >= 1.
        radius: Radius of the circle, > 0.

    Returns:
        A float32 array `(num_modes, 2)`; mode `k` is at angle `2 pi k / num_modes`.

    Example:
        >>> ring_means(4, radius=1.0).round(3) + 0.0
        array([[ 1.,  0.],
               [ 0.,  1.],
               [-1.,  0.],
               [ 0., -1.]], dtype=float32)
    """
    num_modes = check_int("num_modes", num_modes, 1)
    radius = check_positive_number("radius", radius)
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return means.astype("float32")


def sample_ring(n, num_modes=8, radius=2.0, std=0.02, seed=None):
    """Draws `n` points from the ring mixture, each mode equally likely.

    Args:
        n: Number of points, >= 1.
        num_modes: Number of Gaussians.
        radius: Radius of the circle of means.
        std: Standard deviation of each Gaussian (both coordinates), > 0.
        seed: Int or None, for NumPy's generator.

    Returns:
        A float32 array `(n, 2)`.

    Example:
        >>> sample_ring(3, seed=0).shape
        (3, 2)
    """
    n = check_int("n", n, 1)
    std = check_positive_number("std", std)
    rng = np.random.default_rng(check_seed(seed))
    means = ring_means(num_modes, radius)
    modes = rng.integers(0, len(means), size=n)
    points = means[modes] + std * rng.standard_normal((n, 2))
    return points.astype("float32")


def mode_coverage(
    points, num_modes=8, radius=2.0, std=0.02, num_sigmas=3.0, min_share=None
):
    """How a set of 2-D samples covers the modes of the ring mixture.

    A sample belongs to mode `k` when it lies within `num_sigmas * std` of its
    mean (the modes are far apart, so at most one). A mode counts as covered
    when at least `min_share` of the samples belong to it.

    Args:
        points: Array `(N, 2)` of samples.
        num_modes, radius, std: The mixture, as in `sample_ring`.
        num_sigmas: Radius of a mode's disc, in standard deviations, > 0.
        min_share: Share of the samples a mode needs to count as covered;
            default a quarter of the fair share, `1 / (4 * num_modes)`.

    Returns:
        A dict:

        - `"shares"`: float array `(num_modes,)`, the share of all samples
          within `num_sigmas * std` of each mean.
        - `"num_covered"`: int, the modes with a share >= `min_share`.
        - `"high_quality"`: float, the share of samples near any mode (the
          sum of `"shares"`).

    Example:
        >>> mode_coverage(np.zeros((5, 2)))["num_covered"]  # all at the centre
        0
    """
    points = np.asarray(points, dtype="float64")
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(
            f"Expected points of shape (N, 2). Received: shape={points.shape}"
        )
    std = check_positive_number("std", std)
    num_sigmas = check_positive_number("num_sigmas", num_sigmas)
    means = ring_means(num_modes, radius).astype("float64")
    if min_share is None:
        min_share = 1.0 / (4 * len(means))
    distances = np.linalg.norm(points[:, None, :] - means[None, :, :], axis=2)
    near = distances <= num_sigmas * std
    shares = near.mean(axis=0)
    return {
        "shares": shares,
        "num_covered": int(np.sum(shares >= min_share)),
        "high_quality": float(near.any(axis=1).mean()),
    }
