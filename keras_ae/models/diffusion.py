"""Denoising diffusion (DDPM, Ho et al., 2020) with DDPM and DDIM sampling.

The forward process adds Gaussian noise to an image `x_0` over `T` steps,
`q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)`, so that

    q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I),  abar_t = prod_{i<=t} alpha_i

with `alpha_i = 1 - beta_i`, and `x_T` is almost pure noise. A denoiser
`eps_theta(x_t, t)` learns to predict the noise `eps` in `x_t = sqrt(abar_t)
x_0 + sqrt(1 - abar_t) eps` (the loss `L_simple`, a mean squared error).
Generating runs the process backwards from `x_T ~ N(0, I)`, step by step:

- DDPM (ancestral sampling): `x_{t-1}` is drawn from the posterior
  `q(x_{t-1} | x_t, x_0)` with `x_0` replaced by the denoiser's estimate.
- DDIM (Song et al., 2021): a step that keeps the same marginals but, with
  `eta=0`, adds no noise. It can skip steps (50 instead of 1,000), and being
  deterministic it can be run backwards: `ddim_invert` encodes an image as
  the `x_T` that regenerates it.

Timesteps are indices `t = 0, ..., T - 1` (the paper's `1, ..., T`); `t = -1`
stands for the clean image (`abar = 1`). Images enter and leave in [0, 1] and
are scaled to [-1, 1] inside, where the schedule works.

Example:
    >>> from keras_ae.data import load_dataset
    >>> (x_train, _), _, _, _ = load_dataset("digits")  # 8x8 images in [0, 1]
    >>> denoiser = build_unet_denoiser((8, 8, 1), filters=(16, 32))
    >>> model = DiffusionModel(denoiser, num_timesteps=1000, seed=0)
    >>> model.compile(optimizer=keras.optimizers.Adam(2e-3))
    >>> history = model.fit(x_train[:256], epochs=1, batch_size=64, verbose=0)
    >>> sorted(history.history)
    ['loss']
    >>> model.sample(4, method="ddim", steps=10, seed=0).shape
    (4, 8, 8, 1)
"""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_ae._validation import check_batch, check_positive_int, check_shape
from keras_ae.devices import replica_seed
from keras_ae.models._base import (
    SampleWeightWithoutTargets,
    SubModelConfig,
    minimize,
    update_means,
    weighted_mean,
)

__all__ = [
    "NoiseSchedule",
    "SinusoidalEmbedding",
    "build_unet_denoiser",
    "DiffusionModel",
    "SCHEDULES",
    "METHODS",
]

SCHEDULES = ("linear", "cosine")
METHODS = ("ddpm", "ddim")
# Ho et al.'s linear betas for T = 1000; other T scale them by 1000 / T, as
# Nichol and Dhariwal (2021) do, so that abar_T stays near 4e-5.
LINEAR_BETAS = (1e-4, 0.02)
# Nichol and Dhariwal's cosine schedule: offset s, betas clipped to 0.999.
COSINE_OFFSET = 0.008
MAX_BETA = 0.999
DDIM_DEFAULT_STEPS = 50


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_seed(seed):
    if seed is not None and not _is_int(seed):
        raise ValueError(f"Expected seed to be an int or None. Received: seed={seed!r}")
    return None if seed is None else int(seed)


