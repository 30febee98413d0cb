"""The Keras backend keras_ae needs, checked where it matters.

Importing keras_ae sets no environment variable: Keras 3 already runs on
TensorFlow when neither `KERAS_BACKEND` nor `~/.keras/keras.json` names
another backend. Code that needs TensorFlow (custom `train_step`s with
`tf.GradientTape`, `tf.distribute` strategies, loading keras_ae models) calls
`require_tensorflow_backend()` first, so another backend fails with a message
that says what to change instead of an obscure error deep inside Keras.
"""

import os

__all__ = [
    "require_tensorflow_backend",
    "BACKEND_ENV",
]

BACKEND_ENV = "KERAS_BACKEND"


def require_tensorflow_backend(what="keras_ae"):
    """Raises a `RuntimeError` unless Keras runs on its TensorFlow backend.

    Imports Keras (and so picks its backend) if nothing has yet.

    Args:
        what: What needs TensorFlow, named in the message.

    Raises:
        RuntimeError: `keras.backend.backend()` is not `"tensorflow"`; the
            message names the `KERAS_BACKEND` environment variable.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return
    if BACKEND_ENV in os.environ:
        source = f"{BACKEND_ENV}={os.environ[BACKEND_ENV]!r} is set"
    else:
        home = os.environ.get("KERAS_HOME", os.path.join("~", ".keras"))
        source = f"{BACKEND_ENV} is not set; {home}/keras.json names it"
    raise RuntimeError(
        f"{what} needs Keras's TensorFlow backend, but Keras runs on {backend!r} "
        f"({source}). Set the environment variable {BACKEND_ENV}=tensorflow (or "
        "unset it) before Keras is first imported, then restart the Python "
        "process or the notebook kernel."
    )
