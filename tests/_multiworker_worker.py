"""Trains small models under a distribution strategy and saves their weights.

Used by tests/test_multiworker.py, which starts it three times at once:

    python _multiworker_worker.py worker OUT_DIR      (twice, each with its
        TF_CONFIG: worker 0 and worker 1 of a cluster on 127.0.0.1)
    python _multiworker_worker.py reference OUT_DIR   (one process, no TF_CONFIG)

A worker trains under `keras_ae.devices.strategy()`, which the cluster in
TF_CONFIG makes a `MultiWorkerMirroredStrategy` (one CPU replica per worker).
The reference trains the same models on the same global batches in one
process twice: on one device (the default strategy) and under a
`MirroredStrategy` over two logical CPUs, whose replicas 0 and 1 get the same
halves of every global batch as workers 0 and 1 and fold the same replica ids
into their noise seeds (`keras_ae.devices.replica_seed`).

Every run writes OUT_DIR/<run>_<kind>.npz (run: worker0, worker1, one_device,
mirrored; kind: autoencoder, autoencoder_arrays, vae, gan): all the model's
weights after training (`weight_0`, ...), its trainable weights before
(`initial_0`, ...) and after (`trainable_0`, ...), and the per-epoch training
losses (`losses`).
"""

import sys

MODE, OUT_DIR = sys.argv[1], sys.argv[2]

if MODE == "worker":
    # MultiWorkerMirroredStrategy must exist before any TensorFlow op runs.
    from keras_ae import devices

    WORKER_STRATEGY = devices.strategy()
else:
    import tensorflow as tf

    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(2)]
    )

    from keras_ae import devices

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_ae.models.autoencoders import build_dense_autoencoder  # noqa: E402
from keras_ae.models.gan_builders import (  # noqa: E402
    build_dense_discriminator,
    build_dense_generator,
)
from keras_ae.models.gans import GAN  # noqa: E402
from keras_ae.models.vae import VAE  # noqa: E402
from keras_ae.models.vae_builders import (  # noqa: E402
    build_vae_decoder,
    build_vae_encoder,
)

IMAGE_SHAPE = (8, 8, 1)
NUM_IMAGES = 48
GLOBAL_BATCH = 16  # 3 steps per epoch, each worker's replica gets 8 images.
EPOCHS = 2


def global_images():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(NUM_IMAGES, *IMAGE_SHAPE)).astype("float32")


def global_dataset(targets):
    """The same 48 images in the same order, as global batches of 16, on every
    worker. `AutoShardPolicy.DATA`: each worker keeps its share of every batch
    (the global batch is first split into 2 replica batches of 8, then worker
    i keeps the i-th), so workers 0 and 1 see the halves that replicas 0 and 1
    of the reference's MirroredStrategy see, and one device sees all 16."""
    images = global_images()
    data = (images, images) if targets else images  # an autoencoder's (x, y)
    dataset = tf.data.Dataset.from_tensor_slices(data)
    dataset = dataset.batch(GLOBAL_BATCH, drop_remainder=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.with_options(options)


def set_initial_weights(model, seed):
    """Fixed starting weights from NumPy, the same in every process, whatever
    Keras's initializers drew (each process builds its models in another
    order, and MultiWorkerMirroredStrategy broadcasts worker 0's values)."""
    rng = np.random.default_rng(seed)
    initial = []
    for variable in model.trainable_weights:
        shape = tuple(variable.shape)
        scale = 1.0 / np.sqrt(shape[0]) if len(shape) >= 2 else 0.1
        initial.append(rng.normal(scale=scale, size=shape).astype("float32"))
        variable.assign(initial[-1])
    return initial


def build(kind):
    """A small model of `kind`, compiled with plain SGD (whose update is linear
    in the gradient, so float32 summation order only shifts weights by ~1e-7;
    Adam's first step is lr * sign(gradient), which a near-zero gradient could
    flip)."""
    if kind in ("autoencoder", "autoencoder_arrays"):
        model = build_dense_autoencoder(
            input_shape=IMAGE_SHAPE, code_size=3, hidden_units=(16,)
        )
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    elif kind == "vae":
        encoder = build_vae_encoder(IMAGE_SHAPE, latent_dim=2, hidden_units=(16,))
        decoder = build_vae_decoder(IMAGE_SHAPE, latent_dim=2, hidden_units=(16,))
        model = VAE(encoder, decoder, seed=3)
        model.compile(optimizer=keras.optimizers.SGD(0.01))
    elif kind == "gan":
        generator = build_dense_generator(
            latent_dim=4,
            output_shape=IMAGE_SHAPE,
            hidden_units=(16,),
            batch_norm=False,  # per-replica batch statistics: not one device's
        )
        discriminator = build_dense_discriminator(
            IMAGE_SHAPE, hidden_units=(16,), dropout=0.0
        )
        model = GAN(generator, discriminator, seed=5)
        model.compile(
            d_optimizer=keras.optimizers.SGD(0.05),
            g_optimizer=keras.optimizers.SGD(0.05),
        )
    else:
        raise ValueError(f"Unknown kind {kind!r}")
    initial = set_initial_weights(model, seed=len(kind))
    return model, initial


def train_and_save(strategy, run, kind):
    with strategy.scope():
        model, initial = build(kind)
    if kind == "autoencoder_arrays":
        # NumPy arrays, as the course passes them, shuffled by `fit` each
        # epoch: the same seed in every process makes every worker shuffle
        # alike, so their shares still make up the one device's batches.
        keras.utils.set_random_seed(7)
        images = global_images()
        history = model.fit(
            images, images, batch_size=GLOBAL_BATCH, epochs=EPOCHS, verbose=0
        )
    else:
        dataset = global_dataset(targets=kind == "autoencoder")
        history = model.fit(dataset, epochs=EPOCHS, verbose=0)
    loss_name = "d_loss" if kind == "gan" else "loss"
    arrays = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    arrays.update({f"initial_{i}": w for i, w in enumerate(initial)})
    trainable = [keras.ops.convert_to_numpy(v) for v in model.trainable_weights]
    arrays.update({f"trainable_{i}": w for i, w in enumerate(trainable)})
    losses = np.array(history.history[loss_name])
    np.savez(Path(OUT_DIR) / f"{run}_{kind}.npz", losses=losses, **arrays)


keras.config.disable_traceback_filtering()  # full tracebacks in the test's log
KINDS = ("autoencoder", "autoencoder_arrays", "vae", "gan")

if MODE == "worker":
    run = f"worker{devices.multi_worker_cluster()['task_index']}"
    for kind in KINDS:
        train_and_save(WORKER_STRATEGY, run, kind)
elif MODE == "reference":
    mirrored = devices.strategy(devices=["/cpu:0", "/cpu:1"])
    for kind in KINDS:
        train_and_save(tf.distribute.get_strategy(), "one_device", kind)
        train_and_save(mirrored, "mirrored", kind)
else:
    raise SystemExit(f"Unknown mode {MODE!r}: expected worker or reference")
print(f"{MODE} done")
