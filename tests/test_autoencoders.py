"""Tests for keras_ae.models.autoencoders against NumPy, closed forms and scikit-learn
PCA.
"""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.linalg import subspace_angles
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

import keras_ae  # noqa: F401  (selects the TensorFlow backend)
from keras_ae.evaluate import metrics
from keras_ae.models import autoencoders as ae
from keras_ae.models import conv
from keras_ae.utils import set_seed

SHAPES = [(8, 8, 1), (28, 28, 1), (32, 32, 3)]


def relu(z):
    return np.maximum(z, 0.0)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def dense_forward(model, x, names, activations):
    """Forward pass through the named Dense layers of `model`, in NumPy."""
    for name, activation in zip(names, activations, strict=True):
        layer = model.get_layer(name)
        x = activation(x @ layer.kernel.numpy() + layer.bias.numpy())
    return x


def dense_param_count(sizes):
    """Weights and biases of Dense layers mapping sizes[0] -> ... -> sizes[-1]."""
    return sum(
        n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    )


def random_images(shape, num=2, seed=0):
    return np.random.default_rng(seed).uniform(size=(num, *shape)).astype("float32")


# --------------------------------------------------------------------------
# Dense autoencoders.


@pytest.mark.parametrize("shape", SHAPES)
def test_dense_autoencoder_matches_numpy_forward_pass(shape):
    set_seed(0)
    model = ae.build_dense_autoencoder(shape, code_size=4, hidden_units=(16, 8))
    x = random_images(shape)

    outputs = model.predict(x, verbose=0)

    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    code = dense_forward(
        encoder,
        x.reshape(2, -1),
        ["hidden_1", "hidden_2", "code"],
        [relu, relu, lambda z: z],
    )
    pixels = dense_forward(
        decoder, code, ["hidden_1", "hidden_2", "pixels"], [relu, relu, sigmoid]
    )
    assert outputs.shape == (2, *shape)
    assert [decoder.get_layer(n).units for n in ("hidden_1", "hidden_2")] == [8, 16]
    np.testing.assert_allclose(outputs, pixels.reshape(2, *shape), atol=1e-5)
    np.testing.assert_allclose(encoder.predict(x, verbose=0), code, atol=1e-5)


def test_dense_parameter_counts_follow_the_formula():
    # 64 -> 16 -> 8 -> 4 (code) -> 8 -> 16 -> 64.
    sizes = [64, 16, 8, 4]
    untied = ae.build_dense_autoencoder((8, 8, 1), code_size=4, hidden_units=(16, 8))
    tied = ae.build_dense_autoencoder(
        (8, 8, 1), code_size=4, hidden_units=(16, 8), tied_weights=True
    )
    encoder_params = dense_param_count(sizes)  # 1040 + 136 + 36 = 1212

    assert untied.get_layer("encoder").count_params() == encoder_params == 1212
    assert untied.count_params() == encoder_params + dense_param_count(sizes[::-1])
    assert untied.count_params() == 1212 + (40 + 144 + 1088) == 2484
    # Tied: the decoder adds only its biases, 8 + 16 + 64.
    assert tied.count_params() == encoder_params + 8 + 16 + 64 == 1300


def test_dense_autoencoder_output_activation_follows_the_data_range():
    set_seed(0)
    model = ae.build_dense_autoencoder(
        (8, 8, 1), code_size=4, hidden_units=(16,), data_range=(-1.0, 1.0)
    )
    x = random_images((8, 8, 1), num=64) * 2 - 1

    outputs = model.predict(x, verbose=0)

    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    code = dense_forward(
        encoder, x.reshape(64, -1), ["hidden_1", "code"], [relu, lambda z: z]
    )
    pixels = dense_forward(decoder, code, ["hidden_1", "pixels"], [relu, lambda z: z])
    np.testing.assert_allclose(outputs.reshape(64, -1), pixels, atol=1e-5)
    assert outputs.min() < 0  # A linear output, not a sigmoid.


