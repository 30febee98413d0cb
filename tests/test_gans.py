"""Tests for keras_ae.models.gans and keras_ae.models.gan_builders: losses against
closed forms
and NumPy, optimizer steps against tf.GradientTape, saving, MirroredStrategy."""

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

import keras_ae.models.gans
import keras_ae.models.wgan
from keras_ae.data import load_dataset
from keras_ae.models.gan_builders import (
    build_dcgan_discriminator,
    build_dcgan_generator,
    build_dense_discriminator,
    build_dense_generator,
)
from keras_ae.models.gans import GAN, ConditionalGAN
from keras_ae.models.wgan import WGANGP, gradient_penalty

SHAPE = (8, 8, 1)
LATENT_DIM = 4
BATCH = 16


def softplus(values):
    return np.logaddexp(0.0, np.asarray(values, dtype="float64"))


def sgd(learning_rate):
    return keras.optimizers.SGD(learning_rate=learning_rate)


def small_generator(num_classes=None):
    return build_dense_generator(
        LATENT_DIM,
        SHAPE,
        hidden_units=(16,),
        batch_norm=False,
        num_classes=num_classes,
    )


def small_discriminator(num_classes=None):
    return build_dense_discriminator(
        SHAPE, hidden_units=(16,), dropout=0.0, num_classes=num_classes
    )


def constant_discriminator(logit):
    """A discriminator whose output is the logit `logit` for every image."""
    images = keras.Input(SHAPE)
    flat = keras.layers.Flatten()(images)
    logits = keras.layers.Dense(
        1,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(logit),
    )(flat)
    return keras.Model(images, logits)


def linear_critic(seed=0):
    """f(x) = w . x + b, whose gradient is w everywhere."""
    images = keras.Input(SHAPE)
    flat = keras.layers.Flatten()(images)
    scores = keras.layers.Dense(
        1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=seed)
    )(flat)
    return keras.Model(images, scores)


def real_batch(seed=0, size=BATCH):
    return np.random.default_rng(seed).uniform(size=(size, *SHAPE)).astype("float32")


def replayed_draws(seed, shapes):
    """The draws a model's SeedGenerator(seed) makes, in the same order."""
    generator = keras.random.SeedGenerator(seed)
    draws = []
    for kind, shape in shapes:
        draw = keras.random.normal if kind == "normal" else keras.random.uniform
        draws.append(draw(shape, seed=generator))
    return draws


def as_numpy(tensor):
    if isinstance(tensor, keras.Variable):
        return tensor.numpy().astype("float64")
    return keras.ops.convert_to_numpy(tensor).astype("float64")


@pytest.fixture(scope="module")
def digits():
    (x_train, y_train), _, _, _ = load_dataset("digits")
    return x_train, y_train


# Losses against closed forms and recomputations.


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("logit", [-1.5, 0.0, 2.0])
def test_constant_discriminator_losses_match_closed_forms(logit, smoothing):
    # D(x) = c for every image: d_loss = (1 - s) softplus(-c) + s softplus(c)
    # for the real half plus softplus(c) for the fakes; g_loss = softplus(-c).
    keras.utils.set_random_seed(0)
    gan = GAN(
        small_generator(), constant_discriminator(logit), label_smoothing=smoothing
    )
    gan.compile(d_optimizer=sgd(0.0), g_optimizer=sgd(0.0))
    logs = gan.train_on_batch(real_batch(), return_dict=True)
    plus, minus = softplus(logit), softplus(-logit)
    np.testing.assert_allclose(
        logs["d_loss"], (1 - smoothing) * minus + smoothing * plus + plus, rtol=1e-6
    )
    np.testing.assert_allclose(logs["g_loss"], minus, rtol=1e-6)
    probability = 1 / (1 + math.exp(-logit))
    np.testing.assert_allclose(logs["d_real"], probability, rtol=1e-6)
    np.testing.assert_allclose(logs["d_fake"], probability, rtol=1e-6)


def test_label_smoothing_adds_its_share_of_the_fake_target():
    # With s > 0 the real half of d_loss gains s (softplus(c) - softplus(-c)) = s c.
    logit, batch = 1.2, real_batch()
    losses = {}
    for smoothing in (0.0, 0.3):
        gan = GAN(
            small_generator(), constant_discriminator(logit), label_smoothing=smoothing
        )
        gan.compile(d_optimizer=sgd(0.0), g_optimizer=sgd(0.0))
        losses[smoothing] = gan.train_on_batch(batch, return_dict=True)["d_loss"]
    np.testing.assert_allclose(losses[0.3] - losses[0.0], 0.3 * logit, rtol=1e-5)


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_logged_losses_equal_numpy_recomputation(conditional, smoothing):
    keras.utils.set_random_seed(1)
    num_classes = 3 if conditional else None
    generator = small_generator(num_classes)
    discriminator = small_discriminator(num_classes)
    model_class = ConditionalGAN if conditional else GAN
    gan = model_class(generator, discriminator, label_smoothing=smoothing, seed=7)
    gan.compile(d_optimizer=sgd(0.0), g_optimizer=sgd(0.0))
    x = real_batch(1)
    labels = np.arange(BATCH) % 3
    data = (x, labels) if conditional else (x,)
    logs = gan.train_on_batch(*data, return_dict=True)

    z1, z2 = replayed_draws(7, [("normal", (BATCH, LATENT_DIM))] * 2)
    one_hot = keras.ops.convert_to_tensor(np.eye(3, dtype="float32")[labels])

    def inputs(first):
        first = keras.ops.convert_to_tensor(first)
        return [first, one_hot] if conditional else first

    real_logits = as_numpy(discriminator(inputs(x)))
    fake_logits = as_numpy(discriminator(inputs(generator(inputs(z1)))))
    later_logits = as_numpy(discriminator(inputs(generator(inputs(z2)))))
    real_target = 1 - smoothing
    d_loss = np.mean(
        real_target * softplus(-real_logits) + smoothing * softplus(real_logits)
    ) + np.mean(softplus(fake_logits))
    np.testing.assert_allclose(logs["d_loss"], d_loss, rtol=1e-5)
    np.testing.assert_allclose(
        logs["g_loss"], np.mean(softplus(-later_logits)), rtol=1e-5
    )
    np.testing.assert_allclose(
        logs["d_real"], np.mean(1 / (1 + np.exp(-real_logits))), rtol=1e-5
    )
    np.testing.assert_allclose(
        logs["d_fake"], np.mean(1 / (1 + np.exp(-fake_logits))), rtol=1e-5
    )
    # Non-trivial numbers: the two phases saw different fakes.
    assert abs(np.mean(fake_logits) - np.mean(later_logits)) > 1e-4


