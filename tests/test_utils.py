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
