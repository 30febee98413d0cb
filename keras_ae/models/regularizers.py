"""Sparsity penalties on the code of an autoencoder, and a report of how sparse it is.

Both penalties are `keras.regularizers.Regularizer`s that you pass as the
`activity_regularizer` of the code layer. Keras then adds the value the
regularizer returns, divided by the batch size, to the model's `losses`, and
`fit()` adds those losses to the reconstruction loss.

That division by the batch size happens in `Layer.__call__` since Keras 3.14
(keras-team/keras#22018); older Keras 3 releases add the returned value as is.
So that a penalty means the same thing on every Keras version, each regularizer
here has a `penalty(codes)` method that computes the documented formula, and its
`__call__` returns `penalty(codes)` rescaled so that the loss Keras records is
exactly `penalty(codes)`. That is why they are activity regularizers only: as a
`kernel_regularizer` the rescaling would be wrong.
"""

import functools

import keras
import numpy as np
from keras import ops

__all__ = [
    "L1Sparsity",
    "KLSparsity",
    "activation_report",
]


@functools.cache
def _keras_divides_activity_loss_by_batch_size():
    """Asks the installed Keras how it reduces an activity regularizer's value."""
    probe = keras.layers.Identity(activity_regularizer=ops.sum, dtype="float32")
    probe(np.ones((4, 1), dtype="float32"))
    return abs(float(ops.convert_to_numpy(probe.losses[0])) - 1.0) < 1e-6


def _batch_size(codes):
    return ops.cast(ops.shape(codes)[0], codes.dtype)


