import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from keras_ae.evaluate import analysis
from keras_ae.evaluate.analysis import (
    code_sensitivity,
    linear_probe_accuracy,
    time_callable,
    time_callables,
)


def linear_encoder(kernel, input_shape=None):
    """A model computing `flatten(x) @ kernel`, with exactly that kernel."""
    input_dim, units = kernel.shape
    inputs = keras.Input(shape=input_shape or (input_dim,))
    flat = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(units, use_bias=False)
    outputs = dense(flat)
    dense.set_weights([kernel.astype("float32")])
    return keras.Model(inputs, outputs)


def test_code_sensitivity_of_scaled_orthogonal_map_is_the_scale():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    encoder = linear_encoder(2.5 * q, input_shape=(4, 4, 1))
    x = rng.uniform(size=(20, 4, 4, 1)).astype("float32")
    for stddev in (0.01, 0.3):
        ratios = code_sensitivity(encoder, x, stddev, num_draws=3, per_sample=True)
        assert ratios.shape == (20,)
        np.testing.assert_allclose(ratios, 2.5, rtol=1e-4)


def test_code_sensitivity_of_linear_map_matches_numpy_and_singular_values():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(12, 5))
    encoder = linear_encoder(kernel)
    x = rng.uniform(size=(30, 12)).astype("float32")
    value = code_sensitivity(encoder, x, 0.1, num_draws=4, seed=7)
    # The documented noise: default_rng(seed).normal(size=(num_draws, *x.shape)).
    eps = np.random.default_rng(7).normal(size=(4, 30, 12)) * 0.1
    expected = np.mean(
        np.linalg.norm(eps @ kernel, axis=-1) / np.linalg.norm(eps, axis=-1)
    )
    np.testing.assert_allclose(value, expected, rtol=1e-4)
    singular_values = np.linalg.svd(kernel, compute_uv=False)
    # 12 inputs, 5 outputs: the smallest gain is 0 (the kernel's null space).
    assert 0.0 < value < singular_values[0]
    # E ||eps W||^2 / ||eps||^2 = ||W||_F^2 / input_dim; the mean ratio is below
    # its square root (Jensen).
    assert value < np.sqrt(np.sum(kernel**2) / 12)


def test_code_sensitivity_for_small_noise_follows_the_jacobian():
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(10,))
    hidden = keras.layers.Dense(8, activation="tanh")(inputs)
    encoder = keras.Model(inputs, keras.layers.Dense(6, activation="sigmoid")(hidden))
    x = np.random.default_rng(2).uniform(size=(16, 10)).astype("float32")
    stddev = 1e-3
    value = code_sensitivity(encoder, x, stddev, num_draws=5, seed=3)
    x_tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tensor)
        codes = encoder(x_tensor)
    jacobian = tape.batch_jacobian(codes, x_tensor).numpy()  # (16, 6, 10)
    eps = np.random.default_rng(3).normal(size=(5, 16, 10)) * stddev
    moved = np.einsum("nji,dni->dnj", jacobian, eps)
    expected = np.mean(np.linalg.norm(moved, axis=-1) / np.linalg.norm(eps, axis=-1))
    np.testing.assert_allclose(value, expected, rtol=2e-2)


def test_code_sensitivity_along_given_directions():
    rng = np.random.default_rng(5)
    kernel = rng.normal(size=(6, 4))
    encoder = linear_encoder(kernel)
    x = rng.uniform(size=(6, 6)).astype("float32")
    # Input n moved along basis vector n (any length): the gain is ||kernel[n]||.
    directions = 3.0 * np.eye(6)
    ratios = code_sensitivity(encoder, x, 0.05, directions=directions, per_sample=True)
    np.testing.assert_allclose(ratios, np.linalg.norm(kernel, axis=1), rtol=1e-4)
    with pytest.raises(ValueError, match="directions shaped like x"):
        code_sensitivity(encoder, x, 0.05, directions=directions[:3])
    with pytest.raises(ValueError, match="nonzero direction"):
        code_sensitivity(encoder, x, 0.05, directions=np.zeros_like(x))


def test_code_sensitivity_rejects_bad_arguments():
    encoder = linear_encoder(np.eye(3))
    x = np.zeros((4, 3), dtype="float32")
    with pytest.raises(ValueError, match="noise_stddev > 0"):
        code_sensitivity(encoder, x, 0.0)
    with pytest.raises(ValueError, match="num_draws to be an int >= 1"):
        code_sensitivity(encoder, x, 0.1, num_draws=0)
    with pytest.raises(ValueError, match="non-empty batch"):
        code_sensitivity(encoder, x[:0], 0.1)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(4)
    centers = rng.normal(size=(3, 6))
    y = np.repeat(np.arange(3), 40)
    features = centers[y] + rng.normal(size=(120, 6)) * 1.5
    order = rng.permutation(120)
    features, y = features[order], y[order]
    return (features[:90], y[:90]), (features[90:], y[90:])


