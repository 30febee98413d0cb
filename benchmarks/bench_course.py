"""Speed of the course: its training path against plain Keras, XLA, and the
wall time of the whole course.

Run from the repository root (with keras_ae installed, `pip install -e .`):

    python benchmarks/bench_course.py                  # parts 1-2 (~5 min), then
                                                       # both course profiles
    python benchmarks/bench_course.py --course none    # parts 1-2 only
    python benchmarks/bench_course.py --quick --course none   # ~3 min
    python benchmarks/bench_course.py --kinds vae dcgan --course none --explain

(Times on the 2 shared CPU cores this was written on; the full course profile
alone takes up to 30 min there.)

1. Training throughput. For each kind of `keras_ae.train.registry.MODEL_KINDS`,
   samples per second of the model as `registry.train_model` trains it,
   against a plain Keras reference of the same architecture (goal: ratio >= 1.0).
   The references live in `benchmarks/_plain_keras.py`: the same networks (from
   the same builders), optimizer, step sizes, batch size and critic steps,
   trained as Keras's documentation and the keras.io examples train them
   (`fit(x, x, batch_size=64)` on NumPy arrays; a `GaussianNoise` layer; an
   activity regularizer function; `tape.batch_jacobian` in a `train_step`; the
   keras.io VAE, GAN, conditional GAN and WGAN-GP `train_step`s).

   How the library is timed: `train_model(kind, ..., num_epochs=1)` builds,
   compiles, traces and trains the model exactly as the course does (its
   wall time is the "1st epoch" column: everything before training is under
   way). Then further epochs of that same compiled model run with `fit` on
   the same pipeline as `train_model`'s (`tf.data`: shuffle, batch, prefetch;
   one epoch per call via the model's `steps_per_execution`), interleaved with
   epochs of the plain reference, round after round; each side's fastest epoch
   counts (timed from the start to the end of the epoch by a callback, which
   has epoch hooks only, so it adds no per-step work). This is the approach of
   `bench_autoencoders.py`: on a machine shared with other work the fastest
   epoch is the least disturbed one, and taking turns keeps a slow moment from
   favouring one side. The alternative, the difference of `train_model`'s wall
   times at two epoch counts, was tried and dropped: build and tracing take 2
   to 6 s per call here and vary by some tenths of a second from call to call,
   while an epoch of an autoencoder takes 0.04 to 0.3 s, so the difference
   needs tens of extra epochs per repetition to be worth reading. The cosine
   learning-rate schedule of a one-epoch `train_model` has reached 0 when the
   timed epochs run; Adam does the same work at any step size.

   `--explain` adds a third column: the plain reference with one call into
   TensorFlow per epoch (`steps_per_execution`, still fed by `fit` from NumPy
   or the examples' dataset). plain -> that column is what the calls cost,
   that column -> library is the rest (data pipeline and the step itself).

   Reference check (`--check-references [EPOCHS]`): each plain reference, and
   each `train_model` model, trains from scratch on the training images;
   an autoencoder's or VAE's loss must fall by 10% from the first epoch to the
   last, and a GAN's samples must move towards the data: the mean over pixels
   of the squared gaps between the per-pixel mean and standard deviation of
   512 generated images and those of the training images must halve. Run on
   the 8x8 digits (`--dataset digits`), 2 CPU cores, 5 epochs (first -> last
   epoch's loss, or that distance before -> after; the library's in brackets,
   after only for GANs):
   undercomplete 0.103 -> 0.030 (0.039), denoising 0.103 -> 0.035 (0.045),
   sparse 0.109 -> 0.049 (0.074: its penalty weighs 64x the plain one's),
   contractive 0.113 -> 0.067 (0.073), convolutional 0.127 -> 0.057 (0.071),
   vae 31.9 -> 27.2 (27.3), beta_vae 32.0 -> 27.5 (27.3); dense_gan 0.159 ->
   0.027 (0.029), dcgan 0.169 -> 0.076 (0.072), conditional_gan 0.159 -> 0.028
   (0.030), wgan_gp 0.159 -> 0.0016 (0.0016). Every reference trains, and ends
   where the library's model ends (the library decays its step size).

2. XLA: samples per second of the dense autoencoder, the convolutional
   autoencoder and the VAE, as `train_model` builds and compiles them, with
   `jit_compile=True` and `False` (set on the compiled model, whose training
   function is then traced again), timed as in part 1. Keras's default
   `"auto"` turns XLA off on a CPU and on where there is a GPU.

3. Course wall time: `keras_ae.course.runner.run_course` over every notebook, in the
   fast profile (goal <= 5 min) and the full profile (goal <= 30 min) on a
   2-core machine. `--notebooks` runs a subset (then the goals do not apply).
"""

