"""Tests for keras_ae.models.layers: DenseTranspose against NumPy and closed forms."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_ae  # noqa: F401  (selects the TensorFlow backend)
from keras_ae.models.layers import DenseTranspose, TiedDense


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def built_dense(units=3, input_dim=5, layer_class=keras.layers.Dense, **kwargs):
    layer = layer_class(units, **kwargs)
    layer.build((None, input_dim))
    return layer


def test_dense_transpose_matches_numpy():
    keras.utils.set_random_seed(0)
    dense = built_dense(3, 5)
    layer = DenseTranspose(dense, activation="sigmoid", bias_initializer="normal")
    codes = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")

    outputs = keras.ops.convert_to_numpy(layer(codes))

    kernel, bias = dense.kernel.numpy(), layer.bias.numpy()
    assert bias.shape == (5,) and np.abs(bias).max() > 0
    np.testing.assert_allclose(outputs, sigmoid(codes @ kernel.T + bias), atol=1e-6)


def test_dense_transpose_reads_the_kernel_it_is_tied_to():
    dense = built_dense(3, 5)
    layer = DenseTranspose(dense, use_bias=False)
    codes = np.random.default_rng(1).normal(size=(2, 3)).astype("float32")
    new_kernel = np.arange(15, dtype="float32").reshape(5, 3) / 10

    dense.kernel.assign(new_kernel)
    outputs = keras.ops.convert_to_numpy(layer(codes))

    assert layer.bias is None
    assert any(w is dense.kernel for w in layer.weights)
    np.testing.assert_allclose(outputs, codes @ new_kernel.T, rtol=1e-6)


def test_tied_kernel_gradient_is_the_sum_of_both_uses():
    # x_hat = (x W + c) W^T + b and L = mean((x_hat - x) ** 2): the gradient of
    # the shared W adds the encoder's and the decoder's terms,
    # dL/dW = X^T (R W) + R^T H with R = dL/dx_hat and H = x W + c.
    keras.utils.set_random_seed(0)
    dense = built_dense(3, 5, bias_initializer="normal")
    layer = DenseTranspose(dense, bias_initializer="normal")
    x = np.random.default_rng(2).normal(size=(4, 5)).astype("float32")
    with tf.GradientTape() as tape:
        x_hat = layer(dense(x))
        loss = tf.reduce_mean((x_hat - x) ** 2)
    gradient = tape.gradient(loss, dense.kernel).numpy()

    kernel, c, b = dense.kernel.numpy(), dense.bias.numpy(), layer.bias.numpy()
    hidden = x @ kernel + c
    residual = 2 * (hidden @ kernel.T + b - x) / x.size
    expected = x.T @ (residual @ kernel) + residual.T @ hidden
    np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-6)


def tied_pair_model(layer_class, nested):
    """Input(6) -> layer_class(4) -> DenseTranspose -> 6, nested or flat."""
    dense = layer_class(4, activation="relu", name="dense")
    inputs = keras.Input((6,))
    if not nested:
        outputs = DenseTranspose(dense, bias_initializer="normal")(dense(inputs))
        return keras.Model(inputs, outputs)
    encoder = keras.Model(inputs, dense(inputs), name="encoder")
    codes = keras.Input((4,))
    outputs = DenseTranspose(dense, bias_initializer="normal")(codes)
    decoder = keras.Model(codes, outputs, name="decoder")
    x = keras.Input((6,))
    return keras.Model(x, decoder(encoder(x)))


def find_tie(model, nested):
    if nested:
        dense = model.get_layer("encoder").get_layer("dense")
        transpose = model.get_layer("decoder").layers[-1]
    else:
        dense, transpose = model.get_layer("dense"), model.layers[-1]
    return dense, transpose


@pytest.mark.parametrize(
    "layer_class, nested",
    [(TiedDense, True), (TiedDense, False), (keras.layers.Dense, False)],
)
def test_tie_survives_save_and_load(tmp_path, layer_class, nested):
    keras.utils.set_random_seed(0)
    model = tied_pair_model(layer_class, nested)
    x = np.random.default_rng(3).normal(size=(3, 6)).astype("float32")
    path = tmp_path / "tied.keras"
    model.save(path)

    first = keras.saving.load_model(path, safe_mode=True)
    second = keras.saving.load_model(path, safe_mode=True)

    np.testing.assert_allclose(
        first.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
    assert first.count_params() == model.count_params() == 6 * 4 + 4 + 6
    dense, transpose = find_tie(first, nested)
    assert transpose.tied_to is dense
    # Two loads of one file are two models: the tie_id is the same, the layers not.
    second_dense, second_transpose = find_tie(second, nested)
    assert second_transpose.tied_to is second_dense is not dense


def test_tied_dense_keeps_its_tie_id_but_not_its_identity_outside_load_model():
    dense = built_dense(3, 5, layer_class=TiedDense)
    config = dense.get_config()

    copy = TiedDense.from_config(config)

    assert config["tie_id"] == dense.tie_id == copy.tie_id
    assert len(dense.tie_id) == 32 and TiedDense(3).tie_id != dense.tie_id
    assert copy is not dense  # No sharing scope: a copy, as documented.


def test_dense_transpose_rejects_bad_tied_to():
    with pytest.raises(ValueError, match="Expected tied_to to be a keras.layers.Dense"):
        DenseTranspose(keras.layers.Conv2D(3, 3))
    with pytest.raises(ValueError, match="Expected tied_to to be a built Dense"):
        DenseTranspose(keras.layers.Dense(3))(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match=r"last dimension 3 .*input_shape=\(1, 4\)"):
        DenseTranspose(built_dense(3, 5))(np.zeros((1, 4), "float32"))


def test_subclass_of_tied_dense_round_trips_as_itself(tmp_path):
    @keras.saving.register_keras_serializable(package="keras_ae_tests")
    class ScaledTiedDense(TiedDense):
        pass

    keras.utils.set_random_seed(1)
    model = tied_pair_model(ScaledTiedDense, nested=True)
    x = np.random.default_rng(4).normal(size=(2, 6)).astype("float32")
    path = tmp_path / "subclass.keras"
    model.save(path)

    loaded = keras.saving.load_model(path, safe_mode=True)

    dense, transpose = find_tie(loaded, nested=True)
    assert type(dense) is ScaledTiedDense and transpose.tied_to is dense
    assert "__keras_ae_construct__" not in dense.get_config()
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
