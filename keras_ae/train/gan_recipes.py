"""Training recipes and comparisons for the four GAN types of the course.

- `build_gan(kind, ...)`: a dense GAN, a DCGAN, a conditional GAN or a WGAN-GP
  (`GAN_KINDS`), built from `keras_ae.models.gan_builders` with the architectures the
  course uses on 28x28 digits; `compile_gan` gives it its two Adam optimizers.
  `GAN_RECIPES` holds the step sizes and architectures tuned in notebook 07.
- `train_gan` trains one of them from a seed and times it; `train_gans` trains
  several types over several seeds in one call (a stability check), and
  `stability_rows` turns those runs into table rows.
- `BatchHistory` records each batch's own losses, which the epoch means that
  Keras logs smooth away.
- `generate_images` samples any of them the same way (a conditional GAN gets
  the labels 0, 1, 2, ... in turn), `sample_report` judges an unconditional
  GAN's samples with a classifier (class coverage, Frechet distance),
  `conditional_accuracy` measures how often a classifier recognises the class a
  conditional GAN was asked for, and `plot_class_histograms` draws the classes
  a classifier sees in the samples of several models.

The sampling and judging functions live in `keras_ae.evaluate.samples`.

Example:
    >>> from keras_ae.data import load_dataset
    >>> from keras_ae.evaluate.samples import generate_images
    >>> (x_train, _), _, _, _ = load_dataset("digits")  # 8x8 digits in [0, 1]
    >>> run = train_gan("dense", x_train[:256], num_epochs=1, seed=0,
    ...                 latent_dim=8, dense_units=(32,))
    >>> images, labels = generate_images(run.model, 10, seed=1)
    >>> images.shape, labels  # no labels: the GAN is unconditional
    ((10, 8, 8, 1), None)
"""

import dataclasses
import math
import time

import keras
import numpy as np

from keras_ae._validation import (
    check_positive_int,
    check_positive_number,
    check_shape,
    check_units,
)
from keras_ae.models.gan_builders import (
    build_dcgan_discriminator,
    build_dcgan_generator,
    build_dense_discriminator,
    build_dense_generator,
)
from keras_ae.models.gans import GAN, ConditionalGAN
from keras_ae.models.wgan import WGANGP
from keras_ae.utils import set_seed

__all__ = [
    "GAN_KINDS",
    "GAN_RECIPES",
    "build_gan",
    "compile_gan",
    "BatchHistory",
    "GanRun",
    "nonfinite_metrics",
    "train_gan",
    "train_gans",
    "stability_rows",
]


GAN_KINDS = ("dense", "dcgan", "conditional", "wgan_gp")


# The recipes tuned in notebook 07 on the 28x28 MNIST digits (3,500 training
# images), in the form `keras_ae.course.comparison` takes: the course's name of the
# model, its `kind` of `GAN_KINDS`, the Adam step sizes of the generator
# (`learning_rate`) and of the discriminator (`d_learning_rate`), and any other
# argument of `build_gan`. Epoch counts are left to the caller.
GAN_RECIPES = {
    "dense_gan": {
        "kind": "dense",
        "learning_rate": 5e-4,
        "d_learning_rate": 1e-3,
        "dense_units": (256, 512),
    },
    "dcgan": {
        "kind": "dcgan",
        "learning_rate": 5e-4,
        "d_learning_rate": 1e-3,
        "generator_filters": (32, 16),
        "discriminator_filters": (32, 64),
        "generator_negative_slope": 0.2,
    },
    "conditional_gan": {
        "kind": "conditional",
        "learning_rate": 5e-4,
        "d_learning_rate": 1e-3,
        "dense_units": (256, 512),
        "conditioning": "projection",
    },
    "wgan_gp": {
        "kind": "wgan_gp",
        "learning_rate": 5e-4,
        "critic_steps": 3,
        "dense_units": (256, 512),
    },
}


def _check_kind(kind):
    if kind not in GAN_KINDS:
        raise ValueError(
            f"Expected kind to be one of {GAN_KINDS}. Received: kind={kind!r}"
        )
    return kind


