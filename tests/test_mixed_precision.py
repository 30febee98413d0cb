"""Mixed precision: the policy chosen per device, every model kind of the
course training under `mixed_bfloat16` with float32 outputs and losses, and
the custom training steps under `mixed_float16` with loss scaling.

The CPU runs bfloat16 too (slowly), so the numerics are checked here; the speed
gain needs a GPU of compute capability >= 8.0 or a TPU.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae import devices
from keras_ae.data import load_dataset
from keras_ae.models.contractive import ContractiveAutoencoder
from keras_ae.models.gan_builders import (
    build_dense_discriminator,
    build_dense_generator,
)
from keras_ae.models.gans import GAN
from keras_ae.models.vae import VAE
from keras_ae.models.vae_builders import build_vae_decoder, build_vae_encoder
from keras_ae.train import registry


@pytest.fixture
def restore_policy():
    yield
    keras.config.set_dtype_policy("float32")


def _fake_gpus(monkeypatch, capabilities):
    gpus = [f"GPU:{i}" for i in range(len(capabilities))]
    details = dict(zip(gpus, capabilities, strict=True))
    monkeypatch.setattr(devices, "_local_tpu_attached", lambda: False)
    monkeypatch.setattr(
        tf.config,
        "list_physical_devices",
        lambda kind=None: gpus if kind == "GPU" else [],
    )
    monkeypatch.setattr(
        tf.config.experimental,
        "get_device_details",
        lambda gpu: {"compute_capability": details[gpu]},
    )


@pytest.mark.parametrize(
    "capabilities, expected",
    [
        ([], "float32"),  # CPU only
        ([(6, 1)], "float32"),  # P4: no tensor cores
        ([(7, 5)], "mixed_float16"),  # T4: float16 tensor cores, loss scaling
        ([(8, 0)], "mixed_bfloat16"),  # A100
        ([(9, 0), (9, 0)], "mixed_bfloat16"),
        ([(8, 6), (7, 0)], "mixed_float16"),  # the oldest GPU decides
        ([None], "float32"),  # capability unknown
    ],
)
def test_policy_follows_the_gpus_compute_capability(
    monkeypatch, capabilities, expected
):
    _fake_gpus(monkeypatch, capabilities)
    assert devices.mixed_precision_policy() == expected


def test_policy_on_this_machine_and_tpu(monkeypatch):
    if not tf.config.list_physical_devices("GPU"):
        assert devices.mixed_precision_policy() == "float32"
    monkeypatch.setattr(devices, "_local_tpu_attached", lambda: True)
    assert devices.mixed_precision_policy() == "mixed_bfloat16"


def test_use_mixed_precision_sets_and_reports(restore_policy, capsys):
    assert devices.use_mixed_precision("mixed_bfloat16") == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert "dtype policy mixed_bfloat16" in capsys.readouterr().out
    # The custom train_steps scale their losses (keras_ae.models._base.minimize), so
    # float16 with a LossScaleOptimizer is allowed.
    assert devices.use_mixed_precision("mixed_float16") == "mixed_float16"
    with pytest.raises(ValueError, match="Expected policy in"):
        devices.use_mixed_precision("bfloat16")


@pytest.fixture(scope="module")
def digits():
    (x_train, y_train), _, (x_test, _), _ = load_dataset("digits")
    return x_train, y_train, x_test


def _train(kind, digits, num_epochs):
    x_train, y_train, _ = digits
    return registry.train_model(
        kind, x_train, y_train, num_epochs=num_epochs, batch_size=128, seed=0
    )


@pytest.mark.parametrize("kind", registry.MODEL_KINDS)
def test_every_kind_trains_in_bfloat16_with_float32_outputs(
    kind, digits, restore_policy
):
    keras.config.set_dtype_policy("mixed_bfloat16")
    trained = _train(kind, digits, num_epochs=1)
    model = trained.model
    history = model.history.history
    assert history, "no training history"
    for name, values in history.items():
        assert np.all(np.isfinite(values)), (name, values)
    # The policy took effect: some layer computes in bfloat16 ...
    networks = [
        getattr(model, name)
        for name in ("encoder", "decoder", "generator", "discriminator")
        if getattr(model, name, None) is not None
    ] or [model]
    compute_dtypes = {
        layer.compute_dtype for net in networks for layer in net._flatten_layers()
    }
    assert "bfloat16" in compute_dtypes
    # ... while the tensors that enter a loss are float32.
    x = digits[2][:16]
    if trained.family == "gan":
        images = trained.generate(16, 0)
        critic_inputs = images
        if kind == "conditional_gan":
            labels = keras.ops.convert_to_numpy(model.one_hot(np.arange(16) % 10))
            critic_inputs = [images, labels]
        outputs = [images, model.discriminator(critic_inputs)]
    elif trained.family == "vae":
        outputs = list(model.encoder(x)) + [model.decoder(model.encoder(x)[0])]
    else:
        outputs = [trained.encoder(x), model(x)]
    for output in outputs:
        assert output.dtype == "float32"


def test_bfloat16_reconstruction_close_to_float32(digits, restore_policy):
    x_test = digits[2]
    errors = {}
    for policy in ("float32", "mixed_bfloat16"):
        keras.config.set_dtype_policy(policy)
        model = _train("undercomplete", digits, num_epochs=15).model
        errors[policy] = float(
            np.mean((model.predict(x_test, verbose=0) - x_test) ** 2)
        )
    # bfloat16 keeps 8 bits of mantissa: the same training lands within 10%.
    assert errors["mixed_bfloat16"] == pytest.approx(errors["float32"], rel=0.1)
    assert errors["float32"] < 0.06  # and both really learned (0.11 untrained)


# mixed_float16: the custom train_steps scale their losses for the
# LossScaleOptimizer that compile() wraps the optimizers in.


def _float16_model(kind):
    shape = (8, 8, 1)
    if kind == "vae":
        model = VAE(
            build_vae_encoder(shape, 2, hidden_units=(32,)),
            build_vae_decoder(shape, 2, hidden_units=(32,)),
            seed=0,
        )
        model.compile(optimizer=keras.optimizers.SGD(1e-3))
        return model
    if kind == "gan":
        model = GAN(
            build_dense_generator(4, shape, hidden_units=(32,)),
            build_dense_discriminator(shape, hidden_units=(32,), dropout=0.0),
            seed=0,
        )
        model.compile(
            d_optimizer=keras.optimizers.SGD(0.1),
            g_optimizer=keras.optimizers.SGD(0.1),
        )
        return model
    images = keras.Input(shape)
    flat = keras.layers.Flatten()(images)
    encoder = keras.Model(images, keras.layers.Dense(16, activation="sigmoid")(flat))
    codes = keras.Input((16,))
    # The reconstructions enter the loss: float32, as the library's builders do.
    pixels = keras.layers.Dense(64, activation="sigmoid", dtype="float32")(codes)
    decoder = keras.Model(codes, keras.layers.Reshape(shape, dtype="float32")(pixels))
    model = ContractiveAutoencoder(encoder, decoder, contractive_weight=0.01)
    model.compile(optimizer=keras.optimizers.SGD(1.0))
    return model


def _optimizers(model):
    if isinstance(model, GAN):
        return [model.d_optimizer, model.g_optimizer]
    return [model.optimizer]


def _one_epoch(kind, policy, x):
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)  # the same initial weights and noise
    model = _float16_model(kind)
    initial = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    # 128 images in 4 plain SGD steps: the update is proportional to the
    # gradient (Adam would hide a gradient divided by the loss scale).
    history = model.fit(x, batch_size=32, shuffle=False, verbose=0).history
    final = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    pairs = zip(final, initial, strict=True)
    update = np.concatenate([(f - i).ravel() for f, i in pairs])
    return model, {key: values[0] for key, values in history.items()}, update


@pytest.mark.parametrize("kind", ["vae", "gan", "contractive"])
def test_mixed_float16_epoch_matches_float32(kind, digits, restore_policy):
    x = digits[0][:128]
    model_32, logs_32, update_32 = _one_epoch(kind, "float32", x)
    model_16, logs_16, update_16 = _one_epoch(kind, "mixed_float16", x)
    assert not any(
        isinstance(o, keras.optimizers.LossScaleOptimizer)
        for o in _optimizers(model_32)
    )
    for optimizer in _optimizers(model_16):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        # No step was skipped for an overflow: the scale is the initial 2^15.
        assert float(optimizer.dynamic_scale.numpy()) == 2.0**15
    compute_dtypes = {layer.compute_dtype for layer in model_16._flatten_layers()}
    assert "float16" in compute_dtypes
    assert all(np.isfinite(value) for value in logs_16.values())
    # float16 keeps 11 significant bits (relative rounding 5e-4 per value);
    # the losses are float32 sums of such values and land within 1e-3
    # (observed: 1e-6 to 1e-5).
    assert set(logs_16) == set(logs_32)
    for key, value in logs_32.items():
        assert logs_16[key] == pytest.approx(value, rel=1e-3, abs=1e-6), key
    # The weights moved as in float32 (observed within 0.5%). Had the step
    # not multiplied the loss by the loss scale, the LossScaleOptimizer would
    # have divided every gradient by 2^15 and the update would be ~0.
    gap = np.linalg.norm(update_16 - update_32) / np.linalg.norm(update_32)
    assert gap < 0.02, gap


def test_without_loss_scaling_the_float16_update_would_vanish(
    digits, monkeypatch, restore_policy
):
    # Keeps the test above honest: with a step that did not multiply its loss
    # by the loss scale, the LossScaleOptimizer still divides the gradients by
    # 2^15, and the weights barely move.
    x = digits[0][:128]
    _, _, update_32 = _one_epoch("contractive", "float32", x)
    monkeypatch.setattr(
        keras.optimizers.LossScaleOptimizer, "scale_loss", lambda self, loss: loss
    )
    _, _, unscaled = _one_epoch("contractive", "mixed_float16", x)
    ratio = np.linalg.norm(unscaled) / np.linalg.norm(update_32)
    assert ratio < 1e-3, ratio
