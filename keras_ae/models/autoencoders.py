"""Dense, linear and convolutional autoencoders, and how to choose their loss.

Every builder returns an uncompiled Functional `keras.Model`. An autoencoder is
`build_autoencoder(encoder, decoder)`: its sub-models stay reachable with
`autoencoder.get_layer("encoder")` and `autoencoder.get_layer("decoder")`.
"""

import math

import keras
import numpy as np

from keras_ae._validation import (
    check_positive_int,
    check_shape,
    check_units,
)
from keras_ae.models.layers import DenseTranspose, TiedDense

__all__ = [
    "BINARY_CROSSENTROPY",
    "MEAN_SQUARED_ERROR",
    "reconstruction_loss_for",
    "output_activation_for",
    "default_loss",
    "build_dense_encoder",
    "dense_pixels",
    "build_dense_decoder",
    "build_tied_dense_decoder",
    "build_autoencoder",
    "build_dense_autoencoder",
    "build_linear_autoencoder",
]


BINARY_CROSSENTROPY = "binary_crossentropy"


MEAN_SQUARED_ERROR = "mse"


def _check_activation(name, activation):
    try:
        keras.activations.get(activation)
    except (ValueError, TypeError):
        raise ValueError(
            f"Expected {name} to be None, a Keras activation name such as 'relu' "
            f"or a callable. Received: {name}={activation!r}"
        ) from None
    return activation


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
            usually decreasing, e.g. `(256, 128)`; `()` for none (one Dense
            layer from the input to the code).
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
    hidden_units = check_units(
        "hidden_units", hidden_units, "(256, 128)", allow_empty=True
    )
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
            default mirrors the encoder's default `(256, 128)`; `()` for none.
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
    hidden_units = check_units(
        "hidden_units", hidden_units, "(128, 256)", allow_empty=True
    )
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
            in reverse order. `()` for none.
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
