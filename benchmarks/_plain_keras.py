"""Plain-Keras references for `bench_course.py`: the course's models, trained the
way Keras's documentation and the keras.io examples train them.

Each reference has the same layers as the model that
`keras_ae.train.registry.train_model` trains (its networks come from the same
builders), the same optimizer (Adam; for the autoencoders and VAEs at the
course's initial step size 3e-3, held constant where the library decays it
along a cosine, at the same cost per step), step sizes, critic steps and batch
size, but none of the library's training machinery: no `steps_per_execution`,
no prefetching `tf.data` pipeline of its own, no model class of the library.

- Plain autoencoders: `model.fit(x, x, batch_size=64)` on NumPy arrays, a
  `GaussianNoise` layer in front for the denoising one, an activity regularizer
  function (the KL sparsity penalty, written out) for the sparse one, and for
  the contractive one a `train_step` with `tape.batch_jacobian`, as most
  tutorials write it.
- VAE and beta-VAE: the keras.io VAE example (its `Sampling` layer as the
  encoder's third output, its `train_step`, `fit` on NumPy).
- GANs: the `train_step`s of the keras.io GAN ("Customizing what happens in
  fit()"), conditional GAN and WGAN-GP examples, with their data feeding
  (`tf.data` with `shuffle(1024).batch(64)` for the first two, NumPy for the
  WGAN-GP). The course's discriminators output logits, so the cross-entropy
  takes `from_logits=True`; its networks have batch normalization and dropout,
  so every call passes `training=True` (the examples' networks have neither and
  leave it out).

Example:
    >>> reference = build_reference("vae", x_train, y_train)
    >>> reference.fit(epochs=5, callbacks=[])
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_ae.models.autoencoders import build_dense_autoencoder, build_dense_decoder
from keras_ae.models.conv import build_conv_autoencoder
from keras_ae.models.vae_builders import build_vae_decoder, build_vae_encoder
from keras_ae.train.gan_recipes import GAN_RECIPES, build_gan
from keras_ae.train.registry import BETA, HIDDEN_UNITS, SPARSE_CODE_FACTOR

__all__ = ["Reference", "build_reference"]

BUFFER_SIZE = 1024  # the keras.io GAN examples' shuffle buffer


@dataclasses.dataclass
class Reference:
    """A compiled plain-Keras model and how the examples feed it to `fit`.

    Attributes:
        model: The compiled `keras.Model`.
        fit_args: Positional arguments of `fit` (NumPy arrays or a dataset).
        fit_kwargs: Keyword arguments of `fit` besides `epochs` and `callbacks`.
    """

    model: keras.Model
    fit_args: tuple
    fit_kwargs: dict

    def fit(self, epochs, callbacks=None):
        return self.model.fit(
            *self.fit_args,
            epochs=epochs,
            verbose=0,
            callbacks=callbacks,
            **self.fit_kwargs,
        )


# --------------------------------------------------------------------------
# Autoencoders.


def kl_sparsity(codes, rho=0.05, beta=0.01):
    """The KL sparsity penalty of a sigmoid code, as an activity regularizer.

    Keras (3.14 and later) divides what an activity regularizer returns by the
    batch size, so this weighs 1/64 of the library's `KLSparsity` at batch 64;
    the work is the same.
    """
    rho_hat = ops.clip(ops.mean(codes, axis=0), 1e-6, 1.0 - 1e-6)
    kl = rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log(
        (1.0 - rho) / (1.0 - rho_hat)
    )
    return beta * ops.sum(kl)


class ContractiveAutoencoder(keras.Model):
    """The tutorials' contractive autoencoder: `tape.batch_jacobian` in `train_step`."""

    def __init__(self, encoder, decoder, lam=1e-4, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.lam = lam
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, x):
        return self.decoder(self.encoder(x))

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            with tf.GradientTape() as jacobian_tape:
                jacobian_tape.watch(x)
                codes = self.encoder(x, training=True)
            jacobian = jacobian_tape.batch_jacobian(codes, x)  # (B, code, H, W, C)
            penalty = tf.reduce_mean(
                tf.reduce_sum(tf.square(jacobian), axis=[1, 2, 3, 4])
            )
            reconstructions = self.decoder(codes, training=True)
            loss = tf.reduce_mean(tf.square(x - reconstructions)) + self.lam * penalty
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(
            zip(gradients, self.trainable_weights, strict=True)
        )
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def _dense_parts(image_shape, code_size, code_activation=None, regularizer=None):
    # The layers of `build_dense_encoder`, written out to take a regularizer.
    inputs = keras.Input(shape=image_shape)
    x = keras.layers.Flatten()(inputs)
    for units in HIDDEN_UNITS:
        x = keras.layers.Dense(units, activation="relu")(x)
    codes = keras.layers.Dense(
        code_size, activation=code_activation, activity_regularizer=regularizer
    )(x)
    encoder = keras.Model(inputs, codes, name="encoder")
    decoder = build_dense_decoder(
        output_shape=image_shape, code_size=code_size, hidden_units=HIDDEN_UNITS[::-1]
    )
    return encoder, decoder


