"""Tests for keras_ae.models.contractive: contractive and denoising autoencoders."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_ae.data import add_gaussian_noise, corrupt, load_dataset
from keras_ae.models.contractive import (
    CLOSED_FORM_ACTIVATIONS,
    ContractiveAutoencoder,
    jacobian_frobenius_batch_jacobian,
    jacobian_frobenius_closed_form,
)
from keras_ae.models.denoising import DenoisingAutoencoder

IMAGE_SHAPE = (8, 8, 1)


def sigmoid_encoder(code_size=16, dtype="float32"):
    inputs = keras.Input(IMAGE_SHAPE, dtype=dtype)
    flat = keras.layers.Flatten(dtype=dtype)(inputs)
    codes = keras.layers.Dense(code_size, activation="sigmoid", dtype=dtype)(flat)
    return keras.Model(inputs, codes, name="encoder")


def deep_encoder(code_size=8):
    inputs = keras.Input(IMAGE_SHAPE)
    hidden = keras.layers.Dense(24, activation="tanh")(keras.layers.Flatten()(inputs))
    codes = keras.layers.Dense(code_size, activation="sigmoid")(hidden)
    return keras.Model(inputs, codes, name="encoder")


def decoder(code_size=16):
    codes = keras.Input((code_size,))
    pixels = keras.layers.Dense(int(np.prod(IMAGE_SHAPE)), activation="sigmoid")(codes)
    return keras.Model(codes, keras.layers.Reshape(IMAGE_SHAPE)(pixels), name="decoder")


@pytest.fixture(scope="module")
def digits():
    (x_train, _), _, (x_test, _), _ = load_dataset("digits")
    return x_train, x_test


def batch(seed=0, size=32):
    return np.random.default_rng(seed).uniform(size=(size, *IMAGE_SHAPE))


# Contractive autoencoder.


def test_closed_form_matches_batch_jacobian_float64():
    keras.utils.set_random_seed(0)
    encoder = sigmoid_encoder(dtype="float64")
    x = batch()  # float64
    closed = keras.ops.convert_to_numpy(
        jacobian_frobenius_closed_form(encoder.layers[-1], x)
    )
    reference = keras.ops.convert_to_numpy(
        jacobian_frobenius_batch_jacobian(encoder, x)
    )
    assert closed.dtype == np.float64 and closed.shape == (32,)
    np.testing.assert_allclose(closed, reference, rtol=1e-10)
    assert reference.min() > 0.01  # a non-trivial Jacobian


def test_closed_form_matches_batch_jacobian_float32():
    keras.utils.set_random_seed(1)
    encoder = sigmoid_encoder()
    x = batch(1).astype("float32")
    closed = jacobian_frobenius_closed_form(encoder.layers[-1], x)
    reference = jacobian_frobenius_batch_jacobian(encoder, x)
    np.testing.assert_allclose(closed, reference, rtol=1e-5)


def activation_encoder(activation, dtype="float32"):
    inputs = keras.Input(IMAGE_SHAPE, dtype=dtype)
    flat = keras.layers.Flatten(dtype=dtype)(inputs)
    dense = keras.layers.Dense(
        16,
        activation=activation,
        bias_initializer=keras.initializers.RandomNormal(stddev=0.5),
        dtype=dtype,
    )
    return keras.Model(inputs, dense(flat), name="encoder")


@pytest.mark.parametrize("activation", CLOSED_FORM_ACTIVATIONS)
def test_closed_form_matches_batch_jacobian_for_each_activation(activation):
    # ||J||_F^2 = sum_j f'(a_j)^2 ||W_j||^2 for any elementwise f.
    keras.utils.set_random_seed(6)
    encoder = activation_encoder(activation, dtype="float64")
    x = batch(6) - 0.5  # float64, centred: pre-activations of both signs
    dense = encoder.layers[-1]
    closed = keras.ops.convert_to_numpy(jacobian_frobenius_closed_form(dense, x))
    reference = keras.ops.convert_to_numpy(
        jacobian_frobenius_batch_jacobian(encoder, x)
    )
    np.testing.assert_allclose(closed, reference, rtol=1e-10)
    kernel, bias = dense.get_weights()
    pre_activations = x.reshape(len(x), -1) @ kernel + bias
    # Both pieces of relu and elu are exercised, and no value sits on the kink.
    assert (pre_activations > 0.01).mean() > 0.2
    assert (pre_activations < -0.01).mean() > 0.2
    assert reference.min() > 0.01


@pytest.mark.parametrize("activation", CLOSED_FORM_ACTIVATIONS)
def test_contractive_autoencoder_uses_the_closed_form_of_each_activation(
    activation,
):
    keras.utils.set_random_seed(7)
    encoder = activation_encoder(activation)
    model = ContractiveAutoencoder(encoder, decoder(), contractive_weight=0.5)
    assert model.uses_closed_form
    model.compile(optimizer="sgd")
    x = (batch(7) - 0.5).astype("float32")
    logs = model.evaluate(x, batch_size=len(x), verbose=0, return_dict=True)
    norms = keras.ops.convert_to_numpy(jacobian_frobenius_batch_jacobian(encoder, x))
    np.testing.assert_allclose(logs["contractive_loss"], norms.mean(), rtol=1e-5)


@pytest.mark.parametrize("activation", ["softmax", "selu", "gelu"])
def test_other_activations_fall_back_to_batch_jacobian(activation):
    encoder = activation_encoder(activation)
    assert not ContractiveAutoencoder(encoder, decoder()).uses_closed_form
    with pytest.raises(ValueError, match="Expected a Dense layer with an activation"):
        jacobian_frobenius_closed_form(encoder.layers[-1], batch(8))
    with pytest.raises(ValueError, match="with an activation in"):
        ContractiveAutoencoder(encoder, decoder(), jacobian="closed_form")


def test_batch_jacobian_matches_numpy_for_two_layers():
    # h = sigmoid(tanh(x W1 + b1) W2 + b2): J = diag(h (1 - h)) W2^T diag(1 - a^2) W1^T.
    keras.utils.set_random_seed(2)
    encoder = deep_encoder()
    x = batch(2).astype("float32")
    (w1, b1), (w2, b2) = (
        encoder.layers[2].get_weights(),
        encoder.layers[3].get_weights(),
    )
    flat = x.reshape(len(x), -1).astype("float64")
    a = np.tanh(flat @ w1 + b1)
    h = 1 / (1 + np.exp(-(a @ w2 + b2)))
    jac = np.einsum("nj,kj,nk,ik->nji", h * (1 - h), w2, 1 - a**2, w1)
    expected = (jac**2).sum(axis=(1, 2))
    np.testing.assert_allclose(
        jacobian_frobenius_batch_jacobian(encoder, x), expected, rtol=1e-4
    )


@pytest.mark.parametrize(
    "encoder_fn, jacobian, closed",
    [
        (sigmoid_encoder, "auto", True),
        (sigmoid_encoder, "batch_jacobian", False),
        (deep_encoder, "auto", False),
    ],
)
def test_contractive_metrics_equal_references(encoder_fn, jacobian, closed):
    keras.utils.set_random_seed(3)
    encoder = encoder_fn()
    code_size = encoder.output.shape[-1]
    model = ContractiveAutoencoder(
        encoder, decoder(code_size), contractive_weight=0.5, jacobian=jacobian
    )
    model.compile(optimizer="sgd")
    assert model.uses_closed_form is closed
    x = batch(3).astype("float32")
    logs = model.evaluate(x, batch_size=len(x), verbose=0, return_dict=True)
    norms = keras.ops.convert_to_numpy(jacobian_frobenius_batch_jacobian(encoder, x))
    reconstruction = np.mean((model.predict(x, verbose=0) - x) ** 2)
    np.testing.assert_allclose(logs["contractive_loss"], norms.mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["reconstruction_loss"], reconstruction, rtol=1e-5)
    np.testing.assert_allclose(
        logs["loss"], reconstruction + 0.5 * norms.mean(), rtol=1e-5
    )


def test_bce_reconstruction_loss():
    keras.utils.set_random_seed(4)
    model = ContractiveAutoencoder(
        sigmoid_encoder(), decoder(), reconstruction_loss="bce"
    )
    model.compile(optimizer="sgd")
    x = batch(4).astype("float32")
    logs = model.evaluate(x, batch_size=len(x), verbose=0, return_dict=True)
    p = np.clip(model.predict(x, verbose=0).astype("float64"), 1e-7, 1 - 1e-7)
    expected = -np.mean(x * np.log(p) + (1 - x) * np.log(1 - p))
    np.testing.assert_allclose(logs["reconstruction_loss"], expected, rtol=1e-4)


@pytest.mark.parametrize("encoder_fn", [sigmoid_encoder, deep_encoder])
def test_one_step_contracts_more_than_plain_autoencoder(encoder_fn):
    x = batch(5).astype("float32")
    norms = {}
    for weight in (0.0, 2.0):
        keras.utils.set_random_seed(5)  # the same initial weights for both
        encoder = encoder_fn()
        model = ContractiveAutoencoder(
            encoder, decoder(encoder.output.shape[-1]), contractive_weight=weight
        )
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5))
        before = keras.ops.convert_to_numpy(
            jacobian_frobenius_batch_jacobian(encoder, x)
        ).mean()
        model.train_on_batch(x)
        after = jacobian_frobenius_batch_jacobian(encoder, x)
        norms[weight] = keras.ops.convert_to_numpy(after).mean()
    assert norms[2.0] < 0.9 * norms[0.0]
    assert norms[2.0] < before


# Denoising autoencoder.


def identity_autoencoder_parts():
    """Encoder and decoder that copy their input, so the loss measures the noise."""
    inputs = keras.Input(IMAGE_SHAPE)
    copy = keras.layers.Dense(64, kernel_initializer="identity", use_bias=False)
    encoder = keras.Model(inputs, copy(keras.layers.Flatten()(inputs)))
    codes = keras.Input((64,))
    return encoder, keras.Model(codes, keras.layers.Reshape(IMAGE_SHAPE)(codes))


def test_noise_is_fresh_in_every_step():
    x = batch(6).astype("float32")

    def two_losses(noise_level, seed):
        model = DenoisingAutoencoder(
            *identity_autoencoder_parts(), noise_level=noise_level, seed=seed
        )
        # No weight update: the loss changes only if the noise does.
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
        return [float(model.train_on_batch(x)) for _ in range(2)]

    first, second = two_losses(0.3, seed=1)
    assert 0.01 < first < 0.09  # the MSE of the noise (std 0.3, clipped)
    assert abs(first - second) > 1e-3 * first
    assert two_losses(0.3, seed=1) == [first, second]  # repeatable with a seed
    assert two_losses(0.0, seed=1) == [0.0, 0.0]  # no noise: a perfect copy


@pytest.mark.parametrize(
    "noise, level", [("gaussian", 0.3), ("masking", 0.4), ("salt_and_pepper", 0.2)]
)
def test_one_device_noise_replays_the_seed_generator(noise, level):
    # On one device the training noise is exactly corrupt() drawing from a
    # SeedGenerator(seed) of its own, step after step: replica_seed changes
    # nothing there, so a fixed seed gives the numbers it always gave.
    x = batch(9).astype("float32")
    model = DenoisingAutoencoder(
        *identity_autoencoder_parts(), noise=noise, noise_level=level, seed=4
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    losses = [float(model.train_on_batch(x)) for _ in range(3)]
    replay = keras.random.SeedGenerator(4)
    expected = [
        np.mean((corrupt(x, noise, level, seed=replay) - x) ** 2) for _ in losses
    ]
    np.testing.assert_allclose(losses, expected, rtol=1e-6)
    assert min(expected) > 1e-3 and len(set(losses)) == 3


# Runs in a fresh interpreter: two logical CPUs must be configured before
# TensorFlow initialises its devices (as in tests/test_devices.py).
MIRRORED_SCRIPT = r"""
import json

