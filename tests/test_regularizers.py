import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_ae.models.regularizers import KLSparsity, L1Sparsity, activation_report


def numpy_kl_penalty(codes, rho, beta):
    rho_hat = np.clip(codes.reshape(len(codes), -1).mean(axis=0), 1e-6, 1 - 1e-6)
    kl = rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
    return beta * kl.sum()


@pytest.fixture
def codes():
    rng = np.random.default_rng(0)
    return rng.uniform(0.0, 1.0, size=(16, 5)).astype("float32")


def test_kl_penalty_matches_numpy(codes):
    regularizer = KLSparsity(rho=0.1, beta=3.0)
    value = float(regularizer.penalty(codes))
    np.testing.assert_allclose(value, numpy_kl_penalty(codes, 0.1, 3.0), rtol=1e-5)
    assert value > 0.5  # these codes are far from sparse


def test_kl_penalty_sums_over_feature_map_positions():
    codes = np.random.default_rng(1).uniform(size=(8, 3, 3, 2)).astype("float32")
    value = float(KLSparsity(rho=0.2).penalty(codes))
    np.testing.assert_allclose(value, numpy_kl_penalty(codes, 0.2, 1.0), rtol=1e-5)


def test_kl_penalty_is_zero_at_target_and_finite_at_saturation():
    at_target = np.full((10, 4), 0.05, dtype="float32")
    assert abs(float(KLSparsity(rho=0.05).penalty(at_target))) < 1e-6
    saturated = np.ones((10, 4), dtype="float32")
    value = float(KLSparsity(rho=0.05).penalty(saturated))
    np.testing.assert_allclose(value, numpy_kl_penalty(saturated, 0.05, 1.0), rtol=1e-4)
    assert np.isfinite(value)


@pytest.mark.parametrize("batch_size", [4, 32])
def test_loss_recorded_by_keras_is_the_penalty(batch_size):
    # Keras rescales an activity regularizer's value by the batch size (3.14+);
    # the loss a layer records must be the documented penalty on every version.
    rng = np.random.default_rng(2)
    x = rng.normal(size=(batch_size, 6)).astype("float32")
    kl = KLSparsity(rho=0.1, beta=2.0)
    layer = keras.layers.Dense(
        4, activation="sigmoid", activity_regularizer=kl, kernel_initializer="ones"
    )
    codes = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(
        float(layer.losses[0]), numpy_kl_penalty(codes, 0.1, 2.0), rtol=1e-5
    )
    l1 = L1Sparsity(weight=0.01)
    relu = keras.layers.Dense(4, activation="relu", activity_regularizer=l1)
    codes = keras.ops.convert_to_numpy(relu(x))
    expected = 0.01 * np.abs(codes).sum(axis=1).mean()
    np.testing.assert_allclose(float(relu.losses[0]), expected, rtol=1e-5)


def test_l1_penalty_matches_numpy(codes):
    expected = 0.5 * np.abs(codes - 0.5).sum() / len(codes)
    value = float(L1Sparsity(0.5).penalty(codes - 0.5))
    np.testing.assert_allclose(value, expected, rtol=1e-5)


def test_kl_sparsity_lowers_mean_activation_in_training():
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(256, 16)).astype("float32")

    def train(regularizer):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((16,))
        code = keras.layers.Dense(
            8, activation="sigmoid", activity_regularizer=regularizer
        )(inputs)
        outputs = keras.layers.Dense(16)(code)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        model.fit(x, x, epochs=15, batch_size=64, verbose=0)
        encoder = keras.Model(inputs, code)
        return activation_report(encoder, x)["mean_activation"]

    assert train(KLSparsity(rho=0.05, beta=1.0)) < 0.5 * train(None)


@pytest.mark.parametrize("regularizer", [KLSparsity(0.2, 0.5), L1Sparsity(0.3)])
def test_serialization_round_trip(regularizer, codes):
    config = keras.saving.serialize_keras_object(regularizer)
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(regularizer)
    assert restored.get_config() == regularizer.get_config()
    np.testing.assert_allclose(
        float(restored.penalty(codes)), float(regularizer.penalty(codes))
    )


