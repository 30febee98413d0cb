"""Generative adversarial networks: `GAN` and `ConditionalGAN` (`WGANGP`: `wgan`).

Each model takes a built generator and a built discriminator (see
`keras_ae.models.gan_builders`) and trains them against each other in its own
`train_step`, one optimizer per network:

>>> import numpy as np
>>> from keras_ae.models.gan_builders import (
...     build_dense_discriminator, build_dense_generator)
>>> gan = GAN(build_dense_generator(8, (8, 8, 1), hidden_units=(32,)),
...           build_dense_discriminator((8, 8, 1), hidden_units=(32,)), seed=0)
>>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
>>> x_train = np.random.default_rng(0).random((128, 8, 8, 1), dtype="float32")
>>> sorted(gan.fit(x_train, epochs=1, batch_size=64, verbose=0).history)
['d_fake', 'd_loss', 'd_real', 'g_loss']
>>> gan.sample(16).shape
(16, 8, 8, 1)

The discriminator outputs **logits** (no sigmoid): `sigmoid(logit)` is the
probability it gives to "real", and the cross-entropies are computed from the
logits, which stays finite where `log(sigmoid(logit))` would not. Each phase
takes the gradient with respect to one network's `trainable_weights` and hands
it to that network's optimizer, so the other network never changes (no
`trainable = False` switching). Losses are means over the batch. Each phase
is one `keras_ae.models._base.minimize`: under a `tf.distribute` strategy the loss is
divided by the number of replicas before the gradient is taken (and each
replica draws its own latent noise, `keras_ae.devices.replica_seed`); under
`"mixed_float16"` `compile` wraps both optimizers in a `LossScaleOptimizer`
and the loss is scaled by it. Metrics are means over the images of the epoch
(each batch weighted by its size). The GANs take no `sample_weight`.

All three sample with `sample(...)`, as the VAEs do; `generate(...)` is an
older name for the same thing.
"""

import keras
from keras import ops

from keras_ae._validation import check_positive_int
from keras_ae._validation import is_number as _is_number
from keras_ae.models._base import (
    _AdversarialModel,
    _input_shapes,
    check_labels,
    minimize,
    one_hot_labels,
    refuse_sample_weight,
    update_means,
)

__all__ = [
    "bce_from_logits",
    "GAN",
    "ConditionalGAN",
]


def bce_from_logits(target, logits):
    """Mean binary cross-entropy between a target probability and logits.

    Per image it is `target * softplus(-l) + (1 - target) * softplus(l)`,
    because `-log(sigmoid(l)) = softplus(-l)` and `-log(1 - sigmoid(l)) =
    softplus(l)`; then the mean over the batch.

    Args:
        target: Float or tensor broadcastable to `logits`: the probability of
            "real" the discriminator should give (1, 0, or `1 - smoothing`).
        logits: Tensor of shape `(batch, 1)`.

    Returns:
        A scalar tensor.

    Example:
        >>> float(bce_from_logits(1.0, ops.zeros((4, 1))))  # -log sigmoid(0) = log 2
        0.6931...
        >>> float(bce_from_logits(0.0, ops.full((2, 1), 100.0)))  # softplus(100)
        100.0
    """
    return ops.mean(
        target * ops.softplus(-logits) + (1 - target) * ops.softplus(logits)
    )


