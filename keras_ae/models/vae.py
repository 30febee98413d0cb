"""Variational autoencoders: the `Sampling` layer, `VAE` and `ConditionalVAE`.

The encoder maps an image `x` to the mean and log-variance of a diagonal
Gaussian `q(z | x)`; `Sampling` draws `z` from it with the reparameterization
trick; the decoder maps `z` to the parameters of `p(x | z)`. Training minimizes
the negative evidence lower bound (ELBO):

    loss = mean over the batch of [ reconstruction(x) + beta * KL(q(z|x) || N(0, I)) ]

where the reconstruction term is summed over pixels and the KL term over latent
dimensions (Kingma and Welling, 2014; Higgins et al., 2017 for `beta`).

The builders `build_vae_encoder` and `build_vae_decoder` live in
`keras_ae.models.vae_builders`; they can be imported from here too.

Example:
    >>> from keras_ae.data import load_dataset
    >>> (x_train, _), _, _, _ = load_dataset("digits")  # 8x8 images in [0, 1]
    >>> encoder = build_vae_encoder((8, 8, 1), latent_dim=2, hidden_units=(32,))
    >>> decoder = build_vae_decoder((8, 8, 1), latent_dim=2, hidden_units=(32,))
    >>> vae = VAE(encoder, decoder, beta=1.0, seed=0)
    >>> vae.compile(optimizer="adam")
    >>> history = vae.fit(x_train[:512], epochs=1, batch_size=64, verbose=0)
    >>> sorted(history.history)
    ['kl_loss', 'kl_weight', 'loss', 'reconstruction_loss']
    >>> vae.sample(4, seed=0).shape
    (4, 8, 8, 1)
"""

import math
import numbers

import keras
import numpy as np
from keras import ops

from keras_ae._backend import require_tensorflow_backend
from keras_ae._validation import check_positive_int
from keras_ae._validation import check_seed as _check_seed
from keras_ae._validation import is_number as _is_number
from keras_ae.models._base import (
    SampleWeightWithoutTargets,
    SubModelConfig,
    check_labels,
    minimize,
    one_hot_labels,
    update_means,
    weighted_mean,
)
from keras_ae.models.layers import Sampling, kl_divergence
from keras_ae.models.vae_builders import build_vae_decoder, build_vae_encoder  # noqa: F401

__all__ = [
    "RECONSTRUCTIONS",
    "LOG_VAR_RANGE",
    "PROBABILITY_EPSILON",
    "VAE",
    "ConditionalVAE",
]


RECONSTRUCTIONS = ("bernoulli", "gaussian")


# z_log_var is clipped to this range before use: exp(0.5 * 10) ~ 148 keeps every
# term finite in float32, while any sensible posterior lies well inside it.
LOG_VAR_RANGE = (-10.0, 10.0)


# Probabilities from a decoder without a final sigmoid layer are clipped to
# [eps, 1 - eps] before the log, as Keras's BCE does (see `VAE`).
PROBABILITY_EPSILON = 1e-7


_LOG_2PI = math.log(2.0 * math.pi)


# Rows decoded at once by `test_elbo` and `importance_weighted_log_likelihood`.
_ROWS_PER_CHUNK = 8192


def _shapes(tensors):
    return [tuple(t.shape) for t in tensors]


