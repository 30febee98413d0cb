"""Retrieval by brute force: Euclidean or Hamming neighbours, precision@k, timing.

Semantic hashing stores each image as a few bits packed into bytes
(`pack_bits`); a query is compared with every stored image by the Hamming
distance, the number of differing bits (`hamming_distances`: XOR of 64-bit
words, then a count of the ones). `random_projection_hash` is the data-blind
baseline of the same size: the signs of random Gaussian projections of the
centred inputs (Charikar, 2002), whose Hamming distance estimates the angle
between two inputs.

Both searches here are brute force over the whole gallery, so their times per
query (`seconds_per_query`) compare the representations, not index structures.
Ties, frequent with few bits, are broken by gallery order (a stable sort).
"""

import time

import numpy as np

from keras_ae._validation import check_int, check_positive_int, check_seed

__all__ = [
    "pack_bits",
    "hamming_distances",
    "euclidean_distances",
    "nearest",
    "precision_of_neighbours",
    "random_projection_hash",
    "seconds_per_query",
]

_BIT_COUNTS = np.array([bin(i).count("1") for i in range(256)], dtype="uint8")


def _as_bits(name, bits):
    bits = np.asarray(bits)
    if bits.ndim != 2 or not np.isin(bits, (0, 1)).all():
        raise ValueError(
            f"Expected {name} to be a 2-D array of 0s and 1s. "
            f"Received: shape {bits.shape}"
        )
    return bits.astype("uint8")


def pack_bits(bits):
    """Packs rows of bits `(N, B)` into bytes `(N, ceil(B / 8))` (`np.packbits`).

    Example:
        >>> pack_bits([[1, 0, 0, 0, 0, 0, 0, 1, 1]])
        array([[129, 128]], dtype=uint8)
    """
    return np.packbits(_as_bits("bits", bits), axis=1)


def hamming_distances(query_bytes, gallery_bytes, chunk_size=256):
    """Number of differing bits between every query and every gallery row.

    Args:
        query_bytes: Packed bits `(M, W)` (`pack_bits`), `uint8`.
        gallery_bytes: Packed bits `(N, W)`, `uint8`.
        chunk_size: Queries per step (bounds the `(chunk, N, W)` XOR array).

    Returns:
        An `int32` array `(M, N)`.

    Example:
        >>> hamming_distances(pack_bits([[1, 1, 0]]), pack_bits([[1, 1, 0], [0, 0, 1]]))
        array([[0, 3]], dtype=int32)
    """
    queries = np.asarray(query_bytes, dtype="uint8")
    gallery = np.asarray(gallery_bytes, dtype="uint8")
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            "Expected packed bits (M, W) and (N, W) with the same W. "
            f"Received: shapes {queries.shape} and {gallery.shape}"
        )
    chunk_size = check_positive_int("chunk_size", chunk_size)
    # Compare 64 bits at a time: pad the rows to whole 8-byte words.
    pad = (-queries.shape[1]) % 8
    queries = np.pad(queries, ((0, 0), (0, pad))).view("uint64")
    gallery = np.pad(gallery, ((0, 0), (0, pad))).view("uint64")
    out = np.empty((len(queries), len(gallery)), dtype="int32")
    for start in range(0, len(queries), chunk_size):
        xor = queries[start : start + chunk_size, None, :] ^ gallery[None, :, :]
        out[start : start + chunk_size] = _popcount(xor).sum(axis=2, dtype="int32")
    return out


def _popcount(words):
    if hasattr(np, "bitwise_count"):  # NumPy >= 2.0
        return np.bitwise_count(words)
    return _BIT_COUNTS[words[..., None].view("uint8")].sum(axis=-1)


def euclidean_distances(queries, gallery):
    """Squared Euclidean distances `(M, N)` between rows, in float32.

    Computed as `|q|^2 - 2 q.g + |g|^2` (one matrix product), clipped at 0.

    Example:
        >>> euclidean_distances([[0.0, 0.0]], [[3.0, 4.0], [1.0, 0.0]])
        array([[25.,  1.]], dtype=float32)
    """
    q = np.asarray(queries, dtype="float32").reshape(len(queries), -1)
    g = np.asarray(gallery, dtype="float32").reshape(len(gallery), -1)
    d = (q**2).sum(1)[:, None] - 2.0 * (q @ g.T) + (g**2).sum(1)[None, :]
    return np.maximum(d, 0.0)


def nearest(distances, k):
    """Indices `(M, k)` of the `k` smallest distances in each row, nearest first.

    Ties are broken by column order (a stable sort of the row).

    Example:
        >>> nearest(np.array([[2, 0, 1, 0]]), k=3)
        array([[1, 3, 2]])
    """
    distances = np.asarray(distances)
    k = check_int("k", k, 1)
    if distances.ndim != 2 or k > distances.shape[1]:
        raise ValueError(
            f"Expected a 2-D array with at least k={k} columns. "
            f"Received: shape {distances.shape}"
        )
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


def precision_of_neighbours(indices, query_labels, gallery_labels):
    """Mean fraction of each query's retrieved items that share its label.

    Example:
        >>> precision_of_neighbours([[0, 1], [2, 1]], [5, 7], [5, 7, 7])
        0.75
    """
    indices = np.asarray(indices)
    query_labels = np.asarray(query_labels).reshape(-1)
    gallery_labels = np.asarray(gallery_labels).reshape(-1)
    if indices.ndim != 2 or len(indices) != len(query_labels):
        raise ValueError(
            "Expected indices (M, k) with one row per query label. "
            f"Received: shape {indices.shape} and {len(query_labels)} labels"
        )
    return float((gallery_labels[indices] == query_labels[:, None]).mean())


def random_projection_hash(x_fit, num_bits, seed=0):
    """A hash function: signs of `num_bits` random Gaussian projections.

    The inputs are centred by the mean of `x_fit` first (on raw pixels, all
    positive, most projections would otherwise share one sign). No training:
    the projection directions are drawn with `seed`.

    Args:
        x_fit: Inputs `(N, ...)` whose mean is subtracted (the gallery).
        num_bits: Number of projections, the bits of each hash.
        seed: Int or None.

    Returns:
        A function from inputs `(M, ...)` to bits `(M, num_bits)`, `uint8`.

    Example:
        >>> hash_fn = random_projection_hash(np.eye(4), num_bits=16, seed=0)
        >>> hash_fn(np.eye(4)).shape
        (4, 16)
    """
    x_fit = np.asarray(x_fit, dtype="float32").reshape(len(x_fit), -1)
    num_bits = check_positive_int("num_bits", num_bits)
    rng = np.random.default_rng(check_seed(seed))
    mean = x_fit.mean(axis=0)
    directions = rng.standard_normal((x_fit.shape[1], num_bits)).astype("float32")

    def hash_fn(x):
        x = np.asarray(x, dtype="float32").reshape(len(x), -1)
        return ((x - mean) @ directions > 0).astype("uint8")

    return hash_fn


def seconds_per_query(search_fn, queries, repeats=3):
    """Wall-clock seconds per query of `search_fn(queries)`, best of `repeats`.

    Example:
        >>> seconds_per_query(lambda q: q.sum(), np.ones((10, 3))) < 1.0
        True
    """
    repeats = check_positive_int("repeats", repeats)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        search_fn(queries)
        best = min(best, time.perf_counter() - start)
    return best / len(queries)
