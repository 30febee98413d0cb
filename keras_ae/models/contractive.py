"""The contractive autoencoder and the Frobenius norm of the encoder's Jacobian."""

import keras
import tensorflow as tf
from keras import ops

from keras_ae._validation import is_number as _is_number
from keras_ae.models._base import (
    _EncoderDecoderModel,
    minimize,
    update_means,
    weighted_mean,
)

__all__ = [
    "RECONSTRUCTION_LOSSES",
    "JACOBIAN_METHODS",
    "CLOSED_FORM_ACTIVATIONS",
    "jacobian_frobenius_batch_jacobian",
    "jacobian_frobenius_closed_form",
    "ContractiveAutoencoder",
]


RECONSTRUCTION_LOSSES = ("mse", "bce")


JACOBIAN_METHODS = ("auto", "closed_form", "batch_jacobian")


def _flatten(x):
    return ops.reshape(x, (ops.shape(x)[0], -1))


# The derivative f'(a) of each elementwise activation a Dense layer may have,
# written with its output h = f(a), which the encoder computes anyway.
_DERIVATIVES_FROM_OUTPUT = {
    keras.activations.sigmoid: lambda h: h * (1.0 - h),
    keras.activations.tanh: lambda h: 1.0 - ops.square(h),
    keras.activations.relu: lambda h: ops.cast(h > 0, h.dtype),
    keras.activations.linear: ops.ones_like,
    # softplus: h = log(1 + e^a), so f'(a) = sigmoid(a) = 1 - e^-h.
    keras.activations.softplus: lambda h: -ops.expm1(-h),
    # elu (alpha = 1): f'(a) = 1 for a > 0, e^a = h + 1 otherwise.
    keras.activations.elu: lambda h: ops.where(h > 0, 1.0, h + 1.0),
}


CLOSED_FORM_ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softplus", "elu")


def _has_closed_form(layer):
    return (
        isinstance(layer, keras.layers.Dense)
        and layer.activation in _DERIVATIVES_FROM_OUTPUT
    )


def _closed_form_dense_layer(encoder):
    """Returns the Dense layer of an encoder `[Flatten] -> Dense`, or None.

    The Dense layer's activation must be one of `CLOSED_FORM_ACTIVATIONS`.
    """
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
    if flat_input and len(layers) == 1 and _has_closed_form(layers[0]):
        return layers[0]
    return None