def _check_parts(encoder, decoder, conditional):
    """Checks the encoder and decoder; returns `(latent_dim, num_classes)`."""
    num_inputs = 2 if conditional else 1
    example = "build_vae_encoder(num_classes=10)" if conditional else "a builder"
    encoder_inputs = getattr(encoder, "inputs", None) or []
    encoder_outputs = getattr(encoder, "outputs", None) or []
    if len(encoder_inputs) != num_inputs:
        wanted = "[images, one-hot labels]" if conditional else "images"
        raise ValueError(
            f"Expected a Functional encoder with {num_inputs} input(s), {wanted}, "
            f"as from {example}. Received: inputs of shapes {_shapes(encoder_inputs)}"
        )
    if (
        len(encoder_outputs) != 2
        or len(encoder_outputs[0].shape) != 2
        or tuple(encoder_outputs[0].shape) != tuple(encoder_outputs[1].shape)
    ):
        raise ValueError(
            "Expected an encoder with two outputs of equal size (batch, latent_dim): "
            "[z_mean, z_log_var]. Received: outputs of shapes "
            f"{_shapes(encoder_outputs)}"
        )
    latent_dim = encoder_outputs[0].shape[-1]
    decoder_inputs = getattr(decoder, "inputs", None) or []
    if len(decoder_inputs) != num_inputs or decoder_inputs[0].shape[-1] != latent_dim:
        wanted = "[z, one-hot labels]" if conditional else "z"
        raise ValueError(
            f"Expected a Functional decoder taking {wanted} with z of size "
            f"latent_dim={latent_dim} (the encoder's output size). Received: inputs "
            f"of shapes {_shapes(decoder_inputs)}"
        )
    if not conditional:
        return latent_dim, None
    num_classes = encoder_inputs[1].shape[-1]
    if decoder_inputs[1].shape[-1] != num_classes:
        raise ValueError(
            f"Expected the decoder's labels input to have num_classes={num_classes} "
            "values, as the encoder's. Received: decoder inputs of shapes "
            f"{_shapes(decoder_inputs)}"
        )
    return latent_dim, num_classes


def _layer_with_output(model, tensor):
    for layer in model.layers:
        try:
            if layer.output is tensor:
                return layer
        except (AttributeError, ValueError):  # a layer called more than once
            continue
    return None


def _sigmoid_output(decoder):
    """The Keras tensor where the decoder's last sigmoid makes its output, or None.

    Looks back from the decoder's output over Reshape layers for a layer whose
    activation is `keras.activations.sigmoid` (a Dense, Conv2D, ... layer with
    `activation="sigmoid"`, or an `Activation("sigmoid")` layer).
    """
    tensor = decoder.outputs[0]
    layer = _layer_with_output(decoder, tensor)
    while isinstance(layer, keras.layers.Reshape):
        tensor = layer.input
        layer = _layer_with_output(decoder, tensor)
    if getattr(layer, "activation", None) is keras.activations.sigmoid:
        return tensor
    return None


