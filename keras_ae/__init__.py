"""keras_ae: the library behind the keras-ae course on autoencoders and GANs.

Each module holds one topic: `data` (data sets and corruptions), `devices`
(distribution strategies), `plotting`, `utils` (seeding and run profiles), and
the model modules the notebooks build on.

Importing the package changes no global setting (no environment variable, no
import hook) and imports neither Keras nor TensorFlow. The course needs
Keras's TensorFlow backend, which is Keras 3's default; code that needs it
calls `require_tensorflow_backend()`, which says what to set otherwise.
TensorFlow's C++ start-up lines are its own: set `TF_CPP_MIN_LOG_LEVEL=1`
before TensorFlow is imported to hide its informational ones (warnings and
errors still show).
"""

from keras_ae._backend import require_tensorflow_backend

__version__ = "0.1.0"
REPOSITORY_URL = "https://github.com/keras-ae/keras-ae"

# Modules whose import registers custom layers, regularizers and models with Keras.
_SERIALIZABLE_MODULES = ("layers", "regularizers", "training", "gans", "vae")


def load_model(path, **kwargs):
    """Loads a `.keras` file saved from any keras_ae model, with `safe_mode=True`.

    Keras finds custom classes only once their module is imported; this imports
    every keras_ae module that registers one, then calls
    `keras.saving.load_model`.

    Raises:
        RuntimeError: Keras does not run on its TensorFlow backend (see
            `require_tensorflow_backend`).
    """
    import importlib

    import keras

    require_tensorflow_backend("keras_ae.load_model")
    for module in _SERIALIZABLE_MODULES:
        importlib.import_module(f"keras_ae.{module}")
    kwargs.setdefault("safe_mode", True)
    return keras.saving.load_model(path, **kwargs)
