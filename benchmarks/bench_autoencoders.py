"""Training speed of keras_ae's autoencoders against plain Keras, and of the two
ways of computing the contractive penalty.

Run from the repository root (with keras_ae installed, `pip install -e .`):

    python benchmarks/bench_autoencoders.py          # about 2 minutes on 2 CPU cores
    python benchmarks/bench_autoencoders.py --quick  # under a minute

Table 1 compares samples per second of `fit()` for models with the same layers:
the keras_ae model against the same architecture written as a plain Keras model
(goal: within 10%). The `DenoisingAutoencoder` draws fresh noise for every batch,
as does a plain model with a `GaussianNoise` layer in front; a plain model on
data noised once beforehand skips that work, so the gap to it is the price of the
noise itself. The contractive rows pay for the penalty; their plain baseline is
the same network without it.
Table 2 compares the time of one contractive training step with the closed-form
Jacobian norm and with `tape.batch_jacobian`, at 64 and 784 input values (goal:
at least 10x faster at 784).

Each model is traced and warmed up with one epoch first; then the models take
turns, one epoch each, for several rounds, and each model's fastest epoch counts
(timed from the start to the end of the epoch, without `fit()`'s set-up): on a
machine shared with other work, the fastest run is the one least disturbed, and
taking turns keeps a slow moment from favouring one model. Table 1 uses
`fit()`'s defaults, one step per call of the compiled training function, as a
learner would; table 2 runs each epoch in one call (`steps_per_execution`), so
that it measures the step itself rather than Keras's per-step Python overhead.
"""

import argparse
import os
import time

# isort: off
import keras_ae  # noqa: E402, F401  (first: TensorFlow backend, quiet start-up logs)
# isort: on

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _timing import EpochTimer  # noqa: E402

from keras_ae.data import add_gaussian_noise, load_dataset  # noqa: E402
from keras_ae.models.autoencoders import (
    build_autoencoder,
    build_dense_decoder,
    build_dense_encoder,
)
from keras_ae.models.contractive import (
    ContractiveAutoencoder,
    jacobian_frobenius_batch_jacobian,
    jacobian_frobenius_closed_form,
)
from keras_ae.models.denoising import DenoisingAutoencoder


def plain_encoder(input_shape, code_size, hidden_units, code_activation):
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    for units in hidden_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(code_size, code_activation)(x))


def plain_decoder(output_shape, code_size, hidden_units):
    codes = keras.Input((code_size,))
    x = codes
    for units in hidden_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    x = keras.layers.Dense(int(np.prod(output_shape)), activation="sigmoid")(x)
    return keras.Model(codes, keras.layers.Reshape(output_shape)(x))


def plain_autoencoder(
    input_shape, code_size, hidden_units, code_activation=None, noise_stddev=0.0
):
    """The same layers as one plain Functional model, trained with a plain fit.

    With `noise_stddev > 0` a `GaussianNoise` layer in front corrupts each
    training batch: the plain-Keras way to write a denoising autoencoder.
    """
    inputs = keras.Input(input_shape)
    x = (
        keras.layers.GaussianNoise(noise_stddev, seed=0)(inputs)
        if noise_stddev
        else inputs
    )
    encoder = plain_encoder(input_shape, code_size, hidden_units, code_activation)
    decoder = plain_decoder(input_shape, code_size, hidden_units[::-1])
    return keras.Model(inputs, decoder(encoder(x)))


def parts(input_shape, code_size, hidden_units, code_activation=None):
    encoder = plain_encoder(input_shape, code_size, hidden_units, code_activation)
    return encoder, plain_decoder(input_shape, code_size, hidden_units[::-1])


def fastest_epoch_seconds(runs, rounds, batch_size):
    """runs: {label: (model, x, y)}. Returns {label: fastest epoch in seconds}."""
    timers = {label: EpochTimer() for label in runs}
    for _ in range(rounds + 1):  # the first round traces and warms up
        for label, (model, x, y) in runs.items():
            model.fit(
                x,
                y,
                epochs=1,
                batch_size=batch_size,
                verbose=0,
                shuffle=False,
                callbacks=[timers[label]],
            )
    return {label: min(timer.seconds[1:]) for label, timer in timers.items()}