def reference_step(loss_fn, variables, learning_rate):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    gradients = tape.gradient(loss, variables)
    return [
        as_numpy(v) - learning_rate * as_numpy(g)
        for v, g in zip(variables, gradients, strict=True)
    ]


@pytest.mark.parametrize("phase", ["discriminator", "generator"])
def test_each_phase_takes_one_sgd_step_on_its_own_network(phase):
    # Only the phase's network gets a learning rate: its weights move by exactly
    # -lr * gradient of its loss (recomputed with the replayed noise); the other
    # network's weights do not change at all.
    keras.utils.set_random_seed(2)
    generator, discriminator = small_generator(), small_discriminator()
    gan = GAN(generator, discriminator, seed=3)
    learning_rate = 0.5
    d_rate, g_rate = (learning_rate, 0.0) if phase == "discriminator" else (0.0, 0.5)
    gan.compile(d_optimizer=sgd(d_rate), g_optimizer=sgd(g_rate))
    x = real_batch(2)
    z1, z2 = replayed_draws(3, [("normal", (BATCH, LATENT_DIM))] * 2)
    g_before = [as_numpy(w) for w in generator.trainable_weights]
    d_before = [as_numpy(w) for w in discriminator.trainable_weights]

    def d_loss():
        real = discriminator(x, training=True)
        fake = discriminator(generator(z1, training=True), training=True)
        return keras.ops.mean(keras.ops.softplus(-real)) + keras.ops.mean(
            keras.ops.softplus(fake)
        )

    def g_loss():
        fake = discriminator(generator(z2, training=True), training=True)
        return keras.ops.mean(keras.ops.softplus(-fake))

    if phase == "discriminator":
        expected = reference_step(d_loss, discriminator.trainable_weights, d_rate)
        trained, frozen, frozen_before = discriminator, generator, g_before
    else:
        expected = reference_step(g_loss, generator.trainable_weights, g_rate)
        trained, frozen, frozen_before = generator, discriminator, d_before
    gan.train_on_batch(x)
    before = d_before if phase == "discriminator" else g_before
    moved = max(
        np.abs(as_numpy(w) - b).max()
        for w, b in zip(trained.trainable_weights, before, strict=True)
    )
    assert moved > 1e-3
    for weight, reference in zip(trained.trainable_weights, expected, strict=True):
        np.testing.assert_allclose(as_numpy(weight), reference, rtol=1e-5, atol=1e-6)
    for weight, reference in zip(frozen.trainable_weights, frozen_before, strict=True):
        np.testing.assert_array_equal(as_numpy(weight), reference)


# WGAN-GP.


def test_gradient_penalty_of_a_linear_critic_is_closed_form():
    # For f(x) = w . x + b, ||grad f|| = ||w|| at every x_hat, so
    # GP = lambda (||w|| - 1)^2 whatever the real and fake images.
    keras.utils.set_random_seed(4)
    generator, critic = small_generator(), linear_critic()
    wgan = WGANGP(generator, critic, critic_steps=2, gp_weight=10.0, seed=5)
    wgan.compile(d_optimizer=sgd(0.0), g_optimizer=sgd(0.0))
    x = real_batch(4)
    logs = wgan.train_on_batch(x, return_dict=True)
    norm = np.linalg.norm(as_numpy(critic.layers[-1].kernel))
    assert abs(norm - 1) > 0.5
    penalty = 10.0 * (norm - 1) ** 2
    np.testing.assert_allclose(logs["gradient_penalty"], penalty, rtol=1e-5)

    # Two critic steps, each on its own half of the batch (images 0, 2, 4, ...
    # then 1, 3, 5, ...) and as many fakes.
    half = BATCH // 2
    latent, alpha = ("normal", (half, LATENT_DIM)), ("uniform", (half, 1, 1, 1))
    z1, _, z2, _, z3 = replayed_draws(5, [latent, alpha, latent, alpha, latent])
    real_means = [np.mean(as_numpy(critic(x[k::2]))) for k in (0, 1)]
    fake_means = [np.mean(as_numpy(critic(generator(z)))) for z in (z1, z2)]
    wasserstein = np.mean(np.subtract(real_means, fake_means))
    np.testing.assert_allclose(logs["wasserstein_estimate"], wasserstein, rtol=1e-5)
    np.testing.assert_allclose(logs["critic_loss"], penalty - wasserstein, rtol=1e-5)
    g_loss = -np.mean(as_numpy(critic(generator(z3))))
    np.testing.assert_allclose(logs["g_loss"], g_loss, rtol=1e-5)


