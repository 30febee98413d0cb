"""Tangent directions of an encoder: the singular vectors of its Jacobian.

At an input `x` the encoder `f` is, to first order, the linear map
`eps -> J_f(x) eps`, with `J_f(x)` the `(code units, input values)` matrix of
derivatives `d code_j / d x_i`. Its singular value decomposition
`J = U diag(s) V^T` says which input directions the code follows:

- the right-singular vectors (rows of `V^T`) are directions in input space,
  images of the input's shape; a step `eps` along the k-th one moves the code
  by `s_k ||eps||`, and no unit step moves the code more than along the first;
- the singular values `s_1 >= s_2 >= ...` say how much. Their squares sum to
  the contractive penalty `||J_f(x)||_F^2`.

A contractive autoencoder (Rifai et al., 2011) keeps only a few large
singular values, the directions in which the training digits vary (their
*tangents*), and flattens the rest: its spectrum falls faster than a plain
autoencoder's. `count_above_fraction` counts the directions that still matter.
"""

import numpy as np
import tensorflow as tf

from keras_ae._validation import check_int

__all__ = [
    "encoder_jacobian",
    "tangent_directions",
    "count_above_fraction",
]


def encoder_jacobian(encoder, x):
    """The encoder's Jacobian at each input, flattened: `d code_j / d x_i`.

    Computed with `tf.GradientTape.batch_jacobian` on the encoder in inference
    mode (`training=False`).

    Args:
        encoder: A model (or function) mapping a batch of inputs to codes.
        x: A batch of inputs `(N, ...)`.

    Returns:
        A float32 NumPy array `(N, code units, input values)`: codes and inputs
        flattened in C order.

    Example:
        >>> import keras
        >>> encoder = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> x = np.zeros((4, 3), dtype="float32")
        >>> jacobian = encoder_jacobian(encoder, x)
        >>> jacobian.shape
        (4, 2, 3)
        >>> bool(np.allclose(jacobian[0], encoder.layers[-1].kernel.numpy().T))
        True
    """
    x = tf.convert_to_tensor(x, dtype="float32")
    with tf.GradientTape() as tape:
        tape.watch(x)
        codes = encoder(x, training=False)
        codes = tf.reshape(codes, (tf.shape(codes)[0], -1))
    jacobian = tape.batch_jacobian(codes, x)  # (N, code units, *input_shape)
    return tf.reshape(jacobian, (tf.shape(x)[0], codes.shape[1], -1)).numpy()


def tangent_directions(encoder, x, num_directions=4, *, batch_size=64):
    """Singular values and leading right-singular vectors of the encoder's Jacobian.

    For each input, `J = U diag(s) V^T` of `encoder_jacobian(encoder, x)`, in
    float64, computed from the eigenvalues `s^2` and eigenvectors of the smaller
    Gram matrix (`J J^T` or `J^T J`, TensorFlow's `eigh`): many times cheaper than a
    full SVD of a 128 x 784 Jacobian, and as accurate for every singular value
    above about `1e-7` times the largest. The directions are the first
    `num_directions` rows of `V^T`, reshaped to the input's shape; a singular
    vector is defined only up to its sign, so each is flipped to make its
    largest-magnitude entry positive.

    Args:
        encoder: A model mapping a batch of inputs to codes.
        x: Inputs `(N, ...)`.
        num_directions: How many leading directions to return, at most
            `min(code units, input values)`.
        batch_size: Inputs per `batch_jacobian` call (memory: `batch_size` x
            code units x input values floats).

    Returns:
        `(singular_values, directions)`: float64 arrays `(N, min(code units,
        input values))`, largest first, and `(N, num_directions, *x.shape[1:])`,
        unit vectors (orthonormal per input).

    Example:
        >>> import keras
        >>> encoder = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> encoder.layers[-1].set_weights(
        ...     [np.array([[3.0, 0.0], [0.0, 0.0], [0.0, -1.0]]), np.zeros(2)])
        >>> values, directions = tangent_directions(encoder, np.ones((1, 3)), 2)
        >>> values
        array([[3., 1.]])
        >>> directions  # along the first input moves the code most, by 3
        array([[[1., 0., 0.],
                [0., 0., 1.]]])
    """
    x = np.asarray(x, dtype="float32")
    batch_size = check_int("batch_size", batch_size, 1)
    num_directions = check_int("num_directions", num_directions, 1)
    values, directions = [], []
    for start in range(0, len(x), batch_size):
        jacobian = encoder_jacobian(encoder, x[start : start + batch_size])
        limit = min(jacobian.shape[1:])
        if num_directions > limit:
            raise ValueError(
                f"Expected num_directions <= {limit} (min of code units and input "
                f"values). Received: num_directions={num_directions}"
            )
        s, leading = _svd_from_gram(jacobian.astype("float64"), num_directions)
        peak = np.take_along_axis(
            leading, np.abs(leading).argmax(axis=2)[..., None], axis=2
        )
        values.append(s)
        directions.append(leading * np.where(peak < 0, -1.0, 1.0) + 0.0)  # no -0.0
    if not values:
        raise ValueError(f"Expected at least one input. Received: x.shape={x.shape}")
    directions = np.concatenate(directions)
    return np.concatenate(values), directions.reshape(
        (len(x), num_directions, *x.shape[1:])
    )


def _svd_from_gram(jacobian, num_directions):
    """Singular values (largest first) and leading rows of V^T, batched."""
    # TensorFlow's matmul and eigh: NumPy's threaded BLAS can slow down badly
    # on a machine whose cores are busy with other work.
    codes, inputs = jacobian.shape[1:]
    small_side = codes <= inputs  # J J^T = U diag(s^2) U^T, then v_k = J^T u_k / s_k
    gram = tf.matmul(
        jacobian, jacobian, transpose_a=not small_side, transpose_b=small_side
    )
    eigenvalues, vectors = (part.numpy() for part in tf.linalg.eigh(gram))
    values = np.sqrt(np.clip(eigenvalues[:, ::-1], 0.0, None))
    vectors = vectors[:, :, ::-1][:, :, :num_directions]
    if small_side:
        vectors = jacobian.transpose(0, 2, 1) @ vectors
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-300)
    return values, vectors.transpose(0, 2, 1)


def count_above_fraction(singular_values, fraction=0.1):
    """How many singular values exceed `fraction` times the largest, per row.

    A scale-free count of the directions an encoder still follows: rescaling
    the code (or the Jacobian) changes no count.

    Args:
        singular_values: `(N, r)` or `(r,)` non-negative values, any order.
        fraction: A float in (0, 1).

    Returns:
        An int array `(N,)` (or an int for one row).

    Example:
        >>> values = np.array([[10.0, 5.0, 1.0, 0.5], [2.0, 2.0, 2.0, 0.1]])
        >>> count_above_fraction(values)
        array([2, 3])
    """
    if not 0 < fraction < 1:
        raise ValueError(f"Expected 0 < fraction < 1. Received: fraction={fraction!r}")
    values = np.asarray(singular_values, dtype="float64")
    largest = values.max(axis=-1, keepdims=True)
    counts = np.sum(values > fraction * largest, axis=-1)
    return int(counts) if counts.ndim == 0 else counts
