"""The shared training step (keras_ae.models._base) of the seven models with their own
steps: MirroredStrategy over two CPUs gives the single-device updates, and the
metrics weight each batch by its size."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from keras_ae.models.contractive import ContractiveAutoencoder
from keras_ae.models.denoising import DenoisingAutoencoder
from keras_ae.models.gan_builders import (
    build_dense_discriminator,
    build_dense_generator,
)
from keras_ae.models.gans import GAN, ConditionalGAN
from keras_ae.models.vae import VAE
from keras_ae.models.vae_builders import build_vae_decoder, build_vae_encoder
from keras_ae.models.wgan import WGANGP

SHAPE = (8, 8, 1)
MODELS = ("dae", "cae", "vae", "cvae", "gan", "cgan", "wgan")

# Runs in a fresh interpreter: two logical CPUs must be configured before
# TensorFlow initialises its devices, which this test process has done already.
REPLICA_SCRIPT = r"""
import json

import tensorflow as tf

(cpu,) = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(2)]
)

import keras
import numpy as np

import keras_ae.models._base
import keras_ae.models.gans
import keras_ae.models.layers
import keras_ae.models.wgan
import keras_ae.models.contractive
import keras_ae.models.denoising
import keras_ae.models.vae
from keras_ae.devices import scale_loss_for_replicas
from keras_ae.models.gan_builders import (
    build_dense_discriminator,
    build_dense_generator,
)
from keras_ae.models.gans import GAN, ConditionalGAN
from keras_ae.models.wgan import WGANGP
from keras_ae.models.contractive import ContractiveAutoencoder
from keras_ae.models.denoising import DenoisingAutoencoder
from keras_ae.models.vae import VAE, ConditionalVAE
from keras_ae.models.vae_builders import build_vae_decoder, build_vae_encoder

# Each replica normally folds its id into the seed of its noise (replica_seed),
# so two replicas draw other noise than one device does for the same images,
# and no run on one device can repeat theirs. For an exact comparison, every
# draw here is one draw of the global batch's shape, of which each replica
# keeps its own rows: the noise of an image is then the same in both runs.
# Everything else (the train steps, the scaling, the optimizers) is unchanged.


class GlobalDraw:
    def __init__(self, generator):
        self.generator = generator


def rows_of_one_global_draw(draw):
    def patched(shape, *args, seed=None, **kwargs):
        if not isinstance(seed, GlobalDraw):
            return draw(shape, *args, seed=seed, **kwargs)
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync
        replica = context.replica_id_in_sync_group
        rows = shape[0]
        full = draw((replicas * rows, *shape[1:]), *args, seed=seed.generator, **kwargs)
        return full[replica * rows : (replica + 1) * rows]

    return patched


for module in (
    keras_ae.models.vae,
    keras_ae.models.layers,
    keras_ae.models._base,
    keras_ae.models.wgan,
    keras_ae.models.gans,
    keras_ae.models.contractive,
    keras_ae.models.denoising,
):
    module.replica_seed = GlobalDraw
keras.random.normal = rows_of_one_global_draw(keras.random.normal)
keras.random.uniform = rows_of_one_global_draw(keras.random.uniform)

SHAPE = (8, 8, 1)


def dense_encoder(units, activation):
    images = keras.Input(SHAPE)
    flat = keras.layers.Flatten()(images)
    return keras.Model(images, keras.layers.Dense(units, activation=activation)(flat))


def dense_decoder(units):
    codes = keras.Input((units,))
    pixels = keras.layers.Dense(64, activation="sigmoid")(codes)
    return keras.Model(codes, keras.layers.Reshape(SHAPE)(pixels))


def sgd(rate):
    return keras.optimizers.SGD(rate)


