"""Convolutional autoencoder builders: strided encoders, transposed-convolution
decoders.
"""

import keras

from keras_ae._validation import (
    check_positive_int,
    check_shape,
    check_spatial_shape,
    check_units,
)
from keras_ae.models.autoencoders import (
    _check_activation,
    build_autoencoder,
    output_activation_for,
)

__all__ = [
    "build_conv_encoder",
    "conv_downsampling_stack",
    "conv_upsampling_stack",
    "build_conv_decoder",
    "build_conv_autoencoder",
]


def build_conv_encoder(
    input_shape=(28, 28, 1),
    code_size=16,
    filters=(32, 64),
    kernel_size=3,
    activation="relu",
    code_activation=None,
    name="encoder",
):
    """Builds a convolutional encoder: strided Conv2D stages, then a Dense code.

    Each stage is a `Conv2D` with stride 2 and "same" padding, which halves the
    height and width: 28x28 becomes 14x14, then 7x7, with two stages.

    Args:
        input_shape: `(height, width, channels)`, height and width divisible by
            `2 ** len(filters)`.
        code_size: Number of units of the code layer.
        filters: Number of filters of each stage, usually increasing.
        kernel_size: Size of the square convolution kernels.
        activation: Activation of the convolutions.
        code_activation: Activation of the code layer; `None` (linear) by default.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping images to codes of shape
        `(code_size,)`.

    Example:

    >>> encoder = build_conv_encoder(input_shape=(28, 28, 1), code_size=16)
    >>> encoder.get_layer("conv_2").output.shape
    (None, 7, 7, 64)
    """
    input_shape = check_shape("input_shape", input_shape, rank=3)
    code_size = check_positive_int("code_size", code_size)
    filters = check_units("filters", filters, "(32, 64)")
    kernel_size = check_positive_int("kernel_size", kernel_size)
    check_spatial_shape("input_shape", input_shape, filters)
    _check_activation("activation", activation)
    _check_activation("code_activation", code_activation)
    inputs = keras.Input(shape=input_shape)
    x = conv_downsampling_stack(
        inputs, filters=filters, kernel_size=kernel_size, activation=activation
    )
    x = keras.layers.Flatten(name="flatten")(x)
    code = keras.layers.Dense(
        code_size, activation=code_activation, name="code", dtype="float32"
    )(x)
    return keras.Model(inputs, code, name=name)


def conv_downsampling_stack(x, *, filters, kernel_size, activation):
    """The convolutions of a convolutional encoder: one stride-2 `Conv2D` per
    entry of `filters`, each halving height and width ('same' padding).

    Shared by the autoencoder, VAE and spatial-code encoders.

    Args:
        x: A Keras tensor `(batch, H, W, C)`.
        filters, kernel_size, activation: As in `build_conv_encoder`.

    Returns:
        The output Keras tensor `(batch, H / 2**k, W / 2**k, filters[-1])`.
    """
    for i, num_filters in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            num_filters,
            kernel_size,
            strides=2,
            padding="same",
            activation=activation,
            name=f"conv_{i}",
        )(x)
    return x


def conv_upsampling_stack(
    x, start_size, channels, *, filters, kernel_size, activation, output_activation
):
    """The layers of a convolutional decoder, from a vector to an image.

    Dense to a `start_size` grid of `filters[0]` maps, then one stride-2
    `Conv2DTranspose` per entry of `filters` (each doubles height and width),
    then a `Conv2D` to `channels` with `output_activation`. Shared by the
    autoencoder and VAE decoders.

    Args:
        x: A Keras tensor `(batch, d)`.
        start_size: `(height, width)` of the first grid.
        channels: Channels of the output image.
        filters, kernel_size, activation, output_activation: As in
            `build_conv_decoder`.

    Returns:
        The output Keras tensor `(batch, H, W, channels)`.
    """
    height, width = start_size
    x = keras.layers.Dense(
        height * width * filters[0], activation=activation, name="dense"
    )(x)
    x = keras.layers.Reshape((height, width, filters[0]), name="reshape")(x)
    for i, num_filters in enumerate(filters, start=1):
        x = keras.layers.Conv2DTranspose(
            num_filters,
            kernel_size,
            strides=2,
            padding="same",
            activation=activation,
            name=f"deconv_{i}",
        )(x)
    return keras.layers.Conv2D(
        channels,
        kernel_size,
        padding="same",
        activation=output_activation,
        name="pixels",
        dtype="float32",
    )(x)


