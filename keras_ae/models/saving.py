"""Loading a `.keras` file saved from any keras_ae model."""

import importlib

from keras_ae._backend import require_tensorflow_backend

__all__ = ["load_model"]

# Modules whose import registers custom layers, regularizers and models with Keras.
SERIALIZABLE_MODULES = (
    "keras_ae.models.layers",
    "keras_ae.models.regularizers",
    "keras_ae.models.contractive",
    "keras_ae.models.denoising",
    "keras_ae.models.gans",
    "keras_ae.models.wgan",
    "keras_ae.models.vae",
    "keras_ae.models.unet",
    "keras_ae.models.diffusion",
)


def load_model(path, **kwargs):
    """Loads a `.keras` file saved from any keras_ae model, with `safe_mode=True`.

    Keras finds custom classes only once their module is imported; this imports
    every keras_ae module that registers one, then calls
    `keras.saving.load_model`.

    Raises:
        RuntimeError: Keras does not run on its TensorFlow backend (see
            `keras_ae.require_tensorflow_backend`).
    """
    import keras

    require_tensorflow_backend("keras_ae.load_model")
    for module in SERIALIZABLE_MODULES:
        importlib.import_module(module)
    kwargs.setdefault("safe_mode", True)
    return keras.saving.load_model(path, **kwargs)