def build(name):
    # Small networks without batch normalization or dropout: both use
    # per-replica batches or noise of their own.
    if name == "dae":
        model = DenoisingAutoencoder(
            dense_encoder(8, "relu"), dense_decoder(8), noise_level=0.2, seed=1
        )
        model.compile(optimizer=sgd(5.0), loss="mse")
    elif name == "cae":
        model = ContractiveAutoencoder(
            dense_encoder(8, "tanh"), dense_decoder(8), contractive_weight=0.05
        )
        model.compile(optimizer=sgd(2.0))
    elif name in ("vae", "cvae"):
        classes = 3 if name == "cvae" else None
        parts = [
            builder(SHAPE, 2, hidden_units=(8,), num_classes=classes)
            for builder in (build_vae_encoder, build_vae_decoder)
        ]
        if name == "vae":
            model = VAE(*parts, kl_warmup_steps=2, seed=2)
        else:
            model = ConditionalVAE(*parts, reconstruction="gaussian", sigma=0.5, seed=3)
        model.compile(optimizer=sgd(0.03 if name == "vae" else 0.05))
    else:
        classes = 3 if name == "cgan" else None
        generator = build_dense_generator(
            4, SHAPE, hidden_units=(8,), batch_norm=False, num_classes=classes
        )
        critic = build_dense_discriminator(
            SHAPE, hidden_units=(8,), dropout=0.0, num_classes=classes
        )
        if name == "gan":
            model = GAN(generator, critic, seed=4)
        elif name == "cgan":
            model = ConditionalGAN(generator, critic, label_smoothing=0.1, seed=5)
        else:
            model = WGANGP(generator, critic, critic_steps=2, gp_weight=10.0, seed=6)
        rate = 0.02 if name == "wgan" else 0.5
        model.compile(d_optimizer=sgd(rate), g_optimizer=sgd(rate))
    return model


def train(strategy, name, initial):
    with strategy.scope():
        model = build(name)
    model.set_weights(initial)
    # 48 images, global batch 16: 3 steps, 8 images per replica (a multiple
    # of the WGAN-GP's 2 critic steps, so its critic slices match too).
    data = (x, labels) if name in ("cvae", "cgan") else (x,)
    history = model.fit(*data, batch_size=16, epochs=1, shuffle=False, verbose=0)
    logs = {key: float(values[0]) for key, values in history.history.items()}
    return logs, [np.array(w) for w in model.get_weights()], model


rng = np.random.default_rng(0)
x = rng.uniform(size=(48, *SHAPE)).astype("float32")
labels = np.arange(48) % 3
default = tf.distribute.get_strategy()
mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
results = {"replicas": mirrored.num_replicas_in_sync}
for name in ("dae", "cae", "vae", "cvae", "gan", "cgan", "wgan"):
    keras.utils.set_random_seed(0)
    model = build(name)
    initial = model.get_weights()
    initial_trainable = [np.array(w) for w in model.trainable_weights]
    single_logs, single_weights, single = train(default, name, initial)
    mirrored_logs, mirrored_weights, _ = train(mirrored, name, initial)
    pairs = zip(single_weights, mirrored_weights, strict=True)
    updates = zip(single.trainable_weights, initial_trainable, strict=True)
    results[name] = {
        "single": single_logs,
        "mirrored": mirrored_logs,
        "largest_gap": max(float(np.max(np.abs(s - m))) for s, m in pairs),
        "largest_update": max(float(np.max(np.abs(w - i))) for w, i in updates),
    }

