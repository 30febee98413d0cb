"""WGAN-GP (Gulrajani et al. 2017): a critic with a gradient penalty, trained n_critic
steps per generator step on fresh slices of each batch.
"""

import functools

import keras
import tensorflow as tf
from keras import ops

from keras_ae._validation import is_int as _is_int
from keras_ae._validation import is_number as _is_number
from keras_ae.devices import replica_seed
from keras_ae.models._base import (
    _AdversarialModel,
    minimize,
    refuse_sample_weight,
    update_means,
)

__all__ = ["GRADIENT_NORM_EPSILON", "WGANGP", "gradient_penalty"]


GRADIENT_NORM_EPSILON = 1e-12


def gradient_penalty(critic, real_images, fake_images, alpha):
    """The WGAN-GP penalty `mean_n (||grad critic(x_hat_n)||_2 - 1) ** 2`.

    `x_hat = alpha * real + (1 - alpha) * fake` lies on the segment between a
    real and a fake image (Gulrajani et al., 2017). The norm is taken over all
    pixels of one image, as `sqrt(sum g ** 2 + 1e-12)`, so that its own
    gradient stays finite where `g = 0`. Call it inside a `GradientTape`: the
    penalty is differentiated again with respect to the critic's weights.

    Args:
        critic: Model mapping images to one score per image. It must treat the
            images of a batch independently (no batch normalization; layer
            normalization is fine).
        real_images: Tensor `(batch, H, W, C)`.
        fake_images: Tensor of the same shape.
        alpha: Tensor `(batch, 1, 1, 1)` of mixing weights in [0, 1].

    Returns:
        A scalar tensor, the unweighted penalty.

    Example:
        >>> import numpy as np
        >>> score = keras.layers.Dense(1, kernel_initializer="ones")  # f = sum(x)
        >>> critic = keras.Sequential(
        ...     [keras.Input((2, 2, 1)), keras.layers.Flatten(), score])
        >>> real = np.ones((3, 2, 2, 1), "float32")
        >>> fake = np.zeros_like(real)
        >>> alpha = np.full((3, 1, 1, 1), 0.5, "float32")
        >>> float(gradient_penalty(critic, real, fake, alpha))  # (||(1,1,1,1)|| - 1)^2
        1.0
    """
    real_images, fake_images, alpha = (
        ops.convert_to_tensor(t) for t in (real_images, fake_images, alpha)
    )
    interpolated = alpha * real_images + (1.0 - alpha) * fake_images
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        scores = critic(interpolated, training=True)
    # The scores of different images do not interact, so the gradient of their
    # sum holds each image's own gradient.
    gradients = tape.gradient(scores, interpolated)
    pixel_axes = tuple(range(1, len(gradients.shape)))
    squared_norms = ops.sum(ops.square(gradients), axis=pixel_axes)
    norms = ops.sqrt(squared_norms + GRADIENT_NORM_EPSILON)
    return ops.mean(ops.square(norms - 1.0))


