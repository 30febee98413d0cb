"""Tests for keras_ae.models.vae against closed forms, NumPy, exact likelihoods."""

import json
import math
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae.data import load_dataset
from keras_ae.models.gan_builders import (
    build_dense_discriminator,
    build_dense_generator,
)
from keras_ae.models.gans import ConditionalGAN
from keras_ae.models.vae import LOG_VAR_RANGE, VAE, ConditionalVAE, Sampling
from keras_ae.models.vae_builders import build_vae_decoder, build_vae_encoder

IMAGE_SHAPE = (8, 8, 1)
LATENT_DIM = 3
MEANS = np.array([0.5, -1.0, 2.0], dtype="float32")
LOG_VARS = np.array([0.0, math.log(0.5), 1.0], dtype="float32")


def run_script(script, timeout=300):
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (line,) = [li for li in completed.stdout.splitlines() if li.startswith("RESULTS ")]
    return json.loads(line.removeprefix("RESULTS "))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def fixed_encoder(means=MEANS, log_vars=LOG_VARS):
    """An encoder whose outputs are `means` and `log_vars` for every image."""
    encoder = build_vae_encoder(IMAGE_SHAPE, latent_dim=len(means), hidden_units=(8,))
    for layer, bias in (("z_mean", means), ("z_log_var", log_vars)):
        kernel = np.zeros_like(encoder.get_layer(layer).kernel.numpy())
        encoder.get_layer(layer).set_weights([kernel, np.asarray(bias, "float32")])
    return encoder


def kl_closed_form(means, log_vars):
    variances = np.exp(log_vars.astype("float64"))
    return 0.5 * np.sum(means**2 + variances - 1.0 - np.log(variances))


def images(seed=0, size=16):
    return np.random.default_rng(seed).uniform(size=(size, *IMAGE_SHAPE)).astype("f4")


# Sampling.


def test_sampling_statistics():
    n = 20000
    means = np.tile([1.0, -2.0, 0.5], (n, 1)).astype("float32")
    stds = np.array([1.0, 2.0, 0.5])
    log_vars = np.tile(np.log(stds**2), (n, 1)).astype("float32")
    z = keras.ops.convert_to_numpy(Sampling(seed=0)([means, log_vars]))
    # Standard errors: std / sqrt(n) for the mean, std / sqrt(2 n) for the std.
    np.testing.assert_allclose(z.mean(axis=0), means[0], atol=4 * 2.0 / math.sqrt(n))
    np.testing.assert_allclose(z.std(axis=0), stds, rtol=4 / math.sqrt(2 * n))
    correlation = np.corrcoef(z, rowvar=False)[np.triu_indices(3, 1)]
    assert np.all(np.abs(correlation) < 4 / math.sqrt(n))


def test_sampling_repeats_with_a_seed_and_draws_fresh_noise():
    zeros = np.zeros((5, 2), "float32")

    def draws(seed):
        layer = Sampling(seed=seed)
        return [keras.ops.convert_to_numpy(layer([zeros, zeros])) for _ in range(2)]

    first, second = draws(3)
    np.testing.assert_array_equal(draws(3)[0], first)
    np.testing.assert_array_equal(draws(3)[1], second)
    assert np.abs(first - second).min() > 0  # every call draws new noise
    assert np.abs(draws(4)[0] - first).min() > 0
    config = Sampling(seed=3).get_config()
    assert Sampling.from_config(config).seed == 3


def test_one_device_sampling_replays_its_seed_generator():
    # On one device epsilon is keras.random.normal(seed=SeedGenerator(seed)),
    # call after call: replica_seed changes nothing there.
    means = np.tile(MEANS, (6, 1))
    log_vars = np.tile(LOG_VARS, (6, 1))
    layer = Sampling(seed=3)
    replay = keras.random.SeedGenerator(3)
    for _ in range(2):
        z = keras.ops.convert_to_numpy(layer([means, log_vars]))
        epsilon = keras.ops.convert_to_numpy(keras.random.normal((6, 3), seed=replay))
        np.testing.assert_allclose(
            z, means + np.exp(0.5 * log_vars) * epsilon, rtol=1e-6, atol=1e-7
        )


# The loss terms against closed forms and NumPy.


def reproduce_reconstructions(decoder, seed, batch):
    """Repeats the first draw of a `VAE(seed=seed)`, and decodes it."""
    epsilon = keras.ops.convert_to_numpy(
        Sampling(seed=seed).standard_normal((batch, LATENT_DIM))
    )
    clipped = np.clip(LOG_VARS, *LOG_VAR_RANGE)
    z = MEANS + np.exp(0.5 * clipped) * epsilon
    return decoder.predict(z, verbose=0).astype("float64")