def build_gan(
    kind,
    image_shape=(28, 28, 1),
    latent_dim=32,
    num_classes=10,
    label_smoothing=0.1,
    dense_units=(256, 512),
    generator_filters=(32, 16),
    discriminator_filters=(32, 64),
    generator_negative_slope=0.2,
    conditioning="concatenate",
    critic_steps=3,
    gp_weight=10.0,
    seed=0,
):
    """Builds one of the course's four GAN types, uncompiled.

    - `"dense"`: `GAN` with a dense generator (hidden layers `dense_units`,
      batch normalization, LeakyReLU) and a dense discriminator (the same
      units in reverse order, LeakyReLU, dropout 0.3).
    - `"dcgan"`: `GAN` with a DCGAN generator (transposed convolutions with
      `generator_filters`, batch normalization, LeakyReLU with slope
      `generator_negative_slope`) and a convolutional discriminator (strided
      convolutions with `discriminator_filters`, LeakyReLU, dropout 0.3).
    - `"conditional"`: `ConditionalGAN` with the dense networks of `"dense"`,
      both given the one-hot class label as a second input; the
      discriminator joins it to the image or projects on it (`conditioning`).
    - `"wgan_gp"`: `WGANGP` with the dense networks of `"dense"`; the critic
      has no dropout, so that the gradient penalty sees one fixed function.

    Args:
        kind: One of `GAN_KINDS`.
        image_shape: `(height, width, channels)` of the images; for `"dcgan"`
            height and width must be divisible by `2 ** len(generator_filters)`.
        latent_dim: Size of the latent (noise) vectors.
        num_classes: Number of classes (used by `"conditional"` only).
        label_smoothing: One-sided label smoothing of `GAN` and
            `ConditionalGAN` (unused by `"wgan_gp"`).
        dense_units: Hidden units of the dense generators, from the latent side.
        generator_filters: Filters of the DCGAN generator's upsampling stages.
        discriminator_filters: Filters of the DCGAN discriminator's stages.
        generator_negative_slope: Slope of the DCGAN generator's LeakyReLU for
            negative inputs; 0 gives the ReLU of the DCGAN paper (notebook 07
            compares the two).
        conditioning: How the conditional discriminator uses the label:
            `"concatenate"` or `"projection"` (see
            `keras_ae.models.gan_builders.build_dense_discriminator`).
        critic_steps: Critic updates per generator update (`"wgan_gp"`).
        gp_weight: Weight of the gradient penalty (`"wgan_gp"`).
        seed: Seed of the model's latent noise.

    Returns:
        An uncompiled `GAN`, `ConditionalGAN` or `WGANGP`.

    Example:
        >>> gan = build_gan("dcgan", image_shape=(28, 28, 1))
        >>> gan.generator.get_layer("reshape").output.shape  # 7 -> 14 -> 28
        (None, 7, 7, 32)
    """
    _check_kind(kind)
    image_shape = check_shape("image_shape", image_shape, rank=3)
    dense_units = check_units("dense_units", dense_units, "(256, 512)")
    check_positive_int("latent_dim", latent_dim)
    check_positive_int("num_classes", num_classes)
    reversed_units = tuple(reversed(dense_units))
    if kind == "dcgan":
        generator = build_dcgan_generator(
            latent_dim,
            image_shape,
            filters=generator_filters,
            negative_slope=generator_negative_slope,
        )
        discriminator = build_dcgan_discriminator(
            image_shape, filters=discriminator_filters
        )
        return GAN(generator, discriminator, label_smoothing=label_smoothing, seed=seed)
    classes = num_classes if kind == "conditional" else None
    generator = build_dense_generator(
        latent_dim, image_shape, hidden_units=dense_units, num_classes=classes
    )
    if kind == "wgan_gp":
        critic = build_dense_discriminator(
            image_shape, hidden_units=reversed_units, dropout=0.0, name="critic"
        )
        return WGANGP(
            generator,
            critic,
            critic_steps=critic_steps,
            gp_weight=gp_weight,
            seed=seed,
        )
    discriminator = build_dense_discriminator(
        image_shape,
        hidden_units=reversed_units,
        num_classes=classes,
        conditioning=conditioning,
    )
    model_class = ConditionalGAN if kind == "conditional" else GAN
    return model_class(
        generator, discriminator, label_smoothing=label_smoothing, seed=seed
    )


