"""Mixed precision on the accelerator in use: speed and accuracy of the
library's autoencoder builders in float32 and in `mixed_bfloat16`.

Run from the repository root (keras_ae importable):

    python benchmarks/bench_precision.py            # TensorFlow backend
    KERAS_BACKEND=jax python benchmarks/bench_precision.py --json out.json

It needs only Keras, NumPy and scikit-learn (the builders in
`keras_ae.models.autoencoders` are plain Keras), so it also runs under the JAX
backend on a machine without TensorFlow. The data are scikit-learn's digits
enlarged to 32x32 (each pixel a 4x4 block), the training set tiled to
`--samples` images.

For each model (dense and convolutional autoencoder from `keras_ae`, and the
dense one written as plain Keras layers) and each policy it prints the fastest
epoch's samples per second (epochs run as one call each, `steps_per_execution`
covering the whole epoch, after one warm-up epoch) and the test MSE after
`--epochs` epochs. `keras_ae.devices.use_mixed_precision()` chooses
`mixed_bfloat16` only where bfloat16 is fast (TPUs, GPUs of compute capability
>= 8.0); on CPUs it is slower, which this script shows too.
"""

import argparse
import json
import os
import platform

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # before Keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import EpochTimer  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_ae.models.autoencoders import build_dense_autoencoder
from keras_ae.models.conv import build_conv_autoencoder

POLICIES = ("float32", "mixed_bfloat16")


def digits_32(num_train):
    digits = load_digits()
    images = np.kron(digits.images / 16.0, np.ones((1, 4, 4)))[..., None]
    images = images.astype("float32")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))
    x_train, x_test = images[order[:1500]], images[order[1500:]]
    repeats = int(np.ceil(num_train / len(x_train)))
    return np.concatenate([x_train] * repeats)[:num_train], x_test


def plain_dense_autoencoder(shape, code_size, hidden_units):
    inputs = keras.Input(shape)
    x = keras.layers.Flatten()(inputs)
    for units in hidden_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    x = keras.layers.Dense(code_size)(x)
    for units in hidden_units[::-1]:
        x = keras.layers.Dense(units, activation="relu")(x)
    x = keras.layers.Dense(int(np.prod(shape)), activation="sigmoid")(x)
    return keras.Model(inputs, keras.layers.Reshape(shape)(x))


MODELS = {
    "keras_ae dense AE": lambda shape: build_dense_autoencoder(
        shape, code_size=32, hidden_units=(512, 256)
    ),
    "plain Keras dense AE": lambda shape: plain_dense_autoencoder(
        shape, 32, (512, 256)
    ),
    "keras_ae conv AE": lambda shape: build_conv_autoencoder(shape, code_size=32),
}


def measure(name, policy, x_train, x_test, epochs, batch_size):
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = MODELS[name](x_train.shape[1:])
        steps = int(np.ceil(len(x_train) / batch_size))
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="mse",
            steps_per_execution=steps,
        )
        timer = EpochTimer()
        history = model.fit(
            x_train,
            x_train,
            epochs=epochs + 1,  # the first one traces and warms up
            batch_size=batch_size,
            shuffle=True,
            verbose=0,
            callbacks=[timer],
        )
        predictions = np.asarray(model.predict(x_test, verbose=0), dtype="float32")
        return {
            "model": name,
            "policy": policy,
            "samples_per_s": len(x_train) / min(timer.seconds[1:]),
            "test_mse": float(np.mean((predictions - x_test) ** 2)),
            "final_loss": float(history.history["loss"][-1]),
            "finite": bool(np.all(np.isfinite(history.history["loss"]))),
            "output_dtype": str(model.outputs[0].dtype),
        }
    finally:
        keras.config.set_dtype_policy("float32")


def device_line():
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return f"jax {jax.__version__}: {', '.join(str(d) for d in jax.devices())}"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return f"tensorflow {tf.__version__}: {len(gpus)} GPUs, {os.cpu_count()} CPUs"
    return backend


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=48000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--json", metavar="PATH", help="also write the rows here")
    args = parser.parse_args()

    x_train, x_test = digits_32(args.samples)
    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()}, "
        f"{device_line()}, {platform.machine()}"
    )
    print(
        f"{len(x_train)} training images {x_train.shape[1:]}, batch "
        f"{args.batch_size}, {args.epochs} epochs after one warm-up epoch"
    )
    print(
        f"{'model':22s} {'policy':15s} {'samples/s':>10s} {'test MSE':>9s} "
        f"{'output':>8s}"
    )
    rows = []
    for name in args.models:
        for policy in POLICIES:
            row = measure(name, policy, x_train, x_test, args.epochs, args.batch_size)
            rows.append(row)
            print(
                f"{name:22s} {policy:15s} {row['samples_per_s']:10.0f} "
                f"{row['test_mse']:9.5f} {row['output_dtype']:>8s}"
                + ("" if row["finite"] else "  NON-FINITE LOSS"),
                flush=True,
            )
    print("\nmixed_bfloat16 / float32")
    by_key = {(row["model"], row["policy"]): row for row in rows}
    for name in args.models:
        fp32, bf16 = by_key[(name, "float32")], by_key[(name, "mixed_bfloat16")]
        print(
            f"{name:22s} speed {bf16['samples_per_s'] / fp32['samples_per_s']:5.2f}x"
            f"   test MSE {bf16['test_mse'] / fp32['test_mse']:5.3f}x"
        )
    if {"keras_ae dense AE", "plain Keras dense AE"} <= set(args.models):
        for policy in POLICIES:
            ratio = (
                by_key[("keras_ae dense AE", policy)]["samples_per_s"]
                / by_key[("plain Keras dense AE", policy)]["samples_per_s"]
            )
            print(f"keras_ae / plain Keras dense AE, {policy}: {ratio:.2f}x")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"device": device_line(), "rows": rows}, file, indent=1)


if __name__ == "__main__":
    main()