def reconstruction_reference(x, outputs, reconstruction, sigma):
    x = x.reshape(len(x), -1).astype("float64")
    outputs = outputs.reshape(len(outputs), -1)
    if reconstruction == "bernoulli":
        p = np.clip(outputs, 1e-7, 1 - 1e-7)
        per_image = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    else:
        variance = 0.5 if sigma is None else sigma**2
        per_image = np.sum((x - outputs) ** 2, axis=1) / (2 * variance)
    return per_image.mean()


@pytest.mark.parametrize(
    "reconstruction, sigma, step",
    [
        ("bernoulli", None, "evaluate"),
        ("gaussian", 0.3, "evaluate"),
        ("gaussian", None, "evaluate"),
        ("bernoulli", None, "train"),
    ],
)
def test_loss_terms_match_references(reconstruction, sigma, step):
    keras.utils.set_random_seed(1)
    decoder = build_vae_decoder(IMAGE_SHAPE, latent_dim=LATENT_DIM, hidden_units=(8,))
    vae = VAE(
        fixed_encoder(),
        decoder,
        beta=0.7,
        reconstruction=reconstruction,
        sigma=sigma,
        seed=11,
    )
    # A zero learning rate: train_step computes the loss but changes nothing.
    vae.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    x = images(1)
    if step == "evaluate":
        logs = vae.evaluate(x, batch_size=len(x), verbose=0, return_dict=True)
    else:
        logs = vae.train_on_batch(x, return_dict=True)
    kl = kl_closed_form(MEANS, LOG_VARS)
    outputs = reproduce_reconstructions(decoder, seed=11, batch=len(x))
    reconstruction_loss = reconstruction_reference(x, outputs, reconstruction, sigma)
    np.testing.assert_allclose(logs["kl_loss"], kl, rtol=1e-6)
    np.testing.assert_allclose(
        logs["reconstruction_loss"], reconstruction_loss, rtol=1e-5
    )
    np.testing.assert_allclose(logs["loss"], reconstruction_loss + 0.7 * kl, rtol=1e-5)
    assert logs["kl_weight"] == pytest.approx(0.7)


def test_log_variance_is_clipped_so_the_loss_stays_finite():
    huge = np.array([200.0, -200.0, 3.0], dtype="float32")
    decoder = build_vae_decoder(IMAGE_SHAPE, latent_dim=LATENT_DIM, hidden_units=(8,))
    vae = VAE(fixed_encoder(log_vars=huge), decoder, seed=0)
    vae.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01))
    logs = vae.train_on_batch(images(2), return_dict=True)
    clipped = np.clip(huge, *LOG_VAR_RANGE)  # [10, -10, 3]
    np.testing.assert_allclose(
        logs["kl_loss"], kl_closed_form(MEANS, clipped), rtol=1e-6
    )
    assert all(np.isfinite(value) for value in logs.values())
    assert all(np.all(np.isfinite(w)) for w in vae.get_weights())


def test_kl_warmup_ramps_beta_per_step():
    keras.utils.set_random_seed(3)
    decoder = build_vae_decoder(IMAGE_SHAPE, latent_dim=LATENT_DIM, hidden_units=(8,))
    vae = VAE(fixed_encoder(), decoder, beta=2.0, kl_warmup_steps=4, seed=3)
    vae.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    x = images(3)
    weights, effective = [], []
    for _ in range(6):
        logs = vae.train_on_batch(x, return_dict=True)
        weights.append(logs["kl_weight"])
        kl_part = logs["loss"] - logs["reconstruction_loss"]
        effective.append(kl_part / logs["kl_loss"])
    np.testing.assert_allclose(weights, [0.0, 0.5, 1.0, 1.5, 2.0, 2.0], atol=1e-6)
    # The loss really used that weight (float32 rounding of loss - recon).
    np.testing.assert_allclose(effective, weights, atol=1e-3)
    assert float(vae.kl_weight.numpy()) == 2.0


# Training and the likelihood bounds.


@pytest.fixture(scope="module")
def trained_vae(digits):
    (x_train, _), _, _, _ = digits
    keras.utils.set_random_seed(4)
    encoder = build_vae_encoder(IMAGE_SHAPE, latent_dim=4, hidden_units=(64,))
    decoder = build_vae_decoder(IMAGE_SHAPE, latent_dim=4, hidden_units=(64,))
    vae = VAE(encoder, decoder, kl_warmup_steps=40, seed=4)
    vae.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = vae.fit(x_train, epochs=8, batch_size=64, verbose=0)
    return vae, history.history