def test_default_loss_rule():
    unit = np.array([[0.0, 0.25], [1.0, 0.5]])

    assert ae.default_loss(unit) == ae.reconstruction_loss_for((0, 1))
    assert ae.default_loss(unit) == "binary_crossentropy"
    assert ae.default_loss(unit - 0.5) == "mse"  # Negative values.
    assert ae.default_loss(unit * 255) == "mse"  # Values above 1.
    assert ae.reconstruction_loss_for((0.2, 0.8)) == "binary_crossentropy"
    assert ae.output_activation_for((0, 1)) == "sigmoid"
    assert ae.output_activation_for((-1, 1)) == "linear"
    # The names resolve to the losses the rule means.
    y_true, y_pred = np.array([[0.0, 1.0, 0.5]]), np.array([[0.2, 0.7, 0.5]])
    bce = -np.mean(y_true * np.log(y_pred) + (1 - y_true) * np.log(1 - y_pred))
    mse = np.mean((y_true - y_pred) ** 2)
    for name, expected in [(ae.default_loss(unit), bce), (ae.default_loss(-unit), mse)]:
        loss = keras.losses.get(name)(y_true, y_pred)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(loss), [expected], 1e-5)


# --------------------------------------------------------------------------
# Tied weights.


def test_tied_autoencoder_shares_one_kernel_per_layer_pair():
    set_seed(0)
    model = ae.build_dense_autoencoder(
        (8, 8, 1), code_size=4, hidden_units=(16,), tied_weights=True
    )
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    kernel_before = encoder.get_layer("hidden_1").kernel.numpy()
    x = random_images((8, 8, 1), num=32)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")

    model.fit(x, x, batch_size=32, epochs=1, verbose=0)

    assert decoder.get_layer("hidden_1").tied_to is encoder.get_layer("code")
    assert decoder.get_layer("pixels").tied_to is encoder.get_layer("hidden_1")
    own_weights = [
        w for w in decoder.weights if all(w is not e for e in encoder.weights)
    ]
    assert [w.shape for w in own_weights] == [(16,), (64,)]  # Biases only.
    kernel = encoder.get_layer("hidden_1").kernel.numpy()
    assert np.abs(kernel - kernel_before).max() > 1e-4  # Training moved it.

    def decoded(codes):
        hidden = relu(
            codes @ encoder.get_layer("code").kernel.numpy().T
            + decoder.get_layer("hidden_1").bias.numpy()
        )
        return sigmoid(
            hidden @ encoder.get_layer("hidden_1").kernel.numpy().T
            + decoder.get_layer("pixels").bias.numpy()
        )

    codes = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    before = decoder.predict(codes, verbose=0).reshape(5, -1)
    np.testing.assert_allclose(before, decoded(codes), atol=1e-6)
    # Changing the encoder's kernel changes what the decoder outputs.
    encoder.get_layer("hidden_1").kernel.assign(kernel * 2)
    after = decoder.predict(codes, verbose=0).reshape(5, -1)
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, decoded(codes), atol=1e-6)


# --------------------------------------------------------------------------
# The linear autoencoder learns PCA's subspace.


def test_principal_angles_match_scipy_and_a_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(10, 3)), rng.normal(size=(10, 4))
    plane = np.eye(3)[:, :2]
    tilted = np.array([[1.0, 0.0], [0.0, np.cos(np.pi / 6)], [0.0, np.sin(np.pi / 6)]])

    np.testing.assert_allclose(
        metrics.principal_angles(a, b),
        np.sort(np.degrees(subspace_angles(a, b))),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        metrics.principal_angles(plane, tilted), [0.0, 30.0], atol=1e-6
    )
    np.testing.assert_allclose(
        metrics.principal_angles(plane, plane @ [[2.0, 1.0], [1.0, 3.0]]),
        [0, 0],
        atol=1e-6,
    )
    np.testing.assert_allclose(
        metrics.principal_angles(plane, tilted, degrees=False),
        [0.0, np.pi / 6],
        atol=1e-8,
    )


def test_principal_angles_resolve_tiny_angles_and_dependent_columns():
    # A plane tilted by 1e-7 degrees (1.7e-9 rad): its cosine rounds to 1 in
    # float64, so arccos of the cosines would say 0; the sine-based algorithm
    # of scipy.linalg.subspace_angles resolves it.
    tilt = np.radians(1e-7)
    plane = np.eye(3)[:, :2]
    tilted = np.array([[1.0, 0.0], [0.0, np.cos(tilt)], [0.0, np.sin(tilt)]])
    assert np.cos(tilt) == 1.0

    np.testing.assert_allclose(
        metrics.principal_angles(plane, tilted), [0.0, 1e-7], rtol=1e-6, atol=1e-12
    )
    # Two equal columns span a line: one angle, that of the line with the plane.
    line = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(
        metrics.principal_angles(line, plane),
        [np.degrees(np.arccos(np.sqrt(2.0 / 3.0)))],
        atol=1e-9,
    )


