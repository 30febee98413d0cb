"""One registry of model kinds (one naming) and `train_model`, used by the command line
and the comparison.
"""

import dataclasses
import math
import time

import keras
import numpy as np

from keras_ae.models.autoencoders import (
    build_autoencoder,
    build_dense_autoencoder,
    build_dense_decoder,
    build_dense_encoder,
)
from keras_ae.models.contractive import ContractiveAutoencoder
from keras_ae.models.conv import build_conv_autoencoder
from keras_ae.models.denoising import DenoisingAutoencoder
from keras_ae.models.regularizers import KLSparsity
from keras_ae.models.vae import VAE
from keras_ae.models.vae_builders import build_vae_decoder, build_vae_encoder
from keras_ae.train.gan_recipes import GAN_RECIPES, build_gan, compile_gan
from keras_ae.train.kinds import FAMILIES, MODEL_KINDS
from keras_ae.train.recipes import cosine_adam, shuffled_batches
from keras_ae.utils import set_seed

__all__ = [
    "FAMILIES",
    "MODEL_KINDS",
    "HIDDEN_UNITS",
    "SPARSE_CODE_FACTOR",
    "BETA",
    "CONTRACTIVE_WEIGHT",
    "TrainedModel",
    "train_model",
]


# The recipes below were chosen on the validation split of mnist_5k (28x28).
HIDDEN_UNITS = (256, 128)  # every dense network, from the image side (as the VAE's)


SPARSE_CODE_FACTOR = 8  # a sparse code is overcomplete: 8 times code_size


BETA = 2.0  # KL weight of the beta-VAE


CONTRACTIVE_WEIGHT = 1e-4  # weight of the contractive penalty


@dataclasses.dataclass
class TrainedModel:
    """A trained model of one kind and what it can do.

    Attributes:
        kind: One of `MODEL_KINDS`.
        family: `"autoencoder"`, `"vae"` or `"gan"`.
        model: The trained `keras.Model`.
        encoder: Model mapping images to codes (a VAE's gives
            `[z_mean, z_log_var]`), or None (GANs).
        generate: Function `(num_images, seed) -> images` drawing new images,
            or None (deterministic autoencoders). A conditional GAN draws an
            equal number of each class.
        num_params: Number of trained weights (both networks of a GAN).
        train_seconds: Wall-clock seconds of training.
        num_epochs: Passes over the training images.
        code_size: Size of the code or latent vector.
    """

    kind: str
    family: str
    model: keras.Model
    encoder: object
    generate: object
    num_params: int
    train_seconds: float
    num_epochs: int
    code_size: int


def _check_kind(kind):
    if kind not in FAMILIES:
        raise ValueError(f"Expected kind in {MODEL_KINDS}. Received: kind={kind!r}")


def _dense_parts(image_shape, code_size, code_activation=None, regularizer=None):
    inputs = keras.Input(shape=image_shape)
    x = keras.layers.Flatten()(inputs)
    for units in HIDDEN_UNITS:
        x = keras.layers.Dense(units, activation="relu")(x)
    codes = keras.layers.Dense(
        code_size,
        activation=code_activation,
        activity_regularizer=regularizer,
        name="code",
        dtype="float32",  # penalties are computed on it, also in mixed precision
    )(x)
    encoder = keras.Model(inputs, codes, name="encoder")
    decoder = build_dense_decoder(
        output_shape=image_shape, code_size=code_size, hidden_units=HIDDEN_UNITS[::-1]
    )
    return encoder, decoder