def test_training_on_digits_lowers_the_loss(trained_vae, digits):
    vae, history = trained_vae
    losses = history["loss"]
    print("VAE loss per epoch (nats per image):", np.round(losses, 2))
    assert all(np.isfinite(v) for values in history.values() for v in values)
    assert losses[-1] < 0.75 * losses[0]
    assert history["kl_weight"][-1] == 1.0  # the warm-up is over
    assert history["kl_loss"][-1] > 0.5  # the latent space is used
    _, _, (x_test, _), _ = digits
    samples = vae.sample(8, seed=0)
    assert samples.shape == (8, *IMAGE_SHAPE)
    np.testing.assert_array_equal(samples, vae.sample(8, seed=0))
    assert np.all((samples >= 0) & (samples <= 1))


def test_test_elbo_and_iwae_on_digits(trained_vae, digits):
    vae, _ = trained_vae
    _, _, (x_test, _), _ = digits
    logs = vae.evaluate(x_test, batch_size=len(x_test), verbose=0, return_dict=True)
    loss = logs["loss"]
    elbo = vae.test_elbo(x_test, num_samples=50, seed=0)
    iwae_1 = vae.importance_weighted_log_likelihood(x_test, k=1, seed=1)
    iwae = vae.importance_weighted_log_likelihood(x_test, k=200, seed=0)
    print(f"digits test: ELBO {elbo:.2f}, IWAE(k=200) {iwae:.2f} nats per image")
    assert np.isfinite([elbo, iwae, iwae_1]).all()
    # beta = 1: the ELBO is minus the loss (one draw of z in `evaluate`).
    assert elbo == pytest.approx(-loss, abs=0.5)
    # k = 1 is a one-draw ELBO estimate (KL estimated, not in closed form).
    assert iwae_1 == pytest.approx(elbo, abs=0.5)
    assert iwae > elbo + 0.05


def linear_gaussian_vae(kernel, sigma, exact_posterior):
    """A linear VAE `x = z K + c + N(0, sigma^2)`; the encoder is set from K."""
    latent_dim, dim = kernel.shape
    encoder = build_vae_encoder((dim,), latent_dim=latent_dim, hidden_units=())
    decoder = build_vae_decoder(
        (dim,), latent_dim=latent_dim, hidden_units=(), output_activation=None
    )
    offset = np.linspace(-0.5, 0.5, dim)
    decoder.get_layer("pixels").set_weights([kernel, offset])
    # The posterior is N(S K (x - c) / sigma^2, S), S = (I + K K^T / sigma^2)^-1.
    precision = np.eye(latent_dim) + kernel @ kernel.T / sigma**2
    covariance = np.linalg.inv(precision)
    mean_kernel = kernel.T @ covariance / sigma**2
    # The best diagonal q has the posterior mean and variances 1 / diag(precision).
    log_vars = np.log(
        np.diag(covariance) if exact_posterior else 1 / np.diag(precision)
    )
    encoder.get_layer("z_mean").set_weights([mean_kernel, -offset @ mean_kernel])
    encoder.get_layer("z_log_var").set_weights([np.zeros((dim, latent_dim)), log_vars])
    vae = VAE(encoder, decoder, reconstruction="gaussian", sigma=sigma)
    # log p(x) = log N(x; c, K^T K + sigma^2 I), exactly.
    marginal = kernel.T @ kernel + sigma**2 * np.eye(dim)
    return vae, offset, marginal


def exact_log_likelihood(x, offset, marginal):
    centered = x - offset
    _, log_det = np.linalg.slogdet(marginal)
    mahalanobis = np.einsum("ni,ij,nj->n", centered, np.linalg.inv(marginal), centered)
    return np.mean(-0.5 * (len(offset) * math.log(2 * math.pi) + log_det + mahalanobis))


def test_bounds_equal_log_likelihood_when_q_is_the_posterior():
    # Orthogonal rows of K make the posterior diagonal, so q(z|x) = p(z|x):
    # every importance weight p(x|z) p(z) / q(z|x) equals p(x).
    kernel = np.array([[1.2, 0.0, 0.0, 0.0, 0.0], [0.0, 0.6, 0.6, 0.0, 0.0]])
    vae, offset, marginal = linear_gaussian_vae(kernel, 0.5, exact_posterior=True)
    x = np.random.default_rng(5).normal(size=(64, 5)).astype("float32")
    exact = exact_log_likelihood(x.astype("float64"), offset, marginal)
    for k in (1, 10):  # no variance: exact with any k
        iwae = vae.importance_weighted_log_likelihood(x, k=k, seed=k)
        np.testing.assert_allclose(iwae, exact, rtol=1e-5)
    # test_elbo estimates E_q[log p(x|z)] by sampling (the KL is exact), so it
    # has some variance left; observed errors are below 0.005 nats.
    assert vae.test_elbo(x, num_samples=500, seed=0) == pytest.approx(exact, abs=0.02)