def _batch_normalization_layers(network):
    return [
        layer.name
        for layer in network._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


@keras.saving.register_keras_serializable(package="keras_ae")
class WGANGP(_AdversarialModel):
    """A Wasserstein GAN with gradient penalty (Gulrajani et al., 2017).

    The critic `f` (the discriminator, with a linear output and no batch
    normalization) estimates the Wasserstein distance
    `W = mean f(x) - mean f(G(z))`. One `train_step` on a batch of `B` real
    images is the paper's Algorithm 1, with `n = critic_steps` and
    `m = ceil(B / n)`:

    1. `n` times, on a fresh slice of `m` real images `x`: draw `m` latent
       vectors `z` and `alpha ~ U(0, 1)` per image, and minimize
       `critic_loss = -W + gp_weight * GP` over the critic's weights, with
       `GP = mean (||grad f(x_hat)||_2 - 1) ** 2` at
       `x_hat = alpha x + (1 - alpha) G(z)` (see `gradient_penalty`).
    2. Once: draw `m` latent vectors and minimize `g_loss = -mean f(G(z))`
       over the generator's weights.

    So `fit(batch_size=B)` takes `B = n * m` real images per step: for the
    paper's `n = 5`, `m = 64`, pass `batch_size=320`. Slice `k` holds images
    `k, k + n, k + 2n, ...` of the batch (when `B` is not a multiple of `n`,
    the last slices wrap around to its start). Interleaved slices rather than
    consecutive blocks keep training the same under a `tf.distribute`
    strategy: when each replica's share of the batch is a multiple of `n`,
    the replicas' slices `k` together are the slice `k` of one device.

    The critic must treat the images of a batch independently, since the
    penalty is on each image's own gradient: critics with
    `BatchNormalization` are refused (`LayerNormalization`, as in the paper,
    is fine).

    Reported metrics (means over all critic steps of the epoch):
    `critic_loss`, `g_loss`, `gradient_penalty` (the weighted term
    `gp_weight * GP`) and `wasserstein_estimate` (`W`, which should fall as
    the fakes improve). The paper's optimizer:
    `keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)` (or `beta_1=0`)
    for both networks.

    Args:
        generator: Built model mapping latent vectors to images.
        discriminator: The critic: built model mapping images to one score,
            without batch normalization.
        latent_dim: Optional; read from the generator if omitted.
        critic_steps: Critic updates per generator update, >= 1 (paper: 5).
        gp_weight: The penalty's weight lambda, >= 0 (paper: 10).
        seed: Int or None, the seed of the latent noise and of `alpha`.
        **kwargs: Passed to `keras.Model`.

    Example:
        >>> import numpy as np
        >>> from keras_ae.models.gan_builders import (
        ...     build_dense_discriminator, build_dense_generator)
        >>> wgan = WGANGP(build_dense_generator(8, (8, 8, 1), (32,)),
        ...               build_dense_discriminator((8, 8, 1), (32,), dropout=0.0),
        ...               critic_steps=2, seed=0)
        >>> wgan.compile(
        ...     d_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
        ...     g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9))
        >>> x_train = np.random.default_rng(0).random((64, 8, 8, 1), dtype="float32")
        >>> history = wgan.fit(x_train, batch_size=2 * 16, verbose=0)  # n=2, m=16
        >>> sorted(history.history)
        ['critic_loss', 'g_loss', 'gradient_penalty', 'wasserstein_estimate']
        >>> slices = wgan.critic_batches(np.arange(5))  # B = 5 images, n = 2
        >>> [ops.convert_to_numpy(s).tolist() for s in slices]  # m = 3, wrapping
        [[0, 2, 4], [1, 3, 0]]
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim=None,
        critic_steps=5,
        gp_weight=10.0,
        seed=None,
        **kwargs,
    ):
        if not _is_int(critic_steps) or critic_steps < 1:
            raise ValueError(
                f"Expected critic_steps >= 1. Received: critic_steps={critic_steps!r}"
            )
        if not _is_number(gp_weight) or not gp_weight >= 0:
            raise ValueError(
                f"Expected gp_weight >= 0. Received: gp_weight={gp_weight!r}"
            )
        batch_norms = _batch_normalization_layers(discriminator)
        if batch_norms:
            raise ValueError(
                "Expected a critic without BatchNormalization: the gradient "
                "penalty is taken per image, and batch normalization makes each "
                "image's score depend on the rest of its batch (use "
                "LayerNormalization, or no normalization). Received: "
                f"BatchNormalization layers {batch_norms}"
            )
        super().__init__(generator, discriminator, latent_dim, seed, **kwargs)
        self.critic_steps = int(critic_steps)
        self.gp_weight = float(gp_weight)
        self.critic_loss_tracker = keras.metrics.Mean(name="critic_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.penalty_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.wasserstein_tracker = keras.metrics.Mean(name="wasserstein_estimate")

    @property
    def metrics(self):
        return [
            self.critic_loss_tracker,
            self.g_loss_tracker,
            self.penalty_tracker,
            self.wasserstein_tracker,
        ]

    def critic_batches(self, real_images):
        """Splits a batch into `critic_steps` slices of `ceil(B / n)` images.

        Slice `k` holds images `k, k + n, k + 2n, ...` (`n = critic_steps`),
        wrapping around to the start of the batch when `B` is not a multiple
        of `n`.
        """
        n = self.critic_steps
        batch_size = ops.shape(real_images)[0]
        positions = ops.arange((batch_size + n - 1) // n) * n
        return [
            ops.take(real_images, (positions + k) % batch_size, axis=0)
            for k in range(n)
        ]

    def _critic_loss(self, real_images, fake_images, alpha):
        real_scores = self.discriminator(real_images, training=True)
        fake_scores = self.discriminator(fake_images, training=True)
        wasserstein = ops.mean(real_scores) - ops.mean(fake_scores)
        penalty = self.gp_weight * gradient_penalty(
            self.discriminator, real_images, fake_images, alpha
        )
        return penalty - wasserstein, penalty, wasserstein

    def _generator_loss(self, latent):
        fake_images = self.generator(latent, training=True)
        return -ops.mean(self.discriminator(fake_images, training=True))

    def train_step(self, data):
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        refuse_sample_weight(sample_weight, self)
        for real_images in self.critic_batches(ops.cast(x, "float32")):
            size = ops.shape(real_images)[0]
            fake_images = self.generator(self.sample_latent(size), training=True)
            alpha_shape = (size,) + (1,) * (len(real_images.shape) - 1)
            alpha = keras.random.uniform(
                alpha_shape, seed=replica_seed(self.seed_generator)
            )
            critic_loss, penalty, wasserstein = minimize(
                functools.partial(self._critic_loss, real_images, fake_images, alpha),
                self.d_optimizer,
                self.discriminator.trainable_weights,
            )
            update_means(
                [
                    (self.critic_loss_tracker, critic_loss),
                    (self.penalty_tracker, penalty),
                    (self.wasserstein_tracker, wasserstein),
                ],
                size,
            )
        latent = self.sample_latent(size)
        g_loss = minimize(
            functools.partial(self._generator_loss, latent),
            self.g_optimizer,
            self.generator.trainable_weights,
        )
        update_means([(self.g_loss_tracker, g_loss)], size)
        return {metric.name: metric.result() for metric in self.metrics}

    def get_config(self):
        base = super().get_config()
        config = {"critic_steps": self.critic_steps, "gp_weight": self.gp_weight}
        return {**base, **config}
