"""Small dense networks for GANs on 2-D points (the ring of Gaussians).

`build_toy_networks` returns a generator from `latent_dim` noise to 2-D
points (a linear output, the points are not in [0, 1]) and a discriminator
from points to one logit, both plain `Dense` stacks with ReLU and no batch
normalization, so the discriminator can also be a WGAN-GP critic.
`build_toy_gan` puts them into a `GAN` or a `WGANGP`.

>>> generator, discriminator = build_toy_networks(latent_dim=2, units=(8,))
>>> generator.output.shape, discriminator.output.shape
((None, 2), (None, 1))
"""

import keras

from keras_ae._validation import check_positive_int, check_units
from keras_ae.models.gans import GAN
from keras_ae.models.wgan import WGANGP

__all__ = ["TOY_KINDS", "build_toy_networks", "build_toy_gan"]

TOY_KINDS = ("gan", "wgan_gp")


def _dense_stack(inputs, units, outputs, name):
    x = inputs
    for i, width in enumerate(units, start=1):
        x = keras.layers.Dense(width, activation="relu", name=f"hidden_{i}")(x)
    x = keras.layers.Dense(outputs, name="output")(x)
    return keras.Model(inputs, x, name=name)


def build_toy_networks(latent_dim=2, units=(128, 128), data_dim=2):
    """A dense generator and a dense discriminator for points in `data_dim` dimensions.

    Args:
        latent_dim: Size of the noise vectors, > 0.
        units: Hidden `Dense` widths (ReLU) of both networks.
        data_dim: Size of a data point, > 0.

    Returns:
        `(generator, discriminator)`: Functional models mapping `(latent_dim,)`
        to `(data_dim,)` (linear) and `(data_dim,)` to one logit.

    Example:
        >>> generator, _ = build_toy_networks(units=(4, 4))
        >>> [layer.name for layer in generator.layers]
        ['latent', 'hidden_1', 'hidden_2', 'output']
    """
    latent_dim = check_positive_int("latent_dim", latent_dim)
    data_dim = check_positive_int("data_dim", data_dim)
    units = check_units("units", units, "(128, 128)")
    generator = _dense_stack(
        keras.Input((latent_dim,), name="latent"), units, data_dim, "generator"
    )
    discriminator = _dense_stack(
        keras.Input((data_dim,), name="points"), units, 1, "discriminator"
    )
    return generator, discriminator


def build_toy_gan(kind="gan", latent_dim=2, units=(128, 128), seed=None, **kwargs):
    """A `GAN` or `WGANGP` of `build_toy_networks`, not compiled.

    Args:
        kind: `"gan"` (non-saturating GAN) or `"wgan_gp"`.
        latent_dim: Size of the noise vectors.
        units: Hidden widths of both networks.
        seed: Int or None, the seed of the model's latent noise (the weights
            come from Keras's global seed, `keras_ae.utils.set_seed`).
        **kwargs: Passed to the model (`label_smoothing`, `critic_steps`,
            `gp_weight`).

    Returns:
        The model.

    Example:
        >>> type(build_toy_gan("wgan_gp", units=(4,), critic_steps=2)).__name__
        'WGANGP'
    """
    if kind not in TOY_KINDS:
        raise ValueError(f"Expected kind in {TOY_KINDS}. Received: kind={kind!r}")
    generator, discriminator = build_toy_networks(latent_dim, units)
    model_class = GAN if kind == "gan" else WGANGP
    return model_class(generator, discriminator, seed=seed, **kwargs)