def test_iwae_tightens_the_elbo_towards_log_likelihood():
    kernel = np.array([[1.0, 0.5, 0.0, 0.0, 0.0], [0.8, 0.9, 0.3, 0.0, 0.0]])
    sigma = 0.4
    vae, offset, marginal = linear_gaussian_vae(kernel, sigma, exact_posterior=False)
    x = np.random.default_rng(7).normal(size=(64, 5)).astype("float32")
    exact = exact_log_likelihood(x.astype("float64"), offset, marginal)
    # q has the posterior mean and variances 1 / diag(P), P the posterior
    # precision, so log p(x) - ELBO = KL(q || posterior) = 0.5 log(prod diag P / det P).
    precision = np.eye(2) + kernel @ kernel.T / sigma**2
    gap = 0.5 * (np.log(np.prod(np.diag(precision))) - np.linalg.slogdet(precision)[1])
    assert gap > 0.5
    elbo = vae.test_elbo(x, num_samples=500, seed=0)
    assert elbo == pytest.approx(exact - gap, abs=0.02)
    iwae_10 = vae.importance_weighted_log_likelihood(x, k=10, seed=1)
    iwae_1000 = vae.importance_weighted_log_likelihood(x, k=1000, seed=2)
    print(f"log p(x) - bound: ELBO {gap:.3f}, IWAE k=10 {exact - iwae_10:.3f}, ")
    print(f"k=1000 {exact - iwae_1000:.3f} nats")
    assert elbo < iwae_10 < iwae_1000 < exact + 1e-3
    assert exact - iwae_1000 < 0.2 * gap


def test_bernoulli_loss_and_gradient_come_from_the_logits():
    # The pixels' logits are the decoder's bias (its kernel is zero). At
    # |logit| >= 17 float32's sigmoid is exactly 0 or 1: clipped probabilities
    # would give -log(1e-7) = 16.1 nats and no gradient there.
    decoder = build_vae_decoder(IMAGE_SHAPE, latent_dim=LATENT_DIM, hidden_units=())
    pixels = decoder.get_layer("pixels")
    logits = np.tile([30.0, -30.0, 20.0, -20.0, 1.0, -2.0, 0.0, 5.0], 8)
    pixels.set_weights([np.zeros((LATENT_DIM, 64), "float32"), logits.astype("f4")])
    vae = VAE(fixed_encoder(), decoder, seed=0)
    vae.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))
    x = (np.random.default_rng(6).uniform(size=(16, *IMAGE_SHAPE)) < 0.5).astype("f4")
    flat = x.reshape(16, -1).astype("float64")
    # -log p(x | l) = sum over pixels of softplus(l) - x l.
    per_image = np.sum(np.logaddexp(0.0, logits) - flat * logits, axis=1)
    kl = kl_closed_form(MEANS, LOG_VARS)
    elbo = vae.test_elbo(x, num_samples=2, seed=0)
    np.testing.assert_allclose(elbo, -per_image.mean() - kl, rtol=1e-6)
    logs = vae.train_on_batch(x, return_dict=True)
    np.testing.assert_allclose(logs["reconstruction_loss"], per_image.mean(), rtol=1e-6)
    # One SGD step of rate 1 moves each logit by minus the gradient of the
    # mean loss: mean_n (sigmoid(l) - x_n), about +-0.5 at the saturated ones.
    gradient = 1.0 / (1.0 + np.exp(-logits)) - flat.mean(axis=0)
    np.testing.assert_allclose(
        logits - pixels.bias.numpy(), gradient, rtol=1e-5, atol=1e-6
    )
    assert np.abs(gradient[np.abs(logits) >= 20]).min() > 0.1


