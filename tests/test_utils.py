"""Seeding and run profiles."""

import keras
import numpy as np
import pytest

from keras_ae import utils


def first_epoch_loss(seed):
    utils.set_seed(seed)
    x = np.random.rand(64, 8).astype("float32")
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(8)]
    )
    model.compile(optimizer="adam", loss="mse")
    return model.fit(x, x, epochs=1, batch_size=16, verbose=0).history["loss"][0]


def test_same_seed_same_first_epoch_loss():
    assert first_epoch_loss(3) == first_epoch_loss(3)
    assert first_epoch_loss(3) != first_epoch_loss(4)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="Expected seed to be an integer >= 0"):
        utils.set_seed(seed)


def test_profile_and_pick(monkeypatch):
    monkeypatch.delenv(utils.PROFILE_ENV, raising=False)
    assert utils.profile() == "full" and utils.pick(300, fast=3) == 300
    monkeypatch.setenv(utils.PROFILE_ENV, "fast")
    assert utils.profile() == "fast" and utils.pick(300, fast=3) == 3
    monkeypatch.setenv(utils.PROFILE_ENV, "turbo")
    with pytest.raises(
        ValueError, match="one of \\('full', 'fast'\\). Received: 'turbo'"
    ):
        utils.profile()


def test_load_model_finds_every_custom_class_in_a_fresh_process(tmp_path):
    import subprocess
    import sys

    save = (
        "import keras, numpy as np\n"
        "from keras_ae.models.regularizers import KLSparsity\n"
        "from keras_ae.models.layers import TiedDense\n"
        "x = keras.Input((4,))\n"
        "h = TiedDense(3, activation='sigmoid',\n"
        "              activity_regularizer=KLSparsity(0.1))(x)\n"
        "m = keras.Model(x, h)\n"
        f"m.save(r'{tmp_path / 'm.keras'}')\n"
        f"np.save(r'{tmp_path / 'y.npy'}', m.predict(np.ones((2, 4)), verbose=0))\n"
    )
    load = (
        "import keras_ae, numpy as np\n"
        f"m = keras_ae.load_model(r'{tmp_path / 'm.keras'}')\n"
        f"y = np.load(r'{tmp_path / 'y.npy'}')\n"
        "np.testing.assert_array_equal(m.predict(np.ones((2, 4)), verbose=0), y)\n"
        "print(type(m.layers[1].activity_regularizer).__name__)\n"
    )
    subprocess.run([sys.executable, "-c", save], check=True, capture_output=True)
    result = subprocess.run(
        [sys.executable, "-c", load], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("KLSparsity")


def test_predict_batches_matches_numpy_for_any_batch_size():
    import keras

    from keras_ae.utils import predict_batches

    rng = np.random.default_rng(0)
    x = rng.normal(size=(11, 3)).astype("float32")
    layer = keras.layers.Dense(2)
    model = keras.Sequential([keras.Input((3,)), layer])
    kernel, bias = (np.asarray(w) for w in layer.get_weights())
    for batch_size in (1, 4, 11, 50):
        np.testing.assert_allclose(
            predict_batches(model, x, batch_size), x @ kernel + bias, rtol=1e-5
        )
    # A function of a batch, and a model with two inputs.
    np.testing.assert_array_equal(predict_batches(lambda b: b * 2, x, 3), x * 2)
    a, b = keras.Input((3,)), keras.Input((3,))
    two_inputs = keras.Model([a, b], keras.layers.Subtract()([a, b]))
    np.testing.assert_allclose(predict_batches(two_inputs, [x, 2 * x], 5), -x)


def test_predict_batches_keeps_the_first_output_only_when_asked():
    import keras

    from keras_ae.utils import predict_batches

    x = np.arange(6.0, dtype="float32").reshape(3, 2)
    inputs = keras.Input((2,))
    two_outputs = keras.Model(inputs, [inputs * 1.0, inputs * 3.0])
    np.testing.assert_array_equal(
        predict_batches(two_outputs, x, 2, first_output=True), x
    )
    with pytest.raises(ValueError, match="single output"):
        predict_batches(two_outputs, x, 2)
    with pytest.raises(ValueError, match="batch_size"):
        predict_batches(two_outputs, x, 0)
    with pytest.raises(ValueError, match="Keras model or a function"):
        predict_batches("model", x)
