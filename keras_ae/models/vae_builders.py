"""Encoders and decoders for the VAEs of `keras_ae.models.vae`, dense or convolutional.

Both builders return an uncompiled Functional `keras.Model`. The encoder maps an
image to two outputs, `[z_mean, z_log_var]`, the mean and log-variance of the
diagonal Gaussian `q(z | x)`; the decoder maps a code `z` back to the
parameters of `p(x | z)` (pixel probabilities, or means). With `num_classes`
set, both take a second input, the one-hot labels, for a `ConditionalVAE`.

Example:
    >>> encoder = build_vae_encoder(input_shape=(28, 28, 1), latent_dim=2,
    ...                             hidden_units=(64,))
    >>> decoder = build_vae_decoder(output_shape=(28, 28, 1), latent_dim=2,
    ...                             hidden_units=(64,))
"""

import keras
import numpy as np

from keras_ae._validation import check_positive_int, check_shape, check_spatial_shape
from keras_ae.models.autoencoders import _check_activation, dense_pixels
from keras_ae.models.conv import conv_downsampling_stack, conv_upsampling_stack

__all__ = [
    "build_vae_encoder",
    "build_vae_decoder",
]


def _check_hidden_units(name, units):
    if (
        isinstance(units, (str, bytes))
        or not hasattr(units, "__len__")
        or not all(
            isinstance(u, (int, np.integer)) and not isinstance(u, bool) and u > 0
            for u in units
        )
    ):
        raise ValueError(
            f"Expected {name} to be a tuple of positive integers, possibly empty, "
            f"e.g. (256, 128). Received: {name}={units!r}"
        )
    return tuple(int(u) for u in units)


def _check_num_classes(num_classes):
    if num_classes is None:
        return None
    return check_positive_int("num_classes", num_classes)


def build_vae_encoder(
    input_shape=(28, 28, 1),
    latent_dim=2,
    hidden_units=(256, 128),
    conv_filters=(),
    kernel_size=3,
    activation="relu",
    num_classes=None,
    name="encoder",
):
    """Builds a VAE encoder with two outputs, `[z_mean, z_log_var]`.

    The image goes through optional strided `Conv2D` stages (each halves the
    height and width), is flattened, goes through Dense hidden layers, and ends
    in two Dense heads of `latent_dim` units with no activation: the mean and
    the log-variance of `q(z | x)`. With `num_classes`, the encoder of a
    `ConditionalVAE`: a second input takes one-hot labels, concatenated to the
    flattened image features.

    Args:
        input_shape: Shape of one image, e.g. `(28, 28, 1)`, or of a vector.
        latent_dim: Size of the latent space, > 0.
        hidden_units: Units of the Dense hidden layers; `()` for none.
        conv_filters: Filters of the strided convolution stages; `()` (the
            default) for a dense encoder. Needs an image `input_shape` with height
            and width divisible by `2 ** len(conv_filters)`.
        kernel_size: Size of the square convolution kernels.
        activation: Activation of the hidden layers.
        num_classes: None, or the number of classes of a conditional encoder.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping images (and one-hot labels
        if `num_classes`) to `[z_mean, z_log_var]`, each `(batch, latent_dim)`.

    Example:
        >>> encoder = build_vae_encoder(input_shape=(28, 28, 1), latent_dim=2)
        >>> [output.shape for output in encoder.outputs]
        [(None, 2), (None, 2)]
    """
    input_shape = check_shape("input_shape", input_shape)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    hidden_units = _check_hidden_units("hidden_units", hidden_units)
    conv_filters = _check_hidden_units("conv_filters", conv_filters)
    kernel_size = check_positive_int("kernel_size", kernel_size)
    num_classes = _check_num_classes(num_classes)
    _check_activation("activation", activation)
    if conv_filters:
        check_shape("input_shape", input_shape, rank=3)
        check_spatial_shape("input_shape", input_shape, conv_filters)
    images = keras.Input(shape=input_shape, name="images")
    x = conv_downsampling_stack(
        images, filters=conv_filters, kernel_size=kernel_size, activation=activation
    )
    x = keras.layers.Flatten(name="flatten")(x)
    inputs = images
    if num_classes is not None:
        labels = keras.Input(shape=(num_classes,), name="labels")
        x = keras.layers.Concatenate(name="with_labels")([x, labels])
        inputs = [images, labels]
    for i, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"hidden_{i}")(x)
    # Float32 outputs even under a mixed precision policy: the KL term and the
    # sampling's exp(log_var / 2) are computed on them.
    z_mean = keras.layers.Dense(latent_dim, name="z_mean", dtype="float32")(x)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var", dtype="float32")(x)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def build_vae_decoder(
    output_shape=(28, 28, 1),
    latent_dim=2,
    hidden_units=(128, 256),
    conv_filters=(),
    kernel_size=3,
    activation="relu",
    output_activation="sigmoid",
    num_classes=None,
    name="decoder",
):
    """Builds a VAE decoder: Dense layers (and optional transposed convolutions).

    The mirror image of `build_vae_encoder`: Dense hidden layers, then either a
    Dense layer with one unit per output value and a Reshape, or (with
    `conv_filters`) a Dense layer to a small feature map followed by stride-2
    `Conv2DTranspose` stages and a last `Conv2D`. With `num_classes`, a second
    input takes one-hot labels, concatenated to `z`.

    Args:
        output_shape: Shape of one image, the encoder's `input_shape`.
        latent_dim: Size of the codes `z` it decodes, > 0.
        hidden_units: Units of the Dense hidden layers, from the `z` side.
        conv_filters: Filters of the transposed-convolution stages, from the `z`
            side; `()` (the default) for a dense decoder.
        kernel_size: Size of the square convolution kernels.
        activation: Activation of the hidden layers.
        output_activation: `"sigmoid"` (the default) for the probabilities of a
            `"bernoulli"` VAE; `None` for the means of a `"gaussian"` VAE on
            unbounded data.
        num_classes: None, or the number of classes of a conditional decoder.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping `z` (and one-hot labels if
        `num_classes`) to outputs of `output_shape`.

    Example:
        >>> decoder = build_vae_decoder(output_shape=(28, 28, 1), latent_dim=2)
        >>> decoder.output_shape
        (None, 28, 28, 1)
    """
    output_shape = check_shape("output_shape", output_shape)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    hidden_units = _check_hidden_units("hidden_units", hidden_units)
    conv_filters = _check_hidden_units("conv_filters", conv_filters)
    kernel_size = check_positive_int("kernel_size", kernel_size)
    num_classes = _check_num_classes(num_classes)
    _check_activation("activation", activation)
    _check_activation("output_activation", output_activation)
    if conv_filters:
        check_shape("output_shape", output_shape, rank=3)
        height, width = check_spatial_shape("output_shape", output_shape, conv_filters)
    z = keras.Input(shape=(latent_dim,), name="z")
    x, inputs = z, z
    if num_classes is not None:
        labels = keras.Input(shape=(num_classes,), name="labels")
        x = keras.layers.Concatenate(name="with_labels")([z, labels])
        inputs = [z, labels]
    for i, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"hidden_{i}")(x)
    if not conv_filters:
        outputs = dense_pixels(x, output_shape, output_activation)
        return keras.Model(inputs, outputs, name=name)
    outputs = conv_upsampling_stack(
        x,
        (height, width),
        output_shape[-1],
        filters=conv_filters,
        kernel_size=kernel_size,
        activation=activation,
        output_activation=output_activation,
    )
    return keras.Model(inputs, outputs, name=name)