def test_linear_autoencoder_is_affine():
    set_seed(0)
    model = ae.build_linear_autoencoder((8, 8, 1), code_size=8)
    x1, x2 = random_images((8, 8, 1), seed=1), random_images((8, 8, 1), seed=2)
    zero = np.zeros_like(x1)

    f = lambda x: model.predict(x, verbose=0)  # noqa: E731

    assert model.count_params() == dense_param_count([64, 8, 64]) == 1096
    np.testing.assert_allclose(
        f(x1 + 3 * x2), f(x1) + 3 * f(x2) - 3 * f(zero), atol=1e-4
    )


@pytest.mark.slow
def test_linear_autoencoder_learns_the_pca_subspace():
    # scikit-learn digits: 8x8 images, 64 pixels scaled to [0, 1].
    x = load_digits().data.astype("float32") / 16.0
    x_train, x_test = train_test_split(x, test_size=0.25, random_state=0)
    pca = PCA(n_components=8).fit(x_train)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(x_test)) - x_test) ** 2)
    set_seed(0)
    model = ae.build_linear_autoencoder((64,), code_size=8)
    # Full-batch Adam with a decaying step size: mini-batch noise would swamp
    # the small gap between the 8th and 9th variances (0.172 vs 0.158).
    num_steps = 3000
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(0.05, num_steps)
        ),
        loss="mse",
    )
    full_batches = tf.data.Dataset.from_tensors((x_train, x_train)).repeat(num_steps)

    model.fit(full_batches, epochs=1, verbose=0, shuffle=False)

    test_mse = np.mean((model.predict(x_test, verbose=0) - x_test) ** 2)
    kernel = model.get_layer("decoder").get_layer("pixels").kernel.numpy()
    angles = metrics.principal_angles(kernel.T, pca.components_.T)
    # Measured (seeds 0-4): MSE ratio within 1e-5 of 1, largest angle 0.04 deg.
    # After only 2000 steps the largest angle ranged from 0.03 to 4.4 degrees.
    assert test_mse == pytest.approx(pca_mse, rel=0.005)
    assert angles.max() < 1.0, angles


# --------------------------------------------------------------------------
# Convolutional autoencoders.


