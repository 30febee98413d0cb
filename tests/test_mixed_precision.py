"""Mixed precision: the policy chosen per device, and every model kind of the
course training under `mixed_bfloat16` with float32 outputs and losses.

The CPU runs bfloat16 too (slowly), so the numerics are checked here; the speed
gain needs a GPU of compute capability >= 8.0 or a TPU.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae import comparison, devices
from keras_ae.data import load_dataset


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
    # The custom train_steps scale their losses (keras_ae._step.minimize), so
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
    return comparison.train_model(
        kind, x_train, y_train, num_epochs=num_epochs, batch_size=128, seed=0
    )


@pytest.mark.parametrize("kind", comparison.MODEL_KINDS)
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