def test_convolutional_bernoulli_decoder_gives_its_logits_too():
    # The convolutional decoder ends in Conv2D(sigmoid), with no Reshape.
    decoder = build_vae_decoder(
        IMAGE_SHAPE, latent_dim=LATENT_DIM, hidden_units=(), conv_filters=(4,)
    )
    pixels = decoder.get_layer("pixels")
    kernel = np.zeros(pixels.kernel.shape, "float32")
    pixels.set_weights([kernel, np.array([30.0], "float32")])  # sigmoid == 1.0
    vae = VAE(fixed_encoder(), decoder, seed=0)
    vae.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    logs = vae.train_on_batch(np.zeros((4, *IMAGE_SHAPE), "float32"), return_dict=True)
    # softplus(30) per black pixel, where clipping would give -log(1e-7) = 16.1.
    np.testing.assert_allclose(
        logs["reconstruction_loss"], 64 * np.logaddexp(0.0, 30.0), rtol=1e-6
    )


# The conditional VAE.


def test_conditional_vae_generates_the_requested_classes(digits):
    (x_train, y_train), _, (x_test, y_test), _ = digits
    keras.utils.set_random_seed(8)
    encoder = build_vae_encoder(IMAGE_SHAPE, 4, hidden_units=(64,), num_classes=10)
    decoder = build_vae_decoder(IMAGE_SHAPE, 4, hidden_units=(64,), num_classes=10)
    cvae = ConditionalVAE(encoder, decoder, seed=8)
    cvae.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = cvae.fit(x_train, y_train, epochs=10, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < 0.75 * history.history["loss"][0]
    requested = np.repeat(np.arange(10), 10)
    samples = cvae.sample(100, labels=requested, seed=0)
    # Nearest class-mean image: 91% right on the real test images.
    centroids = np.stack(
        [x_train[y_train == k].reshape(-1, 64).mean(0) for k in range(10)]
    )

    def nearest_centroid(x):
        distances = ((x.reshape(len(x), 1, 64) - centroids[None]) ** 2).sum(-1)
        return distances.argmin(axis=1)

    sample_accuracy = np.mean(nearest_centroid(samples) == requested)
    print(f"CVAE samples: {sample_accuracy:.2f} of the requested class")
    assert sample_accuracy >= 0.8
    np.testing.assert_array_equal(
        cvae.sample(10, labels=3, seed=1)[0],
        cvae.sample(10, labels=[3] * 10, seed=1)[0],
    )
    elbo = cvae.test_elbo(x_test, y_test, num_samples=5, seed=0)
    wrong_labels = (y_test + 1) % 10
    assert cvae.test_elbo(x_test, wrong_labels, num_samples=5, seed=0) < elbo - 1.0
    iwae = cvae.importance_weighted_log_likelihood(x_test, y_test, k=50, seed=0)
    assert np.isfinite(elbo) and iwae > elbo
    with pytest.raises(ValueError, match=r"Expected integer labels in \[0, 10\)"):
        cvae.sample(2, labels=10)
    with pytest.raises(ValueError, match="Expected \\(x, y\\) pairs"):
        cvae.fit(x_train[:64], epochs=1, verbose=0)


def conditional_model(kind):
    if kind == "cvae":
        model = ConditionalVAE(
            build_vae_encoder(IMAGE_SHAPE, 2, hidden_units=(8,), num_classes=3),
            build_vae_decoder(IMAGE_SHAPE, 2, hidden_units=(8,), num_classes=3),
            seed=0,
        )
        model.compile(optimizer=keras.optimizers.SGD(0.0))
        return model
    model = ConditionalGAN(
        build_dense_generator(2, IMAGE_SHAPE, hidden_units=(8,), num_classes=3),
        build_dense_discriminator(IMAGE_SHAPE, hidden_units=(8,), num_classes=3),
        seed=0,
    )
    model.compile(
        d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0)
    )
    return model


@pytest.mark.parametrize("kind", ["cvae", "cgan"])
def test_conditional_models_agree_on_labels(kind):
    # Both take integer-valued labels in [0, num_classes), in any numeric
    # dtype and shape (n,) or (n, 1), or one int for all; anything else is a
    # ValueError in sample() and an InvalidArgumentError inside fit().
    model = conditional_model(kind)
    images = model.sample(3, labels=[0, 1, 2], seed=0)
    assert images.shape == (3, *IMAGE_SHAPE)
    for same in (np.array([[0.0], [1.0], [2.0]]), np.array([0, 1, 2], "int8")):
        np.testing.assert_array_equal(model.sample(3, labels=same, seed=0), images)
    np.testing.assert_array_equal(
        model.sample(3, labels=2, seed=1), model.sample(3, labels=[2, 2, 2], seed=1)
    )
    for bad in (2.5, -1, 3, [0, 1], "a", np.nan, True):
        with pytest.raises(ValueError, match=r"Expected integer labels in \[0, 3\)"):
            model.sample(3, labels=bad, seed=0)
    x = np.random.default_rng(2).uniform(size=(8, *IMAGE_SHAPE)).astype("float32")
    model.fit(x, (np.arange(8) % 3).astype("float32"), batch_size=8, verbose=0)
    for bad in (np.full(8, 1.5), np.full(8, 3), np.full(8, -1)):
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"Expected integer labels in \[0, 3\)"
        ):
            model.fit(x, bad, batch_size=8, verbose=0)