def compile_gan(model, learning_rate=2e-4, d_learning_rate=None):
    """Compiles a GAN with one Adam optimizer per network, and returns it.

    Both use `beta_1=0.5`, as in the DCGAN paper (Radford et al., 2016); a
    `WGANGP` also gets `beta_2=0.9`, as in Gulrajani et al. (2017).

    Args:
        model: A `GAN`, `ConditionalGAN` or `WGANGP`.
        learning_rate: The generator's step size.
        d_learning_rate: The discriminator's (or critic's) step size; default
            `learning_rate`. A larger one lets the discriminator keep up with
            the generator (the "two time-scale" rule of Heusel et al., 2017).

    Returns:
        The model, compiled.
    """
    learning_rate = check_positive_number("learning_rate", learning_rate)
    if d_learning_rate is None:
        d_learning_rate = learning_rate
    d_learning_rate = check_positive_number("d_learning_rate", d_learning_rate)
    betas = {"beta_1": 0.5}
    if isinstance(model, WGANGP):
        betas["beta_2"] = 0.9
    model.compile(
        d_optimizer=keras.optimizers.Adam(d_learning_rate, **betas),
        g_optimizer=keras.optimizers.Adam(learning_rate, **betas),
    )
    return model


class BatchHistory(keras.callbacks.Callback):
    """Records the metric values of every training batch, not the running means.

    Keras logs, after step `k` of an epoch, the running mean `m_k` of the
    values of steps 1 to `k`, each weighted by its batch's size (the models'
    trackers start again every epoch). This callback recovers the value of
    each step as `(W_k m_k - W_j m_j) / (W_k - W_j)`, with `j` the previous
    logged step and `W_k` the number of images in steps 1 to `k`: the value of
    step `k` itself when every step is logged (the default
    `steps_per_execution=1`), else the mean of the steps since the last log.
    Given `batch_size` and `num_examples`, `W_k` counts the smaller last batch
    of an epoch as it is; without them every step counts as one full batch,
    which is exact except for the last step of an epoch whose last batch is
    smaller.

    Args:
        metrics: Names of the metrics to record (default: all logged ones).
        batch_size: Images per batch of `fit`, or None.
        num_examples: Images per epoch, or None; both or neither.

    Attributes:
        history: Dict from metric name to the list of per-batch values, epoch
            after epoch.
        epochs: List of the (0-based) epoch of each recorded batch.
        steps: List of the (1-based) step within its epoch of each recorded
            batch. With `N` images and batch size `B`, step `ceil(N / B)` is a
            smaller batch (`N mod B` images) when `B` does not divide `N`:
            its losses are noisier.

    Example:
        >>> x = np.random.default_rng(0).random((96, 4), dtype="float32")
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> batches = BatchHistory(["loss"])
        >>> _ = model.fit(x, x, batch_size=32, epochs=2, callbacks=[batches], verbose=0)
        >>> len(batches.history["loss"]), batches.epochs, batches.steps
        (6, [0, 0, 0, 1, 1, 1], [1, 2, 3, 1, 2, 3])
    """

    def __init__(self, metrics=None, batch_size=None, num_examples=None):
        super().__init__()
        if isinstance(metrics, str):
            metrics = [metrics]
        self.metrics = None if metrics is None else list(metrics)
        if (batch_size is None) != (num_examples is None):
            raise ValueError(
                "Expected both batch_size and num_examples, or neither. Received: "
                f"batch_size={batch_size!r}, num_examples={num_examples!r}"
            )
        if batch_size is not None:
            batch_size = check_positive_int("batch_size", batch_size)
            num_examples = check_positive_int("num_examples", num_examples)
        self.batch_size, self.num_examples = batch_size, num_examples
        self.history = {}
        self.epochs = []
        self.steps = []
        self._epoch = 0
        self._previous_step = 0
        self._previous_means = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._previous_step = 0
        self._previous_means = {}

    def on_train_batch_end(self, batch, logs=None):
        step = batch + 1
        steps = step - self._previous_step
        if not logs or steps <= 0:
            return
        names = self.metrics if self.metrics is not None else list(logs)
        for name in names:
            if name not in logs:
                continue
            mean = float(logs[name])
            previous = self._previous_means.get(name, 0.0)
            seen, seen_before = self._images(step), self._images(self._previous_step)
            if seen <= seen_before:
                raise ValueError(
                    f"Expected at most num_examples={self.num_examples} images per "
                    f"epoch. Received: step {step} of batches of {self.batch_size}"
                )
            value = (seen * mean - seen_before * previous) / (seen - seen_before)
            self.history.setdefault(name, []).append(value)
            self._previous_means[name] = mean
        self.epochs.append(self._epoch)
        self.steps.append(step)
        self._previous_step = step

    def _images(self, steps):
        """Images in the first `steps` steps of an epoch (steps, if unknown)."""
        if self.batch_size is None:
            return steps
        return min(steps * self.batch_size, self.num_examples)