def _autoencoder(kind, image_shape, code_size):
    if kind == "undercomplete":
        return build_dense_autoencoder(
            input_shape=image_shape, code_size=code_size, hidden_units=HIDDEN_UNITS
        )
    if kind == "convolutional":
        return build_conv_autoencoder(
            input_shape=image_shape, code_size=code_size, filters=(16, 32)
        )
    if kind == "denoising":
        encoder, decoder = _dense_parts(image_shape, code_size)
        inputs = keras.Input(shape=image_shape)
        noisy = keras.layers.GaussianNoise(0.2)(inputs)
        return keras.Model(inputs, decoder(encoder(noisy)))
    if kind == "sparse":
        encoder, decoder = _dense_parts(
            image_shape, SPARSE_CODE_FACTOR * code_size, "sigmoid", kl_sparsity
        )
        inputs = keras.Input(shape=image_shape)
        return keras.Model(inputs, decoder(encoder(inputs)))
    # contractive: as keras_ae.course.comparison builds it, a one-layer sigmoid encoder
    # and the dense decoder; the penalty by batch_jacobian, as tutorials write it.
    _, decoder = _dense_parts(image_shape, code_size, "sigmoid")
    inputs = keras.Input(shape=image_shape)
    codes = keras.layers.Dense(code_size, activation="sigmoid")(
        keras.layers.Flatten()(inputs)
    )
    return ContractiveAutoencoder(keras.Model(inputs, codes), decoder, lam=1e-4)


# --------------------------------------------------------------------------
# The keras.io VAE example.