def _build_autoencoder(kind, image_shape, code_size, seed):
    if kind == "undercomplete":
        return build_dense_autoencoder(
            input_shape=image_shape, code_size=code_size, hidden_units=HIDDEN_UNITS
        )
    if kind == "convolutional":
        return build_conv_autoencoder(
            input_shape=image_shape, code_size=code_size, filters=(16, 32)
        )
    if kind == "denoising":
        encoder = build_dense_encoder(
            input_shape=image_shape, code_size=code_size, hidden_units=HIDDEN_UNITS
        )
        decoder = build_dense_decoder(
            output_shape=image_shape,
            code_size=code_size,
            hidden_units=HIDDEN_UNITS[::-1],
        )
        return DenoisingAutoencoder(
            encoder, decoder, noise="gaussian", noise_level=0.2, seed=seed
        )
    if kind == "sparse":
        encoder, decoder = _dense_parts(
            image_shape,
            SPARSE_CODE_FACTOR * code_size,
            code_activation="sigmoid",
            regularizer=KLSparsity(rho=0.05, beta=0.01),
        )
        return build_autoencoder(encoder, decoder)
    # contractive: notebook 04's encoder, one dense sigmoid layer, whose Jacobian
    # penalty has a closed form (about the cost of a forward pass), and the
    # undercomplete decoder. A deep encoder with a sigmoid code collapsed to the
    # mean image for some seeds on the validation split, with or without penalty.
    inputs = keras.Input(shape=image_shape)
    codes = keras.layers.Dense(
        code_size, activation="sigmoid", name="code", dtype="float32"
    )(keras.layers.Flatten()(inputs))
    encoder = keras.Model(inputs, codes, name="encoder")
    decoder = build_dense_decoder(
        output_shape=image_shape, code_size=code_size, hidden_units=HIDDEN_UNITS[::-1]
    )
    return ContractiveAutoencoder(
        encoder, decoder, contractive_weight=CONTRACTIVE_WEIGHT
    )


def _build_and_compile_gan(kind, image_shape, latent_dim, num_classes, seed):
    recipe = dict(GAN_RECIPES[kind])
    gan_kind = recipe.pop("kind")
    learning_rate = recipe.pop("learning_rate")
    d_learning_rate = recipe.pop("d_learning_rate", None)
    if num_classes is not None:
        recipe["num_classes"] = num_classes
    model = build_gan(
        gan_kind, image_shape=image_shape, latent_dim=latent_dim, seed=seed, **recipe
    )
    return compile_gan(
        model, learning_rate=learning_rate, d_learning_rate=d_learning_rate
    )


