"""Dense, linear and convolutional autoencoders, and how to choose their loss.

Every builder returns an uncompiled Functional `keras.Model`. An autoencoder is
`build_autoencoder(encoder, decoder)`: its sub-models stay reachable with
`autoencoder.get_layer("encoder")` and `autoencoder.get_layer("decoder")`.
"""

import math

import keras
import numpy as np

from keras_ae._checks import (
    check_positive_int,
    check_shape,
    check_spatial_shape,
    check_units,
)
from keras_ae.layers import DenseTranspose, TiedDense

BINARY_CROSSENTROPY = "binary_crossentropy"
MEAN_SQUARED_ERROR = "mse"


# --------------------------------------------------------------------------
# Argument checks: each raises a ValueError saying what was expected and what
# was received.


def _check_activation(name, activation):
    try:
        keras.activations.get(activation)
    except (ValueError, TypeError):
        raise ValueError(
            f"Expected {name} to be None, a Keras activation name such as 'relu' "
            f"or a callable. Received: {name}={activation!r}"
        ) from None
    return activation


# --------------------------------------------------------------------------
# Loss and output activation from the range of the data.


def _check_data_range(data_range):
    try:
        low, high = (float(v) for v in data_range)
    except (TypeError, ValueError):
        raise ValueError(
            "Expected data_range to be a pair (low, high) of numbers. "
            f"Received: data_range={data_range!r}"
        ) from None
    if not low <= high:
        raise ValueError(
            f"Expected data_range with low <= high. Received: data_range={data_range!r}"
        )
    return low, high


def reconstruction_loss_for(data_range=(0.0, 1.0)):
    """Returns the reconstruction loss the syllabus prescribes for a data range.

    The rule: if the input values are in the range [0, 1], use (binary)
    cross-entropy; otherwise use the mean squared error. Cross-entropy treats
    each pixel as the probability of being "on" and needs targets in [0, 1];
    the mean squared error works for any real values.

    Args:
        data_range: Pair `(low, high)`: the smallest and largest values of the
            data, for example `(x_train.min(), x_train.max())`.

    Returns:
        `"binary_crossentropy"` if `0 <= low` and `high <= 1`, else `"mse"`: a
        string `model.compile(loss=...)` accepts.

    Example:

    >>> reconstruction_loss_for((0.0, 1.0))
    'binary_crossentropy'
    >>> reconstruction_loss_for((-1.0, 1.0))
    'mse'
    """
    low, high = _check_data_range(data_range)
    return BINARY_CROSSENTROPY if 0.0 <= low and high <= 1.0 else MEAN_SQUARED_ERROR


def output_activation_for(data_range=(0.0, 1.0)):
    """Returns the decoder's output activation that matches a data range.

    A sigmoid keeps reconstructions in (0, 1), which cross-entropy needs, for
    data in [0, 1]; any other data gets a linear output, paired with MSE.

    Args:
        data_range: Pair `(low, high)`: the smallest and largest data values.

    Returns:
        `"sigmoid"` for data in [0, 1], `"linear"` otherwise.

    Example:

    >>> output_activation_for((0.0, 1.0))
    'sigmoid'
    """
    low, high = _check_data_range(data_range)
    return "sigmoid" if 0.0 <= low and high <= 1.0 else "linear"


def default_loss(x):
    """Returns the reconstruction loss for the data `x` (see `reconstruction_loss_for`).

    Args:
        x: Array of training data.

    Returns:
        `"binary_crossentropy"` if every value of `x` is in [0, 1], else `"mse"`.

    Example:

    >>> default_loss(np.array([0.0, 0.5, 1.0]))
    'binary_crossentropy'
    >>> default_loss(np.array([-0.5, 0.5]))
    'mse'
    """
    x = np.asarray(x)
    if x.size == 0:
        raise ValueError(f"Expected non-empty data. Received: x with shape {x.shape}")
    return reconstruction_loss_for((float(np.min(x)), float(np.max(x))))


# --------------------------------------------------------------------------
# Dense autoencoders.


def _dense_encoder(
    input_shape, code_size, hidden_units, activation, code_activation, layer_class, name
):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate(hidden_units, start=1):
        x = layer_class(units, activation=activation, name=f"hidden_{i}")(x)
    # Float32 code and pixels even under a mixed precision policy: penalties and
    # losses are computed on them (see keras_ae.devices.use_mixed_precision).
    code = layer_class(
        code_size, activation=code_activation, name="code", dtype="float32"
    )(x)
    return keras.Model(inputs, code, name=name)


