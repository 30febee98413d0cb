import numpy as np
import pytest
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

from keras_ae.evaluate.metrics import precision_at_k
from keras_ae.evaluate.retrieval import (
    euclidean_distances,
    hamming_distances,
    nearest,
    pack_bits,
    precision_of_neighbours,
    random_projection_hash,
    seconds_per_query,
)


@pytest.fixture
def bits():
    rng = np.random.default_rng(0)
    return rng.integers(0, 2, (40, 37)), rng.integers(0, 2, (90, 37))


def test_hamming_distances_match_scipy_hamming_on_unpacked_bits(bits):
    queries, gallery = bits
    reference = pairwise_distances(queries, gallery, metric="hamming") * 37
    got = hamming_distances(pack_bits(queries), pack_bits(gallery), chunk_size=7)
    np.testing.assert_array_equal(got, np.rint(reference).astype(int))


def test_pack_bits_matches_numpy_and_rejects_non_bits():
    b = np.array([[1, 0, 1, 1, 0, 0, 0, 0, 1]])
    np.testing.assert_array_equal(pack_bits(b), [[0b10110000, 0b10000000]])
    with pytest.raises(ValueError, match="0s and 1s"):
        pack_bits([[0, 2]])


def test_euclidean_distances_match_sklearn():
    rng = np.random.default_rng(1)
    q, g = rng.normal(size=(15, 8)), rng.normal(size=(30, 8))
    reference = pairwise_distances(q, g, metric="sqeuclidean")
    np.testing.assert_allclose(
        euclidean_distances(q, g), reference, rtol=1e-4, atol=1e-4
    )


def test_nearest_and_precision_match_sklearn_and_precision_at_k():
    rng = np.random.default_rng(2)
    q, g = rng.normal(size=(25, 5)), rng.normal(size=(60, 5))
    yq, yg = rng.integers(0, 3, 25), rng.integers(0, 3, 60)
    _, reference = NearestNeighbors(n_neighbors=7).fit(g).kneighbors(q)
    indices = nearest(euclidean_distances(q, g), k=7)
    np.testing.assert_array_equal(indices, reference)
    assert precision_of_neighbours(indices, yq, yg) == pytest.approx(
        precision_at_k(q, yq, g, yg, k=7)
    )


def test_nearest_breaks_ties_by_gallery_order():
    np.testing.assert_array_equal(
        nearest(np.array([[3, 1, 1, 0, 1]]), 4), [[3, 1, 2, 4]]
    )
    with pytest.raises(ValueError):
        nearest(np.zeros((2, 3)), k=4)


def test_random_projection_hamming_estimates_the_angle():
    # Charikar: P(bit differs) = angle / pi for Gaussian directions.
    rng = np.random.default_rng(3)
    centre = rng.normal(size=(2000, 6))
    hash_fn = random_projection_hash(centre, num_bits=4000, seed=0)
    mean = centre.mean(axis=0)
    a, b = rng.normal(size=6), rng.normal(size=6)
    u, v = a - mean, b - mean
    angle = np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v))
    bits = hash_fn(np.stack([a, b]))
    assert bits.shape == (2, 4000) and bits.dtype == np.uint8
    assert np.mean(bits[0] != bits[1]) == pytest.approx(angle / np.pi, abs=0.03)
    np.testing.assert_array_equal(
        random_projection_hash(centre, 16, seed=5)(centre),
        random_projection_hash(centre, 16, seed=5)(centre),
    )


def test_seconds_per_query_divides_by_the_queries():
    assert seconds_per_query(lambda q: None, np.ones((1000, 2)), repeats=2) < 1e-3
