import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae.evaluate.tangents import (
    count_above_fraction,
    encoder_jacobian,
    tangent_directions,
)


def sigmoid_encoder(input_shape=(4, 5, 1), units=6, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape)
    dense = keras.layers.Dense(units, activation="sigmoid")
    encoder = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=(int(np.prod(input_shape)), units)).astype("float32")
    bias = rng.normal(size=units).astype("float32")
    dense.set_weights([kernel, bias])
    return encoder, kernel, bias


def conv_encoder(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(3, 3, strides=2, padding="same", activation="tanh"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, activation="tanh"),
        ]
    )


def reference_jacobians(encoder, x):
    """One `tf.GradientTape.jacobian` per sample (no batching), flattened."""
    result = []
    for sample in x:
        sample = tf.constant(sample[None])
        with tf.GradientTape() as tape:
            tape.watch(sample)
            codes = tf.reshape(encoder(sample, training=False), (-1,))
        jacobian = tape.jacobian(codes, sample)
        result.append(tf.reshape(jacobian, (codes.shape[0], -1)).numpy())
    return np.stack(result).astype("float64")


def test_jacobian_of_a_sigmoid_layer_is_diag_slope_times_kernel_transposed():
    encoder, kernel, bias = sigmoid_encoder()
    x = np.random.default_rng(1).uniform(size=(7, 4, 5, 1)).astype("float32")
    codes = 1.0 / (1.0 + np.exp(-(x.reshape(7, -1) @ kernel + bias)))
    expected = (codes * (1 - codes))[:, :, None] * kernel.T[None]  # (N, 6, 20)
    jacobian = encoder_jacobian(encoder, x)
    assert jacobian.shape == (7, 6, 20)
    np.testing.assert_allclose(jacobian, expected, rtol=1e-5, atol=1e-7)


def test_jacobian_of_a_conv_encoder_matches_finite_differences():
    encoder = conv_encoder()
    x = np.random.default_rng(2).uniform(size=(3, 6, 6, 1))
    jacobian = encoder_jacobian(encoder, x.astype("float32"))
    step = 1e-3
    numeric = np.zeros((3, 4, 36))
    for i in range(36):
        offset = np.zeros(36)
        offset[i] = step
        offset = offset.reshape(1, 6, 6, 1)
        up = keras.ops.convert_to_numpy(encoder(x + offset)).astype("float64")
        down = keras.ops.convert_to_numpy(encoder(x - offset)).astype("float64")
        numeric[:, :, i] = (up - down) / (2 * step)
    np.testing.assert_allclose(jacobian, numeric, atol=2e-3)
    np.testing.assert_allclose(jacobian, reference_jacobians(encoder, x), atol=1e-6)


@pytest.mark.parametrize("make", [sigmoid_encoder, conv_encoder])
def test_tangent_directions_are_numpys_svd_of_the_jacobian(make):
    encoder = make() if make is conv_encoder else make()[0]
    shape = encoder.inputs[0].shape[1:]
    x = np.random.default_rng(3).uniform(size=(5, *shape)).astype("float32")
    reference = reference_jacobians(encoder, x)
    _, s_ref, vt_ref = np.linalg.svd(reference, full_matrices=False)
    values, directions = tangent_directions(encoder, x, num_directions=3, batch_size=2)
    assert values.shape == s_ref.shape and directions.shape == (5, 3, *shape)
    np.testing.assert_allclose(values, s_ref, rtol=1e-4, atol=1e-7)
    flat = directions.reshape(5, 3, -1)
    # The same vectors up to sign, orthonormal, with the sign rule applied.
    overlaps = np.abs(np.einsum("nkd,nkd->nk", flat, vt_ref[:, :3]))
    np.testing.assert_allclose(overlaps, 1.0, atol=1e-4)
    np.testing.assert_allclose(
        flat @ flat.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (5, 3, 3)), atol=1e-9
    )
    peaks = np.take_along_axis(flat, np.abs(flat).argmax(2)[..., None], 2)
    assert np.all(peaks > 0)
    # A unit step along the k-th direction moves the code by s_k, and the squared
    # singular values add up to ||J||_F^2.
    moved = np.linalg.norm(np.einsum("ncd,nkd->nkc", reference, flat), axis=2)
    np.testing.assert_allclose(moved, values[:, :3], rtol=1e-4)
    np.testing.assert_allclose(
        (values**2).sum(1), (reference**2).sum((1, 2)), rtol=1e-4
    )


def test_linear_encoder_has_the_kernels_singular_values_at_every_input():
    rng = np.random.default_rng(4)
    kernel = rng.normal(size=(8, 5)).astype("float32")
    encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(5)])
    encoder.layers[-1].set_weights([kernel, np.zeros(5, "float32")])
    x = rng.normal(size=(4, 8)).astype("float32")
    values, directions = tangent_directions(encoder, x, num_directions=5)
    _, s_ref, vt_ref = np.linalg.svd(kernel.T.astype("float64"))
    np.testing.assert_allclose(values, np.tile(s_ref, (4, 1)), rtol=1e-5)
    np.testing.assert_allclose(
        np.abs(directions @ vt_ref[:5].T), np.tile(np.eye(5), (4, 1, 1)), atol=1e-5
    )


def test_tangent_directions_rejects_too_many_directions():
    encoder, _, _ = sigmoid_encoder(units=3)
    x = np.zeros((2, 4, 5, 1), "float32")
    with pytest.raises(ValueError, match="num_directions <= 3"):
        tangent_directions(encoder, x, num_directions=4)
    with pytest.raises(ValueError, match="batch_size"):
        tangent_directions(encoder, x, batch_size=0)


def test_count_above_fraction_counts_against_the_largest_per_row():
    values = np.array([[4.0, 0.5, 0.39, 3.0], [1.0, 1.0, 1.0, 1.0], [9.0, 0, 0, 0]])
    counts = count_above_fraction(values, fraction=0.1)
    expected = [sum(v > 0.1 * max(row) for v in row) for row in values]
    np.testing.assert_array_equal(counts, expected)  # [3, 4, 1]
    np.testing.assert_array_equal(count_above_fraction(1e3 * values, 0.1), expected)
    assert count_above_fraction(np.array([5.0, 1.0, 0.2]), 0.1) == 2
    with pytest.raises(ValueError, match="fraction"):
        count_above_fraction(values, fraction=1.5)
