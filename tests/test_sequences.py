"""Tests of keras_ae.models.sequences against slicing, NumPy and saved-model reloads."""

import keras
import numpy as np
import pytest

from keras_ae.evaluate import series_eval
from keras_ae.models import sequences


def test_sliding_windows_match_slicing():
    series = np.arange(50, dtype="float32").reshape(25, 2)
    windows = sequences.sliding_windows(series, window_size=6, stride=4)
    starts = range(0, 25 - 6 + 1, 4)
    expected = np.stack([series[s : s + 6] for s in starts])
    np.testing.assert_array_equal(windows, expected)
    assert windows.dtype == np.float32 and windows.flags["C_CONTIGUOUS"]
    one_channel = sequences.sliding_windows(np.arange(7), 3)
    assert one_channel.shape == (5, 3, 1)
    centered = sequences.sliding_windows(series, 6, stride=4, center=True)
    np.testing.assert_allclose(
        centered, expected - expected.mean(axis=1, keepdims=True)
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"window_size": 0}, "Expected window_size > 0"),
        ({"window_size": 30}, "window_size <= the series length 25"),
        ({"window_size": 5, "stride": 0}, "Expected stride > 0"),
        ({"window_size": 2.5}, "window_size to be a positive integer"),
    ],
)
def test_sliding_windows_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sequences.sliding_windows(np.zeros(25), **kwargs)


def test_sliding_windows_reject_a_3d_series():
    with pytest.raises(ValueError, match=r"shape \(time_steps,\)"):
        sequences.sliding_windows(np.zeros((4, 5, 6)), 2)


def test_overlap_average_matches_a_loop():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(6, 5))
    length, stride = 17, 2
    expected = np.full(length, np.nan)
    for t in range(length):
        covering = [
            values[w, t - w * stride]
            for w in range(len(values))
            if 0 <= t - w * stride < values.shape[1]
        ]
        if covering:
            expected[t] = np.mean(covering)
    np.testing.assert_allclose(
        sequences.overlap_average(values, length, stride), expected
    )
    with pytest.raises(ValueError, match="to fit in length=10"):
        sequences.overlap_average(values, 10, stride)


def test_reconstruction_scores_of_an_identity_and_a_zero_model():
    series = np.sin(np.linspace(0, 20, 120)).astype("float32")
    inputs = keras.Input((10, 1))
    identity = keras.Model(inputs, keras.layers.Identity()(inputs))
    np.testing.assert_allclose(
        series_eval.reconstruction_scores(identity, series, 10), 0.0, atol=1e-12
    )
    zeros = keras.Model(inputs, keras.layers.Rescaling(0.0)(inputs))
    # A model that outputs 0 everywhere: every window gives step t the error
    # series[t]^2, so the average is that too.
    scores = series_eval.reconstruction_scores(zeros, series, 10, stride=3)
    covered = ~np.isnan(scores)
    np.testing.assert_allclose(scores[covered], series[covered] ** 2, rtol=1e-6)
    assert covered.sum() == (120 - 10) // 3 * 3 + 10
    # per="window": each window's mean of series^2, averaged over covering windows.
    per_window = series_eval.reconstruction_scores(zeros, series, 10, per="window")
    window_means = np.lib.stride_tricks.sliding_window_view(series**2, 10).mean(-1)
    assert per_window[0] == pytest.approx(window_means[0], rel=1e-6)
    assert per_window[50] == pytest.approx(window_means[41:51].mean(), rel=1e-6)
    # per="last": window w's mean goes to its last step only, so no score at t
    # uses a value after t.
    causal = series_eval.reconstruction_scores(zeros, series, 10, stride=2, per="last")
    assert np.isnan(causal[:9]).all() and np.isnan(causal[10])
    assert causal[9] == pytest.approx(window_means[0], rel=1e-6)
    assert causal[13] == pytest.approx(window_means[4], rel=1e-6)
    changed = series.copy()
    changed[60:] = 5.0  # the future changes; the past scores do not
    after = series_eval.reconstruction_scores(zeros, changed, 10, stride=2, per="last")
    np.testing.assert_array_equal(after[:60], causal[:60])
    with pytest.raises(ValueError, match="per to be 'step', 'window' or 'last'"):
        series_eval.reconstruction_scores(zeros, series, 10, per="max")


@pytest.mark.parametrize("window_size", [90, 64, 7])
def test_conv1d_autoencoder_any_length(window_size, tmp_path):
    model = sequences.build_conv1d_autoencoder(window_size, num_channels=2)
    assert model.output_shape == (None, window_size, 2)
    assert model.get_layer("encoder").output_shape[1] == -(-window_size // 4)
    x = np.random.default_rng(0).normal(size=(3, window_size, 2)).astype("float32")
    path = tmp_path / "conv.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_autoencoder_shapes_and_reload(cell, tmp_path):
    model = sequences.build_recurrent_autoencoder(24, num_channels=3, cell=cell)
    assert model.output_shape == (None, 24, 3)
    assert model.get_layer("encoder").output_shape == (None, 16)
    x = np.random.default_rng(1).normal(size=(2, 24, 3)).astype("float32")
    model.save(tmp_path / "rnn.keras")
    reloaded = keras.saving.load_model(tmp_path / "rnn.keras", safe_mode=True)
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5
    )
    with pytest.raises(ValueError, match=r"cell to be one of \('lstm', 'gru'\)"):
        sequences.build_recurrent_autoencoder(24, cell="rnn")


def test_conv1d_autoencoder_learns_a_sine():
    keras.utils.set_random_seed(0)
    t = np.linspace(0, 60, 2000)
    series = np.sin(t).astype("float32")
    windows = sequences.sliding_windows(series, 32, stride=4)
    model = sequences.build_conv1d_autoencoder(32, filters=(16, 8))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    before = model.evaluate(windows, windows, verbose=0)
    model.fit(windows, windows, epochs=15, batch_size=32, verbose=0)
    after = model.evaluate(windows, windows, verbose=0)
    assert after < 0.1 * before


def test_sequence_vae_parts_fit_the_course_vae(tmp_path):
    from keras_ae.models.vae import VAE

    encoder = sequences.build_sequence_vae_encoder(24, latent_dim=3)
    decoder = sequences.build_sequence_vae_decoder(24, latent_dim=3)
    assert [o.shape for o in encoder.outputs] == [(None, 3), (None, 3)]
    assert decoder.output_shape == (None, 24, 1)
    vae = VAE(encoder, decoder, reconstruction="gaussian", sigma=0.5)
    vae.compile(optimizer="adam")
    x = np.random.default_rng(2).normal(size=(64, 24, 1)).astype("float32")
    history = vae.fit(x, epochs=2, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert vae.sample(5, seed=0).shape == (5, 24, 1)


def test_reconstruct_series_averages_overlapping_outputs():
    inputs = keras.Input((6, 2))
    doubled = keras.Model(inputs, keras.layers.Rescaling(2.0)(inputs))
    series = np.random.default_rng(3).normal(size=(30, 2)).astype("float32")
    np.testing.assert_allclose(
        series_eval.reconstruct_series(doubled, series, 6), 2 * series, rtol=1e-6
    )
