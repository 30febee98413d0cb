"""Greedy layer-wise training, checked against NumPy and scikit-learn's PCA."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from keras_ae.data import load_dataset
from keras_ae.train.layerwise import greedy_layerwise_autoencoder


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.fixture(scope="module")
def digits():
    (x_train, _), _, _, _ = load_dataset("digits")
    return x_train[:600]


@pytest.fixture(scope="module")
def relu_stack(digits):
    return greedy_layerwise_autoencoder(digits, (16, 8, 4), num_epochs=2)


def test_stacked_weights_are_the_stages_weights(relu_stack):
    autoencoder = relu_stack["autoencoder"]
    encoder = autoencoder.get_layer("encoder")
    decoder = autoencoder.get_layer("decoder")
    pieces = [stage.get_weights() for stage in relu_stack["stages"]]
    assert [w.shape for w in encoder.get_layer("hidden_1").get_weights()] == [
        (64, 16),
        (16,),
    ]
    np.testing.assert_array_equal(encoder.get_layer("hidden_1").kernel, pieces[0][0])
    np.testing.assert_array_equal(encoder.get_layer("code").kernel, pieces[2][0])
    np.testing.assert_array_equal(decoder.get_layer("pixels").kernel, pieces[0][2])
    np.testing.assert_array_equal(decoder.get_layer("hidden_1").kernel, pieces[2][2])


def test_stack_computes_the_composition_of_the_stages(digits, relu_stack):
    x = digits[:50].reshape(50, -1)
    (w1, b1, v1, c1), (w2, b2, v2, c2), (w3, b3, v3, c3) = [
        stage.get_weights() for stage in relu_stack["stages"]
    ]
    h1 = np.maximum(x @ w1 + b1, 0)
    h2 = np.maximum(h1 @ w2 + b2, 0)
    code = h2 @ w3 + b3  # linear code layer
    g2 = np.maximum(code @ v3 + c3, 0)
    g1 = np.maximum(g2 @ v2 + c2, 0)
    expected = _sigmoid(g1 @ v1 + c1).reshape(digits[:50].shape)
    output = relu_stack["autoencoder"].predict(digits[:50], verbose=0)
    np.testing.assert_allclose(output, expected, atol=1e-5)


def test_linear_stack_approaches_pca(digits):
    result = greedy_layerwise_autoencoder(
        digits, (16, 4), activation=None, output_activation=None,
        num_epochs=60, batch_size=32, learning_rate=1e-2,
    )  # fmt: skip
    flat = digits.reshape(len(digits), -1)
    pca = PCA(4).fit(flat)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(flat)) - flat) ** 2)
    output = result["autoencoder"].predict(digits, verbose=0).reshape(flat.shape)
    stack_mse = np.mean((output - flat) ** 2)
    # A rank-4 linear map cannot beat PCA's 4 components (Eckart-Young) ...
    assert stack_mse >= pca_mse * (1 - 1e-3)
    # ... and the greedy linear stack gets close to it.
    assert stack_mse <= 1.3 * pca_mse


def test_rejects_bad_layer_sizes(digits):
    with pytest.raises(ValueError, match="layer_sizes"):
        greedy_layerwise_autoencoder(digits, (16, 0))