def test_gradient_penalty_matches_numpy_for_a_tanh_critic():
    # f(x) = tanh(x W1 + b1) . w2 + b2 has grad_x f = W1 ((1 - a^2) * w2).
    keras.utils.set_random_seed(6)
    images = keras.Input(SHAPE)
    hidden = keras.layers.Dense(12, activation="tanh")(keras.layers.Flatten()(images))
    critic = keras.Model(images, keras.layers.Dense(1)(hidden))
    rng = np.random.default_rng(6)
    real, fake = real_batch(6), real_batch(7)
    alpha = rng.uniform(size=(BATCH, 1, 1, 1)).astype("float32")
    penalty = as_numpy(gradient_penalty(critic, real, fake, alpha))

    (w1, b1), (w2, _) = critic.layers[2].get_weights(), critic.layers[3].get_weights()
    mixed = (alpha * real + (1 - alpha) * fake).reshape(BATCH, -1).astype("float64")
    slopes = 1 - np.tanh(mixed @ w1 + b1) ** 2
    gradients = (slopes * w2[:, 0]) @ w1.T
    norms = np.sqrt((gradients**2).sum(axis=1) + 1e-12)
    np.testing.assert_allclose(penalty, np.mean((norms - 1) ** 2), rtol=1e-5)
    assert np.ptp(norms) > 1e-3  # the norms differ between images


@pytest.mark.parametrize("critic_steps", [1, 3])
def test_critic_steps_per_generator_step(critic_steps):
    wgan = WGANGP(small_generator(), small_discriminator(), critic_steps=critic_steps)
    wgan.compile(d_optimizer=sgd(0.01), g_optimizer=sgd(0.01))
    for batches in (1, 2):
        wgan.train_on_batch(real_batch(batches))
        assert int(wgan.d_optimizer.iterations) == critic_steps * batches
        assert int(wgan.g_optimizer.iterations) == batches


def test_gan_steps_each_optimizer_once_per_batch():
    gan = GAN(small_generator(), small_discriminator())
    gan.compile(d_optimizer=sgd(0.01), g_optimizer=sgd(0.01))
    gan.fit(real_batch(size=4 * BATCH), batch_size=BATCH, epochs=1, verbose=0)
    assert int(gan.d_optimizer.iterations) == int(gan.g_optimizer.iterations) == 4


# Builders.


@pytest.mark.parametrize(
    "shape, start", [((8, 8, 1), (2, 2)), ((28, 28, 1), (7, 7)), ((32, 32, 3), (8, 8))]
)
def test_builders_adapt_to_the_image_shape(shape, start):
    keras.utils.set_random_seed(8)
    z = np.random.default_rng(8).normal(size=(5, 10)).astype("float32")
    for generator in (
        build_dense_generator(10, shape, hidden_units=(32,)),
        build_dcgan_generator(10, shape, filters=(16, 8)),
    ):
        images = as_numpy(generator(z))
        assert images.shape == (5, *shape)
        assert 0 < images.min() and images.max() < 1  # sigmoid: the data's range
        discriminator = build_dcgan_discriminator(shape, filters=(8, 16))
        assert discriminator(images).shape == (5, 1)
        assert build_dense_discriminator(shape)(images).shape == (5, 1)
    dcgan = build_dcgan_generator(10, shape, filters=(16, 8))
    assert dcgan.get_layer("reshape").output.shape == (None, *start, 16)


def test_builder_parameter_counts():
    dense = build_dense_generator(16, SHAPE, hidden_units=(32,), batch_norm=False)
    assert dense.count_params() == (16 * 32 + 32) + (32 * 64 + 64)
    critic = build_dense_discriminator(SHAPE, hidden_units=(32,), num_classes=10)
    assert critic.count_params() == (74 * 32 + 32) + (32 + 1)
    dcgan = build_dcgan_generator(16, SHAPE, filters=(8, 4), kernel_size=3)
    # project (no bias) + 3 batch norms (4 weights per channel) + two transposed
    # convolutions (no bias) + the output convolution.
    expected = 16 * 32 + 4 * 32 + 9 * 8 * 8 + 4 * 8 + 9 * 8 * 4 + 4 * 4 + 9 * 4 + 1
    assert dcgan.count_params() == expected


def test_tanh_output_for_data_in_minus_one_to_one():
    keras.utils.set_random_seed(9)
    generator = build_dense_generator(8, SHAPE, output_activation="tanh")
    images = as_numpy(generator(np.random.default_rng(9).normal(size=(64, 8))))
    assert images.min() < 0 < images.max() and np.abs(images).max() < 1