def throughput_table(x, rounds, batch_size, code_size=32, hidden=(256,)):
    shape = x.shape[1:]
    x_noisy = add_gaussian_noise(x, stddev=0.3, seed=0)
    builders = (
        build_dense_encoder(shape, code_size=code_size, hidden_units=hidden),
        build_dense_decoder(shape, code_size=code_size, hidden_units=hidden),
    )
    rows = [  # label, model, inputs, targets (None: the model makes its own)
        ("plain AE", plain_autoencoder(shape, code_size, hidden), x, x),
        ("keras_ae build_autoencoder", build_autoencoder(*builders), x, x),
        (
            "plain AE, pre-noised data",
            plain_autoencoder(shape, code_size, hidden),
            x_noisy,
            x,
        ),
        (
            "plain AE + GaussianNoise layer",
            plain_autoencoder(shape, code_size, hidden, noise_stddev=0.3),
            x,
            x,
        ),
        (
            "DenoisingAutoencoder",
            DenoisingAutoencoder(*parts(shape, code_size, hidden), seed=0),
            x,
            None,
        ),
        (
            "plain AE, one Dense sigmoid encoder",
            plain_autoencoder(shape, code_size, (), "sigmoid"),
            x,
            x,
        ),
        (
            "ContractiveAutoencoder, closed form",
            ContractiveAutoencoder(*parts(shape, code_size, (), "sigmoid")),
            x,
            None,
        ),
        (
            "plain AE, sigmoid code",
            plain_autoencoder(shape, code_size, hidden, "sigmoid"),
            x,
            x,
        ),
        (
            "ContractiveAutoencoder, batch_jacobian",
            ContractiveAutoencoder(*parts(shape, code_size, hidden, "sigmoid")),
            x,
            None,
        ),
    ]
    comparisons = [
        ("keras_ae build_autoencoder", "plain AE"),
        ("DenoisingAutoencoder", "plain AE + GaussianNoise layer"),
        ("DenoisingAutoencoder", "plain AE, pre-noised data"),
        ("ContractiveAutoencoder, closed form", "plain AE, one Dense sigmoid encoder"),
        ("ContractiveAutoencoder, batch_jacobian", "plain AE, sigmoid code"),
    ]
    for _, model, _, _ in rows:
        model.compile(optimizer="adam", loss="mse")
    runs = {label: (model, inputs, targets) for label, model, inputs, targets in rows}
    seconds = fastest_epoch_seconds(runs, rounds, batch_size)

    print(
        f"\nTraining throughput: {len(x)} samples of shape {shape}, batch "
        f"{batch_size}, code {code_size}, hidden layers {hidden}, Adam, best of "
        f"{rounds} epochs"
    )
    print(f"{'model':40s} {'samples/s':>10s}")
    for label, value in seconds.items():
        print(f"{label:40s} {len(x) / value:10.0f}")
    print("\nratio of samples/s (goal for a keras_ae model vs plain Keras: >= 0.90)")
    for label, baseline in comparisons:
        ratio = seconds[baseline] / seconds[label]
        print(f"{label + ' / ' + baseline:74s} {ratio:.2f}")


def penalty_milliseconds(encoder, x, method, repeats):
    """Fastest time of the penalty and its gradient alone, in a compiled function."""
    dense = encoder.layers[-1]

    @tf.function
    def penalty_and_gradient(x):
        with tf.GradientTape() as tape:
            if method == "closed_form":
                norms = jacobian_frobenius_closed_form(dense, x)
            else:
                norms = jacobian_frobenius_batch_jacobian(encoder, x)
            penalty = tf.reduce_mean(norms)
        return tape.gradient(penalty, encoder.trainable_weights)

    penalty_and_gradient(x)  # trace
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(10):
            gradients = penalty_and_gradient(x)
        gradients[0].numpy()
        times.append((time.perf_counter() - start) / 10)
    return 1000 * min(times)


def jacobian_table(rounds, batch_size, num_samples, code_size=32):
    print(
        f"\nContractive penalty, one Dense sigmoid encoder with {code_size} units, "
        f"batch {batch_size}: a whole training step (best of {rounds} epochs) and "
        "the penalty with its gradient alone"
    )
    print(
        f"{'input size':>10s} {'step, closed':>13s} {'step, batch_jac':>16s}"
        f" {'speed-up':>9s} {'penalty, closed':>16s} {'penalty, batch_jac':>19s}"
        f" {'speed-up':>9s}"
    )
    rng = np.random.default_rng(0)
    steps = int(np.ceil(num_samples / batch_size))
    for size in (64, 784):
        x = rng.uniform(size=(num_samples, size)).astype("float32")
        runs = {}
        for method in ("closed_form", "batch_jacobian"):
            model = ContractiveAutoencoder(
                *parts((size,), code_size, (), "sigmoid"), jacobian=method
            )
            # The whole epoch in one call: no per-step Python overhead of fit().
            model.compile(optimizer="adam", steps_per_execution=steps)
            runs[method] = (model, x, None)
        seconds = fastest_epoch_seconds(runs, rounds, batch_size)
        step = {method: 1000 * seconds[method] / steps for method in runs}
        penalty = {
            method: penalty_milliseconds(
                model.encoder, tf.constant(x[:batch_size]), method, rounds
            )
            for method, (model, _, _) in runs.items()
        }
        cells = []
        for times in (step, penalty):
            closed, jac = times["closed_form"], times["batch_jacobian"]
            cells.append(f"{closed:11.2f}ms {jac:14.2f}ms {jac / closed:8.1f}x")
        print(f"{size:10d} {cells[0]} {cells[1]:>s}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--code-sizes",
        type=int,
        nargs="+",
        default=[32, 128],
        help="code units of the contractive encoder (batch_jacobian's cost grows "
        "with them, the closed form's hardly)",
    )
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 7)
    num_samples = 2048 if args.quick else 8192

    keras.utils.set_random_seed(0)
    (x_train, _), _, _, _ = load_dataset("mnist_5k")
    repeats = int(np.ceil(num_samples / len(x_train)))
    x = np.concatenate([x_train] * repeats)[:num_samples]

    gpus = len(tf.config.list_physical_devices("GPU"))
    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()}, "
        f"{os.cpu_count()} CPU cores, {gpus} GPUs"
    )
    throughput_table(x, rounds, args.batch_size)
    # Always 64 steps per epoch, so the per-epoch overhead stays small per step.
    for code_size in args.code_sizes:
        jacobian_table(rounds, args.batch_size, 64 * args.batch_size, code_size)


if __name__ == "__main__":
    main()