def build_dense_encoder(
    input_shape=(28, 28, 1),
    code_size=32,
    hidden_units=(256, 128),
    activation="relu",
    code_activation=None,
    tied_weights=False,
    name="encoder",
):
    """Builds a fully connected encoder: Flatten, then Dense layers that shrink.

    Args:
        input_shape: Shape of one input, without the batch axis, such as
            `(28, 28, 1)` for an image or `(64,)` for a vector.
        code_size: Number of units of the code (bottleneck) layer.
        hidden_units: Units of the hidden Dense layers, from the input side,
            usually decreasing, e.g. `(256, 128)`.
        activation: Activation of the hidden layers.
        code_activation: Activation of the code layer; `None` (linear) by default.
        tied_weights: If `True`, the Dense layers are `TiedDense` layers, so that
            `build_tied_dense_decoder` can share their kernels, also after saving
            and loading.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping inputs of `input_shape`
        to codes of shape `(code_size,)`. Its code layer is named `"code"`.

    Example:

    >>> encoder = build_dense_encoder(input_shape=(8, 8, 1), code_size=4,
    ...                               hidden_units=(32,))
    >>> encoder.output_shape
    (None, 4)
    """
    input_shape = check_shape("input_shape", input_shape)
    code_size = check_positive_int("code_size", code_size)
    hidden_units = check_units("hidden_units", hidden_units, "(256, 128)")
    _check_activation("activation", activation)
    _check_activation("code_activation", code_activation)
    layer_class = TiedDense if tied_weights else keras.layers.Dense
    return _dense_encoder(
        input_shape,
        code_size,
        hidden_units,
        activation,
        code_activation,
        layer_class,
        name,
    )


def dense_pixels(x, output_shape, output_activation=None):
    """Maps a feature vector to images: a Dense layer "pixels" and a Reshape.

    Both layers are float32 even under a mixed precision policy, so a loss on
    the images is computed in float32 (see `keras_ae.devices`). Used by the
    dense decoders and generators of `autoencoders`, `vae_builders` and
    `gan_builders`.

    Args:
        x: Keras tensor `(batch, features)`.
        output_shape: Image shape `(height, width, channels)`.
        output_activation: Activation of the pixels (e.g. "sigmoid") or None.

    Returns:
        The Keras tensor `(batch, *output_shape)`.
    """
    x = keras.layers.Dense(
        math.prod(output_shape),
        activation=output_activation,
        name="pixels",
        dtype="float32",
    )(x)
    return keras.layers.Reshape(output_shape, name="reshape", dtype="float32")(x)


def build_dense_decoder(
    output_shape=(28, 28, 1),
    code_size=32,
    hidden_units=(128, 256),
    activation="relu",
    output_activation="sigmoid",
    name="decoder",
):
    """Builds a fully connected decoder: Dense layers that grow, then Reshape.

    Args:
        output_shape: Shape of one reconstruction, the encoder's `input_shape`.
        code_size: Size of the codes it decodes.
        hidden_units: Units of the hidden Dense layers, from the code side. The
            default mirrors the encoder's default `(256, 128)`.
        activation: Activation of the hidden layers.
        output_activation: Activation of the output layer: `"sigmoid"` for data
            in [0, 1], `None` or `"linear"` otherwise (see
            `output_activation_for`).
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping codes of shape
        `(code_size,)` to outputs of `output_shape`.

    Example:

    >>> decoder = build_dense_decoder(output_shape=(8, 8, 1), code_size=4,
    ...                               hidden_units=(32,))
    >>> decoder.output_shape
    (None, 8, 8, 1)
    """
    output_shape = check_shape("output_shape", output_shape)
    code_size = check_positive_int("code_size", code_size)
    hidden_units = check_units("hidden_units", hidden_units, "(128, 256)")
    _check_activation("activation", activation)
    _check_activation("output_activation", output_activation)
    codes = keras.Input(shape=(code_size,), name="code")
    x = codes
    for i, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"hidden_{i}")(x)
    outputs = dense_pixels(x, output_shape, output_activation)
    return keras.Model(codes, outputs, name=name)