def _closed_form_from_codes(codes, dense_layer):
    # h_j = f(a_j), a = x W + b, gives dh_j / dx_i = f'(a_j) W_ij, so
    # ||J||_F^2 = sum_j f'(a_j)^2 sum_i W_ij^2: one (B, k) x (k,) product.
    slopes = ops.square(_DERIVATIVES_FROM_OUTPUT[dense_layer.activation](codes))
    kernel = ops.cast(dense_layer.kernel, codes.dtype)
    return ops.matmul(slopes, ops.sum(ops.square(kernel), 0))


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
        >>> import numpy as np
        >>> encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
        >>> x = np.random.default_rng(0).random((2, 6), dtype="float32")
        >>> norms = jacobian_frobenius_batch_jacobian(encoder, x)
        >>> kernel = encoder.layers[-1].kernel.numpy()
        >>> np.allclose(norms, np.sum(kernel**2))  # linear: ||W||_F^2 per sample
        True
    """
    return _batch_jacobian_norms(encoder, x)[1]


def jacobian_frobenius_closed_form(dense_layer, x):
    """Squared Frobenius norm of the Jacobian of `f(x W + b)`, per sample.

    For a code `h = f(a)`, `a = x W + b`, on flattened inputs, with `f` applied
    elementwise, `d h_j / d x_i = f'(a_j) W_ij`, so
    `||J||_F^2 = sum_j f'(a_j)^2 sum_i W_ij^2`, read from the layer's current
    kernel and bias. It costs about one forward pass. `f` is the layer's
    activation, one of `CLOSED_FORM_ACTIVATIONS`: `"sigmoid"`
    (`f' = h (1 - h)`), `"tanh"` (`1 - h^2`), `"relu"` (`1` where `a > 0`),
    `"linear"` (`1`), `"softplus"` (`sigmoid(a)`) or `"elu"` (`1` where
    `a > 0`, else `e^a`).

    Args:
        dense_layer: A built `keras.layers.Dense` with one of those activations.
        x: A batch of inputs; each sample is flattened.

    Returns:
        A tensor of shape `(batch,)`.

    Example:
        >>> import numpy as np
        >>> dense = keras.layers.Dense(3, activation="sigmoid")
        >>> encoder = keras.Sequential([keras.Input((6,)), dense])
        >>> x = np.random.default_rng(0).random((5, 6), dtype="float32")
        >>> closed = jacobian_frobenius_closed_form(dense, x)
        >>> autodiff = jacobian_frobenius_batch_jacobian(encoder, x)
        >>> np.allclose(closed, autodiff, atol=1e-5)
        True
    """
    if not _has_closed_form(dense_layer):
        raise ValueError(
            "Expected a Dense layer with an activation in "
            f"{CLOSED_FORM_ACTIVATIONS}. Received: dense_layer={dense_layer!r}"
        )
    kernel = dense_layer.kernel
    x = ops.cast(_flatten(ops.convert_to_tensor(x)), kernel.dtype)
    pre_activation = ops.matmul(x, kernel)
    if dense_layer.bias is not None:
        pre_activation = pre_activation + dense_layer.bias
    codes = dense_layer.activation(pre_activation)
    return _closed_form_from_codes(codes, dense_layer)


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
    reconstruction and contractive terms are reported as separate metrics,
    each the mean over the images of the epoch.

    `fit(..., sample_weight=w)` weights each image's reconstruction and
    contractive terms by its `w`; the batch's loss is then
    `mean_n w_n (reconstruction_n + contractive_weight ||J(x_n)||_F^2)`, the
    weighted sum divided by the batch size, as Keras's losses do. The training
    step is `keras_ae.models._base.minimize`: the loss is divided by the number of
    replicas under a `tf.distribute` strategy and scaled by a
    `LossScaleOptimizer` under `"mixed_float16"`.

    The Jacobian norm comes from `jacobian_frobenius_batch_jacobian` for any
    encoder, or from the closed form `jacobian_frobenius_closed_form` when the
    encoder is one Dense layer on flattened inputs with an elementwise
    activation in `CLOSED_FORM_ACTIVATIONS` (sigmoid, tanh, relu, linear,
    softplus, elu): much faster.

    Args:
        encoder: A built model mapping inputs to codes.
        decoder: A built model mapping codes to reconstructions.
        contractive_weight: Non-negative float, the weight of the penalty.
        jacobian: `"auto"` (closed form when the encoder allows it, else
            `batch_jacobian`), `"closed_form"` or `"batch_jacobian"`.
        reconstruction_loss: `"mse"` or `"bce"` (for a sigmoid decoder output).
        **kwargs: Passed to `keras.Model` (for example `name`).

    Example:
        >>> import numpy as np
        >>> encoder = keras.Sequential([keras.Input((64,)),
        ...                             keras.layers.Dense(4, activation="sigmoid")])
        >>> decoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(64)])
        >>> model = ContractiveAutoencoder(encoder, decoder, contractive_weight=1e-3)
        >>> model.uses_closed_form  # one sigmoid Dense layer: no batch_jacobian
        True
        >>> model.compile(optimizer="adam")
        >>> x = np.random.default_rng(0).random((64, 64), dtype="float32")
        >>> sorted(model.fit(x, epochs=1, batch_size=32, verbose=0).history)
        ['contractive_loss', 'loss', 'reconstruction_loss']
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
        has_closed_form = _closed_form_dense_layer(encoder) is not None
        if jacobian == "closed_form" and not has_closed_form:
            layer_names = [type(layer).__name__ for layer in encoder.layers]
            raise ValueError(
                "Expected an encoder made of an optional Flatten and one Dense layer "
                f"with an activation in {CLOSED_FORM_ACTIVATIONS} for "
                "jacobian='closed_form' (use 'batch_jacobian' otherwise). "
                f"Received: layers {layer_names}"
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
        """Per-image reconstruction loss, the mean over values: `(batch,)`."""
        targets = ops.cast(_flatten(targets), reconstructions.dtype)
        reconstructions = _flatten(reconstructions)
        if self.reconstruction_loss == "bce":
            return keras.losses.binary_crossentropy(targets, reconstructions)
        return ops.mean(ops.square(targets - reconstructions), axis=1)

    def _loss_terms(self, x, targets, training, sample_weight=None):
        if self.uses_closed_form:
            codes = self.encoder(x, training=training)
            dense_layer = _closed_form_dense_layer(self.encoder)
            norms = _closed_form_from_codes(_flatten(codes), dense_layer)
        else:
            codes, norms = _batch_jacobian_norms(self.encoder, x, training=training)
        reconstructions = self.decoder(codes, training=training)
        per_image = self._reconstruction_term(targets, reconstructions)
        reconstruction = weighted_mean(per_image, sample_weight)
        contractive = weighted_mean(ops.cast(norms, per_image.dtype), sample_weight)
        total = reconstruction + self.contractive_weight * contractive
        if self.losses:
            total = total + ops.sum(self.losses)
        return total, reconstruction, contractive

    def _report(self, terms, size):
        trackers = self.metrics  # loss, reconstruction_loss, contractive_loss
        update_means(zip(trackers, terms, strict=True), size)
        return {metric.name: metric.result() for metric in trackers}

    def train_step(self, data):
        x, targets, sample_weight = self._inputs_and_targets(data)
        terms = minimize(
            lambda: self._loss_terms(x, targets, True, sample_weight),
            self.optimizer,
            self.trainable_weights,
        )
        return self._report(terms, ops.shape(x)[0])

    def test_step(self, data):
        x, targets, sample_weight = self._inputs_and_targets(data)
        terms = self._loss_terms(x, targets, False, sample_weight)
        return self._report(terms, ops.shape(x)[0])

    def get_config(self):
        base = super().get_config()
        config = {
            "contractive_weight": self.contractive_weight,
            "jacobian": self.jacobian,
            "reconstruction_loss": self.reconstruction_loss,
        }
        return {**base, **config}