@keras.saving.register_keras_serializable(package="keras_ae")
class VAE(SubModelConfig, SampleWeightWithoutTargets, keras.Model):
    """Variational autoencoder over a given encoder and decoder.

    The loss of a batch is the negative ELBO with a weight `beta` on the KL term:

        loss = mean_n [ reconstruction_n + beta * KL_n ]

    `reconstruction_n` is summed over the pixels of image `n`, `KL_n` is the KL
    divergence from `q(z | x_n)` to `N(0, I)` summed over latent dimensions, and
    the mean is over the batch. `reconstruction` chooses `p(x | z)`:

    - `"bernoulli"`: binary cross-entropy between the image (in [0, 1]) and the
      decoder's sigmoid output `p = sigmoid(l)`,
      `-sum(x log p + (1 - x) log(1 - p)) = sum(softplus(l) - x l)`, computed
      from the logits `l`: finite, and with the gradient `p - x` for each
      logit even where the sigmoid saturates (`p` rounds to 0 or 1). The
      logits are those of the decoder's last layer with a sigmoid activation
      (before any Reshape), which `keras.ops.binary_crossentropy` reads from
      its output. A decoder without one is taken to output probabilities,
      clipped to `[1e-7, 1 - 1e-7]` (`PROBABILITY_EPSILON`; no gradient
      beyond the clip).
    - `"gaussian"`: `sum((x - x_hat)^2) / (2 sigma^2)`, a Gaussian with fixed
      standard deviation `sigma` and mean `x_hat`, the decoder's output. With
      `sigma=None` it is the plain sum of squares (`sigma^2 = 1/2`). The training
      loss leaves out the constant `D/2 log(2 pi sigma^2)` (D values per image),
      which has no gradient; `test_elbo` and `importance_weighted_log_likelihood`
      include it, so they are log-likelihoods in nats.

    The metrics `loss`, `reconstruction_loss` and `kl_loss` are each averaged
    over the batch (and over the batches of an epoch); `kl_weight` is the weight
    of the KL term in the last step. `z_log_var` is clipped to `LOG_VAR_RANGE`
    before use, so a diverging encoder cannot produce `inf` or NaN. Regularizer
    losses of the encoder and decoder are added to the loss.

    `fit(..., sample_weight=w)` weights each image's terms by its `w`: the
    loss is `mean_n w_n (reconstruction_n + beta * KL_n)`, the weighted sum
    divided by the batch size, as Keras's losses do (the metrics likewise).
    The training step is `keras_ae.models._base.minimize`: under a `tf.distribute`
    strategy the loss is divided by the number of replicas before taking
    gradients, and under `"mixed_float16"` it is scaled by the
    `LossScaleOptimizer` that `compile` sets up.

    Args:
        encoder: A Functional model mapping images to `[z_mean, z_log_var]`
            (see `build_vae_encoder`).
        decoder: A Functional model mapping `z` of size `latent_dim` to images
            (see `build_vae_decoder`).
        beta: Weight of the KL term, >= 0; 1 gives the ELBO.
        reconstruction: `"bernoulli"` or `"gaussian"`.
        sigma: Standard deviation of the `"gaussian"` likelihood, > 0, or None
            for the plain sum of squares.
        kl_warmup_steps: Int >= 0. If > 0, the KL weight starts at 0 and grows
            linearly to `beta` over that many training steps (optimizer updates).
            Its current value is the non-trainable variable `kl_weight`, so it is
            saved with the model and goes on from there after loading.
        seed: Int or None, the seed of the sampling noise.
        **kwargs: Passed to `keras.Model` (for example `name`).

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, _), _, (x_test, _), _ = load_dataset("digits")
        >>> vae = VAE(build_vae_encoder((8, 8, 1), 2, hidden_units=(32,)),
        ...           build_vae_decoder((8, 8, 1), 2, hidden_units=(32,)),
        ...           beta=1.0, kl_warmup_steps=8, seed=0)
        >>> vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> history = vae.fit(x_train[:256], epochs=1, batch_size=64, verbose=0)
        >>> float(vae.kl_weight)  # 4 of the 8 warm-up steps: beta / 2
        0.5
        >>> vae.test_elbo(x_test, num_samples=2) < 0  # a bound on log p(x), nats
        True
    """

    conditional = False
    sub_models = ("encoder", "decoder")

    def __init__(
        self,
        encoder,
        decoder,
        beta=1.0,
        reconstruction="bernoulli",
        sigma=None,
        kl_warmup_steps=0,
        seed=None,
        **kwargs,
    ):
        require_tensorflow_backend(type(self).__name__)
        super().__init__(**kwargs)
        self.latent_dim, self.num_classes = _check_parts(
            encoder, decoder, self.conditional
        )
        if not _is_number(beta) or not beta >= 0:
            raise ValueError(f"Expected beta >= 0. Received: beta={beta!r}")
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(
                f"Expected reconstruction to be one of {RECONSTRUCTIONS}. "
                f"Received: reconstruction={reconstruction!r}"
            )
        if sigma is not None:
            if reconstruction != "gaussian":
                raise ValueError(
                    "Expected sigma=None with reconstruction='bernoulli' (sigma is "
                    f"the Gaussian's standard deviation). Received: sigma={sigma!r}"
                )
            if not _is_number(sigma) or not sigma > 0:
                raise ValueError(f"Expected sigma > 0. Received: sigma={sigma!r}")
            sigma = float(sigma)
        if (
            not isinstance(kl_warmup_steps, numbers.Integral)
            or isinstance(kl_warmup_steps, bool)
            or kl_warmup_steps < 0
        ):
            raise ValueError(
                "Expected kl_warmup_steps >= 0 (an integer). "
                f"Received: kl_warmup_steps={kl_warmup_steps!r}"
            )
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.reconstruction = reconstruction
        self.sigma = sigma
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.seed = _check_seed(seed)
        self.sampling = Sampling(seed=self.seed, name="sampling")
        # It has no weights: built now, so that `fit` under a tf.distribute
        # strategy need not build the model by calling it on `x` alone (which
        # a ConditionalVAE cannot take).
        self.sampling.build([(None, self.latent_dim)] * 2)
        self.kl_weight = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(
                0.0 if self.kl_warmup_steps else self.beta
            ),
            trainable=False,
            # Every replica computes the same value; keep the first replica's.
            aggregation="only_first_replica",
            name="kl_weight",
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self._decode_for_likelihood = self._likelihood_decoder(decoder)
        # The weights live in the (built) encoder and decoder.
        self.built = encoder.built and decoder.built

    def _likelihood_decoder(self, decoder):
        """Returns `decode(inputs, training)`: the outputs the likelihood is on.

        For a `"bernoulli"` VAE, the probabilities as they leave the decoder's
        last sigmoid, before any Reshape: `keras.ops.binary_crossentropy` then
        computes from the logits the sigmoid keeps with them. Otherwise (or if
        there is no such sigmoid) the decoder's outputs.
        """
        tensor = (
            _sigmoid_output(decoder) if self.reconstruction == "bernoulli" else None
        )
        # A Functional model over the decoder's own layers (no new weights),
        # held in a closure so that Keras neither tracks nor saves it.
        model = decoder if tensor is None else keras.Model(decoder.input, tensor)
        return lambda inputs, training=False: model(inputs, training=training)

    @property
    def metrics(self):
        return [
            self.loss_tracker,
            self.reconstruction_loss_tracker,
            self.kl_loss_tracker,
        ]

    # Internals shared with ConditionalVAE: `labels` is None for a plain VAE, a
    # one-hot tensor for a conditional one.

    def _with_labels(self, inputs, labels):
        return inputs if labels is None else [inputs, labels]

    def _one_hot(self, labels):
        return one_hot_labels(labels, self.num_classes)

    def _unpack(self, data):
        """Returns `(x, one-hot labels or None, sample_weight or None)`."""
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        return x, None, sample_weight

    def _posterior(self, x, labels, training=False):
        z_mean, z_log_var = self.encoder(
            self._with_labels(x, labels), training=training
        )
        return z_mean, ops.clip(z_log_var, *LOG_VAR_RANGE)

    def _reconstruction_term(self, x, outputs):
        """Per-image reconstruction loss, summed over values: `(batch,)`.

        `outputs` come from `_decode_for_likelihood`, untouched: a Bernoulli
        VAE's probabilities must reach `binary_crossentropy` straight from the
        sigmoid for it to use their logits.
        """
        x = ops.cast(ops.reshape(x, ops.shape(outputs)), outputs.dtype)
        if self.reconstruction == "bernoulli":
            per_value = ops.binary_crossentropy(x, outputs)
        else:
            variance = 0.5 if self.sigma is None else self.sigma**2
            per_value = ops.square(x - outputs) / (2.0 * variance)
        return ops.sum(ops.reshape(per_value, (ops.shape(x)[0], -1)), axis=1)

    def _log_likelihood(self, x, outputs):
        """Per-image `log p(x | z)` in nats, constants included: `(batch,)`."""
        log_p = -self._reconstruction_term(x, outputs)
        if self.reconstruction == "gaussian":
            variance = 0.5 if self.sigma is None else self.sigma**2
            num_values = math.prod(outputs.shape[1:])
            log_p = log_p - 0.5 * num_values * math.log(2.0 * math.pi * variance)
        return log_p

    def _loss_terms(self, x, labels, kl_weight, training, sample_weight=None):
        z_mean, z_log_var = self._posterior(x, labels, training=training)
        z = self.sampling([z_mean, z_log_var])
        outputs = self._decode_for_likelihood(
            self._with_labels(z, labels), training=training
        )
        per_image = self._reconstruction_term(x, outputs)
        reconstruction = weighted_mean(per_image, sample_weight)
        kl = kl_divergence(z_mean, z_log_var)
        kl = weighted_mean(ops.cast(kl, per_image.dtype), sample_weight)
        total = reconstruction + ops.cast(kl_weight, kl.dtype) * kl
        if self.losses:
            total = total + ops.sum(self.losses)
        return total, reconstruction, kl

    def _report(self, terms, kl_weight, size):
        trackers = self.metrics  # loss, reconstruction_loss, kl_loss
        update_means(zip(trackers, terms, strict=True), size)
        logs = {metric.name: metric.result() for metric in trackers}
        return {**logs, "kl_weight": kl_weight}

    def call(self, inputs, training=False):
        """Reconstructs `x`: decodes a draw of `q(z | x)` in training, else its mean."""
        x, labels = self._unpack_call(inputs)
        z_mean, z_log_var = self._posterior(x, labels, training=training)
        z = self.sampling([z_mean, z_log_var]) if training else z_mean
        return self.decoder(self._with_labels(z, labels), training=training)

    def _unpack_call(self, inputs):
        return inputs, None

    def train_step(self, data):
        x, labels, sample_weight = self._unpack(data)
        kl_weight = ops.copy(self.kl_weight)  # read now, before the update below
        terms = minimize(
            lambda: self._loss_terms(x, labels, kl_weight, True, sample_weight),
            self.optimizer,
            self.trainable_weights,
        )
        if self.kl_warmup_steps:
            step = self.beta / self.kl_warmup_steps
            self.kl_weight.assign(ops.minimum(kl_weight + step, self.beta))
        return self._report(terms, kl_weight, ops.shape(x)[0])

    def test_step(self, data):
        x, labels, sample_weight = self._unpack(data)
        kl_weight = ops.copy(self.kl_weight)
        terms = self._loss_terms(x, labels, kl_weight, False, sample_weight)
        return self._report(terms, kl_weight, ops.shape(x)[0])

    # Inference helpers; they return NumPy arrays and Python floats.

    def encode(self, x, batch_size=256):
        """Returns the means of `q(z | x)`: a NumPy array `(len(x), latent_dim)`."""
        return self._encode(x, None, batch_size)

    def _encode(self, x, labels, batch_size):
        inputs = self._with_labels(x, labels)
        return self.encoder.predict(inputs, batch_size=batch_size, verbose=0)[0]

    def decode(self, z, batch_size=256):
        """Decodes codes `z` `(n, latent_dim)` to images (NumPy)."""
        return self.decoder.predict(z, batch_size=batch_size, verbose=0)

    def _prior_samples(self, n, seed):
        n = check_positive_int("n", n)
        seed = _check_seed(seed)
        z = keras.random.normal((n, self.latent_dim), seed=seed)
        return keras.ops.convert_to_numpy(z)

    def sample(self, n, seed=None):
        """Generates `n` new images: decodes `z ~ N(0, I)`.

        Args:
            n: Number of images, > 0.
            seed: Int for repeatable samples, or None (Keras's global generator,
                seeded by `keras_ae.utils.set_seed`).

        Returns:
            A NumPy array of `n` images: the decoder's outputs (pixel
            probabilities for a `"bernoulli"` VAE, means for a `"gaussian"` one).
        """
        return self.decode(self._prior_samples(n, seed))

    def test_elbo(self, x, num_samples=1, seed=None, per_image=False):
        """Estimates the ELBO of each image and returns its mean, in nats.

        `ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || N(0, I))`, the expectation
        estimated with `num_samples` draws of `z` per image and the KL term in
        closed form. With `beta=1` and a `"bernoulli"` VAE, it is minus the
        loss; a `"gaussian"` VAE adds the constant `-D/2 log(2 pi sigma^2)`.

        Args:
            x: Images (NumPy array or tensor).
            num_samples: Draws of `z` per image, > 0.
            seed: Int or None, the seed of the draws.
            per_image: Return every image's ELBO instead of their mean (minus
                it is an anomaly score).

        Returns:
            A float, the mean ELBO per image in nats (higher is better), or a
            NumPy array `(N,)` with `per_image=True`.
        """
        return self._test_elbo(x, None, num_samples, seed, per_image)

    def importance_weighted_log_likelihood(self, x, k=100, seed=None):
        """Importance-weighted lower bound on `log p(x)` (Burda et al., 2016).

        `log p(x) >= E[log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x)]` with
        `z_1..z_k ~ q(z | x)`. It equals the ELBO for `k = 1` and tightens towards
        `log p(x)` as `k` grows: the usual way to report a VAE's test
        log-likelihood.

        Args:
            x: Images (NumPy array or tensor).
            k: Number of importance samples per image, > 0.
            seed: Int or None, the seed of the draws.

        Returns:
            A float, the mean bound per image in nats.
        """
        return self._iwae(x, None, k, seed)

    def _log_weights(self, x, labels, num_samples, generator):
        """Returns `log p(x|z)` and `log p(z) - log q(z|x)`, `(k, batch)`, and KL."""
        x = ops.convert_to_tensor(x, "float32")
        z_mean, z_log_var = self._posterior(x, labels)
        batch = ops.shape(z_mean)[0]
        shape = (num_samples, batch, self.latent_dim)
        epsilon = keras.random.normal(shape, dtype=z_mean.dtype, seed=generator)
        z = z_mean[None] + ops.exp(0.5 * z_log_var)[None] * epsilon

        def repeat(t):  # (batch, ...) -> (k * batch, ...), draw-major like z
            return ops.reshape(
                ops.repeat(t[None], num_samples, axis=0), (-1, *t.shape[1:])
            )

        flat_z = ops.reshape(z, (-1, self.latent_dim))
        flat_labels = None if labels is None else repeat(labels)
        outputs = self._decode_for_likelihood(self._with_labels(flat_z, flat_labels))
        log_p_x = ops.reshape(self._log_likelihood(repeat(x), outputs), (-1, batch))
        # log N(z; 0, I) - log N(z; z_mean, exp(z_log_var)), using z - z_mean
        # = exp(0.5 * z_log_var) * epsilon.
        log_prior_ratio = -0.5 * ops.sum(
            ops.square(z) - ops.square(epsilon) - z_log_var, axis=-1
        )
        return log_p_x, log_prior_ratio, kl_divergence(z_mean, z_log_var)

    def _chunks(self, x, labels, num_samples):
        x = np.asarray(x, dtype="float32")
        size = max(1, _ROWS_PER_CHUNK // num_samples)
        for start in range(0, len(x), size):
            chunk_labels = None
            if labels is not None:
                chunk_labels = self._one_hot(labels[start : start + size])
            yield x[start : start + size], chunk_labels

    def _test_elbo(self, x, labels, num_samples, seed, per_image=False):
        num_samples = check_positive_int("num_samples", num_samples)
        generator = keras.random.SeedGenerator(_check_seed(seed))
        elbos = []
        for x_chunk, label_chunk in self._chunks(x, labels, num_samples):
            log_p_x, _, kl = self._log_weights(
                x_chunk, label_chunk, num_samples, generator
            )
            elbos.append(ops.mean(log_p_x, axis=0) - kl)
        elbos = ops.concatenate(elbos)
        if per_image:
            return ops.convert_to_numpy(elbos).astype("float64")
        return float(ops.mean(elbos))

    def _iwae(self, x, labels, k, seed):
        k = check_positive_int("k", k)
        generator = keras.random.SeedGenerator(_check_seed(seed))
        bounds = []
        for x_chunk, label_chunk in self._chunks(x, labels, k):
            log_p_x, log_prior_ratio, _ = self._log_weights(
                x_chunk, label_chunk, k, generator
            )
            bounds.append(
                ops.logsumexp(log_p_x + log_prior_ratio, axis=0) - math.log(k)
            )
        return float(ops.mean(ops.concatenate(bounds)))

    def get_config(self):
        base = super().get_config()  # with the encoder and decoder
        config = {
            "beta": self.beta,
            "reconstruction": self.reconstruction,
            "sigma": self.sigma,
            "kl_warmup_steps": self.kl_warmup_steps,
            "seed": self.seed,
        }
        return {**base, **config}


@keras.saving.register_keras_serializable(package="keras_ae")
class ConditionalVAE(VAE):
    """VAE whose encoder and decoder both see the class label (Sohn et al., 2015).

    Trains on `(x, y)` pairs, with `y` integer labels in `[0, num_classes)`:
    `vae.fit(x_train, y_train, ...)`. The labels are one-hot encoded and given to
    the encoder as its second input (concatenated to the flattened image) and to
    the decoder as its second input (concatenated to `z`); build both with
    `num_classes` (`build_vae_encoder(num_classes=10)`). The loss, metrics and
    arguments are those of `VAE`. `call()` and `predict()` take `[x, y]`.

    Labels are integer-valued (`3` or `3.0`) in `[0, num_classes)`, as for a
    `keras_ae.models.gans.ConditionalGAN`. `sample`, `encode`, `decode`, `test_elbo`
    and `importance_weighted_log_likelihood` raise a `ValueError` for any other
    label; inside `fit`, `evaluate` and `predict` a `tf.debugging` assertion
    stops them with an `InvalidArgumentError` (see
    `keras_ae.models._base.one_hot_labels`; XLA drops it).

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x, y), _, _, _ = load_dataset("digits")  # 8x8 images, labels 0-9
        >>> encoder = build_vae_encoder((8, 8, 1), 2, (32,), num_classes=10)
        >>> decoder = build_vae_decoder((8, 8, 1), 2, (32,), num_classes=10)
        >>> cvae = ConditionalVAE(encoder, decoder, seed=0)
        >>> cvae.compile(optimizer="adam")
        >>> history = cvae.fit(x[:512], y[:512], epochs=1, batch_size=64, verbose=0)
        >>> cvae.sample(8, labels=3, seed=0).shape  # eight threes
        (8, 8, 8, 1)
    """

    conditional = True

    def _unpack(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError(
                "Expected (x, y) pairs: a ConditionalVAE trains on images and their "
                "integer labels, e.g. fit(x_train, y_train). Received: no labels"
            )
        return x, self._one_hot(y), sample_weight

    def _unpack_call(self, inputs):
        x, labels = inputs
        return x, self._one_hot(labels)

    def _labels_array(self, labels, n):
        return check_labels(labels, self.num_classes, n)

    def _one_hot_array(self, labels, n):
        return np.eye(self.num_classes, dtype="float32")[self._labels_array(labels, n)]

    def encode(self, x, labels, batch_size=256):
        """Returns the means of `q(z | x, y)`: a NumPy array `(len(x), latent_dim)`."""
        return self._encode(x, self._one_hot_array(labels, len(x)), batch_size)

    def decode(self, z, labels, batch_size=256):
        """Decodes codes `z` with labels (an int or one per row) to images (NumPy)."""
        one_hot = self._one_hot_array(labels, len(z))
        return self.decoder.predict([z, one_hot], batch_size=batch_size, verbose=0)

    def sample(self, n, labels, seed=None):
        """Generates `n` images of the requested classes: decodes `z ~ N(0, I)`.

        Args:
            n: Number of images, > 0.
            labels: An int class for all `n` images, or `n` int labels.
            seed: Int or None, the seed of `z`.

        Returns:
            A NumPy array of `n` images.
        """
        return self.decode(self._prior_samples(n, seed), labels)

    def test_elbo(self, x, labels, num_samples=1, seed=None, per_image=False):
        """Mean ELBO of `log p(x | y)` per image in nats; see `VAE.test_elbo`."""
        labels = self._labels_array(labels, len(x))
        return self._test_elbo(x, labels, num_samples, seed, per_image)

    def importance_weighted_log_likelihood(self, x, labels, k=100, seed=None):
        """Mean IWAE bound on `log p(x | y)` in nats; see the `VAE` method."""
        return self._iwae(x, self._labels_array(labels, len(x)), k, seed)