def test_conditional_networks_use_the_labels():
    keras.utils.set_random_seed(10)
    one_hot = np.eye(4, dtype="float32")[[0, 3]]
    z = np.random.default_rng(10).normal(size=(1, LATENT_DIM)).astype("float32")
    for generator in (
        build_dense_generator(LATENT_DIM, SHAPE, num_classes=4),
        build_dcgan_generator(LATENT_DIM, SHAPE, filters=(8, 4), num_classes=4),
    ):
        images = as_numpy(generator([np.repeat(z, 2, axis=0), one_hot]))
        assert np.abs(images[0] - images[1]).max() > 1e-4  # same z, other label
    discriminator = build_dcgan_discriminator(SHAPE, filters=(8, 4), num_classes=4)
    label_maps = keras.Model(
        discriminator.inputs, discriminator.get_layer("label_maps").output
    )
    maps = as_numpy(label_maps([real_batch(size=2), one_hot]))
    np.testing.assert_array_equal(
        maps, np.broadcast_to(one_hot[:, None, None], maps.shape)
    )


def test_projection_discriminator_adds_the_label_embedding_term():
    keras.utils.set_random_seed(11)
    discriminator = build_dense_discriminator(
        SHAPE, hidden_units=(12, 6), num_classes=4, conditioning="projection"
    )
    assert "pixels_and_labels" not in [layer.name for layer in discriminator.layers]
    images = real_batch(size=5)
    labels = np.eye(4, dtype="float32")[[0, 1, 2, 3, 1]]
    logits = as_numpy(discriminator([images, labels], training=False))

    def leaky(a):
        return np.where(a > 0, a, 0.2 * a)

    features = images.reshape(5, -1)
    for name in ("hidden_1", "hidden_2"):
        kernel, bias = discriminator.get_layer(name).get_weights()
        features = leaky(features @ kernel + bias)
    kernel, bias = discriminator.get_layer("logit").get_weights()
    (embedding,) = discriminator.get_layer("label_embedding").get_weights()
    expected = (
        features @ kernel + bias + np.sum((labels @ embedding) * features, 1)[:, None]
    )
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="Expected conditioning to be one of"):
        build_dense_discriminator(SHAPE, num_classes=4, conditioning="add")


# Argument checks.


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: build_dense_generator(0, SHAPE),
            "Expected latent_dim > 0. Received: latent_dim=0",
        ),
        (
            lambda: build_dcgan_generator(-2, SHAPE),
            "Expected latent_dim > 0. Received: latent_dim=-2",
        ),
        (
            lambda: build_dcgan_generator(8, (30, 30, 1)),
            "Expected output height and width divisible by 4 (2 ** len(filters)). "
            "Received: output_shape=(30, 30, 1)",
        ),
        (
            lambda: build_dense_generator(8, SHAPE, output_activation="relu"),
            "Expected output_activation to be one of ('sigmoid', 'tanh')",
        ),
        (
            lambda: build_dense_discriminator(SHAPE, dropout=1.0),
            "Expected 0 <= dropout < 1. Received: dropout=1.0",
        ),
        (
            lambda: GAN(
                build_dense_generator(8, SHAPE),
                build_dense_discriminator((28, 28, 1)),
            ),
            "Expected the generator's output shape (8, 8, 1) to equal the "
            "discriminator's input shape (28, 28, 1)",
        ),
        (
            lambda: GAN(small_generator(), small_discriminator(), latent_dim=0),
            "Expected latent_dim > 0. Received: latent_dim=0",
        ),
        (
            lambda: GAN(small_generator(), small_discriminator(), latent_dim=9),
            "Expected latent_dim to equal the generator's input size 4. "
            "Received: latent_dim=9",
        ),
        (
            lambda: GAN(small_generator(), small_discriminator(), label_smoothing=1.0),
            "Expected 0 <= label_smoothing < 1. Received: label_smoothing=1.0",
        ),
        (
            lambda: GAN(small_generator(), small_discriminator(), label_smoothing=-0.1),
            "Expected 0 <= label_smoothing < 1. Received: label_smoothing=-0.1",
        ),
        (
            lambda: WGANGP(small_generator(), small_discriminator(), critic_steps=0),
            "Expected critic_steps >= 1. Received: critic_steps=0",
        ),
        (
            lambda: WGANGP(small_generator(), small_discriminator(), gp_weight=-1.0),
            "Expected gp_weight >= 0. Received: gp_weight=-1.0",
        ),
        (
            lambda: ConditionalGAN(small_generator(), small_discriminator()),
            "Expected a generator with 2 input(s) [inputs, one-hot labels] for "
            "ConditionalGAN. Received: 1 inputs",
        ),
        (
            lambda: ConditionalGAN(small_generator(3), small_discriminator(5)),
            "Expected the generator and the discriminator to take the same number "
            "of classes. Received: generator 3, discriminator 5",
        ),
        (
            lambda: GAN(small_generator(), small_discriminator(), seed=1.5),
            "Expected seed to be an int or None. Received: seed=1.5",
        ),
    ],
)
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value)


def test_invalid_compile_and_generate_arguments():
    gan = GAN(small_generator(), small_discriminator())
    optimizer = sgd(0.1)
    with pytest.raises(ValueError, match="Expected two different optimizer objects"):
        gan.compile(d_optimizer=optimizer, g_optimizer=optimizer)
    with pytest.raises(ValueError, match="Expected n > 0"):
        gan.generate(0)
    cgan = ConditionalGAN(small_generator(3), small_discriminator(3))
    with pytest.raises(ValueError, match=r"Expected integer labels in \[0, 3\)"):
        cgan.generate([0, 3])
    cgan.compile(d_optimizer=sgd(0.1), g_optimizer=sgd(0.1))
    with pytest.raises(ValueError, match=r"Expected \(images, labels\) batches"):
        cgan.train_on_batch(real_batch())