@keras.saving.register_keras_serializable(package="keras_ae")
class GAN(_AdversarialModel):
    """A GAN with the non-saturating generator loss (Goodfellow et al., 2014).

    One `train_step` on a batch of `B` real images `x`:

    1. Discriminator: draw `B` latent vectors `z`, and minimize
       `d_loss = BCE(1 - label_smoothing, D(x)) + BCE(0, D(G(z)))`
       (each term a mean over the batch, from logits) over D's weights.
    2. Generator: draw fresh `z`, and minimize the non-saturating loss
       `g_loss = BCE(1, D(G(z))) = mean(-log sigmoid(D(G(z))))` over G's
       weights. Unlike `log(1 - D(G(z)))`, its gradient is large exactly when
       D confidently rejects the fakes, early in training.

    Reported metrics: `d_loss`, `g_loss`, and `d_real` and `d_fake`, the mean
    probabilities `sigmoid(D(x))` and `sigmoid(D(G(z)))` of phase 1. At the
    game's equilibrium both tend to 0.5; `d_real` near 1 with `d_fake` near 0
    means the discriminator is winning.

    Args:
        generator: Built model mapping `(latent_dim,)` vectors to images.
        discriminator: Built model mapping images to one logit (no sigmoid).
        latent_dim: Optional; read from the generator's input if omitted.
        label_smoothing: One-sided label smoothing in [0, 1): real images get
            the target `1 - label_smoothing` (Salimans et al., 2016), fakes 0.
        seed: Int or None, the seed of the model's latent noise.
        **kwargs: Passed to `keras.Model` (for example `name`).

    Example:
        >>> import numpy as np
        >>> from keras_ae.models.gan_builders import (
        ...     build_dense_discriminator, build_dense_generator)
        >>> gan = GAN(build_dense_generator(16, (8, 8, 1), hidden_units=(32,)),
        ...           build_dense_discriminator((8, 8, 1), hidden_units=(32,)),
        ...           label_smoothing=0.1)
        >>> gan.latent_dim  # read from the generator's input
        16
        >>> gan.compile(d_optimizer="adam", g_optimizer="adam")
        >>> x_train = np.random.default_rng(0).random((64, 8, 8, 1), dtype="float32")
        >>> logs = gan.fit(x_train, epochs=1, batch_size=32, verbose=0).history
        >>> 0 < logs["d_real"][0] < 1  # mean sigmoid(D(x)): a probability
        True
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim=None,
        label_smoothing=0.0,
        seed=None,
        **kwargs,
    ):
        if not _is_number(label_smoothing) or not 0 <= label_smoothing < 1:
            raise ValueError(
                "Expected 0 <= label_smoothing < 1. "
                f"Received: label_smoothing={label_smoothing!r}"
            )
        super().__init__(generator, discriminator, latent_dim, seed, **kwargs)
        self.label_smoothing = float(label_smoothing)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")

    @property
    def metrics(self):
        return [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.d_real_tracker,
            self.d_fake_tracker,
        ]

    def _unpack(self, data):
        """Returns (real images, labels for the networks or None)."""
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        refuse_sample_weight(sample_weight, self)
        return ops.cast(x, "float32"), None

    def _generator_inputs(self, latent, labels):
        return latent

    def _discriminator_inputs(self, images, labels):
        return images

    def _discriminator_loss(self, real_images, fake_images, labels):
        real_logits = self.discriminator(
            self._discriminator_inputs(real_images, labels), training=True
        )
        fake_logits = self.discriminator(
            self._discriminator_inputs(fake_images, labels), training=True
        )
        d_loss = bce_from_logits(1.0 - self.label_smoothing, real_logits)
        d_loss = d_loss + bce_from_logits(0.0, fake_logits)
        return d_loss, real_logits, fake_logits

    def _generator_loss(self, latent, labels):
        fake_images = self.generator(
            self._generator_inputs(latent, labels), training=True
        )
        logits = self.discriminator(
            self._discriminator_inputs(fake_images, labels), training=True
        )
        return bce_from_logits(1.0, logits)

    def train_step(self, data):
        real_images, labels = self._unpack(data)
        batch_size = ops.shape(real_images)[0]
        latent = self.sample_latent(batch_size)
        fake_images = self.generator(
            self._generator_inputs(latent, labels), training=True
        )
        d_loss, real_logits, fake_logits = minimize(
            lambda: self._discriminator_loss(real_images, fake_images, labels),
            self.d_optimizer,
            self.discriminator.trainable_weights,
        )
        latent = self.sample_latent(batch_size)
        g_loss = minimize(
            lambda: self._generator_loss(latent, labels),
            self.g_optimizer,
            self.generator.trainable_weights,
        )
        means = (
            d_loss,
            g_loss,
            ops.mean(ops.sigmoid(real_logits)),
            ops.mean(ops.sigmoid(fake_logits)),
        )
        # d_loss, g_loss, d_real, d_fake
        update_means(zip(self.metrics, means, strict=True), batch_size)
        return {metric.name: metric.result() for metric in self.metrics}

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="keras_ae")
class ConditionalGAN(GAN):
    """A GAN whose generator and discriminator both see the class label.

    Trains on `(images, labels)` with integer labels of shape `(B,)` or
    `(B, 1)`. The networks take a second input, the one-hot labels (build them
    with `num_classes=` in `keras_ae.models.gan_builders`): the generator learns
    `G(z, y)`, the discriminator judges whether `x` is a real image *of class
    y*. Fake images are made with the batch's real labels. Losses and metrics
    are those of `GAN`.

    Labels are integer-valued (`3` or `3.0`) in `[0, num_classes)`, as for a
    `keras_ae.models.vae.ConditionalVAE`: `sample` and `generate` raise a
    `ValueError` for any other label; inside `fit` a `tf.debugging` assertion
    stops training with an `InvalidArgumentError` (see
    `keras_ae.models._base.one_hot_labels`; XLA drops it).

    Args:
        generator: Built model with inputs `[latent, one_hot_labels]`.
        discriminator: Built model with inputs `[images, one_hot_labels]`,
            returning one logit.
        latent_dim: Optional; read from the generator if omitted.
        label_smoothing: One-sided label smoothing in [0, 1).
        seed: Int or None, the seed of the latent noise.
        **kwargs: Passed to `keras.Model`.

    Example:
        >>> from keras_ae.data import load_dataset
        >>> from keras_ae.models.gan_builders import (
        ...     build_dense_discriminator, build_dense_generator)
        >>> (x_train, y_train), _, _, _ = load_dataset("digits")  # 8x8, 10 classes
        >>> cgan = ConditionalGAN(
        ...     build_dense_generator(16, (8, 8, 1), (32,), num_classes=10),
        ...     build_dense_discriminator((8, 8, 1), (32,), num_classes=10))
        >>> cgan.compile(d_optimizer="adam", g_optimizer="adam")
        >>> history = cgan.fit(x_train[:256], y_train[:256], batch_size=64, verbose=0)
        >>> cgan.sample(8, labels=7).shape  # eight sevens
        (8, 8, 8, 1)
    """

    conditional = True

    def __init__(self, generator, discriminator, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        num_classes = _input_shapes(generator)[1][-1]
        discriminator_classes = _input_shapes(discriminator)[1][-1]
        if num_classes != discriminator_classes:
            raise ValueError(
                "Expected the generator and the discriminator to take the same "
                f"number of classes. Received: generator {num_classes}, "
                f"discriminator {discriminator_classes}"
            )
        self.num_classes = int(num_classes)

    def one_hot(self, labels):
        """Integer labels `(B,)` or `(B, 1)` to one-hot float vectors `(B, K)`."""
        return one_hot_labels(labels, self.num_classes)

    def sample(self, n, labels, seed=None):
        """Generates `n` images of the requested classes: `G(z, y)`, `z ~ N(0, I)`.

        Args:
            n: Number of images, > 0.
            labels: An int class for all `n` images, or `n` int labels.
            seed: None (fresh noise) or an int (the same noise every call).

        Returns:
            A NumPy array of `n` images.
        """
        n = check_positive_int("n", n)
        labels = check_labels(labels, self.num_classes, n)
        return self._sample(n, self.one_hot(labels), seed)

    def generate(self, labels, seed=None):
        """The older name of `sample(len(labels), labels, seed)`."""
        labels = check_labels(labels, self.num_classes)
        return self.sample(len(labels), labels, seed=seed)

    def _unpack(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        refuse_sample_weight(sample_weight, self)
        if y is None:
            raise ValueError(
                "Expected (images, labels) batches for a ConditionalGAN, e.g. "
                "fit(x_train, y_train). Received: images only"
            )
        return ops.cast(x, "float32"), self.one_hot(y)

    def _generator_inputs(self, latent, labels):
        return [latent, labels]

    def _discriminator_inputs(self, images, labels):
        return [images, labels]