import argparse
import functools
import math
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from importlib import metadata

# isort: off
import keras_ae  # noqa: E402, F401  (first: TensorFlow backend, quiet start-up logs)
# isort: on

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _plain_keras import build_reference  # noqa: E402
from _timing import EpochTimer  # noqa: E402

from keras_ae.data import load_dataset  # noqa: E402
from keras_ae.train import registry

say = functools.partial(print, flush=True)
tf.get_logger().setLevel("ERROR")  # each kind's new model retraces: no warnings
# The keras.io GAN examples call fit() on a tf.data dataset with the default
# shuffle=True, which Keras ignores with a warning.
warnings.filterwarnings("ignore", message="`shuffle=True` was passed")

CODE_SIZE, LATENT_DIM, BATCH_SIZE, LEARNING_RATE, SEED = 8, 32, 64, 3e-3, 0
XLA_KINDS = ("undercomplete", "convolutional", "vae")
GOAL_MINUTES = {"fast": 5.0, "full": 30.0}


def fastest_epoch_seconds(runs, rounds, epochs_per_round):
    """Interleaves `fit` calls and returns each run's fastest epoch in seconds.

    Args:
        runs: Dict from a label to a function `(epochs, callbacks) -> None`
            that trains an already traced model for `epochs` more epochs.
        rounds: Rounds; in each, every run trains `epochs_per_round` epochs.
        epochs_per_round: Epochs per `fit` call.
    """
    timers = {label: EpochTimer() for label in runs}
    for _ in range(rounds):
        for label, fit in runs.items():
            fit(epochs_per_round, [timers[label]])
    return {label: min(timer.seconds) for label, timer in timers.items()}


def train_kwargs(num_epochs=1):
    return dict(
        code_size=CODE_SIZE,
        latent_dim=LATENT_DIM,
        num_epochs=num_epochs,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        seed=SEED,
    )


def library_pipeline(kind, x, y):
    """The `tf.data` pipeline of `train_model` for `kind` (its own `_dataset`)."""
    family = registry.FAMILIES[kind]
    if kind == "conditional_gan":
        arrays = (x, np.asarray(y, "int64"))
    elif family in ("gan", "vae"):
        arrays = x
    else:
        arrays = (x, x)  # as train_model feeds every autoencoder
    return registry._dataset(arrays, BATCH_SIZE, SEED)


def trained_library_model(kind, x, y):
    """Returns the model of a 1-epoch `train_model`, its wall time, a fit function."""
    start = time.perf_counter()
    model = registry.train_model(kind, x, y, **train_kwargs()).model
    seconds = time.perf_counter() - start
    dataset = library_pipeline(kind, x, y)

    def fit(epochs, callbacks):
        model.fit(dataset, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks)

    return model, seconds, fit


# --------------------------------------------------------------------------
# Part 1: the library against plain Keras.