def test_generate_repeats_with_an_int_seed():
    gan = GAN(small_generator(), small_discriminator(), seed=0)
    first, second = gan.generate(5, seed=11), gan.generate(5, seed=11)
    np.testing.assert_array_equal(first, second)
    fresh = gan.generate(5)
    assert np.abs(fresh - gan.generate(5)).max() > 1e-4  # the seed generator moved
    z = keras.random.normal((5, LATENT_DIM), seed=11)
    np.testing.assert_allclose(first, as_numpy(gan.generator(z)), rtol=1e-6)


def test_every_gan_samples_as_the_vaes_do():
    # sample(n, seed) for GAN and WGANGP, sample(n, labels, seed) for the
    # conditional one, as VAE and ConditionalVAE; generate stays an alias.
    z = keras.random.normal((4, LATENT_DIM), seed=3)
    for model_class in (GAN, WGANGP):
        model = model_class(small_generator(), small_discriminator(), seed=0)
        images = model.sample(4, seed=3)
        np.testing.assert_allclose(images, as_numpy(model.generator(z)), rtol=1e-6)
        np.testing.assert_array_equal(model.generate(4, seed=3), images)
    cgan = ConditionalGAN(small_generator(3), small_discriminator(3), seed=0)
    labels = np.array([2, 0, 1, 2])
    one_hot = keras.ops.convert_to_tensor(np.eye(3, dtype="float32")[labels])
    images = cgan.sample(4, labels, seed=3)
    expected = as_numpy(cgan.generator([z, one_hot]))
    np.testing.assert_allclose(images, expected, rtol=1e-6)
    np.testing.assert_array_equal(cgan.generate(labels, seed=3), images)
    twos = cgan.sample(4, labels=2, seed=3)
    np.testing.assert_array_equal(twos, cgan.sample(4, [2, 2, 2, 2], seed=3))


# WGAN-GP: the critic's batches, and no batch normalization.


@pytest.mark.parametrize(
    "batch_size, critic_steps, expected",
    [
        # Images k, k + n, k + 2n, ... for critic step k.
        (16, 2, [list(range(0, 16, 2)), list(range(1, 16, 2))]),
        # 16 is not a multiple of 3: slices of ceil(16 / 3) = 6 that wrap.
        (16, 3, [[0, 3, 6, 9, 12, 15], [1, 4, 7, 10, 13, 0], [2, 5, 8, 11, 14, 1]]),
        # Fewer images than critic steps: one image each, reused.
        (2, 3, [[0], [1], [0]]),
    ],
)
def test_each_critic_step_takes_a_fresh_slice_of_real_images(
    monkeypatch, batch_size, critic_steps, expected
):
    # Gulrajani et al. (2017), Algorithm 1, draw a new real batch for every
    # critic iteration; the generator step draws as many latent vectors.
    seen_real, seen_latent = [], []

    def recording_penalty(critic, real_images, fake_images, alpha):
        seen_real.append(as_numpy(real_images))
        return gradient_penalty(critic, real_images, fake_images, alpha)

    monkeypatch.setattr(keras_ae.models.wgan, "gradient_penalty", recording_penalty)
    wgan = WGANGP(small_generator(), small_discriminator(), critic_steps=critic_steps)
    original_sample_latent = wgan.sample_latent

    def recording_sample_latent(size, seed=None):
        latent = original_sample_latent(size, seed=seed)
        seen_latent.append(as_numpy(latent).shape)
        return latent

    wgan.sample_latent = recording_sample_latent
    wgan.compile(d_optimizer=sgd(0.0), g_optimizer=sgd(0.0), run_eagerly=True)
    x = real_batch(9, size=batch_size)
    logs = wgan.train_on_batch(x, return_dict=True)
    assert len(seen_real) == critic_steps
    for real, indices in zip(seen_real, expected, strict=True):
        np.testing.assert_array_equal(real, x[indices])
    size = len(expected[0])
    assert seen_latent == [(size, LATENT_DIM)] * (critic_steps + 1)
    assert all(np.isfinite(value) for value in logs.values())


def test_wgan_gp_refuses_batch_normalization_in_the_critic():
    images = keras.Input(SHAPE)
    hidden = keras.layers.Dense(8)(keras.layers.Flatten()(images))
    for layer, refused in (
        (keras.layers.BatchNormalization(name="bn"), True),
        (keras.layers.LayerNormalization(), False),
    ):
        critic = keras.Model(images, keras.layers.Dense(1)(layer(hidden)))
        if refused:
            with pytest.raises(
                ValueError, match=r"without BatchNormalization.*layers \['bn'\]"
            ):
                WGANGP(small_generator(), critic)
        else:
            WGANGP(small_generator(), critic)
    # Batch normalization inside a nested model is found too.
    inner = keras.Sequential([keras.layers.BatchNormalization(name="inner_bn")])
    critic = keras.Model(images, keras.layers.Dense(1)(inner(hidden)))
    with pytest.raises(ValueError, match="inner_bn"):
        WGANGP(small_generator(), critic)
    # The plain GAN's discriminator may use it.
    GAN(small_generator(), keras.Model(images, keras.layers.Dense(1)(inner(hidden))))


# Training on digits.


