"""Tests for keras_ae.devices: strategy choice, MirroredStrategy = one device, and
per-replica noise."""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae import devices

# Runs in a fresh interpreter: two logical CPUs must be configured before
# TensorFlow initialises its devices, which the test process (or another test in
# it) may already have done.
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

from keras_ae import devices


class TinyAutoencoder(keras.Model):
    # A dense autoencoder with its own train_step, as the course's VAE and GANs.

    def __init__(self, encoder, decoder, scale_loss=True, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.scale_loss = scale_loss
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, x):
        return self.decoder(self.encoder(x))

    def train_step(self, x):
        with tf.GradientTape() as tape:
            # Mean over this replica's share of the global batch.
            loss = ops.mean(ops.square(x - self(x, training=True)))
            if self.scale_loss:
                loss_for_gradients = devices.scale_loss_for_replicas(loss)
            else:
                loss_for_gradients = loss
        gradients = tape.gradient(loss_for_gradients, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def build(strategy, initial_weights, scale_loss=True):
    with strategy.scope():
        encoder = keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(3, activation="tanh")]
        )
        decoder = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8)])
        model = TinyAutoencoder(encoder, decoder, scale_loss=scale_loss)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    if initial_weights is not None:
        model.set_weights(initial_weights)
    return model


def train_one_epoch(model, x):
    # 64 examples, global batch 16: every step gives each of 2 replicas 8.
    history = model.fit(x, epochs=1, batch_size=16, shuffle=False, verbose=0)
    return history.history["loss"][0], [w.tolist() for w in model.get_weights()]


keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
default = tf.distribute.get_strategy()
single = build(default, None)
initial_weights = single.get_weights()
mirrored = devices.strategy(devices=["/cpu:0", "/cpu:1"])
results = {
    "logical_cpus": len(tf.config.list_logical_devices("CPU")),
    "description": devices.describe_devices(mirrored),
    "single": train_one_epoch(single, x),
    "mirrored": train_one_epoch(build(mirrored, initial_weights), x),
    "mirrored_unscaled": train_one_epoch(
        build(mirrored, initial_weights, scale_loss=False), x
    ),
}

# replica_seed: a mirrored SeedGenerator, drawn from on both replicas.
with mirrored.scope():
    seed_generator = keras.random.SeedGenerator(7)
    cross_replica = devices.replica_seed(seed_generator)


def draw_noise():
    return keras.random.normal((1000,), seed=devices.replica_seed(seed_generator))


def per_replica(values):
    return [v.numpy().tolist() for v in mirrored.experimental_local_results(values)]