def throughput_table(kinds, x, y, rounds, epochs_per_round, explain):
    steps = math.ceil(len(x) / BATCH_SIZE)
    say(
        f"\n## 1. Training throughput: {len(x)} images {x.shape[1:]}, batch "
        f"{BATCH_SIZE} ({steps} steps per epoch), code_size {CODE_SIZE}, "
        f"latent_dim {LATENT_DIM}; fastest of {rounds * epochs_per_round} epochs, "
        "library and plain taking turns"
    )
    say(
        "   1st epoch s: wall time until one epoch is done (build, compile, trace "
        "and one epoch), one run"
    )
    header = (
        f"{'kind':16s} {'library/s':>10s} {'plain/s':>10s} {'ratio':>6s} "
        f"{'1st epoch s':>12s}"
    )
    if explain:
        header += f" {'plain 1 call/ep/s':>18s} {'lib/that':>9s}"
    say(header)
    say(f"{'':16s} {'':>10s} {'':>10s} {'':>6s} {'lib / plain':>12s}")
    # TensorFlow's one-time start-up costs, out of the first kind's "1st epoch".
    trained_library_model("undercomplete", x[:256], y[:256])[2](1, [])
    build_reference("undercomplete", x[:256], y[:256]).fit(1)
    rows = []
    for kind in kinds:
        _, library_first, library_fit = trained_library_model(kind, x, y)
        start = time.perf_counter()
        reference = build_reference(kind, x, y, **_reference_kwargs())
        reference.fit(1)
        plain_first = time.perf_counter() - start
        runs = {"library": library_fit, "plain": reference.fit}
        if explain:
            # The reference's own step, in one call per epoch like the library.
            batched = build_reference(
                kind, x, y, steps_per_execution=steps, **_reference_kwargs()
            )
            batched.fit(1)
            runs["batched"] = batched.fit
        for fit in runs.values():  # the library's pipeline and fit warm up too
            fit(1, [])
        seconds = fastest_epoch_seconds(runs, rounds, epochs_per_round)
        rates = {label: len(x) / value for label, value in seconds.items()}
        ratio = rates["library"] / rates["plain"]
        line = (
            f"{kind:16s} {rates['library']:10.0f} {rates['plain']:10.0f} "
            f"{ratio:5.2f}x {library_first:5.1f} / {plain_first:4.1f}"
        )
        if explain:
            line += (
                f" {rates['batched']:18.0f} {rates['library'] / rates['batched']:8.2f}x"
            )
        say(line)
        rows.append((kind, ratio))
        keras.backend.clear_session()
    meeting = [kind for kind, ratio in rows if ratio >= 1.0]
    below = [f"{kind} {ratio:.2f}x" for kind, ratio in rows if ratio < 1.0]
    say(
        f"{len(meeting)} of {len(rows)} kinds meet library/plain >= 1.0x"
        + (f"; below: {', '.join(below)}" if below else "")
    )
    return rows


def _reference_kwargs():
    return dict(
        code_size=CODE_SIZE,
        latent_dim=LATENT_DIM,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        seed=SEED,
    )


def _pixel_statistics_distance(generator, x, num_classes):
    """Mean over pixels of the squared gaps in mean and std, generated vs real."""
    latent = keras.random.normal((512, LATENT_DIM), seed=1)
    if num_classes:
        labels = keras.utils.to_categorical(np.arange(512) % num_classes, num_classes)
        labels = keras.ops.convert_to_tensor(labels, "float32")
        images = generator([latent, labels], training=False)
    else:
        images = generator(latent, training=False)
    images = np.asarray(images)
    gaps = (images.mean(0) - x.mean(0)) ** 2 + (images.std(0) - x.std(0)) ** 2
    return float(gaps.mean())


def check_references(kinds, x, y, num_epochs):
    say(
        f"\n## Reference check: each plain reference and each train_model model "
        f"trained from scratch for {num_epochs} epochs on {len(x)} images"
    )
    say(
        "   autoencoders, VAEs: loss of the first -> the last epoch (the library's "
        "decays its step size; its sparse penalty weighs 64x the plain one's); "
        "GANs: pixel mean/std distance of 512 samples to the data, before -> after"
    )
    say(f"{'kind':16s} {'plain':>22s} {'library':>22s}")
    for kind in kinds:
        reference = build_reference(kind, x, y, **_reference_kwargs())
        model = reference.model
        trained = registry.train_model(kind, x, y, **train_kwargs(num_epochs))
        if registry.FAMILIES[kind] == "gan":
            num_classes = 10 if kind == "conditional_gan" else 0
            before = _pixel_statistics_distance(model.generator, x, num_classes)
            history = reference.fit(num_epochs).history
            after = _pixel_statistics_distance(model.generator, x, num_classes)
            finite = all(np.all(np.isfinite(v)) for v in history.values())
            ok = after < 0.5 * before and finite
            library = _pixel_statistics_distance(
                trained.model.generator, x, num_classes
            )
            cells = f"{before:9.4f} -> {after:8.4f} {'':>9s} -> {library:8.4f}"
        else:
            plain = reference.fit(num_epochs).history["loss"]
            library = trained.model.history.history["loss"]
            ok = plain[-1] < 0.9 * plain[0] and np.all(np.isfinite(plain))
            cells = (
                f"{plain[0]:9.4f} -> {plain[-1]:8.4f} "
                f"{library[0]:9.4f} -> {library[-1]:8.4f}"
            )
        say(f"{kind:16s} {cells}  {'trains' if ok else 'CHECK: does not train'}")
        keras.backend.clear_session()