def digits_model(kind):
    if kind == "gan":
        return GAN(
            build_dense_generator(16, SHAPE, hidden_units=(64,)),
            build_dense_discriminator(SHAPE, hidden_units=(64,)),
            seed=0,
        )
    if kind == "dcgan":
        return GAN(
            build_dcgan_generator(16, SHAPE, filters=(32, 16)),
            build_dcgan_discriminator(SHAPE, filters=(16, 32)),
            seed=0,
        )
    if kind == "cgan":
        return ConditionalGAN(
            build_dense_generator(16, SHAPE, hidden_units=(64,), num_classes=10),
            build_dense_discriminator(SHAPE, hidden_units=(64,), num_classes=10),
            label_smoothing=0.1,
            seed=0,
        )
    return WGANGP(
        build_dense_generator(16, SHAPE, hidden_units=(64,)),
        build_dense_discriminator(SHAPE, hidden_units=(64,), dropout=0.0),
        critic_steps=3,
        seed=0,
    )


@pytest.mark.parametrize("kind", ["gan", "dcgan", "cgan", "wgan_gp"])
def test_training_on_digits_gives_finite_losses(kind, digits):
    x_train, y_train = digits
    keras.utils.set_random_seed(0)
    model = digits_model(kind)
    if kind == "wgan_gp":
        betas = {"beta_1": 0.5, "beta_2": 0.9}
        model.compile(
            d_optimizer=keras.optimizers.Adam(1e-3, **betas),
            g_optimizer=keras.optimizers.Adam(1e-3, **betas),
        )
    else:
        model.compile(
            d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
            g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
        )

    def sample():
        if kind == "cgan":
            return model.generate(np.arange(200) % 10, seed=1)
        return model.generate(200, seed=1)

    before = sample().mean()
    data = (x_train, y_train) if kind == "cgan" else (x_train,)
    history = model.fit(*data, epochs=3, batch_size=64, verbose=0).history
    assert set(history) == {metric.name for metric in model.metrics}
    for name, values in history.items():
        assert np.all(np.isfinite(values)), (name, values)
    # The untrained sigmoid generator draws grey images (mean ~0.5); a few
    # epochs bring the mean brightness towards the digits' (~0.31).
    data_mean = x_train.mean()
    assert abs(before - 0.5) < 0.05
    assert abs(sample().mean() - data_mean) < 0.6 * abs(before - data_mean)


# Saving and loading.

LOAD_SCRIPT = """
import json, pathlib, sys
import keras, numpy as np
import keras_ae.models.gans  # registers the GAN classes
import keras_ae.models.wgan
folder = pathlib.Path(sys.argv[1])
x, z = np.load(folder / "x.npy"), np.load(folder / "z.npy")
one_hot = np.eye(3, dtype="float32")[np.arange(len(x)) % 3]
report = {}
for path in sorted(folder.glob("*.keras")):
    model = keras.saving.load_model(path, safe_mode=True)
    if path.stem.endswith("generator"):
        inputs = [z, one_hot] if path.stem.startswith("c") else z
    elif path.stem.endswith("discriminator"):
        inputs = [x, one_hot] if path.stem.startswith("c") else x
    else:
        labels = np.arange(6) % 3
        outputs = model.generate(labels if path.stem == "cgan" else 6, seed=3)
        np.save(folder / f"{path.stem}.loaded.npy", outputs)
        report[path.stem] = {
            "class": type(model).__name__,
            "config": {k: v for k, v in model.get_config().items()
                       if k not in ("generator", "discriminator")},
            "d_iterations": int(model.d_optimizer.iterations),
            "d_learning_rate": float(model.d_optimizer.learning_rate),
        }
        continue
    np.save(folder / f"{path.stem}.loaded.npy", model(inputs, training=False))
print("REPORT " + json.dumps(report))
"""


def test_save_and_load_in_a_fresh_process(tmp_path):
    keras.utils.set_random_seed(12)
    x = real_batch(12, size=6)
    z = np.random.default_rng(12).normal(size=(6, LATENT_DIM)).astype("float32")
    one_hot = np.eye(3, dtype="float32")[np.arange(6) % 3]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "z.npy", z)
    networks = {
        "dense_generator": (build_dense_generator(LATENT_DIM, SHAPE), z),
        "dcgan_generator": (build_dcgan_generator(LATENT_DIM, SHAPE), z),
        "cdcgan_generator": (
            build_dcgan_generator(LATENT_DIM, SHAPE, num_classes=3),
            [z, one_hot],
        ),
        "dense_discriminator": (build_dense_discriminator(SHAPE), x),
        "cdense_discriminator": (
            build_dense_discriminator(SHAPE, num_classes=3),
            [x, one_hot],
        ),
        "cdcgan_discriminator": (
            build_dcgan_discriminator(SHAPE, num_classes=3),
            [x, one_hot],
        ),
    }
    expected = {}
    for name, (network, inputs) in networks.items():
        network.save(tmp_path / f"{name}.keras")
        expected[name] = as_numpy(network(inputs, training=False))
    models = {
        "gan": GAN(small_generator(), small_discriminator(), label_smoothing=0.1),
        "cgan": ConditionalGAN(small_generator(3), small_discriminator(3), seed=4),
        "wgan": WGANGP(small_generator(), small_discriminator(), critic_steps=2),
    }
    for name, model in models.items():
        model.compile(d_optimizer=sgd(0.05), g_optimizer=keras.optimizers.Adam(1e-3))
        labels = np.arange(2 * BATCH) % 3
        data = (real_batch(size=2 * BATCH), labels)
        model.fit(*data[: 2 if name == "cgan" else 1], batch_size=BATCH, verbose=0)
        model.save(tmp_path / f"{name}.keras")
        sample = np.arange(6) % 3 if name == "cgan" else 6
        expected[name] = model.generate(sample, seed=3)

    completed = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (line,) = [x for x in completed.stdout.splitlines() if x.startswith("REPORT ")]
    report = json.loads(line.removeprefix("REPORT "))
    for name, outputs in expected.items():
        loaded = np.load(tmp_path / f"{name}.loaded.npy")
        np.testing.assert_array_equal(
            loaded, outputs.astype(loaded.dtype), err_msg=name
        )
    assert report["gan"]["class"] == "GAN"
    assert report["gan"]["config"]["label_smoothing"] == 0.1
    assert report["cgan"]["class"] == "ConditionalGAN"
    assert report["cgan"]["config"]["seed"] == 4
    assert report["wgan"]["config"]["critic_steps"] == 2
    # The optimizers come back with their state: 2 batches, 2 critic steps each.
    assert report["wgan"]["d_iterations"] == 4 and report["gan"]["d_iterations"] == 2
    assert report["gan"]["d_learning_rate"] == pytest.approx(0.05)