def build_tied_dense_decoder(
    encoder, activation="relu", output_activation="sigmoid", name="decoder"
):
    """Builds the decoder that shares (ties) the weights of a dense encoder.

    Each Dense layer of the encoder, taken from the code back to the input,
    gets a `DenseTranspose` layer that multiplies by its kernel transposed: the
    decoder has its own biases but no kernel of its own, which halves the
    number of weights and acts as a regularizer.

    Args:
        encoder: A model from `build_dense_encoder(..., tied_weights=True)`.
        activation: Activation of the hidden layers.
        output_activation: Activation of the output layer.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping codes to outputs of the
        encoder's input shape.

    Example:

    >>> encoder = build_dense_encoder(input_shape=(8, 8, 1), code_size=4,
    ...                               hidden_units=(32,), tied_weights=True)
    >>> decoder = build_tied_dense_decoder(encoder)
    >>> decoder.output_shape
    (None, 8, 8, 1)
    """
    if not isinstance(encoder, keras.Model):
        raise ValueError(f"Expected encoder to be a keras.Model. Received: {encoder!r}")
    dense_layers = [layer for layer in encoder.layers if isinstance(layer, TiedDense)]
    if not dense_layers:
        raise ValueError(
            "Expected an encoder with TiedDense layers, built by "
            "build_dense_encoder(..., tied_weights=True). Received: an encoder "
            f"with layers {[type(layer).__name__ for layer in encoder.layers]}"
        )
    _check_activation("activation", activation)
    _check_activation("output_activation", output_activation)
    codes = keras.Input(shape=(dense_layers[-1].units,), name="code")
    x = codes
    for i, dense in enumerate(reversed(dense_layers[1:]), start=1):
        x = DenseTranspose(dense, activation=activation, name=f"hidden_{i}")(x)
    x = DenseTranspose(
        dense_layers[0], activation=output_activation, name="pixels", dtype="float32"
    )(x)
    outputs = keras.layers.Reshape(
        encoder.input_shape[1:], name="reshape", dtype="float32"
    )(x)
    return keras.Model(codes, outputs, name=name)


def build_autoencoder(encoder, decoder, name="autoencoder"):
    """Chains an encoder and a decoder into one autoencoder model.

    Args:
        encoder: A `keras.Model` mapping inputs to codes.
        decoder: A `keras.Model` mapping those codes back to the input shape.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model`, input -> encoder -> decoder, in
        which `get_layer("encoder")` and `get_layer("decoder")` (by the
        sub-models' names) return the two parts.

    Example:

    >>> encoder = build_dense_encoder(input_shape=(8, 8, 1), code_size=4,
    ...                               hidden_units=(32,))
    >>> decoder = build_dense_decoder(output_shape=(8, 8, 1), code_size=4,
    ...                               hidden_units=(32,))
    >>> build_autoencoder(encoder, decoder).output_shape
    (None, 8, 8, 1)
    """
    for role, model in (("encoder", encoder), ("decoder", decoder)):
        if not isinstance(model, keras.Model):
            raise ValueError(
                f"Expected {role} to be a keras.Model. Received: {role}={model!r}"
            )
    code_shape = tuple(encoder.output_shape[1:])
    decoder_input_shape = tuple(decoder.input_shape[1:])
    if code_shape != decoder_input_shape:
        raise ValueError(
            f"Expected the decoder's input shape to equal the encoder's output "
            f"shape {code_shape}. Received: decoder input shape "
            f"{decoder_input_shape}"
        )
    input_shape = tuple(encoder.input_shape[1:])
    output_shape = tuple(decoder.output_shape[1:])
    if output_shape != input_shape:
        raise ValueError(
            f"Expected the decoder's output shape to equal the encoder's input "
            f"shape {input_shape}. Received: decoder output shape {output_shape}"
        )
    inputs = keras.Input(shape=input_shape)
    outputs = decoder(encoder(inputs))
    return keras.Model(inputs, outputs, name=name)