class Sampling(keras.layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class VAE(keras.Model):
    """The keras.io VAE, with a weight `beta` on its KL term."""

    def __init__(self, encoder, decoder, beta=1.0, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.beta = beta
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [
            self.total_loss_tracker,
            self.reconstruction_loss_tracker,
            self.kl_loss_tracker,
        ]

    def train_step(self, data):
        data = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(
                    keras.losses.binary_crossentropy(data, reconstruction),
                    axis=(1, 2),
                )
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + self.beta * kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }


def _vae(kind, image_shape, code_size):
    # The course's networks; the example's encoder has `z` as a third output.
    networks = build_vae_encoder(image_shape, latent_dim=code_size)
    inputs = keras.Input(shape=image_shape)
    z_mean, z_log_var = networks(inputs)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(inputs, [z_mean, z_log_var, z], name="encoder")
    decoder = build_vae_decoder(image_shape, latent_dim=code_size)
    return VAE(encoder, decoder, beta=BETA if kind == "beta_vae" else 1.0)


# --------------------------------------------------------------------------
# The keras.io GAN, conditional GAN and WGAN-GP examples.


class GAN(keras.Model):
    """The GAN of keras.io's "Customizing what happens in fit()" guide."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = ops.shape(real_images)[0]
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        generated_images = self.generator(random_latent_vectors, training=True)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        # Fake images are labelled 1, real ones 0, plus the examples' noise.
        labels = ops.concatenate(
            [ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0
        )
        labels += 0.05 * keras.random.uniform(
            ops.shape(labels), seed=self.seed_generator
        )
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images, training=True)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(
            zip(grads, self.discriminator.trainable_weights, strict=True)
        )
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        misleading_labels = ops.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(
                self.generator(random_latent_vectors, training=True), training=True
            )
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(
            zip(grads, self.generator.trainable_weights, strict=True)
        )
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {
            "d_loss": self.d_loss_tracker.result(),
            "g_loss": self.g_loss_tracker.result(),
        }


class ConditionalGAN(GAN):
    """The keras.io conditional GAN; the course's networks take the one-hot
    labels as a second input instead of extra channels."""

    def train_step(self, data):
        real_images, one_hot_labels = data
        batch_size = ops.shape(real_images)[0]
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        generated_images = self.generator(
            [random_latent_vectors, one_hot_labels], training=True
        )
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        combined_labels = ops.concatenate([one_hot_labels, one_hot_labels], axis=0)
        labels = ops.concatenate(
            [ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0
        )
        with tf.GradientTape() as tape:
            predictions = self.discriminator(
                [combined_images, combined_labels], training=True
            )
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(
            zip(grads, self.discriminator.trainable_weights, strict=True)
        )
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        misleading_labels = ops.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            fake_images = self.generator(
                [random_latent_vectors, one_hot_labels], training=True
            )
            predictions = self.discriminator(
                [fake_images, one_hot_labels], training=True
            )
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(
            zip(grads, self.generator.trainable_weights, strict=True)
        )
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {
            "d_loss": self.d_loss_tracker.result(),
            "g_loss": self.g_loss_tracker.result(),
        }


class WGAN(keras.Model):
    """The keras.io WGAN-GP example."""

    def __init__(
        self,
        discriminator,
        generator,
        latent_dim,
        discriminator_extra_steps=3,
        gp_weight=10.0,
    ):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_steps = discriminator_extra_steps
        self.gp_weight = gp_weight

    def compile(self, d_optimizer, g_optimizer, d_loss_fn, g_loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.d_loss_fn = d_loss_fn
        self.g_loss_fn = g_loss_fn

    def gradient_penalty(self, batch_size, real_images, fake_images):
        # The example draws alpha from a normal distribution (a slip); the
        # method (Gulrajani et al.) and the course draw it uniformly. Same cost.
        alpha = tf.random.uniform([batch_size, 1, 1, 1], 0.0, 1.0)
        diff = fake_images - real_images
        interpolated = real_images + alpha * diff
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolated)
            pred = self.discriminator(interpolated, training=True)
        grads = gp_tape.gradient(pred, [interpolated])[0]
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
        return tf.reduce_mean((norm - 1.0) ** 2)

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = tf.shape(real_images)[0]
        for _ in range(self.d_steps):
            random_latent_vectors = tf.random.normal(
                shape=(batch_size, self.latent_dim)
            )
            with tf.GradientTape() as tape:
                fake_images = self.generator(random_latent_vectors, training=True)
                fake_logits = self.discriminator(fake_images, training=True)
                real_logits = self.discriminator(real_images, training=True)
                d_cost = self.d_loss_fn(real_img=real_logits, fake_img=fake_logits)
                gp = self.gradient_penalty(batch_size, real_images, fake_images)
                d_loss = d_cost + gp * self.gp_weight
            d_gradient = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(
                zip(d_gradient, self.discriminator.trainable_variables, strict=True)
            )
        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        with tf.GradientTape() as tape:
            generated_images = self.generator(random_latent_vectors, training=True)
            gen_img_logits = self.discriminator(generated_images, training=True)
            g_loss = self.g_loss_fn(gen_img_logits)
        gen_gradient = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(
            zip(gen_gradient, self.generator.trainable_variables, strict=True)
        )
        return {"d_loss": d_loss, "g_loss": g_loss}


def discriminator_loss(real_img, fake_img):
    return tf.reduce_mean(fake_img) - tf.reduce_mean(real_img)


def generator_loss(fake_img):
    return -tf.reduce_mean(fake_img)


def _gan(kind, x, y, latent_dim, batch_size, seed):
    """Returns a compiled `Reference` for one of the GAN kinds."""
    recipe = dict(GAN_RECIPES[kind])
    gan_kind = recipe.pop("kind")
    learning_rate = recipe.pop("learning_rate")
    d_learning_rate = recipe.pop("d_learning_rate", learning_rate)
    num_classes = int(np.max(y)) + 1 if y is not None else 10
    # Only the course's two networks are taken from this model.
    networks = build_gan(
        gan_kind,
        image_shape=x.shape[1:],
        latent_dim=latent_dim,
        num_classes=num_classes,
        seed=seed,
        **recipe,
    )
    if kind == "wgan_gp":
        model = WGAN(
            networks.discriminator,
            networks.generator,
            latent_dim,
            discriminator_extra_steps=networks.critic_steps,
            gp_weight=networks.gp_weight,
        )
        betas = {"beta_1": 0.5, "beta_2": 0.9}
        model.compile(
            d_optimizer=keras.optimizers.Adam(d_learning_rate, **betas),
            g_optimizer=keras.optimizers.Adam(learning_rate, **betas),
            d_loss_fn=discriminator_loss,
            g_loss_fn=generator_loss,
        )
        return Reference(model, (x,), {"batch_size": batch_size})
    model_class = ConditionalGAN if kind == "conditional_gan" else GAN
    model = model_class(networks.discriminator, networks.generator, latent_dim)
    model.compile(
        d_optimizer=keras.optimizers.Adam(d_learning_rate, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    if kind == "conditional_gan":
        one_hot = keras.utils.to_categorical(y, num_classes).astype("float32")
        dataset = tf.data.Dataset.from_tensor_slices((x, one_hot))
    else:
        dataset = tf.data.Dataset.from_tensor_slices(x)
    dataset = dataset.shuffle(buffer_size=BUFFER_SIZE).batch(batch_size)
    return Reference(model, (dataset,), {})


# --------------------------------------------------------------------------


def build_reference(
    kind,
    x,
    y=None,
    *,
    code_size=8,
    latent_dim=32,
    batch_size=64,
    learning_rate=3e-3,
    seed=0,
    steps_per_execution=1,
):
    """Builds and compiles the plain-Keras reference of one course model kind.

    Args:
        kind: One of `keras_ae.train.registry.MODEL_KINDS`.
        x: Training images `(N, H, W, C)` in [0, 1], float32.
        y: Integer labels (the conditional GAN's).
        code_size, latent_dim, batch_size, learning_rate, seed: As in
            `keras_ae.train.registry.train_model`.
        steps_per_execution: Keras's default 1, as in the examples; a larger
            value only to tell apart the cost of a step from the cost of
            calling it.

    Returns:
        A `Reference`.
    """
    keras.utils.set_random_seed(seed)
    x = np.asarray(x, dtype="float32")
    image_shape = x.shape[1:]
    if kind in GAN_RECIPES:
        reference = _gan(kind, x, y, latent_dim, batch_size, seed)
    elif kind in ("vae", "beta_vae"):
        model = _vae(kind, image_shape, code_size)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate))
        reference = Reference(model, (x,), {"batch_size": batch_size})
    else:
        model = _autoencoder(kind, image_shape, code_size)
        if kind == "contractive":
            model.compile(optimizer=keras.optimizers.Adam(learning_rate))
            reference = Reference(model, (x,), {"batch_size": batch_size})
        else:
            model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
            reference = Reference(model, (x, x), {"batch_size": batch_size})
    if steps_per_execution != 1:
        reference.model.steps_per_execution = steps_per_execution
    return reference
