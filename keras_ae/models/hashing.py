"""A binary-code autoencoder for semantic hashing (Salakhutdinov & Hinton, 2009).

The code layer is a sigmoid, and during training Gaussian noise is added to its
inputs (its logits). A code value near 0.5 would then flip at random from one
step to the next and the decoder could not rely on it, so training pushes the
logits far from zero, where the noise hardly moves the sigmoid: the codes
saturate at 0 or 1. At inference the noise is off (`keras.layers.GaussianNoise`
is only active in training) and `binary_codes` thresholds them at 0.5 into bits.
Hands-On ML (3rd ed., chapter 17) builds the same model with Keras layers.
"""

import keras
import numpy as np

from keras_ae._validation import (
    check_batch,
    check_positive_int,
    check_positive_number,
    check_shape,
    check_units,
)
from keras_ae.utils import predict_batches

__all__ = ["build_hashing_autoencoder", "binary_codes"]


def build_hashing_autoencoder(
    input_shape=(28, 28, 1),
    num_bits=32,
    hidden_units=(256, 128),
    noise_stddev=4.0,
    activation="relu",
    name="hashing_autoencoder",
):
    """Builds a dense autoencoder whose code is `num_bits` noisy sigmoid units.

    Args:
        input_shape: Shape of one input without the batch axis, e.g. `(28, 28, 1)`.
        num_bits: Size of the code, the number of bits of each hash.
        hidden_units: Widths of the encoder's hidden layers; the decoder mirrors
            them.
        noise_stddev: Standard deviation of the Gaussian noise added to the
            code's logits in training, > 0.
        activation: Activation of the hidden layers.
        name: Name of the returned model.

    Returns:
        An uncompiled Functional `keras.Model` from images to reconstructions
        (sigmoid outputs), with layers named `"encoder"` (images to codes in
        (0, 1)) and `"decoder"`.

    Example:
        >>> model = build_hashing_autoencoder((4, 4, 1), num_bits=8, hidden_units=(16,))
        >>> model.get_layer("encoder").output.shape
        (None, 8)
    """
    input_shape = check_shape("input_shape", input_shape)
    num_bits = check_positive_int("num_bits", num_bits)
    hidden_units = check_units("hidden_units", hidden_units, "(256, 128)")
    noise_stddev = check_positive_number("noise_stddev", noise_stddev)
    num_values = int(np.prod(input_shape))

    images = keras.Input(input_shape, name="images")
    h = keras.layers.Flatten()(images)
    for units in hidden_units:
        h = keras.layers.Dense(units, activation=activation)(h)
    logits = keras.layers.Dense(num_bits, name="code_logits")(h)
    # Keras's GaussianNoise takes stddev <= 1: add noise of stddev 1 to
    # logits / noise_stddev and scale back, which is noise of noise_stddev.
    h = keras.layers.Rescaling(1.0 / noise_stddev)(logits)
    h = keras.layers.GaussianNoise(1.0, name="code_noise")(h)
    h = keras.layers.Rescaling(noise_stddev)(h)
    codes = keras.layers.Activation("sigmoid", name="codes")(h)
    encoder = keras.Model(images, codes, name="encoder")

    code_input = keras.Input((num_bits,), name="codes")
    h = code_input
    for units in hidden_units[::-1]:
        h = keras.layers.Dense(units, activation=activation)(h)
    h = keras.layers.Dense(num_values, activation="sigmoid")(h)
    decoder = keras.Model(
        code_input, keras.layers.Reshape(input_shape)(h), name="decoder"
    )
    return keras.Model(images, decoder(encoder(images)), name=name)


def binary_codes(encoder, x, threshold=0.5, batch_size=1024):
    """The bits of `x`: the encoder's codes (no noise) thresholded at `threshold`.

    Args:
        encoder: The `"encoder"` of `build_hashing_autoencoder`, or any model or
            function from images to codes in [0, 1].
        x: Images `(N, ...)`.
        threshold: A code value above it is a 1 bit.
        batch_size: Images per forward pass.

    Returns:
        A NumPy `uint8` array `(N, num_bits)` of 0s and 1s.

    Example:
        >>> binary_codes(lambda x: x, np.array([[0.1, 0.7], [0.9, 0.5]]))
        array([[0, 1],
               [1, 0]], dtype=uint8)
    """
    x = check_batch("x", x)
    codes = np.asarray(predict_batches(encoder, x, batch_size=batch_size))
    return (codes > threshold).astype("uint8")
