"""A small U-Net denoiser `[x_t, t] -> eps` and the timestep embedding it uses.

`build_unet_denoiser` builds the network a `keras_ae.models.diffusion.DiffusionModel`
trains to predict the noise in `x_t`; `SinusoidalEmbedding` tells it `t`.

Example:
    >>> denoiser = build_unet_denoiser((8, 8, 1), filters=(16, 32))
    >>> [tuple(tensor.shape) for tensor in denoiser.inputs]
    [(None, 8, 8, 1), (None,)]
"""

import math

import keras
import numpy as np
from keras import layers, ops

from keras_ae._validation import check_positive_int, check_shape, is_int

__all__ = ["SinusoidalEmbedding", "build_unet_denoiser"]


@keras.saving.register_keras_serializable(package="keras_ae")
class SinusoidalEmbedding(keras.layers.Layer):
    """Embeds timesteps `t` as `[sin(t w_k), cos(t w_k)]`, `w_k = 10000^(-k / (d/2))`.

    The positional encoding of the Transformer, as DDPM uses it: nearby `t`
    get similar vectors, and the frequencies span scales from one step to
    thousands. It has no weights and computes in float32.

    Args:
        dim: Even int > 0, the size of the embedding.
        max_period: Number > 0, the longest period, 10000 by default.
        **kwargs: Passed to `keras.layers.Layer` (for example `name`).

    Call arguments:
        t: Tensor `(batch,)` of timesteps (ints or floats).

    Returns:
        A float32 tensor `(batch, dim)`.

    Example:
        >>> SinusoidalEmbedding(4)(np.array([0])).numpy()  # sin 0, sin 0, cos 0, cos 0
        array([[0., 0., 1., 1.]], dtype=float32)
    """

    def __init__(self, dim, max_period=10000.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.dim = check_positive_int("dim", dim)
        if self.dim % 2:
            raise ValueError(f"Expected an even dim. Received: dim={dim!r}")
        self.max_period = float(max_period)

    def call(self, t):
        half = self.dim // 2
        frequencies = np.exp(-math.log(self.max_period) * np.arange(half) / half)
        angles = ops.cast(ops.reshape(t, (-1, 1)), "float32") * ops.convert_to_tensor(
            frequencies[None, :], "float32"
        )
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        base = super().get_config()
        return {**base, "dim": self.dim, "max_period": self.max_period}


def _residual_block(x, embedding, filters, groups, name):
    """GroupNorm-swish-conv twice, the time embedding added in between, plus a skip."""
    h = layers.GroupNormalization(groups, name=f"{name}_norm1")(x)
    h = layers.Activation("swish", name=f"{name}_swish1")(h)
    h = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(h)
    e = layers.Dense(filters, name=f"{name}_time")(embedding)
    h = layers.Add(name=f"{name}_add_time")([h, layers.Reshape((1, 1, filters))(e)])
    h = layers.GroupNormalization(groups, name=f"{name}_norm2")(h)
    h = layers.Activation("swish", name=f"{name}_swish2")(h)
    h = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(h)
    if x.shape[-1] != filters:
        x = layers.Conv2D(filters, 1, name=f"{name}_skip")(x)
    return layers.Add(name=f"{name}_out")([x, h])


def build_unet_denoiser(
    input_shape=(28, 28, 1),
    filters=(16, 32, 64),
    blocks_per_level=1,
    time_embedding_dim=128,
    groups=8,
    name="denoiser",
):
    """Builds a small U-Net that predicts the noise in `x_t` given `t`.

    One level per entry of `filters`, each at half the resolution of the last
    (28x28, 14x14, 7x7 by default). Going down, each level runs
    `blocks_per_level` residual blocks and keeps their outputs; a middle block
    works at the lowest resolution; going up, each block takes the kept
    output of its level concatenated to its input (the U-Net's skip
    connections). Every residual block adds a projection of the time
    embedding (sinusoidal, then a two-layer MLP) to its feature maps, so
    every level knows the noise level. The last convolution starts at zero:
    the untrained network predicts `eps = 0` and the loss starts at 1. The
    defaults are sized for a few thousand 28x28 digits trained for minutes on
    two CPU cores; wider `filters` learn faster per step but cost more per step.

    Args:
        input_shape: `(height, width, channels)`; height and width divisible
            by `2 ** (len(filters) - 1)`.
        filters: Channels per level, from the highest resolution down, each
            divisible by `groups`.
        blocks_per_level: Residual blocks per level on each side, int > 0.
        time_embedding_dim: Size of the time embedding, even int > 0.
        groups: Groups of the `GroupNormalization` layers.
        name: Name of the model.

    Returns:
        A Functional `keras.Model` mapping `[x_t, t]` (images `(batch, *input_shape)`
        and int timesteps `(batch,)`) to the predicted noise, of the images' shape.
        It is float32 at its output whatever the dtype policy.

    Example:
        >>> denoiser = build_unet_denoiser((28, 28, 1), filters=(16, 32, 64))
        >>> denoiser.count_params()
        413153
    """
    input_shape = check_shape("input_shape", input_shape, rank=3)
    groups = check_positive_int("groups", groups)
    if isinstance(filters, (str, bytes)) or not hasattr(filters, "__len__"):
        filters = None
    if not filters or not all(is_int(f) and f > 0 and f % groups == 0 for f in filters):
        raise ValueError(
            f"Expected filters to be a non-empty tuple of positive integers "
            f"divisible by groups={groups}, e.g. (16, 32, 64). Received: "
            f"filters={filters!r}"
        )
    blocks_per_level = check_positive_int("blocks_per_level", blocks_per_level)
    factor = 2 ** (len(filters) - 1)
    if input_shape[0] % factor or input_shape[1] % factor:
        raise ValueError(
            f"Expected height and width divisible by {factor} (2 ** (len(filters) "
            f"- 1)). Received: input_shape={input_shape}, filters={filters}"
        )
    images = keras.Input(shape=input_shape, name="noisy_images")
    timesteps = keras.Input(shape=(), dtype="int32", name="timesteps")
    embedding = SinusoidalEmbedding(time_embedding_dim, name="time_sinusoidal")(
        timesteps
    )
    embedding = layers.Dense(time_embedding_dim, activation="swish")(embedding)
    embedding = layers.Dense(time_embedding_dim, name="time_embedding")(embedding)
    x = layers.Conv2D(filters[0], 3, padding="same", name="stem")(images)
    skips = []
    for level, width in enumerate(filters):
        for block in range(blocks_per_level):
            x = _residual_block(x, embedding, width, groups, f"down{level}_{block}")
            skips.append(x)
        if level < len(filters) - 1:
            x = layers.Conv2D(width, 3, strides=2, padding="same")(x)
    x = _residual_block(x, embedding, filters[-1], groups, "middle")
    for level in reversed(range(len(filters))):
        for block in range(blocks_per_level):
            x = layers.Concatenate()([x, skips.pop()])
            x = _residual_block(
                x, embedding, filters[level], groups, f"up{level}_{block}"
            )
        if level > 0:
            x = layers.UpSampling2D(2)(x)
            x = layers.Conv2D(filters[level - 1], 3, padding="same")(x)
    x = layers.GroupNormalization(groups, name="out_norm")(x)
    x = layers.Activation("swish", name="out_swish")(x)
    noise = layers.Conv2D(
        input_shape[-1],
        3,
        padding="same",
        kernel_initializer="zeros",
        dtype="float32",
        name="predicted_noise",
    )(x)
    return keras.Model([images, timesteps], noise, name=name)