def test_convolutional_builders():
    encoder = build_vae_encoder(
        IMAGE_SHAPE, latent_dim=2, hidden_units=(16,), conv_filters=(8, 16)
    )
    decoder = build_vae_decoder(
        IMAGE_SHAPE, latent_dim=2, hidden_units=(16,), conv_filters=(16, 8)
    )
    assert encoder.get_layer("conv_2").output.shape == (None, 2, 2, 16)
    assert [tuple(o.shape) for o in encoder.outputs] == [(None, 2), (None, 2)]
    assert decoder.output_shape == (None, *IMAGE_SHAPE)
    vae = VAE(encoder, decoder, seed=0)
    vae.compile(optimizer="adam")
    logs = vae.train_on_batch(images(9), return_dict=True)
    assert np.isfinite(logs["loss"]) and logs["loss"] > 0


# Saving, and training under MirroredStrategy, in fresh processes.


def test_save_and_load_in_a_fresh_process(tmp_path, digits):
    (x_train, y_train), _, _, _ = digits
    x, y = x_train[:128], y_train[:128]
    keras.utils.set_random_seed(10)
    vae = VAE(
        build_vae_encoder(IMAGE_SHAPE, 2, hidden_units=(16,)),
        build_vae_decoder(IMAGE_SHAPE, 2, hidden_units=(16,)),
        beta=0.5,
        kl_warmup_steps=10,
        seed=1,
    )
    cvae = ConditionalVAE(
        build_vae_encoder(IMAGE_SHAPE, 2, hidden_units=(16,), num_classes=10),
        build_vae_decoder(IMAGE_SHAPE, 2, hidden_units=(16,), num_classes=10),
        reconstruction="gaussian",
        sigma=0.2,
        seed=2,
    )
    z = np.random.default_rng(10).normal(size=(128, 2)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "z.npy", z)
    vae.compile(optimizer="adam")
    vae.fit(x, epochs=1, batch_size=32, verbose=0)  # 4 of the 10 warm-up steps
    cvae.compile(optimizer="adam")
    cvae.fit(x, y, epochs=1, batch_size=32, verbose=0)
    vae.save(tmp_path / "vae.keras")
    cvae.save(tmp_path / "cvae.keras")
    script = textwrap.dedent(
        f"""
        import json, pathlib
        import keras, numpy as np
        import keras_ae.models.vae  # registers the classes
        folder = pathlib.Path({str(tmp_path)!r})
        x, y, z = (np.load(folder / f"{{n}}.npy") for n in "xyz")
        load = lambda name: keras.saving.load_model(
            folder / f"{{name}}.keras", safe_mode=True)
        vae, cvae = load("vae"), load("cvae")
        np.save(folder / "vae_means.npy", vae.encode(x))
        np.save(folder / "vae_decoded.npy", vae.decode(z))
        np.save(folder / "cvae_means.npy", cvae.encode(x, y))
        np.save(folder / "cvae_decoded.npy", cvae.decode(z, y))
        results = {{
            "classes": [type(vae).__name__, type(cvae).__name__],
            "kl_weight": float(vae.kl_weight.numpy()),
            "vae": {{k: vae.get_config()[k]
                     for k in ("beta", "kl_warmup_steps", "seed")}},
            "cvae": {{k: cvae.get_config()[k]
                      for k in ("reconstruction", "sigma")}},
            "num_classes": cvae.num_classes,
        }}
        vae.fit(x, epochs=1, batch_size=32, verbose=0)  # still trains
        results["kl_weight_after"] = float(vae.kl_weight.numpy())
        print("RESULTS " + json.dumps(results))
        """
    )
    results = run_script(script)
    assert results["classes"] == ["VAE", "ConditionalVAE"]
    assert results["vae"] == {"beta": 0.5, "kl_warmup_steps": 10, "seed": 1}
    assert results["cvae"] == {"reconstruction": "gaussian", "sigma": 0.2}
    assert results["num_classes"] == 10
    # The warm-up goes on where it stopped: 4 steps of 0.05, then 4 more.
    assert results["kl_weight"] == pytest.approx(0.2)
    assert results["kl_weight_after"] == pytest.approx(0.4)
    for name, expected in [
        ("vae_means", vae.encode(x)),
        ("vae_decoded", vae.decode(z)),
        ("cvae_means", cvae.encode(x, y)),
        ("cvae_decoded", cvae.decode(z, y)),
    ]:
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"), expected)