@dataclasses.dataclass
class GanRun:
    """One training run: the model, its per-epoch history and its cost.

    Attributes:
        kind: The GAN type (one of `GAN_KINDS`).
        seed: The seed the run started from.
        num_epochs: Epochs trained.
        model: The trained model.
        history: Dict from metric name to its per-epoch values.
        seconds: Wall-clock time of `fit`.
        cpu_seconds: Processor time of `fit` (all threads of this process).
    """

    kind: str
    seed: int
    num_epochs: int
    model: keras.Model
    history: dict
    seconds: float
    cpu_seconds: float

    @property
    def finite(self):
        """Whether every logged value of every epoch is finite (no NaN, no inf)."""
        return not nonfinite_metrics(self.history)


def nonfinite_metrics(history):
    """Names of the metrics with a NaN or infinite value in any epoch.

    Args:
        history: A `keras.callbacks.History` or its `.history` dict.

    Returns:
        A sorted list of metric names, empty when every value is finite.
    """
    logs = getattr(history, "history", history)
    return sorted(
        name
        for name, values in logs.items()
        if not np.all(np.isfinite(np.asarray(values, dtype="float64")))
    )


def train_gan(
    kind,
    x_train,
    y_train=None,
    *,
    num_epochs=100,
    batch_size=64,
    learning_rate=2e-4,
    d_learning_rate=None,
    seed=0,
    callbacks=None,
    steps_per_execution=None,
    **build_kwargs,
):
    """Seeds, builds, compiles and trains one GAN; returns a `GanRun`.

    The same seed gives the same run on a given machine: it seeds Python,
    NumPy and Keras (`keras_ae.utils.set_seed`) before the weights are drawn,
    and the model's latent noise comes from its own seed generator.

    Args:
        kind: One of `GAN_KINDS`.
        x_train: Training images `(N, H, W, C)` in [0, 1].
        y_train: Integer labels `(N,)`; required for `"conditional"` only.
        num_epochs: Number of passes over `x_train`.
        batch_size: Real images per step (and as many fakes).
        learning_rate: The generator's step size (see `compile_gan`).
        d_learning_rate: The discriminator's step size; default `learning_rate`.
        seed: Int >= 0.
        callbacks: Optional list of Keras callbacks (`SampleGrid`, `EpochLogger`).
        steps_per_execution: Training steps per call into TensorFlow; None
            runs each epoch in one call (less overhead per step, as
            `keras_ae.train.vae_recipes.fit_vae` does). Pass 1 for a callback that needs
            every batch's losses, such as `BatchHistory`.
        **build_kwargs: Passed to `build_gan` (e.g. `latent_dim`,
            `label_smoothing`, `critic_steps`).

    Returns:
        A `GanRun`.

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, y_train), _, _, _ = load_dataset("digits")  # classes 0-9
        >>> run = train_gan("conditional", x_train[:256], y_train[:256],
        ...                 num_epochs=1, latent_dim=8, dense_units=(32,))
        >>> run.model.generate([7] * 10).shape  # ten sevens
        (10, 8, 8, 1)
        >>> run.finite, sorted(run.history)
        (True, ['d_fake', 'd_loss', 'd_real', 'g_loss'])
    """
    _check_kind(kind)
    num_epochs = check_positive_int("num_epochs", num_epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    x_train = np.asarray(x_train, dtype="float32")
    if x_train.ndim != 4 or len(x_train) == 0:
        raise ValueError(
            "Expected x_train of shape (N, height, width, channels). "
            f"Received: x_train.shape={x_train.shape}"
        )
    if kind == "conditional":
        if y_train is None or len(y_train) != len(x_train):
            received = None if y_train is None else f"{len(y_train)} labels"
            raise ValueError(
                f"Expected one label per image ({len(x_train)}) for a conditional "
                f"GAN. Received: y_train={received}"
            )
        build_kwargs.setdefault("num_classes", int(np.max(y_train)) + 1)
    set_seed(seed)
    model = build_gan(kind, image_shape=x_train.shape[1:], seed=seed, **build_kwargs)
    compile_gan(model, learning_rate=learning_rate, d_learning_rate=d_learning_rate)
    if steps_per_execution is None:
        steps_per_execution = math.ceil(len(x_train) / batch_size)
    model.steps_per_execution = check_positive_int(
        "steps_per_execution", steps_per_execution
    )
    data = (x_train, np.asarray(y_train)) if kind == "conditional" else (x_train,)
    start, cpu_start = time.perf_counter(), time.process_time()
    history = model.fit(
        *data,
        epochs=num_epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    return GanRun(
        kind=kind,
        seed=int(seed),
        num_epochs=num_epochs,
        model=model,
        history={name: list(values) for name, values in history.history.items()},
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
    )


def train_gans(
    recipes, x_train, y_train=None, *, seeds=(0,), epoch_fraction=1.0, keep_models=True
):
    """Trains every GAN type of `recipes` once per seed (e.g. a stability check).

    Args:
        recipes: Dict from a kind of `GAN_KINDS` to the keyword arguments of
            `train_gan` for it, e.g. `{"dense": {"num_epochs": 100}}`.
        x_train: Training images.
        y_train: Integer labels (needed if `recipes` has `"conditional"`).
        seeds: Seeds to train each type from.
        epoch_fraction: Train each recipe for `ceil(fraction * num_epochs)`
            epochs (at least 1): a reduced budget per seed.
        keep_models: Whether the returned runs keep their models (False frees
            their memory; the histories and times stay).

    Returns:
        A list of `GanRun`, kind by kind in the order of `recipes`, each kind
        seed by seed.

    Example:
        >>> x_train = np.random.default_rng(0).random((128, 8, 8, 1), dtype="float32")
        >>> recipes = {"dense": dict(num_epochs=4, latent_dim=4, dense_units=(16,))}
        >>> runs = train_gans(recipes, x_train, seeds=(1, 2), epoch_fraction=0.25)
        >>> [(run.kind, run.seed, run.num_epochs, run.finite) for run in runs]
        [('dense', 1, 1, True), ('dense', 2, 1, True)]
    """
    if not isinstance(recipes, dict) or not recipes:
        raise ValueError(
            "Expected recipes to be a non-empty dict of kind -> train_gan "
            f"arguments. Received: recipes={recipes!r}"
        )
    for kind in recipes:
        _check_kind(kind)
    fraction = check_positive_number("epoch_fraction", epoch_fraction)
    runs = []
    for kind, recipe in recipes.items():
        recipe = dict(recipe)
        full_epochs = recipe.pop("num_epochs", 100)
        num_epochs = max(1, math.ceil(fraction * full_epochs))
        for seed in seeds:
            run = train_gan(
                kind, x_train, y_train, num_epochs=num_epochs, seed=seed, **recipe
            )
            if not keep_models:
                run.model = None
            runs.append(run)
    return runs


def stability_rows(runs):
    """One table row per run: kind, seed, epochs, time, and which losses blew up.

    Args:
        runs: `GanRun`s, e.g. from `train_gans`.

    Returns:
        A list of dicts with keys `kind`, `seed`, `epochs`, `seconds`,
        `finite` (bool), `nonfinite` (names of the metrics with a NaN or inf,
        comma-separated, or "") and `last` (the last epoch's values, as text).
        Print them with `keras_ae.tables.to_markdown_table`.
    """
    rows = []
    for run in runs:
        last = ", ".join(
            f"{name} {values[-1]:.3g}" for name, values in run.history.items()
        )
        rows.append(
            {
                "kind": run.kind,
                "seed": run.seed,
                "epochs": run.num_epochs,
                "seconds": round(run.seconds, 1),
                "finite": run.finite,
                "nonfinite": ", ".join(nonfinite_metrics(run.history)),
                "last": last,
            }
        )
    return rows