# --------------------------------------------------------------------------
# Part 2: XLA.


def xla_table(kinds, x, y, rounds, epochs_per_round, course_images):
    say(
        f"\n## 2. XLA: the models of train_model with jit_compile=False and True, "
        f"fastest of {rounds * epochs_per_round} epochs"
    )
    rows = []
    for kind in kinds:
        runs, auto, compile_seconds = {}, None, {}
        for jit in (False, True):
            model, _, fit = trained_library_model(kind, x, y)
            auto = model.jit_compile if auto is None else auto
            model.jit_compile = jit  # Keras warns and keeps False if unsupported
            model.train_function = None  # traced again, now with or without XLA
            start = time.perf_counter()
            fit(1, [])
            compile_seconds[jit] = time.perf_counter() - start
            runs[model.jit_compile] = fit
        if True not in runs:
            say(f"{kind:16s} does not support jit_compile=True; skipped")
            continue
        seconds = fastest_epoch_seconds(runs, rounds, epochs_per_round)
        rows.append((kind, len(x) / seconds[False], len(x) / seconds[True], auto))
        rows[-1] += (compile_seconds[True] - compile_seconds[False],)
        keras.backend.clear_session()
    say(
        f"{'kind':16s} {'no XLA/s':>10s} {'XLA/s':>10s} {'XLA/no':>7s} "
        f"{'compile s':>10s} {'break-even':>11s} {'auto picks':>11s}"
    )
    for kind, off, on, auto, extra in rows:
        # Epochs of the course's training images after which XLA's compile time is
        # paid back by its faster epochs.
        saving = course_images / off - course_images / on
        even = f"{max(extra, 0) / saving:7.0f} ep" if saving > 0 else "never"
        say(
            f"{kind:16s} {off:10.0f} {on:10.0f} {on / off:6.2f}x {extra:10.1f} "
            f"{even:>11s} {'XLA' if auto else 'no XLA':>11s}"
        )
    faster = [kind for kind, off, on, _, _ in rows if on > 1.05 * off]
    slower = [kind for kind, off, on, _, _ in rows if on < 0.95 * off]
    same = [kind for kind, *_ in rows if kind not in faster + slower]
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    say(
        f"On this {device}, XLA speeds up {', '.join(faster) or 'none'}, slows "
        f"down {', '.join(slower) or 'none'} and leaves within 5% "
        f"{', '.join(same) or 'none'}. 'compile s' "
        "is the extra time of XLA's first epoch, paid once per model; "
        f"'break-even' is the number of epochs of the {course_images:,} course "
        "images that pays it back. The notebooks train for 30-100 epochs (3-5 "
        "in the fast profile), so XLA is worth turning on only where "
        "break-even is well under that."
    )
    return rows


# --------------------------------------------------------------------------
# Part 3: the course.


