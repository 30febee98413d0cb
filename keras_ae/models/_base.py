"""What every keras_ae training model shares: the training-step core and the get_config
of models made of sub-models.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_ae._backend import require_tensorflow_backend
from keras_ae._validation import check_positive_int
from keras_ae._validation import is_int as _is_int
from keras_ae.devices import replica_seed, scale_loss_for_replicas

__all__ = [
    "minimize",
    "update_means",
    "weighted_mean",
    "refuse_sample_weight",
    "check_labels",
    "one_hot_labels",
    "SubModelConfig",
    "SampleWeightWithoutTargets",
]


def minimize(compute_loss, optimizer, variables):
    """One optimizer step on `variables` that lowers `compute_loss()`.

    Args:
        compute_loss: Function of no arguments returning the mean loss over
            this replica's batch (a scalar tensor), or a tuple whose first
            element is that loss (the rest: values for the metrics). It runs
            under the gradient tape.
        optimizer: The `keras.optimizers.Optimizer` (possibly a
            `LossScaleOptimizer`) that updates `variables`.
        variables: The weights to update, e.g. `network.trainable_weights`.

    Returns:
        What `compute_loss()` returned, unscaled: report that in the metrics.
    """
    with tf.GradientTape() as tape:
        result = compute_loss()
        loss = result[0] if isinstance(result, tuple) else result
        # 1. Replicas: the optimizer sums R gradients of loss / R.
        # 2. Loss scaling: optimizer.apply divides the gradients by the scale.
        scaled_loss = optimizer.scale_loss(scale_loss_for_replicas(loss))
    gradients = tape.gradient(scaled_loss, variables)
    optimizer.apply(gradients, variables)
    return result


def update_means(trackers_and_values, size):
    """Adds one batch's means to their `Mean` trackers, weighted by `size`.

    Args:
        trackers_and_values: Pairs `(tracker, batch_mean)`.
        size: The number of images the means are over, `ops.shape(x)[0]`
            (this replica's share of the batch under a strategy).
    """
    for tracker, value in trackers_and_values:
        tracker.update_state(value, sample_weight=size)


def weighted_mean(per_image, sample_weight=None):
    """Mean over the batch of `sample_weight * per_image` (Keras's convention).

    As Keras's losses with their default `"sum_over_batch_size"` reduction, the
    weighted sum is divided by the batch size, not by the sum of the weights:
    the loss stays additive over images, so R replicas' shares add up to the
    global batch's loss exactly.

    Args:
        per_image: Tensor `(batch,)`, one loss per image.
        sample_weight: None, or weights of shape `(batch,)` or `(batch, 1)`.

    Returns:
        A scalar tensor.
    """
    if sample_weight is None:
        return ops.mean(per_image)
    weights = ops.reshape(ops.cast(sample_weight, per_image.dtype), (-1,))
    return ops.mean(per_image * weights)


def refuse_sample_weight(sample_weight, model):
    """Raises a ValueError if `fit` or `evaluate` got a `sample_weight`."""
    if sample_weight is not None:
        raise ValueError(
            f"Expected no sample_weight for a {type(model).__name__}: it has no "
            "per-image loss to weight (the real and generated images enter "
            "separate terms). Received: a sample_weight in fit() or evaluate()"
        )


def check_labels(labels, num_classes, n=None):
    """Checks class labels eagerly and returns them as an int64 NumPy array.

    Labels must be integer-valued (`3` and `3.0` are accepted, `2.5` is not)
    and lie in `[0, num_classes)`.

    Args:
        labels: An int (with `n`: the label of all `n` images) or a sequence or
            array of labels, of shape `(n,)` or `(n, 1)`.
        num_classes: The number of classes.
        n: The number of labels expected, or None for any non-zero number.

    Returns:
        An int64 array of shape `(n,)`.

    Raises:
        ValueError: if a label is not an integer in `[0, num_classes)`, or
            their number is not `n`.
    """
    array = np.asarray(labels)
    if array.ndim == 0 and n is not None:
        array = np.full(n, array)
    array = array.reshape(-1)
    numeric = np.issubdtype(array.dtype, np.number)
    if (
        not numeric
        or array.size == 0
        or (n is not None and array.size != n)
        or not np.all((array == np.round(array)) & (array >= 0))
        or not np.all(array < num_classes)
    ):
        count = "some" if n is None else f"{n}"
        raise ValueError(
            f"Expected integer labels in [0, {num_classes}): an int, or {count} "
            f"such labels. Received: labels={labels!r}"
        )
    return array.astype("int64")


def one_hot_labels(labels, num_classes):
    """One-hot rows `(batch, num_classes)` of integer labels `(batch,)` or `(batch, 1)`.

    For labels inside a traced training step, where they cannot be checked
    eagerly: a `tf.debugging` assertion stops `fit` with an
    `InvalidArgumentError` saying "Expected integer labels in [0, K)" when a
    label is fractional or out of range. (XLA drops assertions: compiled with
    `jit_compile=True`, the default on a GPU, an out-of-range label gives an
    all-zero row and a fractional one is truncated. Check the labels first
    with `check_labels`.)
    """
    labels = ops.reshape(labels, (-1,))
    values = ops.cast(labels, "float32")
    valid = (values == ops.round(values)) & (values >= 0) & (values < num_classes)
    tf.debugging.assert_equal(
        ops.all(valid),
        True,
        message=f"Expected integer labels in [0, {num_classes})",
    )
    return ops.one_hot(ops.cast(labels, "int32"), num_classes, dtype="float32")


class SubModelConfig:
    """Saving for a model made of sub-models, such as an encoder and a decoder.

    Mix it in before `keras.Model` and name the sub-models, which are also
    arguments of `__init__`, in `sub_models`: `get_config` serializes them,
    `from_config` rebuilds them before calling the constructor. Each class adds
    its own arguments in its own `get_config`.

    Example:
        >>> class Wrapper(SubModelConfig, keras.Model):
        ...     sub_models = ("inner",)
        ...     def __init__(self, inner, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.inner = inner
        >>> inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> config = Wrapper(inner).get_config()
        >>> config["inner"]["class_name"]  # serialized
        'Sequential'
        >>> Wrapper.from_config(config).inner.output_shape  # rebuilt
        (None, 2)
    """

    sub_models = ()

    def get_config(self):
        config = super().get_config()
        for name in self.sub_models:
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in cls.sub_models:
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


class SampleWeightWithoutTargets:
    """Keeps the `sample_weight` of `fit(x, sample_weight=w)` (no `y`).

    Keras pairs sample weights with targets and silently drops them when `y` is
    None. An autoencoder's targets are its inputs, so for a model that takes no
    labels (`conditional` False or absent) `fit` and `evaluate` pass `y=x`
    along with the weights: the step then sees them, and honours or refuses
    them. Mix it in before `keras.Model`.
    """

    def _targets(self, x, y, kwargs):
        if y is None and kwargs.get("sample_weight") is not None:
            if not getattr(self, "conditional", False):
                return x
        return y

    def fit(self, x=None, y=None, *args, **kwargs):
        return super().fit(x, self._targets(x, y, kwargs), *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        return super().evaluate(x, self._targets(x, y, kwargs), *args, **kwargs)


class _EncoderDecoderModel(SubModelConfig, SampleWeightWithoutTargets, keras.Model):
    """Shared parts: holds `encoder` and `decoder`, reconstructs, serializes them."""

    sub_models = ("encoder", "decoder")

    def __init__(self, encoder, decoder, **kwargs):
        require_tensorflow_backend(type(self).__name__)
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        # The weights live in the (built) encoder and decoder: nothing left to build.
        self.built = encoder.built and decoder.built

    def call(self, inputs, training=False):
        return self.decoder(self.encoder(inputs, training=training), training=training)

    @staticmethod
    def _inputs_and_targets(data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        return x, (x if y is None else y), sample_weight


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
        require_tensorflow_backend(type(self).__name__)
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
