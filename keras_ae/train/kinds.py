"""The model kinds of the course and their families, without importing Keras.

`keras_ae.train.registry` trains every kind; the command line
(`python -m keras_ae train MODEL`) checks a name against this list before it
imports TensorFlow.
"""

__all__ = ["FAMILIES", "MODEL_KINDS"]

FAMILIES = {
    "undercomplete": "autoencoder",
    "denoising": "autoencoder",
    "sparse": "autoencoder",
    "contractive": "autoencoder",
    "convolutional": "autoencoder",
    "vae": "vae",
    "beta_vae": "vae",
    "dense_gan": "gan",
    "dcgan": "gan",
    "conditional_gan": "gan",
    "wgan_gp": "gan",
}
MODEL_KINDS = tuple(FAMILIES)