# Without the division by the number of replicas the two replicas' gradients
# add up to twice the single-device one: the comparison above must see that.
keras_ae.models._base.scale_loss_for_replicas = lambda loss: loss
keras.utils.set_random_seed(0)
initial = build("cae").get_weights()
unscaled_weights = train(mirrored, "cae", initial)[1]
keras_ae.models._base.scale_loss_for_replicas = scale_loss_for_replicas
single_weights = train(default, "cae", initial)[1]
results["unscaled_cae_gap"] = max(
    float(np.max(np.abs(s - u)))
    for s, u in zip(single_weights, unscaled_weights, strict=True)
)
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def replica_results():
    completed = subprocess.run(
        [sys.executable, "-c", REPLICA_SCRIPT],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.splitlines()
    (line,) = [line for line in lines if line.startswith("RESULTS ")]
    return json.loads(line.removeprefix("RESULTS "))


@pytest.mark.parametrize("name", MODELS)
def test_two_replicas_give_the_single_device_updates(replica_results, name):
    # The same global batches and the same noise per image (see the script):
    # each replica divides its half-batch mean loss by 2 and the optimizer sums
    # the two gradients, which is the gradient of the global batch's mean.
    # Only the float32 summation order differs.
    assert replica_results["replicas"] == 2
    result = replica_results[name]
    assert result["largest_gap"] < 1e-5, result
    # The weights really moved, far more than the tolerance.
    assert result["largest_update"] > 1e-2, result
    # The logged epoch means (summed over replicas, weighted by batch size).
    single, mirrored = result["single"], result["mirrored"]
    assert set(single) == set(mirrored)
    for key, value in single.items():
        np.testing.assert_allclose(mirrored[key], value, rtol=1e-5, atol=1e-6)


def test_the_comparison_sees_a_missing_replica_scaling(replica_results):
    # Unscaled, the summed gradient doubles: the weights leave the tolerance
    # of the test above by orders of magnitude.
    assert replica_results["unscaled_cae_gap"] > 1e-3


# Metrics weighted by batch size, and sample weights, on one device.


def dense_encoder(units=6, activation="tanh"):
    images = keras.Input(SHAPE)
    flat = keras.layers.Flatten()(images)
    return keras.Model(images, keras.layers.Dense(units, activation=activation)(flat))


def dense_decoder(units=6):
    codes = keras.Input((units,))
    pixels = keras.layers.Dense(64, activation="sigmoid")(codes)
    return keras.Model(codes, keras.layers.Reshape(SHAPE)(pixels))


def frozen(model, **compile_args):
    # A zero learning rate: every batch sees the same weights, so the epoch's
    # metrics are means of per-image values computed once, in NumPy.
    if isinstance(model, (GAN, WGANGP)):
        model.compile(
            d_optimizer=keras.optimizers.SGD(0.0),
            g_optimizer=keras.optimizers.SGD(0.0),
            **compile_args,
        )
    else:
        model.compile(optimizer=keras.optimizers.SGD(0.0), **compile_args)
    return model


# 10 images in batches of 4: 4, 4 and a short last batch of 2. The mean of the
# three batch means would weight each of the last 2 images twice.
X = np.random.default_rng(1).uniform(size=(10, *SHAPE)).astype("float32")
WEIGHTS = np.array([0.5, 2.0, 1.0, 0.0, 3.0, 1.0, 1.5, 0.2, 4.0, 2.5], "float32")


def mean_of_batch_means(values, batch=4):
    return np.mean([values[i : i + batch].mean() for i in range(0, len(values), batch)])


def contractive_per_image(model, x):
    """NumPy reconstruction MSE and ||J||_F^2 of a one-layer tanh encoder."""
    kernel, bias = (w.astype("float64") for w in model.encoder.layers[-1].get_weights())
    codes = np.tanh(x.reshape(len(x), -1) @ kernel + bias)
    norms = ((1 - codes**2) ** 2) @ (kernel**2).sum(axis=0)
    decoded = model.decoder.predict(codes.astype("float32"), verbose=0)
    errors = ((decoded - x) ** 2).reshape(len(x), -1).mean(axis=1)
    return errors, norms


@pytest.mark.parametrize("weighted", [False, True])
def test_contractive_epoch_metrics_are_image_means(weighted):
    keras.utils.set_random_seed(11)
    model = frozen(
        ContractiveAutoencoder(dense_encoder(), dense_decoder(), contractive_weight=0.3)
    )
    weights = WEIGHTS if weighted else np.ones(10, "float32")
    history = model.fit(
        X,
        sample_weight=WEIGHTS if weighted else None,
        batch_size=4,
        shuffle=False,
        verbose=0,
    ).history
    errors, norms = contractive_per_image(model, X.astype("float64"))
    losses = errors + 0.3 * norms
    # Keras's convention: the weighted sum over the number of images.
    for key, per_image in [
        ("loss", losses),
        ("reconstruction_loss", errors),
        ("contractive_loss", norms),
    ]:
        expected = np.sum(weights * per_image) / len(X)
        np.testing.assert_allclose(history[key][0], expected, rtol=1e-5)
    # evaluate() weights its batches the same way.
    logs = model.evaluate(
        X,
        sample_weight=WEIGHTS if weighted else None,
        batch_size=4,
        verbose=0,
        return_dict=True,
    )
    np.testing.assert_allclose(
        logs["loss"], np.sum(weights * losses) / len(X), rtol=1e-5
    )
    if not weighted:  # the test can tell the two ways of averaging apart
        assert abs(mean_of_batch_means(losses) - losses.mean()) > 1e-3 * losses.mean()


def test_denoising_epoch_loss_is_the_weighted_image_mean():
    # Keras's own train_step, after the corruption (noise_level 0: none).
    keras.utils.set_random_seed(12)
    model = frozen(
        DenoisingAutoencoder(dense_encoder(), dense_decoder(), noise_level=0.0),
        loss="mse",
    )
    history = model.fit(X, sample_weight=WEIGHTS, batch_size=4, verbose=0).history
    errors = ((model.predict(X, verbose=0) - X) ** 2).reshape(10, -1).mean(axis=1)
    np.testing.assert_allclose(
        history["loss"][0], np.sum(WEIGHTS * errors) / 10, rtol=1e-5
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_vae_epoch_kl_is_the_weighted_image_mean(weighted):
    keras.utils.set_random_seed(13)
    encoder = build_vae_encoder(SHAPE, 2, hidden_units=(4,))
    decoder = build_vae_decoder(SHAPE, 2, hidden_units=(4,))
    model = frozen(VAE(encoder, decoder, seed=0))
    history = model.fit(
        X,
        sample_weight=WEIGHTS if weighted else None,
        batch_size=4,
        shuffle=False,
        verbose=0,
    ).history
    # The KL term needs no sampling: it is the closed form of each posterior.
    means, log_vars = (o.astype("float64") for o in encoder.predict(X, verbose=0))
    log_vars = np.clip(log_vars, -10, 10)
    kl = 0.5 * np.sum(means**2 + np.exp(log_vars) - 1 - log_vars, axis=1)
    weights = WEIGHTS if weighted else np.ones(10)
    np.testing.assert_allclose(
        history["kl_loss"][0], np.sum(weights * kl) / 10, rtol=1e-5
    )
    if not weighted:
        assert abs(mean_of_batch_means(kl) - kl.mean()) > 1e-3 * kl.mean()


def test_gan_epoch_means_weight_the_short_batch_by_its_size():
    keras.utils.set_random_seed(14)
    discriminator = build_dense_discriminator(SHAPE, hidden_units=(8,), dropout=0.0)
    model = frozen(
        GAN(build_dense_generator(4, SHAPE, hidden_units=(8,)), discriminator)
    )
    history = model.fit(X, batch_size=4, shuffle=False, verbose=0).history
    # d_real is the mean probability the discriminator gives the real images.
    logits = discriminator.predict(X, verbose=0)[:, 0].astype("float64")
    d_real = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(history["d_real"][0], d_real.mean(), rtol=1e-5)
    assert abs(mean_of_batch_means(d_real) - d_real.mean()) > 1e-4


@pytest.mark.parametrize("model_class", [GAN, ConditionalGAN, WGANGP])
def test_gans_refuse_sample_weights(model_class):
    classes = 3 if model_class is ConditionalGAN else None
    model = frozen(
        model_class(
            build_dense_generator(4, SHAPE, hidden_units=(8,), num_classes=classes),
            build_dense_discriminator(
                SHAPE, hidden_units=(8,), dropout=0.0, num_classes=classes
            ),
        )
    )
    data = (X, np.arange(10) % 3) if classes else (X,)
    with pytest.raises(ValueError, match="Expected no sample_weight"):
        model.fit(*data, sample_weight=WEIGHTS, batch_size=4, verbose=0)


def test_minimize_scales_for_replicas_and_the_loss_scale():
    # A LossScaleOptimizer: minimize multiplies the loss by the scale and the
    # optimizer divides the gradient by it, so SGD takes the plain step.
    from keras_ae.models._base import minimize

    weight = keras.Variable(np.array([1.0, -2.0], "float32"))
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(0.1), initial_scale=2.0**10
    )
    optimizer.build([weight])
    loss, extra = minimize(
        lambda: (ops.sum(ops.square(weight)), 7.0), optimizer, [weight]
    )
    np.testing.assert_allclose(float(loss), 5.0)
    assert extra == 7.0
    # d/dw sum(w^2) = 2 w: w - 0.1 * 2 w = 0.8 w.
    np.testing.assert_allclose(weight.numpy(), [0.8, -1.6], rtol=1e-6)
