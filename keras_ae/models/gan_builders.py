"""Generators and discriminators for the GANs of `keras_ae.models.gans`, for any image
size.

Every builder returns an uncompiled Functional `keras.Model`. A generator maps
latent vectors of shape `(latent_dim,)` to images; a discriminator maps images
to one **logit** per image (no sigmoid: the GAN losses are computed from logits,
which is numerically stable, and a WGAN critic must be linear anyway).
`sigmoid(logit)` is the probability the discriminator gives to "real".

Why a sigmoid output, not the tanh of the DCGAN paper: tanh generators pair
with images scaled to [-1, 1]. The course keeps every data set in [0, 1]
(`keras_ae.data`), so the generators here end in a sigmoid by default and
generate images in (0, 1) that the course's plots and data share directly. The
two are the same family of functions: `tanh(a) = 2 * sigmoid(2 * a) - 1`, and a
discriminator's first layer absorbs the affine change of pixel range. Pass
`output_activation="tanh"` only together with data rescaled by `2 * x - 1`.

With `num_classes` set, the networks are conditional (for `ConditionalGAN`):
they take a second input, the one-hot labels of shape `(num_classes,)`. The
generator concatenates the labels to the latent vector; a dense discriminator
concatenates them to the flattened image or projects its features on a label
embedding (`conditioning`), a convolutional one appends them to the image as
`num_classes` constant channels.
"""

import keras

from keras_ae._validation import (
    check_positive_int,
    check_shape,
    check_spatial_shape,
    check_units,
)
from keras_ae.models.autoencoders import dense_pixels

__all__ = [
    "OUTPUT_ACTIVATIONS",
    "CONDITIONINGS",
    "build_dense_generator",
    "build_dense_discriminator",
    "build_dcgan_generator",
    "build_dcgan_discriminator",
]


OUTPUT_ACTIVATIONS = ("sigmoid", "tanh")


CONDITIONINGS = ("concatenate", "projection")


def _check_output_activation(output_activation):
    if output_activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(
            f"Expected output_activation to be one of {OUTPUT_ACTIVATIONS}. "
            f"Received: output_activation={output_activation!r}"
        )


def _check_fraction(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        value_ok = False
    else:
        value_ok = 0 <= value < 1
    if not value_ok:
        raise ValueError(f"Expected 0 <= {name} < 1. Received: {name}={value!r}")
    return float(value)


def _latent_inputs(latent_dim, num_classes):
    """Returns (model inputs, the tensor the generator starts from)."""
    latent = keras.Input(shape=(latent_dim,), name="latent")
    if num_classes is None:
        return latent, latent
    labels = keras.Input(shape=(num_classes,), name="labels")
    joined = keras.layers.Concatenate(name="latent_and_labels")([latent, labels])
    return [latent, labels], joined


def _check_common(latent_dim=None, num_classes=None):
    if latent_dim is not None:
        check_positive_int("latent_dim", latent_dim)
    if num_classes is not None:
        check_positive_int("num_classes", num_classes)


def build_dense_generator(
    latent_dim=32,
    output_shape=(28, 28, 1),
    hidden_units=(128, 256),
    negative_slope=0.2,
    batch_norm=True,
    output_activation="sigmoid",
    num_classes=None,
    name="generator",
):
    """Builds a fully connected generator: Dense layers, then a Reshape to images.

    Each hidden layer is Dense, then BatchNormalization (if `batch_norm`), then
    LeakyReLU.

    Args:
        latent_dim: Size of the latent (noise) vectors.
        output_shape: `(height, width, channels)` of the generated images.
        hidden_units: Units of the hidden Dense layers, from the latent side.
        negative_slope: Slope of the LeakyReLU for negative inputs.
        batch_norm: Whether to normalize each hidden layer over the batch.
        output_activation: `"sigmoid"` (images in (0, 1), the course's range)
            or `"tanh"` (for data rescaled to [-1, 1]).
        num_classes: If set, the generator is conditional: its inputs are
            `[latent, one_hot_labels]`.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping `(latent_dim,)` vectors
        (and one-hot labels) to images of `output_shape`.

    Example:

    >>> generator = build_dense_generator(latent_dim=16, output_shape=(28, 28, 1))
    >>> generator.output_shape
    (None, 28, 28, 1)
    """
    _check_common(latent_dim, num_classes)
    output_shape = check_shape("output_shape", output_shape, rank=3)
    hidden_units = check_units("hidden_units", hidden_units, "(128, 256)")
    _check_output_activation(output_activation)
    inputs, x = _latent_inputs(latent_dim, num_classes)
    for i, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, use_bias=not batch_norm, name=f"hidden_{i}")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        x = keras.layers.LeakyReLU(negative_slope, name=f"leaky_relu_{i}")(x)
    outputs = dense_pixels(x, output_shape, output_activation)
    return keras.Model(inputs, outputs, name=name)


