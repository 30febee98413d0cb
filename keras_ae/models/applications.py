"""Builders for the applications notebook: spatial-code autoencoders and a colorizer."""

import keras
import numpy as np

from keras_ae._validation import check_positive_int, check_shape
from keras_ae.models.conv import conv_downsampling_stack

__all__ = [
    "build_spatial_encoder",
    "build_spatial_decoder",
    "build_colorizer",
]


def _check_filters(filters):
    filters = tuple(filters)
    if not filters or any(
        isinstance(f, bool) or not isinstance(f, (int, np.integer)) or f < 1
        for f in filters
    ):
        raise ValueError(
            f"Expected filters to be a non-empty tuple of ints > 0, e.g. (32, 64). "
            f"Received: filters={filters!r}"
        )
    return filters


def build_spatial_encoder(
    input_shape=(32, 32, 1),
    filters=(32, 64),
    code_channels=16,
    kernel_size=3,
    activation="relu",
    name="encoder",
):
    """Builds a fully convolutional encoder whose code is a feature map.

    Each stage is a `Conv2D` with stride 2 (halving height and width); a last
    1x1 convolution gives `code_channels` channels. The code keeps the image's
    layout, which suits tasks where every output pixel depends on its
    neighbourhood (denoising, inpainting, colouring).

    Args:
        input_shape: `(height, width, channels)`, height and width divisible by
            `2 ** len(filters)`.
        filters: Number of filters of each strided stage.
        code_channels: Channels of the code map, > 0.
        kernel_size: Size of the square kernels.
        activation: Activation of the strided stages.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping images to codes of shape
        `(height / 2**k, width / 2**k, code_channels)`, `k = len(filters)`.

    Example:
        >>> encoder = build_spatial_encoder((32, 32, 1), filters=(32, 64))
        >>> encoder.output.shape
        (None, 8, 8, 16)
    """
    input_shape = check_shape("input_shape", input_shape, rank=3)
    filters = _check_filters(filters)
    code_channels = check_positive_int("code_channels", code_channels)
    kernel_size = check_positive_int("kernel_size", kernel_size)
    factor = 2 ** len(filters)
    if input_shape[0] % factor or input_shape[1] % factor:
        raise ValueError(
            f"Expected height and width divisible by {factor}. "
            f"Received: input_shape={input_shape}"
        )
    inputs = keras.Input(shape=input_shape)
    x = conv_downsampling_stack(
        inputs, filters=filters, kernel_size=kernel_size, activation=activation
    )
    code = keras.layers.Conv2D(code_channels, 1, name="code")(x)
    return keras.Model(inputs, code, name=name)


def build_spatial_decoder(
    code_shape=(8, 8, 16),
    output_channels=1,
    filters=(64, 32),
    kernel_size=3,
    activation="relu",
    output_activation="sigmoid",
    name="decoder",
):
    """Builds the mirror of `build_spatial_encoder`: transposed convolutions.

    Args:
        code_shape: `(height, width, channels)` of the code map.
        output_channels: Channels of the output image.
        filters: Filters of each `Conv2DTranspose` stage (stride 2).
        kernel_size: Size of the square kernels.
        activation: Activation of the stages.
        output_activation: Activation of the last 3x3 convolution
            (`"sigmoid"` for pixels in [0, 1], None for a linear output).
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping codes to images of
        `2 ** len(filters)` times the code's height and width.

    Example:
        >>> decoder = build_spatial_decoder((8, 8, 16), output_channels=3)
        >>> decoder.output.shape
        (None, 32, 32, 3)
    """
    code_shape = check_shape("code_shape", code_shape, rank=3)
    output_channels = check_positive_int("output_channels", output_channels)
    filters = _check_filters(filters)
    kernel_size = check_positive_int("kernel_size", kernel_size)
    inputs = keras.Input(shape=code_shape)
    x = inputs
    for i, num_filters in enumerate(filters, start=1):
        x = keras.layers.Conv2DTranspose(
            num_filters,
            kernel_size,
            strides=2,
            padding="same",
            activation=activation,
            name=f"deconv_{i}",
        )(x)
    outputs = keras.layers.Conv2D(
        output_channels,
        kernel_size,
        padding="same",
        activation=output_activation,
        name="pixels",
    )(x)
    return keras.Model(inputs, outputs, name=name)


def build_colorizer(
    input_shape=(32, 32, 1), filters=(32, 64), code_channels=32, name="colorizer"
):
    """Builds a gray -> RGB model: the gray image, replicated, plus a colour offset.

    The encoder and decoder (`build_spatial_encoder`, `build_spatial_decoder`
    with a linear output) predict an offset per pixel and channel, which is added
    to the gray channel copied three times. The decoder's last layer (`"pixels"`)
    starts with a zero kernel and bias, so the untrained model gives a zero
    offset: it starts out as the baseline "replicate the gray channel" and only
    has to learn the colour.

    Args:
        input_shape: `(height, width, 1)`.
        filters: Filters of the encoder's stages (the decoder mirrors them).
        code_channels: Channels of the code map.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` `(N, H, W, 1) -> (N, H, W, 3)`.

    Example:
        >>> colorizer = build_colorizer((8, 8, 1), filters=(8,), code_channels=4)
        >>> gray = np.random.default_rng(0).random((4, 8, 8, 1), dtype="float32")
        >>> rgb = colorizer.predict(gray, verbose=0)  # untrained: the baseline
        >>> rgb.shape, bool(np.allclose(rgb, np.repeat(gray, 3, axis=-1)))
        ((4, 8, 8, 3), True)
    """
    input_shape = check_shape("input_shape", input_shape, rank=3)
    if input_shape[-1] != 1:
        raise ValueError(
            f"Expected one input channel. Received: input_shape={input_shape}"
        )
    encoder = build_spatial_encoder(input_shape, filters, code_channels)
    decoder = build_spatial_decoder(
        encoder.output.shape[1:],
        output_channels=3,
        filters=tuple(reversed(tuple(filters))),
        output_activation=None,
    )
    pixels = decoder.get_layer("pixels")  # zero offset before training
    pixels.set_weights([np.zeros_like(w) for w in pixels.get_weights()])
    gray = keras.Input(shape=input_shape)
    replicated = keras.layers.Concatenate(name="replicate")([gray, gray, gray])
    offset = decoder(encoder(gray))
    rgb = keras.layers.Add(name="gray_plus_offset")([replicated, offset])
    return keras.Model(gray, rgb, name=name)