def train_model(
    kind,
    x_train,
    y_train=None,
    *,
    code_size=8,
    latent_dim=32,
    num_epochs=40,
    batch_size=64,
    learning_rate=3e-3,
    seed=0,
    callbacks=None,
):
    """Builds and trains one model of the course with the shared budget.

    Every kind makes `num_epochs` passes over `x_train` in mini-batches of
    `batch_size` (one epoch runs as one call into TensorFlow). Autoencoders and
    VAEs use Adam with a cosine decay from `learning_rate`. GANs are built and
    compiled by `keras_ae.train.gan_recipes.build_gan` and `compile_gan` with the
    recipes of notebook 07 (`GAN_RECIPES`: Adam with `beta_1=0.5`, the
    discriminator's step twice the generator's, a LeakyReLU DCGAN generator, a
    projection discriminator for the conditional GAN; a WGAN-GP with several
    critic updates per batch, so its epochs cost more).
    The autoencoders' dense networks have hidden layers `HIDDEN_UNITS`; a
    sparse autoencoder has an overcomplete sigmoid code
    `SPARSE_CODE_FACTOR * code_size` with a KL sparsity penalty; a contractive
    one, notebook 04's one-layer sigmoid encoder with the penalty weighted by
    `CONTRACTIVE_WEIGHT`.

    Args:
        kind: One of `MODEL_KINDS`.
        x_train: Training images `(N, H, W, C)` in [0, 1].
        y_train: Integer labels `(N,)`, needed by `"conditional_gan"` only.
        code_size: Code size of the autoencoders, latent size of the VAEs.
        latent_dim: Noise size of the GANs.
        num_epochs: Passes over `x_train`, > 0.
        batch_size: Images per step, > 0.
        learning_rate: Initial step size of the autoencoders and VAEs.
        seed: Seed set before building, and seed of the shuffling and noise.
        callbacks: Optional list of `keras.callbacks.Callback`s passed to
            `fit` (e.g. a progress display; called once per epoch).

    Returns:
        A `TrainedModel`.

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, _), _, _, _ = load_dataset("digits")  # 8x8 digits
        >>> trained = train_model("undercomplete", x_train, num_epochs=1)
        >>> trained.family, trained.code_size, trained.generate is None
        ('autoencoder', 8, True)
        >>> trained.encoder.predict(x_train[:5], verbose=0).shape
        (5, 8)
        >>> train_model("vae", x_train, num_epochs=1).generate(4, seed=0).shape
        (4, 8, 8, 1)
    """
    _check_kind(kind)
    for name, value in (
        ("code_size", code_size),
        ("latent_dim", latent_dim),
        ("num_epochs", num_epochs),
        ("batch_size", batch_size),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"Expected {name} > 0. Received: {name}={value!r}")
    x_train = np.asarray(x_train, dtype="float32")
    if kind == "conditional_gan" and y_train is None:
        raise ValueError("Expected y_train for kind='conditional_gan'. Received: None")
    family = FAMILIES[kind]
    image_shape = x_train.shape[1:]
    steps = math.ceil(len(x_train) / batch_size)
    set_seed(seed)
    if family == "gan":
        num_classes = int(np.max(y_train)) + 1 if y_train is not None else None
        model = _build_and_compile_gan(kind, image_shape, latent_dim, num_classes, seed)
        # One epoch as one call into TensorFlow, as for the other kinds
        # (`compile_gan` keeps Keras's default of one step per call).
        model.steps_per_execution = steps
        if kind == "conditional_gan":
            arrays = (x_train, np.asarray(y_train, "int64"))
        else:
            arrays = x_train
        encoder, size = None, latent_dim
    else:
        if family == "vae":
            model = VAE(
                build_vae_encoder(image_shape, latent_dim=code_size),
                build_vae_decoder(image_shape, latent_dim=code_size),
                beta=BETA if kind == "beta_vae" else 1.0,
                seed=seed,
            )
            model.compile(
                optimizer=cosine_adam(learning_rate, num_epochs * steps),
                steps_per_execution=steps,
            )
            arrays = x_train
        else:
            model = _build_autoencoder(kind, image_shape, code_size, seed)
            loss = None if kind == "contractive" else "mse"
            model.compile(
                optimizer=cosine_adam(learning_rate, num_epochs * steps),
                loss=loss,
                steps_per_execution=steps,
            )
            arrays = (x_train, x_train)
        encoder = model.encoder if hasattr(model, "encoder") else None
        if encoder is None:
            encoder = model.get_layer("encoder")
        size = code_size if kind != "sparse" else SPARSE_CODE_FACTOR * code_size
    start = time.monotonic()
    model.fit(
        shuffled_batches(arrays, batch_size, seed),
        epochs=num_epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    seconds = time.monotonic() - start
    return TrainedModel(
        kind=kind,
        family=family,
        model=model,
        encoder=encoder,
        generate=_generator_of(kind, model),
        num_params=int(model.count_params()),
        train_seconds=seconds,
        num_epochs=num_epochs,
        code_size=size,
    )


def _generator_of(kind, model):
    family = FAMILIES[kind]
    if family == "vae":
        return lambda num_images, seed=None: np.asarray(model.sample(num_images, seed))
    if kind == "conditional_gan":

        def generate(num_images, seed=None):
            labels = np.arange(num_images) % model.num_classes
            return np.asarray(model.sample(len(labels), labels, seed=seed))

        return generate
    if family == "gan":
        return lambda num_images, seed=None: np.asarray(
            model.sample(num_images, seed=seed)
        )
    return None
