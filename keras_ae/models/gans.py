"""Generative adversarial networks: `GAN`, `ConditionalGAN` and `WGANGP`.

Each model takes a built generator and a built discriminator (see
`keras_ae.models.gan_builders`) and trains them against each other in its own
`train_step`, one optimizer per network:

>>> gan = GAN(generator, discriminator, seed=0)
>>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
>>> gan.fit(x_train, epochs=50, batch_size=64)
>>> images = gan.sample(16)

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

import functools
import numbers

import keras
import tensorflow as tf
from keras import ops

from keras_ae._validation import check_positive_int
from keras_ae.devices import replica_seed
from keras_ae.models._base import (
    SampleWeightWithoutTargets,
    SubModelConfig,
    check_labels,
    minimize,
    one_hot_labels,
    refuse_sample_weight,
    update_means,
)

__all__ = [
    "GRADIENT_NORM_EPSILON",
    "bce_from_logits",
    "gradient_penalty",
    "GAN",
    "ConditionalGAN",
    "WGANGP",
]


GRADIENT_NORM_EPSILON = 1e-12


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


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
        >>> bce_from_logits(1.0, ops.zeros((4, 1)))  # log 2
    """
    return ops.mean(
        target * ops.softplus(-logits) + (1 - target) * ops.softplus(logits)
    )


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
        >>> penalty = gradient_penalty(critic, x, generator(z), alpha)
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


def _input_shapes(model):
    inputs = getattr(model, "inputs", None)
    return [tuple(tensor.shape) for tensor in inputs] if inputs else None


def _output_shape(model):
    outputs = getattr(model, "outputs", None)
    return tuple(outputs[0].shape) if outputs else None


