"""Autoencoders whose training step differs from a plain `fit`: contractive, denoising.

Both models take a built `encoder` and `decoder`, return reconstructions from
`call()`, and save to `.keras` like any registered Keras model.

- `ContractiveAutoencoder` adds the squared Frobenius norm of the encoder's
  Jacobian to the reconstruction loss (Rifai et al., 2011).
- `DenoisingAutoencoder` corrupts every training batch afresh and learns to
  reconstruct the clean images (Vincent et al., 2008).
"""

import numbers

import keras
import tensorflow as tf
from keras import ops

from keras_ae.data import NOISE_KINDS, corrupt
from keras_ae.devices import replica_seed

RECONSTRUCTION_LOSSES = ("mse", "bce")
JACOBIAN_METHODS = ("auto", "closed_form", "batch_jacobian")
_FRACTION_NOISES = ("masking", "salt_and_pepper")


def _flatten(x):
    return ops.reshape(x, (ops.shape(x)[0], -1))


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _sigmoid_dense_layer(encoder):
    """Returns the Dense layer of an encoder `[Flatten] -> Dense(sigmoid)`, or None."""
    if not isinstance(encoder, keras.Model) or not getattr(encoder, "inputs", None):
        return None
    layers = [
        layer
        for layer in encoder.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    flat_input = len(encoder.inputs) == 1 and len(encoder.inputs[0].shape) == 2
    if layers and isinstance(layers[0], keras.layers.Flatten):
        layers, flat_input = layers[1:], True
    if (
        flat_input
        and len(layers) == 1
        and isinstance(layers[0], keras.layers.Dense)
        and layers[0].activation is keras.activations.sigmoid
    ):
        return layers[0]
    return None


def _closed_form_from_codes(codes, kernel):
    # h = sigmoid(x W + b) gives dh_j / dx_i = h_j (1 - h_j) W_ij, so
    # ||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ij^2: one (B, k) x (k,) product.
    slopes = ops.square(codes * (1.0 - codes))
    return ops.matmul(slopes, ops.sum(ops.square(ops.cast(kernel, codes.dtype)), 0))


def _batch_jacobian_norms(encoder, x, training=False):
    """Returns (codes, per-sample ||d codes / d x||_F^2) with `tape.batch_jacobian`."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        codes = encoder(x, training=training)
        flat_codes = _flatten(codes)
    jacobian = tape.batch_jacobian(flat_codes, x)  # (B, code units, *input_shape)
    return codes, ops.sum(ops.square(_flatten(jacobian)), axis=1)


def jacobian_frobenius_batch_jacobian(encoder, x):
    """Squared Frobenius norm of the encoder's Jacobian, per sample, for any encoder.

    Computes `J = d encoder(x) / d x` with `tf.GradientTape.batch_jacobian`: one
    backward pass per code unit (vectorized), so its cost grows with the code size.

    Args:
        encoder: A model mapping inputs to codes.
        x: A batch of inputs (NumPy array or tensor) in the encoder's input shape.

    Returns:
        A tensor of shape `(batch,)`: `sum_ij (d code_j / d x_i)^2` per sample.

    Example:
        >>> norms = jacobian_frobenius_batch_jacobian(encoder, x_test[:64])
    """
    return _batch_jacobian_norms(encoder, x)[1]


def jacobian_frobenius_closed_form(dense_layer, x):
    """Squared Frobenius norm of the Jacobian of `sigmoid(x W + b)`, per sample.

    For a sigmoid code `h = sigmoid(x W + b)` on flattened inputs,
    `||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ij^2`, read from the layer's
    current kernel and bias. It costs about one forward pass.

    Args:
        dense_layer: A built `keras.layers.Dense` with a sigmoid activation.
        x: A batch of inputs; each sample is flattened.

    Returns:
        A tensor of shape `(batch,)`.

    Example:
        >>> norms = jacobian_frobenius_closed_form(encoder.layers[-1], x_test[:64])
    """
    if not (
        isinstance(dense_layer, keras.layers.Dense)
        and dense_layer.activation is keras.activations.sigmoid
    ):
        raise ValueError(
            "Expected a Dense layer with a sigmoid activation. "
            f"Received: dense_layer={dense_layer!r}"
        )
    kernel = dense_layer.kernel
    x = ops.cast(_flatten(ops.convert_to_tensor(x)), kernel.dtype)
    pre_activation = ops.matmul(x, kernel)
    if dense_layer.bias is not None:
        pre_activation = pre_activation + dense_layer.bias
    return _closed_form_from_codes(ops.sigmoid(pre_activation), kernel)


class _EncoderDecoderModel(keras.Model):
    """Shared parts: holds `encoder` and `decoder`, reconstructs, serializes them."""

    def __init__(self, encoder, decoder, **kwargs):
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

    def get_config(self):
        base = super().get_config()
        config = {
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
        }
        return {**base, **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_ae")
class ContractiveAutoencoder(_EncoderDecoderModel):
    """Autoencoder trained with a penalty on the encoder's Jacobian.

    The loss of a batch is
    `reconstruction_loss + contractive_weight * mean_n ||J(x_n)||_F^2`, where
    `J(x) = d encoder(x) / d x` and the squared Frobenius norm sums over all code
    units and input values. The reconstruction loss is the mean over pixels
    (`"mse"`: squared error, `"bce"`: binary cross-entropy), then the mean over
    the batch, as Keras's `"mse"` and `"binary_crossentropy"` losses. Regularizer
    losses of the encoder and decoder (`model.losses`) are added too. The
    reconstruction and contractive terms are reported as separate metrics.

    The Jacobian norm comes from `jacobian_frobenius_batch_jacobian` for any
    encoder, or from the closed form `jacobian_frobenius_closed_form` when the
    encoder is one Dense sigmoid layer on flattened inputs (much faster).

    Args:
        encoder: A built model mapping inputs to codes.
        decoder: A built model mapping codes to reconstructions.
        contractive_weight: Non-negative float, the weight of the penalty.
        jacobian: `"auto"` (closed form when the encoder allows it, else
            `batch_jacobian`), `"closed_form"` or `"batch_jacobian"`.
        reconstruction_loss: `"mse"` or `"bce"` (for a sigmoid decoder output).
        **kwargs: Passed to `keras.Model` (for example `name`).

    Example:
        >>> model = ContractiveAutoencoder(encoder, decoder, contractive_weight=1e-3)
        >>> model.compile(optimizer="adam")
        >>> model.fit(x_train, epochs=10, batch_size=128)
    """

    def __init__(
        self,
        encoder,
        decoder,
        contractive_weight=1e-3,
        jacobian="auto",
        reconstruction_loss="mse",
        **kwargs,
    ):
        super().__init__(encoder, decoder, **kwargs)
        if not _is_number(contractive_weight) or not contractive_weight >= 0:
            raise ValueError(
                "Expected contractive_weight >= 0. "
                f"Received: contractive_weight={contractive_weight!r}"
            )
        if jacobian not in JACOBIAN_METHODS:
            raise ValueError(
                f"Expected jacobian to be one of {JACOBIAN_METHODS}. "
                f"Received: jacobian={jacobian!r}"
            )
        if reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"Expected reconstruction_loss to be one of {RECONSTRUCTION_LOSSES}. "
                f"Received: reconstruction_loss={reconstruction_loss!r}"
            )
        has_closed_form = _sigmoid_dense_layer(encoder) is not None
        if jacobian == "closed_form" and not has_closed_form:
            layer_names = [type(layer).__name__ for layer in encoder.layers]
            raise ValueError(
                "Expected an encoder made of an optional Flatten and one Dense layer "
                "with a sigmoid activation for jacobian='closed_form' (use "
                f"'batch_jacobian' otherwise). Received: layers {layer_names}"
            )
        self.contractive_weight = float(contractive_weight)
        self.jacobian = jacobian
        self.reconstruction_loss = reconstruction_loss
        self.uses_closed_form = has_closed_form and jacobian != "batch_jacobian"
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.contractive_loss_tracker = keras.metrics.Mean(name="contractive_loss")

    @property
    def metrics(self):
        return [
            self.loss_tracker,
            self.reconstruction_loss_tracker,
            self.contractive_loss_tracker,
        ]

    def _reconstruction_term(self, targets, reconstructions):
        targets = ops.cast(_flatten(targets), reconstructions.dtype)
        reconstructions = _flatten(reconstructions)
        if self.reconstruction_loss == "bce":
            per_sample = keras.losses.binary_crossentropy(targets, reconstructions)
        else:
            per_sample = ops.mean(ops.square(targets - reconstructions), axis=1)
        return ops.mean(per_sample)

    def _loss_terms(self, x, targets, training):
        if self.uses_closed_form:
            codes = self.encoder(x, training=training)
            kernel = _sigmoid_dense_layer(self.encoder).kernel
            norms = _closed_form_from_codes(_flatten(codes), kernel)
        else:
            codes, norms = _batch_jacobian_norms(self.encoder, x, training=training)
        reconstructions = self.decoder(codes, training=training)
        reconstruction = self._reconstruction_term(targets, reconstructions)
        contractive = ops.mean(norms)
        total = reconstruction + self.contractive_weight * contractive
        if self.losses:
            total = total + ops.sum(self.losses)
        return total, reconstruction, contractive

    def _report(self, total, reconstruction, contractive):
        self.loss_tracker.update_state(total)
        self.reconstruction_loss_tracker.update_state(reconstruction)
        self.contractive_loss_tracker.update_state(contractive)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        x, targets, _ = self._inputs_and_targets(data)
        with tf.GradientTape() as tape:
            losses = self._loss_terms(x, targets, training=True)
        gradients = tape.gradient(losses[0], self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._report(*losses)

    def test_step(self, data):
        x, targets, _ = self._inputs_and_targets(data)
        return self._report(*self._loss_terms(x, targets, training=False))

    def get_config(self):
        base = super().get_config()
        config = {
            "contractive_weight": self.contractive_weight,
            "jacobian": self.jacobian,
            "reconstruction_loss": self.reconstruction_loss,
        }
        return {**base, **config}


@keras.saving.register_keras_serializable(package="keras_ae")
class DenoisingAutoencoder(_EncoderDecoderModel):
    """Autoencoder that learns to reconstruct clean images from corrupted ones.

    Every training batch is corrupted afresh with `keras_ae.data.corrupt`, drawing
    from the model's `keras.random.SeedGenerator`, and the loss given to
    `compile()` compares the reconstruction of the noisy batch with the clean
    batch (or with `y`, if you pass one). `evaluate()` corrupts its inputs the
    same way by default, so it reports the denoising error; `call()` and
    `predict()` never add noise. Under a multi-replica `tf.distribute` strategy
    each replica folds its replica id into the seed
    (`keras_ae.devices.replica_seed`), so the replicas corrupt their shares of
    the batch differently.

    Args:
        encoder: A built model mapping images `(N, H, W, C)` to codes.
        decoder: A built model mapping codes to images.
        noise: One of `keras_ae.data.NOISE_KINDS`: `"gaussian"`, `"masking"` or
            `"salt_and_pepper"`.
        noise_level: Standard deviation for `"gaussian"` (>= 0), fraction of
            pixels hit for `"masking"` and `"salt_and_pepper"` (in [0, 1]).
        seed: Int or None, the seed of the noise.
        noisy_evaluation: If True (the default), `evaluate()` corrupts its inputs
            too; if False it measures plain reconstruction. You can also set the
            attribute later, between `evaluate()` calls.
        **kwargs: Passed to `keras.Model` (for example `name`).

    Example:
        >>> model = DenoisingAutoencoder(encoder, decoder, noise="masking",
        ...                              noise_level=0.3, seed=0)
        >>> model.compile(optimizer="adam", loss="mse")
        >>> model.fit(x_train, epochs=10, batch_size=128)
        >>> denoised = model.predict(noisy_images)
    """

    def __init__(
        self,
        encoder,
        decoder,
        noise="gaussian",
        noise_level=0.3,
        seed=None,
        noisy_evaluation=True,
        **kwargs,
    ):
        super().__init__(encoder, decoder, **kwargs)
        if noise not in NOISE_KINDS:
            raise ValueError(
                f"Expected noise to be one of {NOISE_KINDS}. Received: noise={noise!r}"
            )
        if noise in _FRACTION_NOISES:
            if not _is_number(noise_level) or not 0 <= noise_level <= 1:
                raise ValueError(
                    f"Expected 0 <= noise_level <= 1 for noise={noise!r}. "
                    f"Received: noise_level={noise_level!r}"
                )
            inputs = getattr(encoder, "inputs", None)
            input_shape = inputs[0].shape if inputs else None
            if input_shape is not None and len(input_shape) != 4:
                # The corruption draws one value per pixel, shared by the last axis.
                raise ValueError(
                    f"Expected an encoder on images (N, H, W, C) for noise={noise!r}. "
                    f"Received: input shape {input_shape}"
                )
        elif not _is_number(noise_level) or not noise_level >= 0:
            raise ValueError(
                f"Expected noise_level >= 0. Received: noise_level={noise_level!r}"
            )
        if seed is not None:
            if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
                raise ValueError(
                    f"Expected seed to be an int or None. Received: seed={seed!r}"
                )
            seed = int(seed)
        self.noise = noise
        self.noise_level = float(noise_level)
        self.seed = seed
        self._noisy_evaluation = bool(noisy_evaluation)
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def noisy_evaluation(self):
        return self._noisy_evaluation

    @noisy_evaluation.setter
    def noisy_evaluation(self, value):
        self._noisy_evaluation = bool(value)
        self.test_function = None  # evaluate() traces `test_step` again

    def add_noise(self, x):
        """Corrupts `x` with the model's noise, fresh on every call.

        Inside a replica of a multi-replica strategy each replica corrupts its
        share of the batch with its own noise (`keras_ae.devices.replica_seed`).
        """
        seed = replica_seed(self.seed_generator)
        return corrupt(x, self.noise, self.noise_level, seed=seed)

    def train_step(self, data):
        x, targets, sample_weight = self._inputs_and_targets(data)
        return super().train_step((self.add_noise(x), targets, sample_weight))

    def test_step(self, data):
        x, targets, sample_weight = self._inputs_and_targets(data)
        inputs = self.add_noise(x) if self.noisy_evaluation else x
        return super().test_step((inputs, targets, sample_weight))

    def get_config(self):
        base = super().get_config()
        config = {
            "noise": self.noise,
            "noise_level": self.noise_level,
            "seed": self.seed,
            "noisy_evaluation": self.noisy_evaluation,
        }
        return {**base, **config}