# MirroredStrategy over two logical CPUs (in a fresh interpreter, because the
# logical devices must be set before TensorFlow starts).

TWO_CPU_SCRIPT = r"""
import json

import tensorflow as tf

(cpu,) = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(2)]
)

import keras
import numpy as np
from keras import ops

import keras_ae.models._base
import keras_ae.models.gans
import keras_ae.models.wgan
from keras_ae import devices
from keras_ae.models.gan_builders import (
    build_dense_discriminator,
    build_dense_generator,
)
from keras_ae.models.gans import GAN, ConditionalGAN
from keras_ae.models.wgan import WGANGP


class ConstantImage(keras.layers.Layer):
    # A generator layer that ignores its noise: one trainable image for every z.
    # Both devices then see the same fakes, so the runs can be compared exactly.

    def build(self, input_shape):
        self.logits = self.add_weight(shape=(8, 8, 1), initializer="random_normal")

    def call(self, latent):
        image = ops.sigmoid(self.logits)[None]
        return ops.broadcast_to(image, (ops.shape(latent)[0], 8, 8, 1))


def noiseless_gan(strategy, weights=None):
    with strategy.scope():
        latent = keras.Input((4,))
        generator = keras.Model(latent, ConstantImage()(latent))
        discriminator = build_dense_discriminator(
            (8, 8, 1), hidden_units=(16,), dropout=0.0
        )
        gan = GAN(generator, discriminator, seed=0)
        gan.compile(
            d_optimizer=keras.optimizers.SGD(0.5),
            g_optimizer=keras.optimizers.SGD(0.5),
        )
    if weights is not None:
        gan.set_weights(weights)
    return gan


def one_epoch(gan, x):
    history = gan.fit(x, epochs=1, batch_size=16, shuffle=False, verbose=0).history
    weights = [w.tolist() for w in gan.generator.get_weights()]
    weights += [w.tolist() for w in gan.discriminator.get_weights()]
    return {k: v[0] for k, v in history.items()}, weights


keras.utils.set_random_seed(0)
x = np.random.default_rng(0).uniform(size=(64, 8, 8, 1)).astype("float32")
mirrored = devices.strategy(devices=["/cpu:0", "/cpu:1"])
single = noiseless_gan(tf.distribute.get_strategy())
initial = single.get_weights()
results = {
    "replicas": mirrored.num_replicas_in_sync,
    "single": one_epoch(single, x),
    "mirrored": one_epoch(noiseless_gan(mirrored, initial), x),
}
# Without the 1/replicas scaling the summed gradients would double every step.
keras_ae.models._base.scale_loss_for_replicas = lambda loss: loss
results["unscaled"] = one_epoch(noiseless_gan(mirrored, initial), x)
keras_ae.models._base.scale_loss_for_replicas = devices.scale_loss_for_replicas
with mirrored.scope():
    gan = GAN(
        build_dense_generator(4, (8, 8, 1), hidden_units=(16,)),
        build_dense_discriminator((8, 8, 1), hidden_units=(16,)),
        seed=0,
    )
    gan.compile(d_optimizer="adam", g_optimizer="adam")
results["dense"] = one_epoch(gan, x)[0]
results["dense_iterations"] = int(gan.d_optimizer.iterations.numpy())

# The noise each replica draws in real train steps, recorded in eager steps.
SEEN = {}


def record(name, value):
    context = tf.distribute.get_replica_context()
    if context is not None and tf.executing_eagerly():
        replica = int(context.replica_id_in_sync_group)
        SEEN.setdefault(name, {}).setdefault(replica, []).append(
            ops.convert_to_numpy(value).tolist()
        )


class Recorder(keras.layers.Layer):
    def call(self, x):
        record(self.name, x)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def recording_networks(name, num_classes=None):
    latent = keras.Input((4,))
    recorded = Recorder(name=name)(latent)
    if num_classes is None:
        generator = keras.Model(latent, ConstantImage()(recorded))
    else:
        labels = keras.Input((num_classes,))
        joined = keras.layers.Concatenate()([recorded, labels])
        generator = keras.Model([latent, labels], ConstantImage()(joined))
    discriminator = build_dense_discriminator(
        (8, 8, 1), hidden_units=(16,), dropout=0.0, num_classes=num_classes
    )
    return generator, discriminator


def record_alpha(critic, real_images, fake_images, alpha):
    record("alpha", alpha)
    return original_gradient_penalty(critic, real_images, fake_images, alpha)


original_gradient_penalty = keras_ae.models.wgan.gradient_penalty
keras_ae.models.wgan.gradient_penalty = record_alpha
with mirrored.scope():
    recorded_models = {
        "gan": GAN(*recording_networks("gan"), seed=0),
        "cgan": ConditionalGAN(*recording_networks("cgan", 3), seed=0),
        "wgan": WGANGP(*recording_networks("wgan"), critic_steps=1, seed=0),
    }
    for model in recorded_models.values():
        model.compile(
            d_optimizer=keras.optimizers.SGD(0.0),
            g_optimizer=keras.optimizers.SGD(0.0),
            run_eagerly=True,
        )
labels = np.arange(16) % 3
for name, model in recorded_models.items():
    # Two steps of 8 images, 4 on each replica.
    data = (x[:16], labels) if name == "cgan" else (x[:16],)
    model.fit(*data, batch_size=8, epochs=1, shuffle=False, verbose=0)
keras_ae.models.wgan.gradient_penalty = original_gradient_penalty
results["seen"] = SEEN
# sample_latent traced in a tf.function, as in a compiled train_step.
traced = tf.function(lambda: mirrored.run(lambda: gan.sample_latent(4)))
results["traced_latent"] = [
    t.numpy().tolist() for t in mirrored.experimental_local_results(traced())
]
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def two_cpu_results():
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(TWO_CPU_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (line,) = [x for x in completed.stdout.splitlines() if x.startswith("RESULTS ")]
    return json.loads(line.removeprefix("RESULTS "))


def test_mirrored_strategy_matches_one_device(two_cpu_results):
    results = two_cpu_results
    assert results["replicas"] == 2
    single_logs, single_weights = results["single"]
    mirrored_logs, mirrored_weights = results["mirrored"]
    # Each replica scales its half-batch mean loss by 1/2 and the optimizer sums
    # the two gradients: the same SGD steps as one device on the whole batch.
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose(mirrored_logs[name], single_logs[name], rtol=1e-4)
    for mirrored_w, single_w in zip(mirrored_weights, single_weights, strict=True):
        np.testing.assert_allclose(mirrored_w, single_w, rtol=1e-4, atol=1e-6)
    unscaled_logs, _ = results["unscaled"]
    assert abs(unscaled_logs["d_loss"] - single_logs["d_loss"]) > 1e-3
    # A GAN drawing its own noise on each replica trains too.
    assert all(np.isfinite(v) for v in results["dense"].values())
    assert results["dense_iterations"] == 4


@pytest.mark.parametrize(
    "name, draws_per_step",
    [("gan", 2), ("cgan", 2), ("wgan", 2), ("alpha", 1)],
)
def test_replicas_draw_different_noise(two_cpu_results, name, draws_per_step):
    # The latent vectors the generator received on each replica in two train
    # steps (one draw per phase; WGAN-GP with one critic step), and the
    # gradient penalty's alpha. A mirrored SeedGenerator alone would give both
    # replicas the same values; with replica_seed no value matches.
    seen = two_cpu_results["seen"][name]
    first, second = (np.array(seen[replica]) for replica in ("0", "1"))
    shape = (4, 1, 1, 1) if name == "alpha" else (4, LATENT_DIM)
    assert first.shape == second.shape == (2 * draws_per_step, *shape)
    assert np.abs(first - second).min() > 0
    for replica in (first, second):  # fresh draws within each replica too
        assert np.abs(replica[0] - replica[1]).min() > 0
    if name == "alpha":
        assert np.all((first >= 0) & (first < 1) & (second >= 0) & (second < 1))
    traced_first, traced_second = np.array(two_cpu_results["traced_latent"])
    assert np.abs(traced_first - traced_second).min() > 0


def test_one_device_alpha_replays_the_seed_generator(monkeypatch):
    # On one device the WGAN-GP draws z, alpha, z from SeedGenerator(seed) in
    # that order, exactly as before replica_seed: alpha is the second draw.
    # With 2 critic steps each critic step takes half the batch (8 images).
    seen = []

    def recording_penalty(critic, real_images, fake_images, alpha):
        seen.append(as_numpy(alpha))
        return gradient_penalty(critic, real_images, fake_images, alpha)

    monkeypatch.setattr(keras_ae.models.wgan, "gradient_penalty", recording_penalty)
    wgan = WGANGP(small_generator(), small_discriminator(), critic_steps=2, seed=5)
    wgan.compile(d_optimizer=sgd(0.0), g_optimizer=sgd(0.0), run_eagerly=True)
    wgan.train_on_batch(real_batch(4))
    half = BATCH // 2
    latent, alpha = ("normal", (half, LATENT_DIM)), ("uniform", (half, 1, 1, 1))
    _, alpha_1, _, alpha_2 = replayed_draws(5, [latent, alpha, latent, alpha])
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[0], as_numpy(alpha_1))
    np.testing.assert_array_equal(seen[1], as_numpy(alpha_2))
