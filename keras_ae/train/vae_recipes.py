"""Training recipes for VAEs: fit_vae, and sweeps over latent size and beta chosen on
validation.
"""

import math
import numbers
import time

import numpy as np
import tensorflow as tf

from keras_ae._validation import check_int, check_positive_number
from keras_ae.evaluate.latent import (
    active_dims,
    sample_scores,
)
from keras_ae.models.vae import VAE
from keras_ae.models.vae_builders import build_vae_decoder, build_vae_encoder
from keras_ae.train.recipes import cosine_adam, shuffled_batches
from keras_ae.utils import set_seed

__all__ = [
    "fit_vae",
    "vae_sweep",
    "beta_sweep",
]


def fit_vae(
    vae,
    x_train,
    y_train=None,
    *,
    num_epochs=100,
    batch_size=64,
    learning_rate=2e-3,
    validation_data=None,
    callbacks=None,
    seed=0,
    verbose=0,
):
    """Compiles and trains a `VAE` (or a `ConditionalVAE` with `y_train`).

    The recipe of `keras_ae.train.recipes.fit_autoencoder`: Adam whose step size
    decays from `learning_rate` to 0 along a cosine over all the training steps,
    mini-batches shuffled afresh each epoch through `tf.data` (on small data
    sets about twice as fast as passing NumPy arrays to `fit`).

    Args:
        vae: A `keras_ae.models.vae.VAE` or `ConditionalVAE`.
        x_train: Training images `(N, H, W, C)`.
        y_train: Integer labels `(N,)` for a `ConditionalVAE`, else None.
        num_epochs: Number of passes over `x_train`.
        batch_size: Images per training step.
        learning_rate: Initial step size of Adam.
        validation_data: Optional validation images (or `(images, labels)` for a
            conditional VAE), evaluated after each epoch (`val_` metrics).
        callbacks: Optional list of Keras callbacks.
        seed: Seed of the shuffling.
        verbose: Passed to `fit`.

    Returns:
        The `keras.callbacks.History`: per epoch `loss`, `reconstruction_loss`
        and `kl_loss` (nats per image, averaged over the epoch's batches).

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, _), (x_val, _), _, _ = load_dataset("digits")  # 8x8 digits
        >>> vae = VAE(build_vae_encoder((8, 8, 1), 2, hidden_units=(32,)),
        ...           build_vae_decoder((8, 8, 1), 2, hidden_units=(32,)), seed=0)
        >>> history = fit_vae(vae, x_train, num_epochs=1, validation_data=x_val)
        >>> sorted(name for name in history.history if name.startswith("val_"))
        ['val_kl_loss', 'val_kl_weight', 'val_loss', 'val_reconstruction_loss']
    """
    x_train = np.asarray(x_train, dtype="float32")
    num_epochs = check_int("num_epochs", num_epochs, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    learning_rate = check_positive_number("learning_rate", learning_rate)
    if vae.conditional != (y_train is not None):
        raise ValueError(
            "Expected y_train for a ConditionalVAE and no y_train for a VAE. "
            f"Received: {type(vae).__name__} with y_train "
            f"{'given' if y_train is not None else 'None'}"
        )
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    # One call into TensorFlow per epoch (see recipes.fit_autoencoder).
    vae.compile(
        optimizer=cosine_adam(learning_rate, num_epochs * steps_per_epoch),
        steps_per_execution=steps_per_epoch,
    )
    arrays = x_train if y_train is None else (x_train, np.asarray(y_train, "int64"))
    batches = shuffled_batches(arrays, batch_size, seed)
    validation = None
    if validation_data is not None:
        if isinstance(validation_data, (tuple, list)):
            validation_data = (
                np.asarray(validation_data[0], "float32"),
                np.asarray(validation_data[1], "int64"),
            )
        else:
            validation_data = np.asarray(validation_data, "float32")
        validation = tf.data.Dataset.from_tensor_slices(validation_data).batch(1024)
    return vae.fit(
        batches,
        epochs=num_epochs,
        validation_data=validation,
        callbacks=callbacks,
        shuffle=False,
        verbose=verbose,
    )


def vae_sweep(
    x_train,
    x_val,
    settings,
    *,
    hidden_units=(256, 128),
    num_epochs=50,
    batch_size=64,
    learning_rate=2e-3,
    classifier=None,
    num_samples=1000,
    seed=0,
):
    """Trains one VAE per `(latent_dim, beta)` setting and measures it on `x_val`.

    Every VAE has the same dense encoder (`hidden_units`) and mirrored decoder,
    the same seed and the same `fit_vae` recipe; only the latent size and the
    KL weight change. Measure on the validation split, pick the setting with
    the highest ELBO there, and keep the test split for the chosen model.

    Args:
        x_train: Training images `(N, H, W, C)` in [0, 1].
        x_val: Images to measure on, usually the validation split.
        settings: Iterable of `(latent_dim, beta)` pairs, `latent_dim >= 1`
            and `beta >= 0`.
        hidden_units: Encoder hidden layers; the decoder uses them reversed.
        num_epochs: Epochs per VAE.
        batch_size: Images per step.
        learning_rate: Initial step size of Adam.
        classifier: Optional classifier; if given, `num_samples` images sampled
            from the prior are scored with `sample_scores`.
        num_samples: Number of samples to score.
        seed: Seed of the weights, the shuffling, the sampling noise and the
            scored samples.

    Returns:
        A list with one dict per setting: `"latent_dim"`, `"beta"`, `"vae"`
        (the trained model), `"reconstruction"` and `"kl"` (means over `x_val`
        in nats per image, one draw of `z` per image), `"elbo"` (`-(reconstruction
        + kl)`, the ELBO whatever `beta`), `"active_dims"` (`active_dims` on
        `x_val`), `"seconds"` (training time) and, with a classifier,
        `"samples"` and the entries of `sample_scores`.

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, _), (x_val, _), _, _ = load_dataset("digits")
        >>> rows = vae_sweep(x_train, x_val, [(2, 1.0), (4, 1.0)],
        ...                  hidden_units=(16,), num_epochs=1)
        >>> [(row["latent_dim"], row["beta"]) for row in rows]
        [(2, 1.0), (4, 1.0)]
        >>> all(abs(row["elbo"] + row["reconstruction"] + row["kl"]) < 1e-3
        ...     for row in rows)  # the ELBO is -(reconstruction + KL)
        True
        >>> best = max(rows, key=lambda row: row["elbo"])  # chosen on validation
    """
    x_train = np.asarray(x_train, dtype="float32")
    x_val = np.asarray(x_val, dtype="float32")
    settings = [tuple(setting) for setting in settings]
    for setting in settings:
        latent_dim, beta = setting if len(setting) == 2 else (0, -1)
        if (
            isinstance(latent_dim, bool)
            or not isinstance(latent_dim, numbers.Integral)
            or latent_dim < 1
            or isinstance(beta, bool)
            or not isinstance(beta, numbers.Real)
            or beta < 0
        ):
            raise ValueError(
                "Expected settings of (latent_dim >= 1, beta >= 0) pairs. "
                f"Received: settings={settings!r}"
            )
    hidden_units = tuple(hidden_units)
    rows = []
    for latent_dim, beta in settings:
        set_seed(seed)
        encoder = build_vae_encoder(
            x_train.shape[1:], latent_dim=int(latent_dim), hidden_units=hidden_units
        )
        decoder = build_vae_decoder(
            x_train.shape[1:],
            latent_dim=int(latent_dim),
            hidden_units=hidden_units[::-1],
        )
        vae = VAE(encoder, decoder, beta=float(beta), seed=seed)
        start = time.monotonic()
        fit_vae(
            vae,
            x_train,
            num_epochs=num_epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
        )
        seconds = time.monotonic() - start
        logs = vae.evaluate(x_val, batch_size=1024, verbose=0, return_dict=True)
        row = {
            "latent_dim": int(latent_dim),
            "beta": float(beta),
            "vae": vae,
            "reconstruction": float(logs["reconstruction_loss"]),
            "kl": float(logs["kl_loss"]),
            "elbo": -float(logs["reconstruction_loss"] + logs["kl_loss"]),
            "active_dims": active_dims(encoder, x_val),
            "seconds": seconds,
        }
        if classifier is not None:
            samples = vae.sample(num_samples, seed=seed)
            row["samples"] = samples
            row.update(sample_scores(classifier, samples))
        rows.append(row)
    return rows


def beta_sweep(
    x_train,
    x_val,
    *,
    betas=(0.5, 1.0, 4.0),
    latent_dim=8,
    hidden_units=(256, 128),
    num_epochs=50,
    batch_size=64,
    learning_rate=2e-3,
    classifier=None,
    num_samples=1000,
    seed=0,
):
    """Trains one VAE per KL weight `beta` at one latent size (see `vae_sweep`).

    Args:
        x_train: Training images `(N, H, W, C)` in [0, 1].
        x_val: Images to measure on, usually the validation split.
        betas: The KL weights, each >= 0.
        latent_dim: Size of the latent space.
        hidden_units: Encoder hidden layers; the decoder uses them reversed.
        num_epochs: Epochs per VAE.
        batch_size: Images per step.
        learning_rate: Initial step size of Adam.
        classifier: Optional classifier to score `num_samples` prior samples.
        num_samples: Number of samples to score.
        seed: Seed of the weights, the shuffling, the noise and the samples.

    Returns:
        The rows of `vae_sweep`, one per beta.

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, _), (x_val, _), _, _ = load_dataset("digits")
        >>> rows = beta_sweep(x_train, x_val, betas=(0.5, 4), latent_dim=2,
        ...                   hidden_units=(16,), num_epochs=1)
        >>> [(row["latent_dim"], row["beta"], row["kl"] >= 0) for row in rows]
        [(2, 0.5, True), (2, 4.0, True)]
    """
    for beta in betas:
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or beta < 0:
            raise ValueError(
                f"Expected every beta >= 0. Received: betas={tuple(betas)!r}"
            )
    return vae_sweep(
        x_train,
        x_val,
        [(latent_dim, beta) for beta in betas],
        hidden_units=hidden_units,
        num_epochs=num_epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        classifier=classifier,
        num_samples=num_samples,
        seed=seed,
    )