def test_regularizer_saved_inside_model(tmp_path, codes):
    inputs = keras.Input((5,))
    outputs = keras.layers.Dense(
        3, activation="sigmoid", activity_regularizer=KLSparsity(0.3, 2.0)
    )(inputs)
    path = tmp_path / "model.keras"
    keras.Model(inputs, outputs).save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    regularizer = restored.layers[-1].activity_regularizer
    assert isinstance(regularizer, KLSparsity)
    assert (regularizer.rho, regularizer.beta) == (0.3, 2.0)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: KLSparsity(rho=0.0), "Expected 0 < rho < 1. Received: rho=0.0"),
        (lambda: KLSparsity(rho=1.5), "Expected 0 < rho < 1. Received: rho=1.5"),
        (lambda: KLSparsity(beta=-1.0), "Expected beta >= 0. Received: beta=-1.0"),
        (lambda: L1Sparsity(-0.1), "Expected weight >= 0. Received: weight=-0.1"),
        (lambda: L1Sparsity(True), "Expected weight >= 0. Received: weight=True"),
        (lambda: KLSparsity(beta=np.nan), "Expected beta >= 0. Received: beta=nan"),
    ],
)
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        make()


def test_activation_report_matches_numpy():
    # A Dense layer with fixed weights: the codes are exactly relu(x @ kernel + b).
    kernel = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -0.5]], dtype="float32")
    bias = np.array([0.0, -0.2, 0.1], dtype="float32")
    inputs = keras.Input((2,))
    dense = keras.layers.Dense(3, activation="relu")
    encoder = keras.Model(inputs, dense(inputs))
    dense.set_weights([kernel, bias])
    x = np.random.default_rng(4).uniform(-1, 1, size=(50, 2)).astype("float32")
    codes = np.maximum(x @ kernel + bias, 0.0)

    report = activation_report(encoder, x, threshold=0.25, batch_size=16)

    active = codes > 0.25
    np.testing.assert_allclose(report["mean_activation"], codes.mean(), rtol=1e-5)
    np.testing.assert_allclose(report["fraction_active"], active.mean())
    np.testing.assert_allclose(
        report["active_units_per_sample"], active.sum(axis=1).mean()
    )
    np.testing.assert_allclose(report["per_unit_mean"], codes.mean(axis=0), rtol=1e-5)
    assert 0.0 < report["fraction_active"] < 1.0  # the threshold splits the codes


# Under MirroredStrategy each replica computes rho_hat on its share of the
# batch. Run in a fresh interpreter: the two logical CPUs must be configured
# before TensorFlow initialises its devices.
TWO_REPLICA_SCRIPT = r"""
import json

import tensorflow as tf

(cpu,) = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(2)]
)

import keras
import numpy as np

from keras_ae.models.regularizers import KLSparsity

codes = np.array(json.loads(CODES), dtype="float32")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    inputs = keras.Input((codes.shape[1],))
    outputs = keras.layers.Identity(activity_regularizer=KLSparsity(0.1, 2.0))(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(loss="mse")  # the reconstruction of an identity is exact: 0

halves = np.split(codes, 2)
shares = strategy.experimental_distribute_values_from_function(
    lambda context: tf.constant(halves[context.replica_id_in_sync_group])
)

def penalty(x):
    model(x, training=True)
    return tf.add_n(model.losses)

per_replica = strategy.experimental_local_results(strategy.run(penalty, (shares,)))
# evaluate() splits each global batch of 8 rows in two, in order.
loss = model.evaluate(codes, codes, batch_size=len(codes), verbose=0)
print("RESULTS " + json.dumps({
    "replicas": strategy.num_replicas_in_sync,
    "per_replica": [float(v) for v in per_replica],
    "evaluate_loss": float(loss),
}))
"""


def test_kl_rho_hat_is_per_replica_under_mirrored_strategy():
    # The first half of the batch fires rarely, the second often: the penalty
    # of each half differs from that of the whole batch.
    codes = np.concatenate(
        [np.full((4, 3), 0.02, "float32"), np.full((4, 3), 0.4, "float32")]
    )
    codes[:, 1] = [0.1, 0.2, 0.05, 0.15, 0.6, 0.5, 0.7, 0.9]
    script = TWO_REPLICA_SCRIPT.replace("CODES", repr(json.dumps(codes.tolist())))
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (line,) = [x for x in completed.stdout.splitlines() if x.startswith("RESULTS ")]
    results = json.loads(line.removeprefix("RESULTS "))

    per_half = [numpy_kl_penalty(half, 0.1, 2.0) for half in np.split(codes, 2)]
    whole = numpy_kl_penalty(codes, 0.1, 2.0)
    assert results["replicas"] == 2
    np.testing.assert_allclose(results["per_replica"], per_half, rtol=1e-5)
    # The loss Keras reports (and the gradient it takes) is the mean over the
    # replicas, which is larger than the whole batch's penalty (KL is convex).
    assert results["evaluate_loss"] == pytest.approx(np.mean(per_half), rel=1e-5)
    assert np.mean(per_half) > 1.5 * whole
