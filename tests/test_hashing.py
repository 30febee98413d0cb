import keras
import numpy as np
import pytest

from keras_ae.models.hashing import binary_codes, build_hashing_autoencoder


def test_code_noise_has_the_requested_stddev_in_training_only():
    model = build_hashing_autoencoder(
        (6,), num_bits=4, hidden_units=(8,), noise_stddev=3.0
    )
    encoder = model.get_layer("encoder")
    x = np.random.default_rng(0).random((2000, 6)).astype("float32")
    logits_model = keras.Model(encoder.input, encoder.get_layer("code_logits").output)
    logits = np.asarray(logits_model(x))
    clean = np.asarray(encoder(x, training=False))
    np.testing.assert_allclose(clean, 1 / (1 + np.exp(-logits)), rtol=1e-5, atol=1e-6)
    noisy = np.asarray(encoder(x, training=True))
    noise = np.log(noisy / (1 - noisy)) - logits  # invert the sigmoid
    ok = (noisy > 1e-5) & (noisy < 1 - 1e-5)
    assert np.std(noise[ok]) == pytest.approx(3.0, rel=0.05)


def test_binary_codes_threshold_the_clean_codes():
    model = build_hashing_autoencoder((4, 4, 1), num_bits=8, hidden_units=(16,))
    encoder = model.get_layer("encoder")
    x = np.random.default_rng(1).random((5, 4, 4, 1)).astype("float32")
    bits = binary_codes(encoder, x, batch_size=2)
    reference = (np.asarray(encoder(x, training=False)) > 0.5).astype("uint8")
    np.testing.assert_array_equal(bits, reference)
    assert model(x).shape == x.shape


def test_build_rejects_bad_arguments():
    with pytest.raises(ValueError, match="noise_stddev"):
        build_hashing_autoencoder(noise_stddev=0)
    with pytest.raises(ValueError, match="num_bits"):
        build_hashing_autoencoder(num_bits=0)
