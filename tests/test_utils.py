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
