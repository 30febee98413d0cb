"""The denoising autoencoder: a model whose training step corrupts each batch afresh."""

import numbers

import keras
from keras import ops

from keras_ae._validation import is_number as _is_number
from keras_ae.devices import replica_seed
from keras_ae.models._base import (
    _EncoderDecoderModel,
)
from keras_ae.noise import (
    DEFAULT_VALUE_RANGE,
    NOISE_KINDS,
    check_value_range,
    corrupt,
)

__all__ = [
    "DenoisingAutoencoder",
]


_FRACTION_NOISES = ("masking", "salt_and_pepper")


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

    After the corruption, training and evaluation are Keras's own `train_step`
    and `test_step` with the compiled loss, which already do what
    `keras_ae.models._base` does for the other models: the loss divided by the number
    of replicas and scaled by a `LossScaleOptimizer`, metrics weighted by batch
    size, and `sample_weight` honoured, one weight per image (the weighted sum
    of the per-value losses over their number).

    Args:
        encoder: A built model mapping images `(N, H, W, C)` to codes.
        decoder: A built model mapping codes to images.
        noise: One of `keras_ae.data.NOISE_KINDS`: `"gaussian"`, `"masking"` or
            `"salt_and_pepper"`.
        noise_level: Standard deviation for `"gaussian"` (>= 0), fraction of
            pixels hit for `"masking"` and `"salt_and_pepper"` (in [0, 1]).
        seed: Int or None, the seed of the noise.
        value_range: `(low, high)` of the data (default `(0, 1)`): Gaussian
            noise is clipped to it, masking sets pixels to `low`,
            salt-and-pepper to `low` or `high` (`keras_ae.noise`). `None`: no
            clipping (not for salt-and-pepper). Data in [-1, 1] needs
            `value_range=(-1, 1)`.
        noisy_evaluation: If True (the default), `evaluate()` corrupts its inputs
            too; if False it measures plain reconstruction. You can also set the
            attribute later, between `evaluate()` calls.
        **kwargs: Passed to `keras.Model` (for example `name`).

    Example:
        >>> import numpy as np
        >>> from keras_ae.data import load_dataset
        >>> from keras_ae.models.autoencoders import build_dense_decoder
        >>> from keras_ae.models.autoencoders import build_dense_encoder
        >>> (x_train, _), _, _, _ = load_dataset("digits")  # 8x8 images in [0, 1]
        >>> model = DenoisingAutoencoder(build_dense_encoder((8, 8, 1), 8, (32,)),
        ...                              build_dense_decoder((8, 8, 1), 8, (32,)),
        ...                              noise="masking", noise_level=0.3, seed=0)
        >>> model.compile(optimizer="adam", loss="mse")
        >>> history = model.fit(x_train, epochs=1, batch_size=64, verbose=0)
        >>> masked = model.add_noise(np.ones((100, 8, 8, 1), "float32")) == 0
        >>> round(float(np.mean(masked)), 1)  # 30% of the pixels set to 0
        0.3
        >>> model.predict(x_train[:4], verbose=0).shape  # predict(): no noise
        (4, 8, 8, 1)
    """

    def __init__(
        self,
        encoder,
        decoder,
        noise="gaussian",
        noise_level=0.3,
        seed=None,
        noisy_evaluation=True,
        value_range=DEFAULT_VALUE_RANGE,
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
        self.value_range = check_value_range(
            value_range, allow_none=noise != "salt_and_pepper"
        )
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
        return corrupt(
            x, self.noise, self.noise_level, seed=seed, value_range=self.value_range
        )

    def train_step(self, data):
        x, targets, sample_weight = self._inputs_and_targets(data)
        return super().train_step((self.add_noise(x), targets, sample_weight))

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        # The steps pass the clean images as `y`; Keras's symbolic build under a
        # tf.distribute strategy passes `y=None`, whose targets are `x` too.
        y = x if y is None else y
        if sample_weight is not None and y_pred is not None:
            # One weight per image, shaped to multiply the per-pixel losses of
            # image targets (Keras's "mse" keeps the height and width axes).
            extra_axes = (1,) * (len(y_pred.shape) - 2)
            sample_weight = ops.reshape(sample_weight, (-1, *extra_axes))
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

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
            "value_range": self.value_range,
        }
        return {**base, **config}