def conv_param_count(shape, code_size, filters, kernel_size=3):
    """Closed form for build_conv_autoencoder(shape, code_size, filters)."""
    height, width, channels = shape
    k2, size = kernel_size**2, 2 ** len(filters)
    cells = (height // size) * (width // size)
    encoder = dense_param_count([cells * filters[-1], code_size])
    for n_in, n_out in zip((channels, *filters[:-1]), filters, strict=True):
        encoder += k2 * n_in * n_out + n_out
    up = filters[::-1]
    decoder = dense_param_count([code_size, cells * up[0]])
    for n_in, n_out in zip((up[0], *up[:-1]), up, strict=True):
        decoder += k2 * n_in * n_out + n_out
    decoder += k2 * up[-1] * channels + channels
    return encoder, decoder


@pytest.mark.parametrize("shape", SHAPES)
def test_conv_autoencoder_shapes_and_parameter_counts(shape):
    set_seed(0)
    model = conv.build_conv_autoencoder(shape, code_size=16, filters=(32, 64))
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    x = random_images(shape)

    outputs = model.predict(x, verbose=0)

    height, width, channels = shape
    assert encoder.get_layer("conv_1").output.shape == (
        None,
        height // 2,
        width // 2,
        32,
    )
    assert encoder.get_layer("conv_2").output.shape == (
        None,
        height // 4,
        width // 4,
        64,
    )
    assert decoder.get_layer("deconv_1").output.shape[1:3] == (height // 2, width // 2)
    assert outputs.shape == (2, *shape)
    assert 0 < outputs.min() and outputs.max() < 1  # Sigmoid output.
    assert (encoder.count_params(), decoder.count_params()) == conv_param_count(
        shape, 16, (32, 64)
    )


def test_conv_parameter_count_by_hand():
    # 28x28x1, filters (32, 64), code 16:
    # conv 3*3*1*32+32 = 320, conv 3*3*32*64+64 = 18,496, dense 7*7*64*16+16 = 50,192;
    # dense 16*3136+3136 = 53,312, deconv 3*3*64*64+64 = 36,928,
    # deconv 3*3*64*32+32 = 18,464, conv 3*3*32*1+1 = 289.
    model = conv.build_conv_autoencoder((28, 28, 1), code_size=16)

    assert model.get_layer("encoder").count_params() == 320 + 18_496 + 50_192
    assert model.get_layer("decoder").count_params() == 53_312 + 36_928 + 18_464 + 289


# --------------------------------------------------------------------------
# Saving and loading in a fresh process.


def test_models_load_in_a_fresh_process_with_identical_predictions(tmp_path):
    set_seed(0)
    builders = {
        "dense": lambda: ae.build_dense_autoencoder((8, 8, 1), 4, (16, 8)),
        "tied": lambda: ae.build_dense_autoencoder(
            (8, 8, 1), 4, (16, 8), tied_weights=True
        ),
        "linear": lambda: ae.build_linear_autoencoder((8, 8, 1), 4),
        "conv": lambda: conv.build_conv_autoencoder((8, 8, 1), 4, filters=(8, 16)),
    }
    x = random_images((8, 8, 1), num=16)
    jobs, expected, param_counts = [], {}, {}
    for name, build in builders.items():
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        model.fit(x, x, batch_size=16, epochs=1, verbose=0)  # Non-zero biases.
        path = str(tmp_path / f"{name}.keras")
        model.save(path)
        np.save(tmp_path / f"{name}_x.npy", x)
        expected[path] = model.predict(x, verbose=0)
        param_counts[path] = model.count_params()
        jobs.append(f"{path}:{tmp_path / f'{name}_x.npy'}:{tmp_path / f'{name}_y.npy'}")
    script = Path(__file__).with_name("_load_and_predict.py")
    report_path = tmp_path / "report.json"

    result = subprocess.run(
        [sys.executable, str(script), str(report_path), *jobs],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    for name in builders:
        path = str(tmp_path / f"{name}.keras")
        loaded = np.load(tmp_path / f"{name}_y.npy")
        np.testing.assert_allclose(loaded, expected[path], rtol=0, atol=1e-6)
        assert report[path]["count_params"] == param_counts[path]
    assert report[str(tmp_path / "tied.keras")]["ties"] == [True, True, True]
    assert report[str(tmp_path / "dense.keras")]["ties"] == []


# --------------------------------------------------------------------------
# Argument errors.


def bad_call(builder, **kwargs):
    return lambda: builder(**kwargs)


BAD_ARGUMENTS = [
    (
        bad_call(ae.build_dense_encoder, code_size=0),
        r"Expected code_size > 0\. Received: code_size=0",
    ),
    (bad_call(ae.build_dense_encoder, code_size=-3), r"Received: code_size=-3"),
    (
        bad_call(ae.build_dense_decoder, code_size=2.5),
        r"Expected code_size to be a positive integer\. Received: code_size=2\.5",
    ),
    (
        bad_call(ae.build_dense_encoder, hidden_units=(0,)),
        r"Expected hidden_units to be a non-empty tuple .*hidden_units=\(0,\)",
    ),
    (
        bad_call(ae.build_dense_decoder, hidden_units=(64, -1)),
        r"Received: hidden_units=\(64, -1\)",
    ),
    (
        bad_call(ae.build_dense_encoder, hidden_units=128),
        r"Expected hidden_units to be a tuple .*Received: hidden_units=128",
    ),
    (
        bad_call(ae.build_dense_encoder, input_shape=()),
        r"Expected input_shape .*Received: input_shape=\(\)",
    ),
    (
        bad_call(ae.build_dense_decoder, output_shape=(28, 0)),
        r"Received: output_shape=\(28, 0\)",
    ),
    (
        bad_call(ae.build_dense_encoder, activation="nonsense"),
        r"Expected activation to be None, a Keras activation name "
        r".*Received: activation='nonsense'",
    ),
    (
        bad_call(ae.build_dense_decoder, output_activation="sigmod"),
        r"Received: output_activation='sigmod'",
    ),
    (
        bad_call(ae.build_dense_autoencoder, data_range=(1.0, 0.0)),
        r"Expected data_range with low <= high\. Received: data_range=\(1\.0, 0\.0\)",
    ),
    (
        bad_call(ae.reconstruction_loss_for, data_range="0-1"),
        r"Expected data_range to be a pair .*Received: data_range='0-1'",
    ),
    (
        bad_call(ae.build_linear_autoencoder, code_size=0),
        r"Expected code_size > 0\. Received: code_size=0",
    ),
    (
        bad_call(conv.build_conv_encoder, input_shape=(28, 28)),
        r"Expected input_shape to be a tuple \(height, width, channels\) "
        r".*Received: input_shape=\(28, 28\)",
    ),
    (
        bad_call(conv.build_conv_encoder, input_shape=(30, 30, 1)),
        r"Expected input height and width divisible by 4 \(2 \*\* len\(filters\)\)\. "
        r"Received: input_shape=\(30, 30, 1\)",
    ),
    (
        bad_call(conv.build_conv_decoder, output_shape=(28, 28, 1), filters=(8, 8, 8)),
        r"Expected output height and width divisible by 8 "
        r".*Received: output_shape=\(28, 28, 1\)",
    ),
    (
        bad_call(conv.build_conv_autoencoder, filters=()),
        r"Expected filters to be a non-empty tuple .*Received: filters=\(\)",
    ),
    (
        bad_call(conv.build_conv_encoder, kernel_size=0),
        r"Expected kernel_size > 0\. Received: kernel_size=0",
    ),
    (bad_call(conv.build_conv_decoder, activation=3), r"Received: activation=3"),
]


@pytest.mark.parametrize("call, message", BAD_ARGUMENTS)
def test_bad_arguments_raise_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_mismatched_parts_raise_value_errors():
    encoder = ae.build_dense_encoder((8, 8, 1), code_size=4, hidden_units=(16,))
    wrong_code = ae.build_dense_decoder((8, 8, 1), code_size=5, hidden_units=(16,))
    wrong_output = ae.build_dense_decoder((8, 8, 2), code_size=4, hidden_units=(16,))

    with pytest.raises(
        ValueError,
        match=r"encoder's output shape \(4,\)\. Received: decoder input shape \(5,\)",
    ):
        ae.build_autoencoder(encoder, wrong_code)
    with pytest.raises(
        ValueError,
        match=r"encoder's input shape \(8, 8, 1\)\. "
        r"Received: decoder output shape \(8, 8, 2\)",
    ):
        ae.build_autoencoder(encoder, wrong_output)
    with pytest.raises(ValueError, match=r"Expected decoder to be a keras.Model"):
        ae.build_autoencoder(encoder, "decoder")
    with pytest.raises(ValueError, match=r"Expected an encoder with TiedDense layers"):
        ae.build_tied_dense_decoder(encoder)
    with pytest.raises(
        ValueError,
        match=r"same number of rows\. Received: a.shape=\(3, 2\), b.shape=\(4, 2\)",
    ):
        metrics.principal_angles(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"Expected non-empty data"):
        ae.default_loss(np.array([]))


def test_dense_pixels_is_a_dense_map_reshaped_and_float32_in_bfloat16():
    from keras_ae.models.autoencoders import dense_pixels

    features = keras.Input((5,))
    model = keras.Model(features, dense_pixels(features, (2, 3, 1), "sigmoid"))
    kernel, bias = model.get_layer("pixels").get_weights()
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    expected = 1.0 / (1.0 + np.exp(-(x @ kernel + bias)))
    np.testing.assert_allclose(
        model.predict(x, verbose=0), expected.reshape(4, 2, 3, 1), rtol=1e-5
    )
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        features = keras.Input((5,))
        hidden = keras.layers.Dense(7)(features)  # bfloat16 under the policy
        outputs = dense_pixels(hidden, (7, 1, 1))
    finally:
        keras.config.set_dtype_policy("float32")
    assert hidden.dtype == "bfloat16" and outputs.dtype == "float32"


def test_dense_autoencoder_without_hidden_layers_is_one_affine_map_each_way():
    model = ae.build_dense_autoencoder(
        input_shape=(6,), code_size=2, hidden_units=(), output_activation=None
    )
    assert model.count_params() == (6 * 2 + 2) + (2 * 6 + 6)
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    encoder = model.get_layer("encoder")
    kernel, bias = encoder.get_layer("code").get_weights()
    np.testing.assert_allclose(
        encoder.predict(x, verbose=0), x @ kernel + bias, rtol=1e-5
    )
