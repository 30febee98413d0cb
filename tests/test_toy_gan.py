"""Tests for keras_ae.models.toy_gan against NumPy and a hand-written train step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae.evaluate.mixture import sample_ring
from keras_ae.models.gans import GAN
from keras_ae.models.toy_gan import build_toy_gan, build_toy_networks
from keras_ae.models.wgan import WGANGP
from keras_ae.utils import set_seed


def numpy_forward(model, x):
    """Dense layers with ReLU between them and a linear output, in NumPy."""
    weights = model.get_weights()
    for i in range(0, len(weights), 2):
        x = x @ weights[i] + weights[i + 1]
        if i < len(weights) - 2:
            x = np.maximum(x, 0.0)
    return x


def test_networks_compute_a_relu_mlp():
    set_seed(0)
    generator, discriminator = build_toy_networks(latent_dim=3, units=(16, 8))
    z = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    points = np.asarray(generator(z))
    np.testing.assert_allclose(points, numpy_forward(generator, z), atol=1e-5)
    logits = np.asarray(discriminator(points))
    np.testing.assert_allclose(logits, numpy_forward(discriminator, points), atol=1e-5)
    assert points.shape == (5, 2) and logits.shape == (5, 1)


def test_build_toy_gan_kinds():
    assert isinstance(build_toy_gan("gan", units=(4,)), GAN)
    wgan = build_toy_gan("wgan_gp", units=(4,), critic_steps=2)
    assert isinstance(wgan, WGANGP) and wgan.critic_steps == 2
    with pytest.raises(ValueError, match="kind"):
        build_toy_gan("vae")


def test_one_gan_step_on_points_matches_a_hand_written_step():
    set_seed(1)
    gan = build_toy_gan("gan", units=(8,), label_smoothing=0.0)
    start = [network.get_weights() for network in (gan.generator, gan.discriminator)]
    real = sample_ring(32, seed=0)
    rng = np.random.default_rng(5)
    z_d, z_g = (rng.standard_normal((32, 2)).astype("float32") for _ in range(2))
    # Hand-written step with plain SGD, so the update is gradient * step size.
    gan.compile(
        d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1)
    )
    noise = iter([z_d, z_g])
    gan.sample_latent = lambda n, seed=None: tf.constant(next(noise))
    logs = gan.train_step(tf.constant(real))
    # Reference: the same losses from NumPy forward passes at the start weights.
    generator, discriminator = build_toy_networks(units=(8,))
    generator.set_weights(start[0])
    discriminator.set_weights(start[1])
    fake = numpy_forward(generator, z_d)
    real_logits = numpy_forward(discriminator, real)
    fake_logits = numpy_forward(discriminator, fake)
    softplus = lambda v: np.logaddexp(0.0, v)  # noqa: E731
    d_loss = softplus(-real_logits).mean() + softplus(fake_logits).mean()
    assert float(logs["d_loss"]) == pytest.approx(d_loss, rel=1e-5)
    # The discriminator's update is -0.1 * its gradient, a BCE gradient checked
    # against tf.nn.sigmoid_cross_entropy_with_logits through a tape.
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(
                labels=tf.ones((32, 1)), logits=discriminator(real)
            )
        ) + tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(
                labels=tf.zeros((32, 1)), logits=discriminator(fake)
            )
        )
    gradients = tape.gradient(loss, discriminator.trainable_weights)
    for before, gradient, after in zip(
        start[1], gradients, gan.discriminator.get_weights(), strict=True
    ):
        np.testing.assert_allclose(after, before - 0.1 * gradient.numpy(), atol=1e-5)
