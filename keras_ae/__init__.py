"""keras_ae: the library behind the keras-ae course on autoencoders and GANs.

Each module holds one topic: `data` (data sets and corruptions), `devices`
(distribution strategies), `plotting`, `utils` (seeding and run profiles), and
the model modules the notebooks build on.
"""

import os

# Keras 3 picks its backend from this variable; the course is written for TensorFlow.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Quiet TensorFlow's C++ start-up chatter, which hides the course's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
REPOSITORY_URL = "https://github.com/keras-ae/keras-ae"

# Modules whose import registers custom layers, regularizers and models with Keras.
_SERIALIZABLE_MODULES = ("layers", "regularizers", "training", "gans", "vae")


def load_model(path, **kwargs):
    """Loads a `.keras` file saved from any keras_ae model, with `safe_mode=True`.

    Keras finds custom classes only once their module is imported; this imports
    every keras_ae module that registers one, then calls
    `keras.saving.load_model`.
    """
    import importlib

    import keras

    for module in _SERIALIZABLE_MODULES:
        importlib.import_module(f"keras_ae.{module}")
    kwargs.setdefault("safe_mode", True)
    return keras.saving.load_model(path, **kwargs)