def build_dense_autoencoder(
    input_shape=(28, 28, 1),
    code_size=32,
    hidden_units=(256, 128),
    activation="relu",
    output_activation=None,
    data_range=(0.0, 1.0),
    tied_weights=False,
    name="autoencoder",
):
    """Builds a stacked ("sandwich") dense autoencoder with a mirrored decoder.

    Args:
        input_shape: Shape of one input, without the batch axis.
        code_size: Number of units of the code layer.
        hidden_units: Units of the encoder's hidden layers; the decoder uses them
            in reverse order.
        activation: Activation of the hidden layers.
        output_activation: Activation of the decoder's output. `None` picks it
            from `data_range` with `output_activation_for`: sigmoid for data in
            [0, 1], linear otherwise.
        data_range: Pair `(low, high)` of the data's smallest and largest values,
            used only when `output_activation` is `None`.
        tied_weights: If `True`, the decoder reuses the encoder's kernels,
            transposed (`DenseTranspose`), instead of learning its own.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model`. Compile it with the loss from
        `reconstruction_loss_for(data_range)` (or `default_loss(x_train)`).

    Example:

    >>> autoencoder = build_dense_autoencoder(input_shape=(8, 8, 1), code_size=4,
    ...                                       hidden_units=(32,))
    >>> autoencoder.get_layer("encoder").output_shape
    (None, 4)
    """
    if output_activation is None:
        output_activation = output_activation_for(data_range)
    encoder = build_dense_encoder(
        input_shape=input_shape,
        code_size=code_size,
        hidden_units=hidden_units,
        activation=activation,
        tied_weights=tied_weights,
    )
    if tied_weights:
        decoder = build_tied_dense_decoder(
            encoder, activation=activation, output_activation=output_activation
        )
    else:
        decoder = build_dense_decoder(
            output_shape=input_shape,
            code_size=code_size,
            hidden_units=tuple(reversed(tuple(hidden_units))),
            activation=activation,
            output_activation=output_activation,
        )
    return build_autoencoder(encoder, decoder, name=name)


def build_linear_autoencoder(input_shape=(28, 28, 1), code_size=32, name="autoencoder"):
    """Builds an autoencoder with no non-linearity: the one that learns PCA.

    The encoder is one Dense code layer, the decoder one Dense output layer,
    both linear. Trained with the mean squared error, its reconstructions
    converge to those of PCA with `code_size` components: the decoder's kernel
    spans the same subspace as the principal components (its rows need not be
    the components themselves, nor orthogonal). Compare them with
    `principal_angles`.

    Args:
        input_shape: Shape of one input, without the batch axis.
        code_size: Number of units of the code layer.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model`; compile it with `loss="mse"`.

    Example:

    >>> autoencoder = build_linear_autoencoder(input_shape=(8, 8, 1), code_size=8)
    >>> autoencoder.get_layer("decoder").get_layer("pixels").kernel.shape
    TensorShape([8, 64])
    """
    input_shape = check_shape("input_shape", input_shape)
    code_size = check_positive_int("code_size", code_size)
    encoder = _dense_encoder(
        input_shape, code_size, (), None, None, keras.layers.Dense, "encoder"
    )
    codes = keras.Input(shape=(code_size,), name="code")
    outputs = dense_pixels(codes, input_shape)
    decoder = keras.Model(codes, outputs, name="decoder")
    return build_autoencoder(encoder, decoder, name=name)


def principal_angles(a, b, degrees=True):
    """Returns the principal angles between the column spaces of two matrices.

    The principal angles between two subspaces are the angles between their
    best-aligned pairs of directions: all zero when the subspaces are equal, 90
    degrees for a direction of one orthogonal to the whole other. They compare
    subspaces whatever basis spans them, such as a linear decoder's kernel and
    PCA's components. Computed by `scipy.linalg.subspace_angles` (Knyazev and
    Argentati's algorithm, accurate for small angles too), sorted increasing.

    Args:
        a: Array of shape `(n, k)`; its columns span the first subspace. For a
            decoder kernel of shape `(code_size, n)` pass `kernel.T`.
        b: Array of shape `(n, m)`; for PCA, `pca.components_.T`.
        degrees: Whether to return degrees (default) or radians.

    Returns:
        NumPy array of the `min(k, m)` angles (fewer if a matrix's columns are
        linearly dependent: one per dimension of the smaller subspace), in
        increasing order.

    Example:

    >>> principal_angles(np.eye(3)[:, :2], np.eye(3)[:, 1:]).round(6)
    array([ 0., 90.])
    """
    from scipy.linalg import subspace_angles

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(
            "Expected two matrices with the same number of rows. "
            f"Received: a.shape={a.shape}, b.shape={b.shape}"
        )
    # scipy returns the largest angle first.
    angles = np.sort(subspace_angles(a, b))
    return np.degrees(angles) if degrees else angles


# --------------------------------------------------------------------------
# Convolutional autoencoders.


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
