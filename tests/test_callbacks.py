import keras
import numpy as np
import pytest

from keras_ae.callbacks import EpochLogger


def test_epoch_logger_prints_every_nth_and_last_epoch(capsys):
    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, x, epochs=7, verbose=0, callbacks=[EpochLogger(every=3)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["3/7", "6/7", "7/7"]
    # The printed loss is the logged loss of that epoch.
    assert f"loss {history.history['loss'][5]:.4g}" in lines[1]


@pytest.mark.parametrize("every", [0, -1, 2.5])
def test_epoch_logger_rejects_bad_every(every):
    with pytest.raises(ValueError, match="Expected every to be an int >= 1"):
        EpochLogger(every=every)