def run_course_profile(profile, patterns, keep_dir):
    from keras_ae.course import runner

    notebooks = runner.select_notebooks(runner.find_notebooks_dir(), patterns)
    if not notebooks:
        say(f"\nNo notebook matches {patterns}; course part skipped")
        return None
    output = keep_dir or tempfile.mkdtemp(prefix=f"bench-course-{profile}-")
    output = os.path.join(output, profile) if keep_dir else output
    subset = f" (subset: {len(notebooks)} notebooks)" if patterns else ""
    say(f"\n## 3. Course, {profile} profile{subset}; output in {output}")
    # A full run must not inherit KERAS_AE_PROFILE=fast from this shell:
    # run_course only sets the variable for fast runs.
    saved = os.environ.pop(runner.PROFILE_ENV, None)
    try:
        report = runner.run_course(
            notebooks,
            output,
            fast=profile == "fast",
            log=lambda line: say(f"   {line}"),
        )
    finally:
        if saved is not None:
            os.environ[runner.PROFILE_ENV] = saved
        if not keep_dir:
            shutil.rmtree(output, ignore_errors=True)
    minutes = report["total_seconds"] / 60
    goal = GOAL_MINUTES[profile]
    verdict = "meets" if minutes <= goal else "MISSES"
    if patterns:
        verdict = "subset, goal not applicable"
    say(
        f"Course {profile}: {minutes:.1f} min for {len(notebooks)} notebooks "
        f"(goal <= {goal:.0f} min on 2 cores: {verdict}); "
        f"{report['passed']} passed, {report['failed']} failed"
    )
    return minutes


# --------------------------------------------------------------------------


def header():
    versions = {
        name: metadata.version(name) for name in ("keras", "tensorflow", "numpy")
    }
    gpus = tf.config.list_physical_devices("GPU")
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    say(
        f"keras {versions['keras']}, tensorflow {versions['tensorflow']}, numpy "
        f"{versions['numpy']}, Python {platform.python_version()}, backend "
        f"{keras.backend.backend()}"
    )
    say(
        f"device: {os.cpu_count()} CPU cores ({cores} usable), "
        f"{len(gpus)} GPUs{': ' + ', '.join(names) if names else ''}; "
        f"load average {load}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--course",
        choices=("both", "fast", "none"),
        default="both",
        help="course profiles to run (the full one takes up to 30 min)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer epochs and rounds in parts 1-2"
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=registry.MODEL_KINDS,
        default=list(registry.MODEL_KINDS),
        help="model kinds of part 1 (part 2 runs those of them it covers)",
    )
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--epochs-per-round", type=int, default=None)
    parser.add_argument(
        "--dataset",
        default="mnist_5k",
        help="data set of parts 1-2 (default: the course's mnist_5k, 28x28)",
    )
    parser.add_argument(
        "--tile", type=int, default=1, help="copies of the training images"
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="part 1: also time the plain reference with one call per epoch "
        "(steps_per_execution), which splits a ratio into the step and the calls",
    )
    parser.add_argument(
        "--check-references",
        type=int,
        nargs="?",
        const=5,
        default=0,
        metavar="EPOCHS",
        help="first train each plain reference from scratch and show that it learns",
    )
    parser.add_argument("--no-throughput", action="store_true", help="skip part 1")
    parser.add_argument("--no-xla", action="store_true", help="skip part 2")
    parser.add_argument(
        "--notebooks",
        nargs="+",
        default=None,
        help="part 3: only the notebooks matching these patterns (a check of "
        "the code path; the goals then do not apply)",
    )
    parser.add_argument(
        "--course-output", default=None, help="keep the executed notebooks here"
    )
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 12)
    epochs_per_round = args.epochs_per_round or 1

    header()
    start = time.perf_counter()
    (x_train, y_train), _, _, info = load_dataset(args.dataset)
    say(f"Data: {info.name}, {len(x_train)} training images {info.image_shape}")
    x = np.concatenate([x_train] * args.tile)
    y = np.concatenate([y_train] * args.tile)
    if args.check_references:
        check_references(args.kinds, x_train, y_train, args.check_references)
    if not args.no_throughput:
        throughput_table(args.kinds, x, y, rounds, epochs_per_round, args.explain)
    xla_kinds = [kind for kind in XLA_KINDS if kind in args.kinds]
    if not args.no_xla and xla_kinds:
        xla_table(xla_kinds, x, y, rounds, epochs_per_round, len(x_train))
    say(f"\nParts 1-2 took {(time.perf_counter() - start) / 60:.1f} min")
    profiles = {"both": ("fast", "full"), "fast": ("fast",), "none": ()}[args.course]
    for profile in profiles:
        run_course_profile(profile, args.notebooks, args.course_output)


if __name__ == "__main__":
    main()