class NoiseSchedule:
    """The betas of the forward process and the Gaussians they define.

    Arrays (NumPy, float64, indexed by `t = 0, ..., T - 1`): `betas`, `alphas =
    1 - betas`, `alphas_cumprod` (`abar_t`). The methods take `x_0` in the
    model's space, [-1, 1].

    - `"linear"`: `betas` evenly spaced from `1e-4 * 1000 / T` to
      `0.02 * 1000 / T` (Ho et al.'s values for T = 1000).
    - `"cosine"`: `abar_t = f(t + 1) / f(0)`, `f(u) = cos(pi / 2 * (u / T + s)
      / (1 + s))^2` with `s = 0.008`, `betas` clipped to 0.999 (Nichol and
      Dhariwal, 2021). Noise comes in more slowly than with linear betas.

    Args:
        num_timesteps: `T`, int > 0 (> 20 for `"linear"`).
        kind: `"linear"` or `"cosine"`.

    Example:
        >>> schedule = NoiseSchedule(1000, "linear")
        >>> print(f"{schedule.alphas_cumprod[-1]:.2e}")  # x_T is nearly pure noise
        4.04e-05
    """

    def __init__(self, num_timesteps=1000, kind="linear"):
        steps = check_positive_int("num_timesteps", num_timesteps)
        if kind == "linear":
            scale = 1000.0 / steps
            if LINEAR_BETAS[1] * scale >= 1.0:
                raise ValueError(
                    "Expected num_timesteps > 20 for the linear schedule (its last "
                    "beta, 0.02 * 1000 / num_timesteps, must stay below 1). "
                    f"Received: num_timesteps={num_timesteps!r}"
                )
            betas = np.linspace(LINEAR_BETAS[0] * scale, LINEAR_BETAS[1] * scale, steps)
        elif kind == "cosine":
            u = np.arange(steps + 1) / steps
            f = np.cos((u + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2
            betas = np.minimum(1.0 - f[1:] / f[:-1], MAX_BETA)
        else:
            raise ValueError(
                f"Expected kind to be one of {SCHEDULES}. Received: kind={kind!r}"
            )
        self.num_timesteps = steps
        self.kind = kind
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = np.cumprod(self.alphas)

    def alpha_bar(self, t):
        """`abar_t` for integer `t` in `[-1, T)` (NumPy); `abar_{-1} = 1`."""
        return np.concatenate([[1.0], self.alphas_cumprod])[np.asarray(t) + 1]

    def _take(self, values, t, x):
        """`values[t]` as float32, shaped `(batch, 1, ..., 1)` to broadcast over `x`."""
        taken = ops.take(ops.convert_to_tensor(values, "float32"), t)
        return ops.reshape(taken, (-1,) + (1,) * (len(x.shape) - 1))

    def q_mean_variance(self, x0, t):
        """Mean and variance of `q(x_t | x_0)`: `sqrt(abar_t) x_0`, `1 - abar_t`.

        Args:
            x0: Tensor `(batch, ...)` of clean images in [-1, 1].
            t: Int tensor `(batch,)` of timesteps in `[0, T)`.

        Returns:
            The mean (shape of `x0`) and the variance `(batch, 1, ..., 1)`.
        """
        x0 = ops.convert_to_tensor(x0, "float32")
        mean = self._take(np.sqrt(self.alphas_cumprod), t, x0) * x0
        return mean, self._take(1.0 - self.alphas_cumprod, t, x0)

    def q_sample(self, x0, t, noise):
        """Draws `x_t ~ q(x_t | x_0)` in closed form: `sqrt(abar_t) x0 + sqrt(1 -
        abar_t) noise`.

        Args:
            x0: Tensor `(batch, ...)` of clean images in [-1, 1].
            t: Int tensor `(batch,)` of timesteps in `[0, T)`.
            noise: Tensor of the shape of `x0`, drawn from N(0, I).

        Returns:
            The noisy images `x_t`, a tensor of the shape of `x0`.
        """
        mean, variance = self.q_mean_variance(x0, t)
        return mean + ops.sqrt(variance) * ops.cast(noise, mean.dtype)

    def posterior_coefficients(self, t, s=None):
        """`q(x_s | x_t, x_0) = N(c0 x_0 + ct x_t, variance)` for `s < t`: NumPy.

        With `s = t - 1` (the default) it is the DDPM posterior, variance
        `beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t`. Skipping steps
        (`s < t - 1`) puts `abar_t / abar_s` in place of `alpha_t`: the
        posterior of the shorter chain `x_0 -> x_s -> x_t`.

        Args:
            t: Int or int array of timesteps in `[0, T)`.
            s: Earlier timesteps in `[-1, t)`; default `t - 1`.

        Returns:
            Three float64 arrays `(c0, ct, variance)`.
        """
        t = np.asarray(t)
        s = t - 1 if s is None else np.asarray(s)
        abar_t, abar_s = self.alpha_bar(t), self.alpha_bar(s)
        alpha = abar_t / abar_s  # of the step s -> t
        c0 = np.sqrt(abar_s) * (1.0 - alpha) / (1.0 - abar_t)
        ct = np.sqrt(alpha) * (1.0 - abar_s) / (1.0 - abar_t)
        variance = (1.0 - abar_s) / (1.0 - abar_t) * (1.0 - alpha)
        return c0, ct, variance

    def posterior_mean_variance(self, x0, x_t, t):
        """Mean and variance of `q(x_{t-1} | x_t, x_0)`, as `q_mean_variance`."""
        x0 = ops.convert_to_tensor(x0, "float32")
        c0, ct, variance = self.posterior_coefficients(np.arange(self.num_timesteps))
        mean = self._take(c0, t, x0) * x0 + self._take(ct, t, x0) * x_t
        return mean, self._take(variance, t, x0)

    def get_config(self):
        return {"num_timesteps": self.num_timesteps, "kind": self.kind}


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
    if not filters or not all(
        _is_int(f) and f > 0 and f % groups == 0 for f in filters
    ):
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


def _check_denoiser(denoiser):
    """Checks a Functional `[x_t, t] -> noise` model; returns the image shape."""
    inputs = getattr(denoiser, "inputs", None) or []
    outputs = getattr(denoiser, "outputs", None) or []
    shapes = [tuple(tensor.shape) for tensor in inputs]
    if (
        len(inputs) != 2
        or len(shapes[1]) != 1
        or len(outputs) != 1
        or tuple(outputs[0].shape) != shapes[0]
    ):
        raise ValueError(
            "Expected a Functional denoiser mapping [images (batch, H, W, C), "
            "timesteps (batch,)] to noise of the images' shape, as from "
            "build_unet_denoiser(). Received: inputs of shapes "
            f"{shapes}, outputs of shapes {[tuple(o.shape) for o in outputs]}"
        )
    return shapes[0][1:]


def _timesteps(num_timesteps, steps):
    """The timesteps `i * T // steps`, `i = steps - 1, ..., 0`, noisiest first.

    DDIM's spacing (Song et al.'s `range(0, T, T // steps)`; Nichol and
    Dhariwal respace the same way): with fewer steps than `T` the noisiest
    step is `T - T / steps`, not `T - 1`, where the cosine schedule's
    `abar ~ 2e-9` would divide the noise estimate's error by 5e-5 in `x0_hat`.
    """
    return (np.arange(steps) * num_timesteps // steps)[::-1]


@keras.saving.register_keras_serializable(package="keras_ae")
class DiffusionModel(SubModelConfig, SampleWeightWithoutTargets, keras.Model):
    """A denoising diffusion model trained to predict noise (Ho et al., 2020).

    One `train_step` on a batch of images `x` in [0, 1]: scale to `x_0 = 2 x -
    1`, draw timesteps `t` uniformly from `[0, T)` and noise `eps ~ N(0, I)`
    (in that order, from the model's seed generator; each replica of a
    `tf.distribute` strategy draws its own, `keras_ae.devices.replica_seed`),
    form `x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`, and minimize

        loss = mean over the batch of [ mean over pixels of (eps_theta - eps)^2 ]

    (Ho et al.'s `L_simple`). `fit(..., sample_weight=w)` weights each image's
    term, as the VAEs do; the step is `keras_ae.models._base.minimize` (loss scaled
    per replica and by a `LossScaleOptimizer`), and the tracker `loss` is the
    mean over the epoch's images. `evaluate` draws `t` and `eps` the same way,
    so a validation loss varies a little from call to call.

    For an exponential moving average of the weights, which makes samples
    smoother, compile with `keras.optimizers.Adam(..., use_ema=True,
    ema_momentum=0.99)`: `fit` copies the averages into the weights at its end.

    Args:
        denoiser: A Functional model `[x_t, t] -> predicted noise`, see
            `build_unet_denoiser`.
        num_timesteps: `T`, the number of diffusion steps, int > 0. 1000, as
            in the paper: the denoiser learns every noise level either way,
            and DDIM samples in 50 steps or fewer whatever `T` is.
        schedule: `"linear"` or `"cosine"`, see `NoiseSchedule`.
        seed: Int or None, the seed of the training and sampling noise.
        **kwargs: Passed to `keras.Model` (for example `name`).

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, _), (x_val, _), _, _ = load_dataset("digits")
        >>> model = DiffusionModel(build_unet_denoiser((8, 8, 1), (16, 32)), seed=0)
        >>> model.compile(optimizer=keras.optimizers.Adam(2e-3))
        >>> history = model.fit(x_train[:256], validation_data=(x_val[:64],),
        ...                     epochs=1, batch_size=64, verbose=0)
        >>> sorted(history.history)
        ['loss', 'val_loss']
        >>> noise = model.ddim_invert(x_val[:4], steps=20, refinements=3)
        >>> again = model.sample(4, method="ddim", steps=20, initial_noise=noise,
        ...                      clip_denoised=False)  # x_val[:4] once trained
        >>> again.shape
        (4, 8, 8, 1)
    """

    sub_models = ("denoiser",)

    def __init__(
        self, denoiser, num_timesteps=1000, schedule="linear", seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.image_shape = _check_denoiser(denoiser)
        if schedule not in SCHEDULES:
            raise ValueError(
                f"Expected schedule to be one of {SCHEDULES}. "
                f"Received: schedule={schedule!r}"
            )
        self.schedule = NoiseSchedule(num_timesteps, schedule)
        self.num_timesteps = self.schedule.num_timesteps
        self.denoiser = denoiser
        self.seed = _check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self._compiled_steps = {}
        self.built = denoiser.built

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, inputs, training=False):
        """The denoiser's noise prediction for `[x_t, t]`."""
        return self.denoiser(inputs, training=training)

    def _loss(self, x, sample_weight, training):
        x0 = 2.0 * ops.cast(x, "float32") - 1.0
        batch = ops.shape(x0)[0]
        seed = replica_seed(self.seed_generator)
        t = keras.random.randint((batch,), 0, self.num_timesteps, seed=seed)
        noise = keras.random.normal(ops.shape(x0), seed=seed)
        x_t = self.schedule.q_sample(x0, t, noise)
        predicted = ops.cast(self.denoiser([x_t, t], training=training), "float32")
        squared = ops.reshape(ops.square(predicted - noise), (batch, -1))
        loss = weighted_mean(ops.mean(squared, axis=1), sample_weight)
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def train_step(self, data):
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss = minimize(
            lambda: self._loss(x, sample_weight, True),
            self.optimizer,
            self.trainable_weights,
        )
        update_means([(self.loss_tracker, loss)], ops.shape(x)[0])
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss = self._loss(x, sample_weight, False)
        update_means([(self.loss_tracker, loss)], ops.shape(x)[0])
        return {"loss": self.loss_tracker.result()}

    # Sampling. Each step is one compiled function; the Python loop over the
    # steps passes it the step's coefficients, computed in float64 NumPy.

    def _compiled(self, kind):
        if kind not in self._compiled_steps:
            function = {"reverse": self._reverse_step, "invert": self._invert_step}
            # No autograph: the steps have no tensor-dependent Python control flow.
            self._compiled_steps[kind] = tf.function(
                function[kind], reduce_retracing=True, autograph=False
            )
        return self._compiled_steps[kind]

    def _predict_noise(self, x, t):
        timesteps = ops.full((ops.shape(x)[0],), t, dtype="int32")
        return ops.cast(self.denoiser([x, timesteps], training=False), "float32")

    def _reverse_step(self, x, t, noise, coefficients, clip_denoised):
        """One step t -> s: `x_s = k0 x0_hat + kt x_t + keps eps_hat + sigma noise`."""
        sqrt_abar, sqrt_one_minus_abar, k0, kt, keps, sigma = ops.unstack(coefficients)
        eps = self._predict_noise(x, t)
        x0 = (x - sqrt_one_minus_abar * eps) / sqrt_abar
        if clip_denoised:  # eps stays the network's: see `sample`
            x0 = ops.clip(x0, -1.0, 1.0)
        return k0 * x0 + kt * x + keps * eps + sigma * noise

    def _invert_step(self, x_s, x_t, t, coefficients):
        """DDIM step s -> t upwards, with the noise predicted at `(x_t, t)`."""
        sqrt_abar_s, sqrt_one_minus_abar_s, sqrt_abar_t, sqrt_one_minus_abar_t = (
            ops.unstack(coefficients)
        )
        eps = self._predict_noise(x_t, t)
        x0 = (x_s - sqrt_one_minus_abar_s * eps) / sqrt_abar_s
        return sqrt_abar_t * x0 + sqrt_one_minus_abar_t * eps

    def _reverse_plan(self, method, steps, eta):
        """`(t, coefficients)` of each step, and whether it draws noise."""
        timesteps = _timesteps(self.num_timesteps, steps)
        plan = []
        for t, s in zip(timesteps, [*timesteps[1:], -1], strict=True):
            abar_t, abar_s = self.schedule.alpha_bar(t), self.schedule.alpha_bar(s)
            c0, ct, variance = self.schedule.posterior_coefficients(t, s)
            if method == "ddpm":  # the posterior mean with x0_hat for x_0
                k0, kt, keps, sigma = c0, ct, 0.0, np.sqrt(variance)
            else:  # DDIM: sigma^2 = eta^2 times the posterior variance
                sigma = eta * np.sqrt(variance)
                k0, kt = np.sqrt(abar_s), 0.0
                keps = np.sqrt(max(1.0 - abar_s - sigma**2, 0.0))
            values = [np.sqrt(abar_t), np.sqrt(1.0 - abar_t), k0, kt, keps, sigma]
            plan.append(
                (tf.constant(t, "int32"), np.array(values, "float32"), sigma > 0)
            )
        return plan

    def _check_steps(self, steps):
        steps = check_positive_int("steps", steps)
        if steps > self.num_timesteps:
            raise ValueError(
                f"Expected steps <= num_timesteps={self.num_timesteps}. "
                f"Received: steps={steps}"
            )
        return steps

    def _check_images(self, name, images, low=None, high=None):
        images = check_batch(name, images)
        if images.shape[1:] != self.image_shape:
            raise ValueError(
                f"Expected {name} of shape (N, {str(self.image_shape)[1:]}. "
                f"Received: {name}.shape={images.shape}"
            )
        if low is not None and not (images.min() >= low and images.max() <= high):
            raise ValueError(
                f"Expected {name} in [{low}, {high}]. Received: values from "
                f"{images.min()} to {images.max()}"
            )
        return images

    def sample(
        self,
        num_images,
        seed=None,
        method="ddpm",
        steps=None,
        eta=None,
        clip_denoised=True,
        initial_noise=None,
        return_every=None,
        batch_size=256,
    ):
        """Generates images by running the diffusion backwards from noise.

        - `"ddpm"`: ancestral sampling, `x_{t-1} ~ N(mu, beta_tilde_t)` where
          `mu = c0 x0_hat + ct x_t` is the posterior mean
          (`NoiseSchedule.posterior_coefficients`) with the estimate
          `x0_hat = (x_t - sqrt(1 - abar_t) eps_theta) / sqrt(abar_t)` for
          `x_0`. With `steps < T` it runs on every `T / steps`-th timestep
          with the posterior of those jumps (Nichol and Dhariwal, 2021).
        - `"ddim"`: `x_s = sqrt(abar_s) x0_hat + sqrt(1 - abar_s - sigma^2)
          eps_theta + sigma z`, `sigma^2 = eta^2 beta_tilde`: deterministic
          for `eta=0`; with `eta=1` it is the DDPM chain (the same images when
          nothing is clipped).

        Args:
            num_images: Number of images, int > 0.
            seed: None (the model's seed generator: new images every call) or
                an int (the same images every call, for a given `batch_size`).
            method: `"ddpm"` or `"ddim"`.
            steps: Denoiser calls, `<= T`, at the timesteps `i * T // steps`
                (`i < steps`): every `T / steps`-th from 0. Default: `T` for
                `"ddpm"`, 50 for `"ddim"`.
            eta: For `"ddim"` only, >= 0; default 0.
            clip_denoised: Clip `x0_hat` to [-1, 1] at every step, as Ho et
                al. do; `eps_theta` stays as predicted (recomputing it from the
                clipped `x0_hat` would carry the saturated guesses of the
                noisiest steps into the image). Regenerating from
                `ddim_invert` is exact only without.
            initial_noise: None, or `x_T` to start from: an array `(num_images,
                *image_shape)` such as `ddim_invert` returns.
            return_every: None, or an int k > 0 to also return the images on
                the way: `x_T`, then `x` after every k-th step, and the last.
            batch_size: Images denoised at once, int > 0.

        Returns:
            A NumPy array `(num_images, *image_shape)` of images in [0, 1]; with
            `return_every`, also an array `(frames, num_images, *image_shape)`
            of `(x + 1) / 2` clipped to [0, 1].

        Example:
            >>> model = DiffusionModel(build_unet_denoiser((8, 8, 1), (16, 32)))
            >>> model.sample(16, method="ddim", steps=50, seed=0).shape
            (16, 8, 8, 1)
            >>> images, frames = model.sample(2, seed=0, steps=200, return_every=100)
            >>> frames.shape  # x_T, after 100 steps, after 200
            (3, 2, 8, 8, 1)
        """
        num_images = check_positive_int("num_images", num_images)
        if method not in METHODS:
            raise ValueError(
                f"Expected method to be one of {METHODS}. Received: method={method!r}"
            )
        if steps is None:
            steps = self.num_timesteps if method == "ddpm" else DDIM_DEFAULT_STEPS
        steps = self._check_steps(steps)
        if method == "ddpm" and eta is not None:
            raise ValueError(
                "Expected eta=None with method='ddpm' (its variance is the "
                f"posterior's, DDIM's eta=1). Received: eta={eta!r}"
            )
        eta = 0.0 if eta is None else eta
        if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or eta < 0:
            raise ValueError(f"Expected eta >= 0. Received: eta={eta!r}")
        if return_every is not None:
            return_every = check_positive_int("return_every", return_every)
        batch_size = check_positive_int("batch_size", batch_size)
        if initial_noise is not None:
            initial_noise = self._check_images("initial_noise", initial_noise)
            if len(initial_noise) != num_images:
                raise ValueError(
                    f"Expected {num_images} initial_noise images (num_images). "
                    f"Received: {len(initial_noise)}"
                )
        seed = _check_seed(seed)
        generator = (
            self.seed_generator if seed is None else keras.random.SeedGenerator(seed)
        )
        plan = self._reverse_plan(method, steps, float(eta))
        step = self._compiled("reverse")
        images, frames = [], []
        for start in range(0, num_images, batch_size):
            size = min(batch_size, num_images - start)
            shape = (size, *self.image_shape)
            if initial_noise is None:
                x = keras.random.normal(shape, seed=generator)
            else:
                x = ops.convert_to_tensor(initial_noise[start : start + size])
            chunk_frames = [x]
            for i, (t, coefficients, noisy) in enumerate(plan):
                noise = keras.random.normal(shape, seed=generator) if noisy else 0.0 * x
                x = step(x, t, noise, coefficients, bool(clip_denoised))
                if return_every and ((i + 1) % return_every == 0 or i + 1 == steps):
                    chunk_frames.append(x)
            images.append(ops.convert_to_numpy(x))
            frames.append(np.stack([ops.convert_to_numpy(f) for f in chunk_frames]))
        images = np.clip((np.concatenate(images) + 1.0) / 2.0, 0.0, 1.0)
        if return_every is None:
            return images
        return images, np.clip((np.concatenate(frames, axis=1) + 1.0) / 2.0, 0.0, 1.0)

    def ddim_invert(
        self, images, steps=DDIM_DEFAULT_STEPS, refinements=0, batch_size=256
    ):
        """Encodes images as the `x_T` from which DDIM (eta=0) regenerates them.

        Runs the deterministic DDIM step upwards through the timesteps that
        `sample(method="ddim", steps=steps)` goes down: from `x_s` to `x_t`,
        `x_t = sqrt(abar_t) x0_hat + sqrt(1 - abar_t) eps_theta(x_t, t)`,
        `x0_hat = (x_s - sqrt(1 - abar_s) eps_theta(x_t, t)) / sqrt(abar_s)`.
        `eps_theta(x_t, t)` needs the unknown `x_t`: the usual inversion
        (Song et al., 2021; Dhariwal and Nichol, 2021) takes `eps_theta(x_s, t)`,
        and each of `refinements` fixed-point iterations evaluates it again at
        the latest `x_t`, which makes the round trip closer to exact: without
        them most pixels come back within a few hundredths but a few may not;
        with 2 to 5 the regenerated image matches to about 1e-3.

        Args:
            images: Array `(N, *image_shape)` of images in [0, 1].
            steps: Number of DDIM steps, `<= T`: use the same in `sample`.
            refinements: Extra fixed-point iterations per step, int >= 0.
            batch_size: Images at once, int > 0.

        Returns:
            A NumPy array `x_T` of the shape of `images`, for
            `sample(len(images), method="ddim", steps=steps,
            initial_noise=x_T, clip_denoised=False)`.

        Example:
            >>> model = DiffusionModel(build_unet_denoiser((8, 8, 1), (16, 32)))
            >>> model.ddim_invert(np.full((2, 8, 8, 1), 0.5), steps=10).shape
            (2, 8, 8, 1)
        """
        images = self._check_images("images", images, 0.0, 1.0)
        steps = self._check_steps(steps)
        if not _is_int(refinements) or refinements < 0:
            raise ValueError(
                "Expected refinements >= 0 (an int). "
                f"Received: refinements={refinements!r}"
            )
        batch_size = check_positive_int("batch_size", batch_size)
        timesteps = _timesteps(self.num_timesteps, steps)[::-1]
        plan = []
        for s, t in zip([-1, *timesteps[:-1]], timesteps, strict=True):
            abar_s, abar_t = self.schedule.alpha_bar(s), self.schedule.alpha_bar(t)
            values = [
                np.sqrt(abar_s),
                np.sqrt(1 - abar_s),
                np.sqrt(abar_t),
                np.sqrt(1 - abar_t),
            ]
            plan.append((tf.constant(t, "int32"), np.array(values, "float32")))
        step = self._compiled("invert")
        encoded = []
        for start in range(0, len(images), batch_size):
            x = ops.convert_to_tensor(2.0 * images[start : start + batch_size] - 1.0)
            for t, coefficients in plan:
                x_t = x
                for _ in range(1 + refinements):
                    x_t = step(x, x_t, t, coefficients)
                x = x_t
            encoded.append(ops.convert_to_numpy(x))
        return np.concatenate(encoded)

    def get_config(self):
        base = super().get_config()  # with the denoiser
        return {
            **base,
            "num_timesteps": self.num_timesteps,
            "schedule": self.schedule.kind,
            "seed": self.seed,
        }
