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