def build_dense_discriminator(
    input_shape=(28, 28, 1),
    hidden_units=(256, 128),
    negative_slope=0.2,
    dropout=0.3,
    num_classes=None,
    conditioning="concatenate",
    name="discriminator",
):
    """Builds a fully connected discriminator that outputs one logit per image.

    Flatten, then for each hidden layer Dense, LeakyReLU and Dropout, then a
    Dense layer with one linear unit: the logit of "real". It has no batch
    normalization, so it can also serve as a WGAN-GP critic.

    A conditional discriminator (`num_classes` set) sees the one-hot label in
    one of two ways (`conditioning`):

    - `"concatenate"`: the label is joined to the flat image (Mirza and
      Osindero, 2014). Ten label values next to hundreds of pixels make a weak
      signal that the first layer must learn to pick out.
    - `"projection"`: the image goes through the hidden layers alone, and the
      logit gets a second term, the dot product of the last hidden features
      `h(x)` with a learned embedding `e_y` of the label: `logit = w . h(x) +
      b + e_y . h(x)` (Miyato and Koyama, 2018). Every class has its own
      direction in feature space, so a digit of the wrong class is easy to
      reject.

    Args:
        input_shape: `(height, width, channels)` of the images.
        hidden_units: Units of the hidden Dense layers, from the image side.
        negative_slope: Slope of the LeakyReLU for negative inputs.
        dropout: Dropout rate after each hidden layer, in [0, 1).
        num_classes: If set, the discriminator is conditional: its inputs are
            `[images, one_hot_labels]`.
        conditioning: `"concatenate"` or `"projection"`: how a conditional
            discriminator uses the labels (see above).
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping images to logits of shape
        `(1,)`.

    Example:

    >>> discriminator = build_dense_discriminator(input_shape=(28, 28, 1))
    >>> discriminator.output_shape
    (None, 1)
    """
    _check_common(num_classes=num_classes)
    input_shape = check_shape("input_shape", input_shape, rank=3)
    hidden_units = check_units("hidden_units", hidden_units, "(256, 128)")
    dropout = _check_fraction("dropout", dropout)
    if conditioning not in CONDITIONINGS:
        raise ValueError(
            f"Expected conditioning to be one of {CONDITIONINGS}. "
            f"Received: conditioning={conditioning!r}"
        )
    images = keras.Input(shape=input_shape, name="images")
    x = keras.layers.Flatten(name="flatten")(images)
    inputs = images
    if num_classes is not None:
        labels = keras.Input(shape=(num_classes,), name="labels")
        inputs = [images, labels]
        if conditioning == "concatenate":
            x = keras.layers.Concatenate(name="pixels_and_labels")([x, labels])
    for i, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, name=f"hidden_{i}")(x)
        x = keras.layers.LeakyReLU(negative_slope, name=f"leaky_relu_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    logits = keras.layers.Dense(1, name="logit", dtype="float32")(x)  # mixed precision
    if num_classes is not None and conditioning == "projection":
        embedding = keras.layers.Dense(
            hidden_units[-1], use_bias=False, name="label_embedding"
        )(labels)
        projection = keras.layers.Dot(axes=1, name="projection")([embedding, x])
        logits = keras.layers.Add(name="logit_with_projection", dtype="float32")(
            [logits, projection]
        )
    return keras.Model(inputs, logits, name=name)


def build_dcgan_generator(
    latent_dim=100,
    output_shape=(28, 28, 1),
    filters=(128, 64),
    kernel_size=4,
    negative_slope=0.0,
    output_activation="sigmoid",
    num_classes=None,
    name="generator",
):
    """Builds a DCGAN generator: Dense, Reshape, then Conv2DTranspose upsampling.

    A Dense layer projects the latent vector to a small feature map of
    `filters[0]` channels, `1 / 2 ** len(filters)` of the image's height and
    width (7x7 for 28x28 images, 2x2 for 8x8, 8x8 for 32x32). Each stage is a
    `Conv2DTranspose` with stride 2 (doubling height and width), batch
    normalization and a ReLU (a LeakyReLU if `negative_slope > 0`), as in
    Radford et al. (2016). A last `Conv2D` maps to the image channels.

    Args:
        latent_dim: Size of the latent (noise) vectors.
        output_shape: `(height, width, channels)`, height and width divisible by
            `2 ** len(filters)` (by 4 with the default two stages).
        filters: Channels of the upsampling stages, from the latent side.
        kernel_size: Size of the square kernels.
        negative_slope: 0 for ReLU (DCGAN's choice), > 0 for a LeakyReLU.
        output_activation: `"sigmoid"` (the default, images in (0, 1)) or
            `"tanh"` (data in [-1, 1]).
        num_classes: If set, the inputs are `[latent, one_hot_labels]`.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping latent vectors to images.

    Example:

    >>> generator = build_dcgan_generator(latent_dim=32, output_shape=(28, 28, 1))
    >>> generator.get_layer("reshape").output.shape
    (None, 7, 7, 128)
    """
    _check_common(latent_dim, num_classes)
    output_shape = check_shape("output_shape", output_shape, rank=3)
    filters = check_units("filters", filters, "(128, 64)")
    kernel_size = check_positive_int("kernel_size", kernel_size)
    height, width = check_spatial_shape("output_shape", output_shape, filters)
    _check_output_activation(output_activation)

    def activate(x, label):
        if negative_slope:
            return keras.layers.LeakyReLU(negative_slope, name=f"leaky_relu_{label}")(x)
        return keras.layers.ReLU(name=f"relu_{label}")(x)

    inputs, x = _latent_inputs(latent_dim, num_classes)
    x = keras.layers.Dense(height * width * filters[0], use_bias=False, name="project")(
        x
    )
    x = keras.layers.BatchNormalization(name="batch_norm_0")(x)
    x = activate(x, 0)
    x = keras.layers.Reshape((height, width, filters[0]), name="reshape")(x)
    for i, num_filters in enumerate(filters, start=1):
        x = keras.layers.Conv2DTranspose(
            num_filters,
            kernel_size,
            strides=2,
            padding="same",
            use_bias=False,
            name=f"deconv_{i}",
        )(x)
        x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        x = activate(x, i)
    outputs = keras.layers.Conv2D(
        output_shape[-1],
        kernel_size,
        padding="same",
        activation=output_activation,
        name="pixels",
        dtype="float32",
    )(x)
    return keras.Model(inputs, outputs, name=name)


def build_dcgan_discriminator(
    input_shape=(28, 28, 1),
    filters=(64, 128),
    kernel_size=4,
    negative_slope=0.2,
    dropout=0.3,
    num_classes=None,
    name="discriminator",
):
    """Builds a DCGAN discriminator: strided Conv2D stages, then one logit.

    Each stage is a `Conv2D` with stride 2 and "same" padding (halving height
    and width, rounding up) and a LeakyReLU; then Flatten, Dropout and a Dense
    layer with one linear unit. Like the keras-io DCGAN, it has no batch
    normalization, so it also serves as a WGAN-GP critic (the gradient penalty
    is per image, which batch statistics would mix).

    Args:
        input_shape: `(height, width, channels)` of the images.
        filters: Filters of the stages, usually increasing.
        kernel_size: Size of the square kernels.
        negative_slope: Slope of the LeakyReLU for negative inputs.
        dropout: Dropout rate before the last layer, in [0, 1).
        num_classes: If set, the inputs are `[images, one_hot_labels]` and the
            labels are appended to the image as `num_classes` constant channels.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` mapping images to logits of shape
        `(1,)`.

    Example:

    >>> discriminator = build_dcgan_discriminator(input_shape=(28, 28, 1))
    >>> discriminator.get_layer("conv_2").output.shape
    (None, 7, 7, 128)
    """
    _check_common(num_classes=num_classes)
    input_shape = check_shape("input_shape", input_shape, rank=3)
    filters = check_units("filters", filters, "(64, 128)")
    kernel_size = check_positive_int("kernel_size", kernel_size)
    dropout = _check_fraction("dropout", dropout)
    images = keras.Input(shape=input_shape, name="images")
    x, inputs = images, images
    if num_classes is not None:
        height, width = input_shape[:2]
        labels = keras.Input(shape=(num_classes,), name="labels")
        # (K,) -> (H * W, K) -> (H, W, K): the label as constant channels.
        planes = keras.layers.RepeatVector(height * width, name="repeat_labels")(labels)
        planes = keras.layers.Reshape((height, width, num_classes), name="label_maps")(
            planes
        )
        x = keras.layers.Concatenate(name="pixels_and_labels")([images, planes])
        inputs = [images, labels]
    for i, num_filters in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            num_filters, kernel_size, strides=2, padding="same", name=f"conv_{i}"
        )(x)
        x = keras.layers.LeakyReLU(negative_slope, name=f"leaky_relu_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    logits = keras.layers.Dense(1, name="logit", dtype="float32")(x)  # mixed precision
    return keras.Model(inputs, logits, name=name)