def _check_weight(value, argument):
    """Checks a penalty strength: a real number >= 0 (0 switches it off)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.number))
        or not value >= 0
    ):
        raise ValueError(f"Expected {argument} >= 0. Received: {argument}={value!r}")
    return float(value)


@keras.saving.register_keras_serializable(package="keras_ae")
class L1Sparsity(keras.regularizers.Regularizer):
    """L1 penalty on the code: `weight * mean over the batch of sum_j |h_j|`.

    This is `keras.regularizers.L1(weight)` with the batch reduction fixed: the
    loss added to the model is the L1 norm of each sample's code, averaged over
    the batch, times `weight`, whichever Keras 3 version you run (see the module
    docstring).

    Args:
        weight: Non-negative float, the strength of the penalty.

    Example:
        >>> codes = np.array([[1.0, -2.0], [0.0, 3.0]], dtype="float32")
        >>> float(L1Sparsity(0.5).penalty(codes))  # 0.5 * mean(1 + 2, 0 + 3)
        1.5
        >>> layer = keras.layers.Identity(activity_regularizer=L1Sparsity(0.5))
        >>> _ = layer(codes)
        >>> float(layer.losses[0])  # the loss Keras adds: the same 1.5
        1.5
    """

    def __init__(self, weight=1e-4):
        self.weight = _check_weight(weight, "weight")
        _keras_divides_activity_loss_by_batch_size()  # probe now, outside any graph

    def penalty(self, codes):
        """Returns `weight * mean_n sum_j |codes[n, j]|` (all non-batch axes summed)."""
        codes = ops.convert_to_tensor(codes)
        return self.weight * ops.sum(ops.abs(codes)) / _batch_size(codes)

    def __call__(self, codes):
        penalty = self.penalty(codes)
        if _keras_divides_activity_loss_by_batch_size():
            return penalty * _batch_size(ops.convert_to_tensor(codes))
        return penalty

    def get_config(self):
        return {"weight": self.weight}


@keras.saving.register_keras_serializable(package="keras_ae")
class KLSparsity(keras.regularizers.Regularizer):
    """KL sparsity penalty for a sigmoid code (the sparse autoencoder of Ng, 2011).

    With `rho_hat_j` the mean activation of code unit `j` over the batch, the
    penalty is `beta * sum_j KL(rho || rho_hat_j)`, where
    `KL(rho || q) = rho * log(rho / q) + (1 - rho) * log((1 - rho) / (1 - q))`
    is the KL divergence between Bernoulli distributions. It is zero when every
    unit is active a fraction `rho` of the time on average, and grows as units
    fire more (or less) often. `rho_hat_j` is clipped to `[1e-6, 1 - 1e-6]` so the
    logarithms stay finite. For a code with more than one non-batch axis (a
    feature map), every position counts as a unit.

    The loss added to the model is exactly this penalty: it is already a batch
    statistic, so it is not divided by the batch size (see the module docstring).

    Under a multi-replica `tf.distribute` strategy (`MirroredStrategy`,
    `TPUStrategy`), `rho_hat` is computed per replica, on that replica's share
    of the batch (global batch size / number of replicas), not over the global
    batch: Keras calls an activity regularizer inside each replica, and Keras
    then averages the replicas' losses (it scales each by 1 / replicas and sums
    the gradients). The model thus minimizes the mean over replicas of
    `beta * sum_j KL(rho || rho_hat_j)`, which, KL being convex, is at least the
    penalty of the global batch, and higher the noisier the per-replica
    `rho_hat` is. This is kept on purpose: a global `rho_hat` would need a
    cross-replica sum inside the layer on every step, which `keras.ops` cannot
    express, and `rho_hat` is a mini-batch estimate of the data set's mean
    activation either way. Keep the per-replica batch large enough (a few
    dozen samples or more) for it to be a fair estimate.

    Args:
        rho: Target mean activation, strictly between 0 and 1.
        beta: Non-negative float, the strength of the penalty.

    Example:
        >>> sparsity = KLSparsity(rho=0.05, beta=1.0)
        >>> float(sparsity.penalty(np.full((4, 3), 0.05, "float32")))  # on target
        0.0
        >>> float(sparsity.penalty(np.full((4, 1), 0.5, "float32")))  # fires too often
        0.4946...

        The second value is `0.05 log(0.05 / 0.5) + 0.95 log(0.95 / 0.5)`.
    """

    EPSILON = 1e-6

    def __init__(self, rho=0.05, beta=1.0):
        if not isinstance(rho, (int, float, np.number)) or not 0.0 < rho < 1.0:
            raise ValueError(f"Expected 0 < rho < 1. Received: rho={rho!r}")
        self.rho = float(rho)
        self.beta = _check_weight(beta, "beta")
        _keras_divides_activity_loss_by_batch_size()  # probe now, outside any graph

    def penalty(self, codes):
        """Returns `beta * sum_j KL(rho || rho_hat_j)` for a batch of codes."""
        codes = ops.convert_to_tensor(codes)
        codes = ops.reshape(codes, (ops.shape(codes)[0], -1))
        rho_hat = ops.clip(ops.mean(codes, axis=0), self.EPSILON, 1.0 - self.EPSILON)
        rho = self.rho
        kl = rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log(
            (1.0 - rho) / (1.0 - rho_hat)
        )
        return self.beta * ops.sum(kl)

    def __call__(self, codes):
        penalty = self.penalty(codes)
        if _keras_divides_activity_loss_by_batch_size():
            return penalty * _batch_size(ops.convert_to_tensor(codes))
        return penalty

    def get_config(self):
        return {"rho": self.rho, "beta": self.beta}


def activation_report(encoder, x, threshold=0.1, batch_size=256):
    """Measures how sparse an encoder's codes are on the inputs `x`.

    A unit counts as active for a sample when its activation is above
    `threshold`. The default 0.1 suits sigmoid and ReLU codes on [0, 1] images
    (it is twice the usual sparsity target `rho = 0.05`).

    Args:
        encoder: A model mapping `x` to a single code tensor.
        x: Inputs, a NumPy array.
        threshold: Activation above which a unit counts as active.
        batch_size: Batch size for `encoder.predict`.

    Returns:
        A dict with `mean_activation` (mean over all samples and units),
        `fraction_active` (fraction of (sample, unit) pairs above `threshold`),
        `active_units_per_sample` (number of active units, averaged over samples)
        and `per_unit_mean` (NumPy array, each unit's mean activation).

    Example:
        >>> encoder = keras.Sequential([keras.Input((3,)), keras.layers.Identity()])
        >>> x = np.array([[0.0, 0.5, 0.9], [0.2, 0.0, 0.05]], dtype="float32")
        >>> report = activation_report(encoder, x)  # active: above 0.1
        >>> report["active_units_per_sample"], report["fraction_active"]
        (1.5, 0.5)
    """
    codes = encoder.predict(x, batch_size=batch_size, verbose=0)
    if isinstance(codes, (list, tuple, dict)):
        raise ValueError(
            "Expected an encoder with a single output. "
            f"Received: an encoder with outputs {type(codes).__name__}"
        )
    codes = np.asarray(codes, dtype="float64").reshape(len(codes), -1)
    active = codes > threshold
    return {
        "mean_activation": float(codes.mean()),
        "fraction_active": float(active.mean()),
        "active_units_per_sample": float(active.sum(axis=1).mean()),
        "per_unit_mean": codes.mean(axis=0),
    }