results["replica_noise"] = {
    "eager": per_replica(mirrored.run(draw_noise)),
    "tf_function": per_replica(tf.function(lambda: mirrored.run(draw_noise))()),
    "plain_generator": per_replica(
        mirrored.run(lambda: keras.random.normal((1000,), seed=seed_generator))
    ),
}
# Each replica's copy of the generator's state, read on that replica.
results["seed_states"] = per_replica(
    mirrored.run(lambda: seed_generator.state.value * 1)
)
results["cross_replica_is_generator"] = cross_replica is seed_generator
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def two_cpu_results():
    completed = subprocess.run(
        [sys.executable, "-c", TWO_CPU_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.splitlines()
    (line,) = [line for line in lines if line.startswith("RESULTS ")]
    return json.loads(line.removeprefix("RESULTS ")), completed.stdout


def test_mirrored_strategy_over_two_cpus_is_described(two_cpu_results):
    results, stdout = two_cpu_results
    assert results["logical_cpus"] == 2
    description = results["description"]
    assert description["strategy"] == "MirroredStrategy"
    assert description["num_replicas"] == 2
    assert description["summary"].endswith(
        "MirroredStrategy (2 replicas) over CPU:0, CPU:1"
    )
    assert f"keras_ae.devices: {description['summary']}" in stdout.splitlines()


def test_mirrored_training_matches_single_device(two_cpu_results):
    results, _ = two_cpu_results
    single_loss, single_weights = results["single"]
    mirrored_loss, mirrored_weights = results["mirrored"]
    # The global batch of 16 is split 8 + 8 across the replicas; each takes the
    # gradient of (its batch mean) / 2, and the optimizer sums the two, which is
    # the gradient of the mean over all 16: the same update as on one device.
    # Only float32 summation order differs, hence rtol=1e-4 rather than equality.
    np.testing.assert_allclose(mirrored_loss, single_loss, rtol=1e-4)
    for mirrored_w, single_w in zip(mirrored_weights, single_weights, strict=True):
        np.testing.assert_allclose(mirrored_w, single_w, rtol=1e-4, atol=1e-6)


def test_unscaled_replica_loss_would_double_the_gradient(two_cpu_results):
    # Keeps the test above honest: it passes because of the scaling, and two
    # replicas really ran. Without scale_loss_for_replicas the summed gradient
    # is twice the single-device one (a doubled learning rate) and training
    # goes elsewhere.
    results, _ = two_cpu_results
    single_loss, single_weights = results["single"]
    unscaled_loss, unscaled_weights = results["mirrored_unscaled"]
    assert abs(unscaled_loss - single_loss) > 1e-3 * abs(single_loss)
    largest_gap = max(
        np.max(np.abs(np.subtract(u, s)))
        for u, s in zip(unscaled_weights, single_weights, strict=True)
    )
    assert largest_gap > 1e-3


def test_replicas_draw_different_noise_with_replica_seed(two_cpu_results):
    results, _ = two_cpu_results
    noise = results["replica_noise"]
    for mode in ("eager", "tf_function"):
        first, second = np.array(noise[mode])
        # Independent N(0, 1) draws: no value repeats, and with 1,000 pairs the
        # correlation's standard error is about 0.03.
        assert np.abs(first - second).min() > 0, mode
        assert abs(np.corrcoef(first, second)[0, 1]) < 0.15, mode
        for draw in (first, second):
            assert abs(draw.mean()) < 0.15 and 0.9 < draw.std() < 1.1, mode
    assert np.abs(np.subtract(*noise["eager"])).min() > 0
    # A fresh draw on every call, not the same folded seed again.
    assert np.abs(np.subtract(noise["eager"][0], noise["tf_function"][0])).min() > 0
    # What replica_seed fixes: the mirrored generator alone gives both replicas
    # the same noise.
    np.testing.assert_array_equal(*noise["plain_generator"])
    # Each replica advanced its copy of the state once per draw (3 draws), so
    # the copies stay equal.
    assert results["seed_states"] == [[7, 3], [7, 3]]
    # Outside strategy.run (cross-replica context) it is the generator itself.
    assert results["cross_replica_is_generator"]


def test_replica_seed_is_the_generator_itself_on_one_replica():
    generator = keras.random.SeedGenerator(3)
    assert devices.replica_seed(generator) is generator
    default = tf.distribute.get_strategy()
    assert default.run(devices.replica_seed, args=(generator,)) is generator
    # So one device draws exactly what seed=generator draws.
    replay = keras.random.SeedGenerator(3)
    for _ in range(2):
        np.testing.assert_array_equal(
            keras.random.normal((50,), seed=devices.replica_seed(generator)),
            keras.random.normal((50,), seed=replay),
        )


def test_replica_view_folds_the_replica_id_into_each_seed():
    # What replica r draws on a multi-replica strategy: the generator's next
    # seed (int64, mapped to int32 as Keras does) with r folded in by TF.
    generator = keras.random.SeedGenerator(11)
    replica_ids = (0, 1, 1)
    for step, replica_id in enumerate(replica_ids):
        view = devices._ReplicaSeedGenerator(generator, tf.constant(replica_id))
        assert isinstance(view, keras.random.SeedGenerator)
        draw = keras.random.normal((500,), seed=view)
        folded = tf.random.experimental.stateless_fold_in(
            tf.constant([11, step], tf.int32), replica_id
        )
        np.testing.assert_array_equal(
            draw, tf.random.stateless_normal((500,), seed=folded)
        )
    # The view owns no state: the wrapped generator advanced once per draw.
    np.testing.assert_array_equal(generator.state.numpy(), [11, len(replica_ids)])
    # And it compiles with XLA, where stateless ops take int32 seeds only.
    view = devices._ReplicaSeedGenerator(generator, tf.constant(1))
    compiled = tf.function(
        lambda: keras.random.uniform((4,), seed=view), jit_compile=True
    )
    assert np.all((compiled().numpy() >= 0) & (compiled().numpy() < 1))


def test_replica_seed_rejects_other_seeds():
    with pytest.raises(ValueError) as error:
        devices.replica_seed(3)
    assert str(error.value) == (
        "Expected seed_generator to be a keras.random.SeedGenerator. "
        "Received: seed_generator=3"
    )


def test_strategy_on_this_machine(capsys):
    num_gpus = len(tf.config.list_physical_devices("GPU"))
    chosen = devices.strategy()
    line = capsys.readouterr().out.strip()
    description = devices.describe_devices(chosen)
    if num_gpus > 1:
        assert isinstance(chosen, tf.distribute.MirroredStrategy)
        assert chosen.num_replicas_in_sync == num_gpus
    else:
        # One CPU or one GPU: no distribution, the same object as TF's default.
        assert chosen is tf.distribute.get_strategy()
        assert chosen.num_replicas_in_sync == 1
        assert description["strategy"] == "default"
        assert description["num_replicas"] == 1
    assert line == f"keras_ae.devices: {description['summary']}"
    if num_gpus == 0 and description["tpus"] == 0:
        assert (
            line
            == "keras_ae.devices: 1 CPU, no GPU or TPU: default strategy (1 replica)"
        )


def test_describe_devices_counts():
    description = devices.describe_devices()
    assert description["cpus"] == len(tf.config.list_physical_devices("CPU")) >= 1
    assert description["gpus"] == len(tf.config.list_physical_devices("GPU"))
    assert len(description["gpu_names"]) == description["gpus"]
    assert description["cpu_cores"] == os.cpu_count()
    assert description["strategy"] == "default" and description["num_replicas"] == 1
    expected = re.escape(f"{description['cpus']} CPU")
    assert re.match(
        expected + r"s?, .*: default strategy \(1 replica\)$", description["summary"]
    )
    json.dumps(description)  # plain types, ready for a report


def test_broken_tpu_falls_back_without_raising(monkeypatch, capsys):
    def failing_resolver(*args, **kwargs):
        raise RuntimeError("no TPU platform registered\nsecond line")

    monkeypatch.setattr(devices, "_local_tpu_attached", lambda: True)
    monkeypatch.setattr(
        tf.distribute.cluster_resolver, "TPUClusterResolver", failing_resolver
    )
    chosen = devices.strategy()
    out = capsys.readouterr().out
    assert "TPU found but not usable (no TPU platform registered)" in out
    assert not isinstance(chosen, tf.distribute.TPUStrategy)


def test_no_tpu_resolver_is_created_without_a_local_tpu(monkeypatch):
    if devices._local_tpu_attached():
        pytest.skip("this host has a TPU")

    def unexpected_resolver(*args, **kwargs):
        raise AssertionError("TPUClusterResolver must not be created here")

    monkeypatch.setattr(
        tf.distribute.cluster_resolver, "TPUClusterResolver", unexpected_resolver
    )
    devices.strategy(verbose=False)


@pytest.mark.parametrize("bad", ["/cpu:0", []])
def test_strategy_rejects_bad_device_lists(bad):
    with pytest.raises(ValueError, match=r"Expected devices to be a non-empty list"):
        devices.strategy(devices=bad)


def test_scale_loss_for_replicas_is_identity_on_one_replica():
    loss = tf.constant(3.0)
    assert devices.scale_loss_for_replicas(loss) is loss


# --------------------------------------------------------------------------
# TF_CONFIG: several machines. The training itself is in tests/test_multiworker.py.


def _tf_config(cluster, task=None):
    config = {"cluster": cluster}
    if task is not None:
        config["task"] = task
    return json.dumps(config)


TWO_WORKERS = {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}


@pytest.mark.parametrize(
    "tf_config",
    [
        None,
        "",
        "  ",
        _tf_config({"worker": ["10.0.0.1:2222"]}, {"type": "worker", "index": 0}),
        _tf_config({"chief": ["10.0.0.1:2222"], "evaluator": ["10.0.0.2:2222"]}),
        json.dumps({"task": {"type": "worker", "index": 0}}),  # no cluster
    ],
)
def test_no_or_one_worker_tf_config_is_one_machine(monkeypatch, capsys, tf_config):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    assert devices.multi_worker_cluster() is None
    # And strategy() does what it does without TF_CONFIG.
    monkeypatch.delenv("TF_CONFIG", raising=False)
    without = devices.strategy()
    expected_line = capsys.readouterr().out
    if tf_config is not None:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    chosen = devices.strategy()
    assert capsys.readouterr().out == expected_line
    assert type(chosen) is type(without)
    assert devices.describe_devices(chosen)["num_workers"] == 1


@pytest.mark.parametrize(
    "cluster, task, expected",
    [
        (TWO_WORKERS, {"type": "worker", "index": 1}, ("worker", 1)),
        (
            {"chief": ["c:1"], "worker": ["w:1", "w:2"], "evaluator": ["e:1"]},
            {"type": "chief", "index": 0},
            ("chief", 0),
        ),
    ],
)
def test_multi_worker_cluster_reads_tf_config(monkeypatch, cluster, task, expected):
    monkeypatch.setenv("TF_CONFIG", _tf_config(cluster, task))
    num_workers = len(cluster.get("chief", [])) + len(cluster["worker"])
    assert devices.multi_worker_cluster() == {
        "num_workers": num_workers,
        "task_type": expected[0],
        "task_index": expected[1],
    }


@pytest.mark.parametrize(
    "tf_config, problem",
    [
        ('{"cluster": {"worker": ["a:1", "b:1"]}', "it is not valid JSON"),
        ('["a:1", "b:1"]', "it is not a JSON object"),
        ('{"cluster": ["a:1", "b:1"]}', 'its "cluster" is not an object'),
        (_tf_config({"worker": ["a:1"], "ps": ["p:1"]}), 'it has a "ps" job'),
        (_tf_config({"workers": ["a:1", "b:1"]}), "its cluster has a job 'workers'"),
        (_tf_config({"worker": "a:1,b:1"}), 'the addresses of job "worker" are not'),
        (_tf_config({"worker": ["a", "b"]}), 'the addresses of job "worker" are not'),
        (
            _tf_config({"chief": ["a:1", "b:1"]}),
            'its "chief" job has more than one address',
        ),
        (_tf_config(TWO_WORKERS), 'its "task" is not one of'),
        (_tf_config(TWO_WORKERS, {"type": "worker"}), 'its "task"'),  # no index
        (_tf_config(TWO_WORKERS, {"type": "worker", "index": 2}), 'its "task"'),
        (_tf_config(TWO_WORKERS, {"type": "worker", "index": "0"}), 'its "task"'),
        (_tf_config(TWO_WORKERS, {"type": "worker", "index": True}), 'its "task"'),
        (_tf_config(TWO_WORKERS, {"type": "chief", "index": 0}), 'its "task"'),
        (_tf_config(TWO_WORKERS, {"type": "evaluator", "index": 0}), 'its "task"'),
    ],
)
def test_malformed_tf_config_is_a_clear_error(monkeypatch, tf_config, problem):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    for call in (devices.multi_worker_cluster, devices.strategy):
        with pytest.raises(ValueError) as error:
            call()
        message = str(error.value)
        assert message.startswith(
            "Expected the TF_CONFIG environment variable to describe a cluster "
            'as JSON, e.g. {"cluster": {"worker": ["host0:12345", "host1:12345"]}'
        )
        assert f", but {problem}" in message
        assert message.endswith(f"Received: TF_CONFIG={tf_config!r}")


def test_multi_worker_tf_config_with_a_device_list_is_refused(monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG", _tf_config(TWO_WORKERS, {"type": "worker", "index": 0})
    )
    with pytest.raises(ValueError, match=r"Expected devices=None when TF_CONFIG"):
        devices.strategy(devices=["/cpu:0"])


def test_multi_worker_strategy_after_tensorflow_started_explains(monkeypatch):
    # MultiWorkerMirroredStrategy configures collective ops, which TensorFlow
    # allows only before its runtime starts; in this process it has started
    # (the op below makes sure), so creating one fails, before any connection.
    assert float(tf.constant(1.0) + 1.0) == 2.0
    monkeypatch.setenv(
        "TF_CONFIG", _tf_config(TWO_WORKERS, {"type": "worker", "index": 0})
    )
    with pytest.raises(RuntimeError) as error:
        devices.strategy()
    assert str(error.value).startswith(
        "Could not create a MultiWorkerMirroredStrategy for the cluster in "
        "TF_CONFIG. It must be created at the start of the program, before any "
        "TensorFlow op runs or any model is built: call keras_ae.devices.strategy() "
        "first. TensorFlow said: "
    )
    assert isinstance(error.value.__cause__, RuntimeError)


def test_one_machine_describes_one_worker():
    description = devices.describe_devices()
    assert description["num_workers"] == 1 and description["task"] is None
    assert "worker" not in description["summary"]


# --------------------------------------------------------------------------
# The replica view of a SeedGenerator: public SeedGenerator API only.


def test_replica_view_has_the_config_of_its_generator():
    # What the view used to copy from a private attribute (_initial_seed) is
    # what get_config reports: the generator's seed (None for a random one).
    for seed in (11, None):
        generator = keras.random.SeedGenerator(seed, name="noise")
        view = devices._ReplicaSeedGenerator(generator, tf.constant(1))
        assert view.get_config() == generator.get_config()
        assert view.get_config()["seed"] == seed
        assert "_initial_seed" not in vars(view)
    # A generator rebuilt from the view's config replays the wrapped one's
    # draws from its start.
    generator = keras.random.SeedGenerator(5)
    view = devices._ReplicaSeedGenerator(generator, tf.constant(0))
    rebuilt = keras.random.SeedGenerator.from_config(view.get_config())
    np.testing.assert_array_equal(
        keras.random.normal((20,), seed=rebuilt),
        keras.random.normal((20,), seed=keras.random.SeedGenerator(5)),
    )


# --------------------------------------------------------------------------
# Mixed precision per device, with the devices' details mocked.


@pytest.fixture
def restore_policy():
    yield
    keras.config.set_dtype_policy("float32")


def _fake_gpus(monkeypatch, capabilities, tpu=False):
    """TensorFlow sees one GPU per entry; None: no compute capability known,
    "error": the details cannot be read."""
    gpus = [f"GPU:{i}" for i in range(len(capabilities))]
    details = dict(zip(gpus, capabilities, strict=True))

    def device_details(gpu):
        if details[gpu] == "error":
            raise RuntimeError("no details in this build")
        if details[gpu] is None:
            return {"device_name": "unknown GPU"}
        return {"compute_capability": details[gpu]}

    monkeypatch.setattr(devices, "_local_tpu_attached", lambda: tpu)
    monkeypatch.setattr(
        tf.config,
        "list_physical_devices",
        lambda kind=None: gpus if kind == "GPU" else [],
    )
    monkeypatch.setattr(tf.config.experimental, "get_device_details", device_details)


@pytest.mark.parametrize(
    "capabilities, expected",
    [
        ([], "float32"),  # CPU only: mixed precision is slower there
        ([(6, 0)], "float32"),  # P100: no tensor cores
        ([(7, 0)], "mixed_float16"),  # V100
        ([(7, 5)], "mixed_float16"),  # T4
        ([(7, 5), (7, 0)], "mixed_float16"),
        ([(8, 0)], "mixed_bfloat16"),  # A100
        ([(8, 9)], "mixed_bfloat16"),  # L4
        ([(9, 0), (9, 0)], "mixed_bfloat16"),  # H100
        ([(8, 6), (7, 0)], "mixed_float16"),  # the oldest GPU decides
        ([(9, 0), (6, 1)], "float32"),
        ([None], "float32"),  # capability unknown
        ([(8, 0), "error"], "float32"),
        ([[7, 5]], "mixed_float16"),  # a list, as some builds report it
    ],
)
def test_mixed_precision_policy_follows_compute_capability(
    monkeypatch, capabilities, expected
):
    _fake_gpus(monkeypatch, capabilities)
    assert devices.mixed_precision_policy() == expected


def test_mixed_precision_policy_on_a_tpu(monkeypatch):
    _fake_gpus(monkeypatch, [], tpu=True)
    assert devices.mixed_precision_policy() == "mixed_bfloat16"


@pytest.mark.parametrize(
    "capabilities, expected",
    [([(7, 5)], "mixed_float16"), ([(8, 0)], "mixed_bfloat16"), ([], "float32")],
)
def test_auto_mixed_precision_sets_the_policy(
    monkeypatch, capsys, restore_policy, capabilities, expected
):
    _fake_gpus(monkeypatch, capabilities)
    assert devices.use_mixed_precision("auto") == expected
    assert keras.config.dtype_policy().name == expected
    assert capsys.readouterr().out == f"keras_ae.devices: dtype policy {expected}\n"


def test_mixed_float16_compiles_with_loss_scaling(restore_policy):
    # What a custom train_step must match with optimizer.scale_loss: under
    # mixed_float16 compile wraps the optimizer in a LossScaleOptimizer.
    assert devices.use_mixed_precision("mixed_float16", verbose=False) == (
        "mixed_float16"
    )
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert model.layers[0].compute_dtype == "float16"
    model.compile(optimizer="sgd", loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert float(model.optimizer.scale_loss(1.0)) == 2.0**15


@pytest.mark.parametrize("refused", ["float16", "bfloat16", "mixed", None])
def test_use_mixed_precision_refuses_other_policies(restore_policy, refused):
    with pytest.raises(ValueError) as error:
        devices.use_mixed_precision(refused)
    assert str(error.value) == (
        "Expected policy in ('auto', 'float32', 'mixed_bfloat16', "
        f"'mixed_float16'). Received: policy={refused!r}"
    )
    assert keras.config.dtype_policy().name == "float32"