def build_conv_decoder(
    output_shape=(28, 28, 1),
    code_size=16,
    filters=(64, 32),
    kernel_size=3,
    activation="relu",
    output_activation="sigmoid",
    name="decoder",
):
    """Builds a convolutional decoder, the mirror image of `build_conv_encoder`.

    A Dense layer maps the code to a small feature map (the output size divided
    by `2 ** len(filters)`), each `Conv2DTranspose` stage with stride 2 doubles
    its height and width, and a last `Conv2D` maps it to the output channels.

    Args:
        output_shape: `(height, width, channels)` of the reconstructions, height
            and width divisible by `2 ** len(filters)`.
        code_size: Size of the codes it decodes.
        filters: Number of filters of each stage, from the code side; the
            default mirrors the encoder's `(32, 64)`.
        kernel_size: Size of the square convolution kernels.
        activation: Activation of the hidden layers.
        output_activation: Activation of the output layer.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping codes of shape
        `(code_size,)` to images of `output_shape`.

    Example:

    >>> decoder = build_conv_decoder(output_shape=(32, 32, 3), code_size=16)
    >>> decoder.output_shape
    (None, 32, 32, 3)
    """
    output_shape = check_shape("output_shape", output_shape, rank=3)
    code_size = check_positive_int("code_size", code_size)
    filters = check_units("filters", filters, "(64, 32)")
    kernel_size = check_positive_int("kernel_size", kernel_size)
    height, width = check_spatial_shape("output_shape", output_shape, filters)
    _check_activation("activation", activation)
    _check_activation("output_activation", output_activation)
    codes = keras.Input(shape=(code_size,), name="code")
    outputs = conv_upsampling_stack(
        codes,
        (height, width),
        output_shape[-1],
        filters=filters,
        kernel_size=kernel_size,
        activation=activation,
        output_activation=output_activation,
    )
    return keras.Model(codes, outputs, name=name)


def build_conv_autoencoder(
    input_shape=(28, 28, 1),
    code_size=16,
    filters=(32, 64),
    kernel_size=3,
    activation="relu",
    output_activation=None,
    data_range=(0.0, 1.0),
    name="autoencoder",
):
    """Builds a convolutional autoencoder with a mirrored decoder.

    Args:
        input_shape: `(height, width, channels)`, height and width divisible by
            `2 ** len(filters)`.
        code_size: Number of units of the code layer.
        filters: Filters of the encoder's stages; the decoder uses them reversed.
        kernel_size: Size of the square convolution kernels.
        activation: Activation of the hidden layers.
        output_activation: Activation of the output; `None` picks it from
            `data_range` (sigmoid for [0, 1], linear otherwise).
        data_range: Pair `(low, high)` of the data's smallest and largest values.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model`.

    Example:

    >>> autoencoder = build_conv_autoencoder(input_shape=(32, 32, 3))
    >>> autoencoder.output_shape
    (None, 32, 32, 3)
    """
    if output_activation is None:
        output_activation = output_activation_for(data_range)
    encoder = build_conv_encoder(
        input_shape=input_shape,
        code_size=code_size,
        filters=filters,
        kernel_size=kernel_size,
        activation=activation,
    )
    decoder = build_conv_decoder(
        output_shape=input_shape,
        code_size=code_size,
        filters=tuple(reversed(tuple(filters))),
        kernel_size=kernel_size,
        activation=activation,
        output_activation=output_activation,
    )
    return build_autoencoder(encoder, decoder, name=name)