def test_linear_probe_matches_a_direct_sklearn_call(blobs):
    (train, y_train), (test, y_test) = blobs
    value = linear_probe_accuracy(train, y_train, test, y_test, C=0.5)
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=0.5))
    reference.fit(train, y_train)
    assert value == pytest.approx(reference.score(test, y_test))
    assert 0.5 < value < 1.0  # overlapping blobs: better than chance, not perfect
    raw = linear_probe_accuracy(train, y_train, test, y_test, standardize=False)
    direct = LogisticRegression(max_iter=2000).fit(train, y_train)
    assert raw == pytest.approx(direct.score(test, y_test))


def test_linear_probe_flattens_image_features(blobs):
    (train, y_train), (test, y_test) = blobs
    flat = linear_probe_accuracy(train, y_train, test, y_test)
    images = linear_probe_accuracy(
        train.reshape(-1, 2, 3, 1), y_train, test.reshape(-1, 2, 3, 1), y_test
    )
    assert images == flat


def test_linear_probe_with_few_labels(blobs):
    (train, y_train), (test, y_test) = blobs
    counts = np.bincount(y_train)
    # Balanced data with every sample drawn: the same fit as on all the data.
    balanced = np.concatenate(
        [np.flatnonzero(y_train == c)[: counts.min()] for c in range(3)]
    )
    all_of_them = linear_probe_accuracy(
        train[balanced], y_train[balanced], test, y_test
    )
    drawn = linear_probe_accuracy(
        train[balanced],
        y_train[balanced],
        test,
        y_test,
        labels_per_class=int(counts.min()),
        num_draws=2,
    )
    assert drawn == pytest.approx(all_of_them)
    # Draws of 2 labels per class differ from each other; the mean is one of
    # the values a 1/30 grid of accuracies can average to over 5 draws.
    scarce = linear_probe_accuracy(
        train, y_train, test, y_test, labels_per_class=2, num_draws=5, seed=1
    )
    assert 0.0 < scarce < 1.0
    assert scarce * 30 * 5 == pytest.approx(round(scarce * 30 * 5))
    with pytest.raises(ValueError, match="labels_per_class <="):
        linear_probe_accuracy(train, y_train, test, y_test, labels_per_class=1000)
    with pytest.raises(ValueError, match="as many labels"):
        linear_probe_accuracy(train, y_train[:-1], test, y_test)


def test_time_callable_counts_calls_and_measures_seconds_per_call():
    calls = []

    def sleepy():
        calls.append(None)
        time.sleep(0.005)

    timing = time_callable(sleepy, repeats=3, number=4, warmup=2)
    assert len(calls) == 2 + 3 * 4
    assert len(timing["times"]) == 3
    assert 0.005 <= timing["best"] <= timing["median"]
    assert timing["best"] < 0.05  # per call, not per round of 4 calls
    assert timing["best"] == min(timing["times"])


def test_time_callable_waits_for_returned_tensors():
    fetched = []

    class Pending:
        def numpy(self):
            fetched.append(None)
            return 0

    time_callable(lambda: [Pending(), Pending()], repeats=2, warmup=1)
    assert len(fetched) == 2 * (1 + 2)
    with pytest.raises(ValueError, match="repeats to be an int >= 1"):
        time_callable(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="Expected a callable"):
        time_callable(3)


def test_time_callables_take_turns_and_rank_correctly():
    order = []

    def make(name, seconds):
        def function():
            order.append(name)
            time.sleep(seconds)

        return function

    timings = time_callables(
        {"fast": make("fast", 0.002), "slow": make("slow", 0.02)},
        repeats=3,
        warmup=1,
    )
    # Warm-up of each, then the rounds alternate between the two.
    assert order == ["fast", "slow"] + ["fast", "slow"] * 3
    assert 0.002 <= timings["fast"]["best"] < timings["slow"]["best"]
    assert timings["slow"]["best"] >= 0.02
    assert len(timings["fast"]["times"]) == 3
    with pytest.raises(ValueError, match="non-empty dict"):
        time_callables({})
    with pytest.raises(ValueError, match="Expected a callable"):
        time_callables({"a": 1})


def test_spread_is_the_root_of_the_summed_variances():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(200, 3, 2)) * np.array([1.0, 2.0])
    flat = values.reshape(200, -1)
    expected = np.sqrt(np.trace(np.cov(flat, rowvar=False, bias=True)))
    assert analysis.spread(values) == pytest.approx(expected, rel=1e-12)


def test_relative_sensitivity_ignores_the_codes_scale():
    import keras

    rng = np.random.default_rng(1)
    x = rng.uniform(size=(64, 6)).astype("float32")
    kernel = rng.normal(size=(6, 3)).astype("float32")

    def linear_encoder(scale):
        inputs = keras.Input((6,))
        layer = keras.layers.Dense(3, use_bias=False)
        model = keras.Model(inputs, layer(inputs))
        layer.set_weights([scale * kernel])
        return model

    small, small_spread = analysis.relative_sensitivity(linear_encoder(0.01), x, seed=2)
    large, large_spread = analysis.relative_sensitivity(linear_encoder(10.0), x, seed=2)
    assert large_spread == pytest.approx(1000 * small_spread, rel=1e-4)
    assert small == pytest.approx(large, rel=1e-4)
    raw = analysis.code_sensitivity(linear_encoder(10.0), x, 0.05, seed=2)
    codes = x @ (10.0 * kernel)
    assert large == pytest.approx(
        raw * analysis.spread(x) / analysis.spread(codes), rel=1e-4
    )