import tensorflow as tf

(cpu,) = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(2)]
)

import keras
import numpy as np

from keras_ae.data import NOISE_KINDS
from keras_ae.models.denoising import DenoisingAutoencoder

SEEN = {}


class Recorder(keras.layers.Layer):
    # Keeps the inputs the encoder receives, per replica, in eager steps.
    def call(self, x):
        context = tf.distribute.get_replica_context()
        if context is not None and tf.executing_eagerly():
            replica = int(context.replica_id_in_sync_group)
            SEEN.setdefault(self.name, {}).setdefault(replica, []).append(
                x.numpy().tolist()
            )
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
# Every image is the same gray square: both replicas get the same clean images,
# so their noisy inputs differ exactly where their noise does.
x = np.full((16, 8, 8, 1), 0.5, "float32")
levels = {"gaussian": 0.3, "masking": 0.5, "salt_and_pepper": 0.5}
results = {"replicas": mirrored.num_replicas_in_sync, "steps": {}, "add_noise": {}}
for kind in NOISE_KINDS:
    with mirrored.scope():
        images = keras.Input((8, 8, 1))
        encoder = keras.Model(
            images, keras.layers.Flatten()(Recorder(name=kind)(images))
        )
        codes = keras.Input((64,))
        pixels = keras.layers.Dense(64)(codes)
        decoder = keras.Model(codes, keras.layers.Reshape((8, 8, 1))(pixels))
        model = DenoisingAutoencoder(
            encoder, decoder, noise=kind, noise_level=levels[kind], seed=0
        )
        model.compile(
            optimizer=keras.optimizers.SGD(0.0), loss="mse", run_eagerly=True
        )
    # Two train steps of 8 images, 4 on each replica.
    model.fit(x, x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    results["steps"][kind] = SEEN[kind]
    # add_noise traced in a tf.function, as in a compiled train_step.
    clean = tf.constant(x[:4])
    traced = tf.function(lambda: mirrored.run(model.add_noise, args=(clean,)))
    per_replica = mirrored.experimental_local_results(traced())
    results["add_noise"][kind] = [t.numpy().tolist() for t in per_replica]
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def mirrored_results():
    completed = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.splitlines()
    (line,) = [line for line in lines if line.startswith("RESULTS ")]
    return json.loads(line.removeprefix("RESULTS "))


def differing_fraction(a, b):
    return float(np.mean(np.asarray(a) != np.asarray(b)))


@pytest.mark.parametrize("noise", ["gaussian", "masking", "salt_and_pepper"])
def test_replicas_corrupt_their_batches_differently(mirrored_results, noise):
    # Identical clean images on both replicas. With shared noise every noisy
    # pixel would match; independent noise makes most of them differ (50% for
    # masking at 0.5, 62.5% for salt and pepper at 0.5, ~99% for gaussian).
    assert mirrored_results["replicas"] == 2
    first, second = (mirrored_results["steps"][noise][r] for r in ("0", "1"))
    assert len(first) == len(second) == 2  # two train steps on each replica
    for step in range(2):
        assert differing_fraction(first[step], second[step]) > 0.25
    for replica in (first, second):  # fresh noise in every step
        assert differing_fraction(replica[0], replica[1]) > 0.25
    if noise == "masking":  # half the pixels dropped, on each replica
        for step in range(2):
            for noisy in (first[step], second[step]):
                assert 0.35 < np.mean(np.asarray(noisy) == 0.0) < 0.65
    traced = mirrored_results["add_noise"][noise]
    assert differing_fraction(*traced) > 0.25


def test_denoising_training_on_digits(digits):
    x_train, x_test = digits
    keras.utils.set_random_seed(7)
    model = DenoisingAutoencoder(
        deep_encoder(code_size=32), decoder(32), noise_level=0.3, seed=7
    )
    model.compile(optimizer=keras.optimizers.Adam(0.005), loss="mse")
    model.fit(x_train, epochs=30, batch_size=64, verbose=0)

    denoising_mse = model.evaluate(x_test, batch_size=len(x_test), verbose=0)
    x_noisy = add_gaussian_noise(x_test, stddev=0.3, seed=70)
    noisy_input_mse = np.mean((x_noisy - x_test) ** 2)
    denoised_mse = np.mean((model.predict(x_noisy, verbose=0) - x_test) ** 2)
    clean_mse = np.mean((model.predict(x_test, verbose=0) - x_test) ** 2)

    assert denoised_mse < 0.75 * noisy_input_mse
    assert denoising_mse == pytest.approx(denoised_mse, rel=0.1)
    assert clean_mse < denoising_mse  # evaluate() corrupted its inputs
    model.noisy_evaluation = False
    clean_logs = model.evaluate(x_test, batch_size=len(x_test), verbose=0)
    assert clean_logs == pytest.approx(clean_mse, rel=1e-4)


# Saving.


def test_save_and_load_in_a_fresh_process(tmp_path):
    keras.utils.set_random_seed(8)
    x = batch(8).astype("float32")
    models = {
        "contractive": ContractiveAutoencoder(
            deep_encoder(),
            decoder(8),
            contractive_weight=0.2,
            reconstruction_loss="bce",
        ),
        "denoising": DenoisingAutoencoder(
            sigmoid_encoder(), decoder(), noise="masking", noise_level=0.25, seed=3
        ),
    }
    np.save(tmp_path / "x.npy", x)
    for name, model in models.items():
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, epochs=1, batch_size=16, verbose=0)
        model.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}.npy", model.predict(x, verbose=0))

    script = textwrap.dedent(
        f"""
        import json, pathlib, keras, numpy as np
        import keras_ae.models.contractive
        import keras_ae.models.denoising
        folder = pathlib.Path({str(tmp_path)!r})
        x = np.load(folder / "x.npy")
        configs = {{}}
        for name in ("contractive", "denoising"):
            model = keras.saving.load_model(folder / f"{{name}}.keras", safe_mode=True)
            np.testing.assert_array_equal(
                model.predict(x, verbose=0), np.load(folder / f"{{name}}.npy")
            )
            model.fit(x, epochs=1, batch_size=16, verbose=0)  # still trains
            config = model.get_config()
            configs[name] = {{k: v for k, v in config.items()
                             if k not in ("encoder", "decoder")}}
        print(json.dumps(configs))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    configs = json.loads(result.stdout.strip().splitlines()[-1])
    assert configs["contractive"]["contractive_weight"] == 0.2
    assert configs["contractive"]["reconstruction_loss"] == "bce"
    assert configs["denoising"]["noise"] == "masking"
    assert configs["denoising"]["noise_level"] == 0.25
    assert configs["denoising"]["seed"] == 3


# Argument checks.


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: ContractiveAutoencoder(
                sigmoid_encoder(), decoder(), contractive_weight=-1.0
            ),
            "Expected contractive_weight >= 0. Received: contractive_weight=-1.0",
        ),
        (
            lambda: ContractiveAutoencoder(sigmoid_encoder(), decoder(), jacobian="x"),
            "Expected jacobian to be one of",
        ),
        (
            lambda: ContractiveAutoencoder(
                sigmoid_encoder(), decoder(), reconstruction_loss="l1"
            ),
            "Expected reconstruction_loss to be one of ('mse', 'bce')",
        ),
        (
            lambda: ContractiveAutoencoder(
                deep_encoder(), decoder(8), jacobian="closed_form"
            ),
            "Expected an encoder made of an optional Flatten and one Dense",
        ),
        (
            lambda: DenoisingAutoencoder(sigmoid_encoder(), decoder(), noise="poisson"),
            "Expected noise to be one of ('gaussian', 'masking', 'salt_and_pepper'). "
            "Received: noise='poisson'",
        ),
        (
            lambda: DenoisingAutoencoder(
                sigmoid_encoder(), decoder(), noise_level=-0.1
            ),
            "Expected noise_level >= 0. Received: noise_level=-0.1",
        ),
        (
            lambda: DenoisingAutoencoder(
                sigmoid_encoder(), decoder(), noise="masking", noise_level=1.5
            ),
            "Expected 0 <= noise_level <= 1 for noise='masking'. "
            "Received: noise_level=1.5",
        ),
        (
            lambda: DenoisingAutoencoder(sigmoid_encoder(), decoder(), seed=0.5),
            "Expected seed to be an int or None. Received: seed=0.5",
        ),
    ],
)
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value)


def test_masking_needs_image_inputs():
    inputs = keras.Input((64,))
    encoder = keras.Model(inputs, keras.layers.Dense(16)(inputs))
    with pytest.raises(ValueError, match="Expected an encoder on images"):
        DenoisingAutoencoder(encoder, decoder(), noise="salt_and_pepper")
    # Gaussian noise is drawn per value, so any input shape works.
    DenoisingAutoencoder(encoder, decoder(), noise="gaussian")


def test_denoiser_on_symmetric_data_corrupts_within_its_value_range():
    from keras_ae.models.denoising import DenoisingAutoencoder

    inputs = keras.Input((4, 4, 1))
    encoder = keras.Model(inputs, keras.layers.Flatten()(inputs))
    codes = keras.Input((16,))
    decoder = keras.Model(codes, keras.layers.Reshape((4, 4, 1))(codes))
    x = np.random.default_rng(0).uniform(-1, 1, size=(64, 4, 4, 1)).astype("float32")
    model = DenoisingAutoencoder(
        encoder, decoder, noise="masking", noise_level=0.5, seed=1, value_range=(-1, 1)
    )
    noisy = np.asarray(model.add_noise(x))
    masked = noisy != x
    np.testing.assert_array_equal(noisy[masked], -1.0)  # the low end, not 0
    assert 0.4 < masked.mean() < 0.6
    gaussian = DenoisingAutoencoder(
        encoder, decoder, noise_level=5.0, seed=1, value_range=(-1, 1)
    )
    noisy = np.asarray(gaussian.add_noise(x))
    assert noisy.min() == -1.0 and noisy.max() == 1.0  # clipped to the data's range
    config = DenoisingAutoencoder.from_config(model.get_config())
    assert config.value_range == (-1.0, 1.0)