class _AdversarialModel(SubModelConfig, SampleWeightWithoutTargets, keras.Model):
    """What every GAN here shares: networks, latent noise, optimizers, saving."""

    conditional = False
    sub_models = ("generator", "discriminator")

    def __init__(self, generator, discriminator, latent_dim=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and not _is_int(seed):
            raise ValueError(
                f"Expected seed to be an int or None. Received: seed={seed!r}"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = self._check_networks(generator, discriminator, latent_dim)
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.d_optimizer = None
        self.g_optimizer = None
        # The weights live in the built networks: nothing left to build.
        self.built = generator.built and discriminator.built

    def _check_networks(self, generator, discriminator, latent_dim):
        """Checks that the networks fit together; returns the latent size."""
        if latent_dim is not None and (not _is_int(latent_dim) or latent_dim <= 0):
            raise ValueError(
                f"Expected latent_dim > 0. Received: latent_dim={latent_dim!r}"
            )
        generator_inputs = _input_shapes(generator)
        discriminator_inputs = _input_shapes(discriminator)
        generator_output = _output_shape(generator)
        num_inputs = 2 if self.conditional else 1
        if self.conditional and None in (generator_inputs, discriminator_inputs):
            raise ValueError(
                "Expected Functional networks with a one-hot labels input for "
                f"{type(self).__name__}. Received: generator={generator!r}, "
                f"discriminator={discriminator!r}"
            )
        for role, shapes in (
            ("generator", generator_inputs),
            ("discriminator", discriminator_inputs),
        ):
            if shapes is not None and len(shapes) != num_inputs:
                wanted = " [inputs, one-hot labels]" if num_inputs == 2 else ""
                raise ValueError(
                    f"Expected a {role} with {num_inputs} input(s){wanted} for "
                    f"{type(self).__name__}. Received: {len(shapes)} inputs {shapes}"
                )
        if generator_output is not None and discriminator_inputs is not None:
            made, judged = generator_output[1:], discriminator_inputs[0][1:]
            if made != judged:
                raise ValueError(
                    f"Expected the generator's output shape {made} to equal the "
                    f"discriminator's input shape {judged}: build both for the same "
                    f"image shape. Received: generator output {generator_output}, "
                    f"discriminator input {discriminator_inputs[0]}"
                )
        if generator_inputs is None:
            if latent_dim is None:
                raise ValueError(
                    "Expected latent_dim for a generator without Keras inputs. "
                    "Received: latent_dim=None"
                )
            return int(latent_dim)
        built_latent_dim = generator_inputs[0][-1]
        if latent_dim is not None and latent_dim != built_latent_dim:
            raise ValueError(
                f"Expected latent_dim to equal the generator's input size "
                f"{built_latent_dim}. Received: latent_dim={latent_dim}"
            )
        return int(built_latent_dim)

    def compile(self, d_optimizer, g_optimizer, auto_scale_loss=True, **kwargs):
        """Sets one optimizer per network and builds both.

        Args:
            d_optimizer: Optimizer (or its name) of the discriminator or critic.
            g_optimizer: Optimizer (or its name) of the generator; another
                object than `d_optimizer`.
            auto_scale_loss: As in `keras.Model.compile`: if True and the
                model's dtype policy is `"mixed_float16"`, each optimizer is
                wrapped in a `keras.optimizers.LossScaleOptimizer`.
            **kwargs: Passed to `keras.Model.compile` (e.g. `run_eagerly`,
                `steps_per_execution`); there is no `optimizer` or `loss`.
        """
        d_optimizer = keras.optimizers.get(d_optimizer)
        g_optimizer = keras.optimizers.get(g_optimizer)
        if d_optimizer is g_optimizer:
            raise ValueError(
                "Expected two different optimizer objects, one per network. "
                f"Received: the same object {d_optimizer!r} twice"
            )
        if auto_scale_loss and self.dtype_policy.name == "mixed_float16":
            d_optimizer, g_optimizer = (
                optimizer
                if isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
                else keras.optimizers.LossScaleOptimizer(optimizer)
                for optimizer in (d_optimizer, g_optimizer)
            )
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Created here, in the strategy's scope, not on the first (replica) step.
        with self.distribute_strategy.scope():
            for optimizer, network in (
                (d_optimizer, self.discriminator),
                (g_optimizer, self.generator),
            ):
                if not optimizer.built:
                    optimizer.build(network.trainable_variables)

    def get_compile_config(self):
        if self.d_optimizer is None:
            return {}
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
            g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
        )

    def sample_latent(self, batch_size, seed=None):
        """Draws `batch_size` latent vectors from N(0, I).

        Args:
            batch_size: Number of vectors (int or scalar tensor).
            seed: None (the model's `SeedGenerator`: a new draw every call,
                and on each replica of a multi-replica strategy a draw of its
                own, see `keras_ae.devices.replica_seed`) or an int (the same
                draw every time).

        Returns:
            A tensor of shape `(batch_size, latent_dim)`.
        """
        if seed is None:
            seed = replica_seed(self.seed_generator)
        return keras.random.normal((batch_size, self.latent_dim), seed=seed)

    def _sample(self, n, one_hot, seed):
        """Generates `n` images (NumPy) from fresh latent vectors."""
        latent = self.sample_latent(check_positive_int("n", n), seed=seed)
        inputs = latent if one_hot is None else [latent, one_hot]
        return ops.convert_to_numpy(self.generator(inputs, training=False))

    def sample(self, n, seed=None):
        """Generates `n` new images: `G(z)` with `z ~ N(0, I)`.

        Args:
            n: Number of images, > 0.
            seed: None (fresh noise from the model's seed generator, a new
                draw every call) or an int (the same images every call).

        Returns:
            A NumPy array of `n` images.
        """
        return self._sample(n, None, seed)

    def generate(self, num_images, seed=None):
        """The older name of `sample(num_images, seed)`."""
        return self.sample(num_images, seed=seed)

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def get_config(self):
        base = super().get_config()  # with the generator and discriminator
        return {**base, "latent_dim": self.latent_dim, "seed": self.seed}


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
        >>> gan = GAN(build_dense_generator(16, (28, 28, 1)),
        ...           build_dense_discriminator((28, 28, 1)), label_smoothing=0.1)
        >>> gan.compile(d_optimizer="adam", g_optimizer="adam")
        >>> gan.fit(x_train, epochs=20, batch_size=64)
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
        >>> cgan = ConditionalGAN(
        ...     build_dense_generator(16, (28, 28, 1), num_classes=10),
        ...     build_dense_discriminator((28, 28, 1), num_classes=10))
        >>> cgan.compile(d_optimizer="adam", g_optimizer="adam")
        >>> cgan.fit(x_train, y_train, epochs=50, batch_size=64)
        >>> sevens = cgan.sample(8, labels=7)
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
        >>> wgan = WGANGP(build_dcgan_generator(64, (28, 28, 1)),
        ...               build_dcgan_discriminator((28, 28, 1), dropout=0.0))
        >>> wgan.compile(
        ...     d_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
        ...     g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9))
        >>> wgan.fit(x_train, epochs=20, batch_size=5 * 64)
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