# Runs in a fresh interpreter: two logical CPUs must be configured before
# TensorFlow initialises its devices (as in tests/test_devices.py).
MIRRORED_SCRIPT = r"""
import json

import tensorflow as tf

(cpu,) = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(2)]
)

import keras

from keras_ae import devices
from keras_ae.data import load_dataset
from keras_ae.models.vae import VAE, Sampling
from keras_ae.models.vae_builders import build_vae_decoder, build_vae_encoder


class PosteriorMean(keras.layers.Layer):
    # Stands in for Sampling: z = z_mean, so that training is deterministic.
    def call(self, inputs):
        return inputs[0]


def build(strategy, weights, seed, deterministic, learning_rate):
    with strategy.scope():
        encoder = build_vae_encoder((8, 8, 1), latent_dim=4, hidden_units=(32,))
        decoder = build_vae_decoder((8, 8, 1), latent_dim=4, hidden_units=(32,))
        vae = VAE(encoder, decoder, kl_warmup_steps=30, seed=seed)
        if deterministic:
            vae.sampling = PosteriorMean()
        vae.compile(optimizer=keras.optimizers.SGD(learning_rate))
    if weights is not None:
        vae.set_weights(weights)
    return vae


def first_epoch(strategy, weights, seed=0, deterministic=False, learning_rate=0.01):
    vae = build(strategy, weights, seed, deterministic, learning_rate)
    # 1,280 images, global batch 64: 20 steps, 32 images per replica in each.
    history = vae.fit(x, epochs=1, batch_size=64, shuffle=False, verbose=0)
    logs = {name: values[0] for name, values in history.history.items()}
    return logs, [w.tolist() for w in vae.get_weights()]


# The training and validation splits together hold more than 1,280 images.
(x_train, _), (x_val, _), _, _ = load_dataset("digits")
x = tf.concat([x_train, x_val], axis=0)[:1280].numpy()
keras.utils.set_random_seed(0)
default = tf.distribute.get_strategy()
weights = build(default, None, 0, False, 0.01).get_weights()
mirrored = devices.strategy(devices=["/cpu:0", "/cpu:1"], verbose=False)

with mirrored.scope():
    sampling = Sampling(seed=5)
zeros = tf.zeros((4, 3))
per_replica = mirrored.run(lambda: sampling([zeros, zeros]))
draws = [t.numpy().tolist() for t in mirrored.experimental_local_results(per_replica)]
# Traced in a tf.function, as in a compiled train_step.
traced = tf.function(lambda: mirrored.run(lambda: sampling([zeros, zeros])))()
traced_draws = [t.numpy().tolist() for t in mirrored.experimental_local_results(traced)]

results = {
    "replicas": mirrored.num_replicas_in_sync,
    "replica_draws": draws,
    "traced_replica_draws": traced_draws,
    "single": first_epoch(default, weights, deterministic=True),
    "mirrored": first_epoch(mirrored, weights, deterministic=True),
    "single_double_lr": first_epoch(
        default, weights, deterministic=True, learning_rate=0.02
    )[0],
    "single_noisy": [first_epoch(default, weights, seed=s)[0] for s in range(5)],
    "mirrored_noisy": first_epoch(mirrored, weights, seed=0)[0],
}
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def mirrored_results():
    return run_script(MIRRORED_SCRIPT)


def test_replicas_draw_different_noise(mirrored_results):
    assert mirrored_results["replicas"] == 2
    first, second = np.array(mirrored_results["replica_draws"])
    assert np.abs(first - second).min() > 0
    traced_first, traced_second = np.array(mirrored_results["traced_replica_draws"])
    assert np.abs(traced_first - traced_second).min() > 0
    assert np.abs(traced_first - first).min() > 0  # a fresh draw on every call


def test_mirrored_vae_matches_one_device_without_noise(mirrored_results):
    # With z = z_mean both runs compute the same function; each replica takes
    # the gradient of its batch mean / 2 and the optimizer sums the two, so the
    # updates equal the single-device ones up to float32 summation order.
    (single, single_weights) = mirrored_results["single"]
    (mirrored, mirrored_weights) = mirrored_results["mirrored"]
    for name in ("loss", "reconstruction_loss", "kl_loss"):
        np.testing.assert_allclose(mirrored[name], single[name], rtol=1e-5)
    assert mirrored["kl_weight"] == pytest.approx(19 / 30) == single["kl_weight"]
    for m, s in zip(mirrored_weights, single_weights, strict=True):
        np.testing.assert_allclose(m, s, rtol=1e-4, atol=1e-6)
    # The tolerance can fail: a doubled gradient (unscaled replica losses sum
    # to twice the mean's gradient) moves the first-epoch loss by far more.
    doubled = mirrored_results["single_double_lr"]["loss"]
    assert abs(doubled - single["loss"]) > 1000 * 1e-5 * single["loss"]


def test_mirrored_vae_with_noise_is_within_the_seed_to_seed_spread(mirrored_results):
    # With sampling the replicas draw other noise than one device does, so the
    # losses cannot be equal: the mirrored first-epoch loss must lie within 4
    # standard deviations of single-device runs that differ only in the seed.
    single = np.array([logs["loss"] for logs in mirrored_results["single_noisy"]])
    mirrored = mirrored_results["mirrored_noisy"]["loss"]
    spread = single.std(ddof=1)
    print(f"first-epoch loss: one device {single.mean():.3f} +- {spread:.3f}, ")
    print(f"two replicas {mirrored:.3f}")
    assert np.isfinite(mirrored)
    assert abs(mirrored - single.mean()) < 4 * spread
    # A missing 1/2 scaling (a doubled learning rate) would be far outside it.
    doubled = mirrored_results["single_double_lr"]["loss"]
    assert abs(doubled - single.mean()) > 10 * spread


# Argument checks.


def plain_parts(latent_dim=2):
    return (
        build_vae_encoder(IMAGE_SHAPE, latent_dim, hidden_units=(8,)),
        build_vae_decoder(IMAGE_SHAPE, latent_dim, hidden_units=(8,)),
    )


def one_output_encoder():
    inputs = keras.Input(IMAGE_SHAPE)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))


def unequal_encoder():
    inputs = keras.Input(IMAGE_SHAPE)
    flat = keras.layers.Flatten()(inputs)
    return keras.Model(
        inputs, [keras.layers.Dense(2)(flat), keras.layers.Dense(3)(flat)]
    )


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: build_vae_encoder(IMAGE_SHAPE, latent_dim=0),
            "Expected latent_dim > 0. Received: latent_dim=0",
        ),
        (
            lambda: build_vae_decoder(IMAGE_SHAPE, latent_dim=-2),
            "Expected latent_dim > 0. Received: latent_dim=-2",
        ),
        (
            lambda: build_vae_encoder(IMAGE_SHAPE, conv_filters=(8, 8, 8, 8)),
            "Expected input height and width divisible by 16",
        ),
        (
            lambda: VAE(*plain_parts(), beta=-1.0),
            "Expected beta >= 0. Received: beta=-1.0",
        ),
        (
            lambda: VAE(*plain_parts(), kl_warmup_steps=-5),
            "Expected kl_warmup_steps >= 0 (an integer). Received: kl_warmup_steps=-5",
        ),
        (
            lambda: VAE(*plain_parts(), reconstruction="poisson"),
            "Expected reconstruction to be one of ('bernoulli', 'gaussian'). "
            "Received: reconstruction='poisson'",
        ),
        (
            lambda: VAE(*plain_parts(), sigma=0.1),
            "Expected sigma=None with reconstruction='bernoulli'",
        ),
        (
            lambda: VAE(*plain_parts(), reconstruction="gaussian", sigma=0.0),
            "Expected sigma > 0. Received: sigma=0.0",
        ),
        (
            lambda: VAE(*plain_parts(), seed=1.5),
            "Expected seed to be an int or None. Received: seed=1.5",
        ),
        (
            lambda: VAE(one_output_encoder(), plain_parts()[1]),
            "Expected an encoder with two outputs of equal size (batch, latent_dim): "
            "[z_mean, z_log_var]. Received: outputs of shapes [(None, 2)]",
        ),
        (
            lambda: VAE(unequal_encoder(), plain_parts()[1]),
            "Received: outputs of shapes [(None, 2), (None, 3)]",
        ),
        (
            lambda: VAE(plain_parts(2)[0], plain_parts(3)[1]),
            "Expected a Functional decoder taking z with z of size latent_dim=2 "
            "(the encoder's output size). Received: inputs of shapes [(None, 3)]",
        ),
        (
            lambda: ConditionalVAE(*plain_parts()),
            "Expected a Functional encoder with 2 input(s), [images, one-hot labels]",
        ),
    ],
)
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value)
