"""Keras callbacks the notebooks share."""

import numbers
import time

import keras
import numpy as np

__all__ = [
    "EpochLogger",
    "SampleGrid",
]


class EpochLogger(keras.callbacks.Callback):
    """Prints one compact line every `every` epochs, and after the last one.

    A middle way between `verbose=0` (silence during a long fit) and
    `verbose=2` (a line per epoch, hundreds of lines in a notebook).

    Args:
        every: Print after every `every`-th epoch.
        metrics: Names of the logged values to print (default: all).

    Example:
        >>> x = np.random.default_rng(0).random((32, 4), dtype="float32")
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> history = model.fit(x, x, epochs=5, verbose=0, callbacks=[EpochLogger(2)])
        epoch    2/5  loss ...  (... s)
        epoch    4/5  loss ...  (... s)
        epoch    5/5  loss ...  (... s)
    """

    def __init__(self, every=10, metrics=None):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(
                f"Expected every to be an int >= 1. Received: every={every!r}"
            )
        self.every = every
        self.metrics = metrics

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()
        self._epochs = self.params.get("epochs") if self.params else None

    def format_line(self, epoch, logs):
        total = f"/{self._epochs}" if self._epochs else ""
        names = self.metrics or list(logs)
        values = "  ".join(f"{name} {logs[name]:.4g}" for name in names if name in logs)
        elapsed = time.monotonic() - self._start
        return f"epoch {epoch + 1:>4}{total}  {values}  ({elapsed:.1f} s)"

    def on_epoch_end(self, epoch, logs=None):
        last = self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every == 0 or last:
            print(self.format_line(epoch, logs or {}), flush=True)


def _latent_size(network):
    inputs = getattr(network, "inputs", None)
    return int(inputs[0].shape[-1]) if inputs else None


class SampleGrid(keras.callbacks.Callback):
    """Keeps the images a generator makes from the same latent points, epoch by epoch.

    At the end of the chosen epochs it passes fixed latent points through the
    model's generator (`model.generator` for the GANs of `keras_ae.models.gans`,
    `model.decoder` for a VAE, or any callable you give) and stores the images
    in `grids`, a list of `(epoch, images)` with 1-based epoch numbers. Since
    the points never change, the rows of `plot()` show the same samples
    improving as training goes on.

    Args:
        latent_points: Optional array `(N, latent_dim)` of latent points. If
            None, `num_images` points are drawn from N(0, I) with `seed` when
            training starts.
        num_images: Number of points to draw when `latent_points` is None.
        seed: Seed of that draw (NumPy), so two runs show the same points.
        every: Keep a grid every `every` epochs, and after the last epoch.
        epochs: Alternatively, a list of the 1-based epochs to keep, e.g.
            `[1, 5, 20]`; overrides `every`.
        labels: For a conditional generator, one integer class label per
            point; the generator gets `[points, one_hot(labels)]`.
        network: The callable mapping latent points (and one-hot labels) to
            images. Default: `model.generator`, else `model.decoder`.

    Example:
        >>> from keras_ae.models.autoencoders import build_dense_autoencoder
        >>> x = np.random.default_rng(0).random((64, 8, 8, 1), dtype="float32")
        >>> autoencoder = build_dense_autoencoder((8, 8, 1), 2, hidden_units=(16,))
        >>> autoencoder.compile(optimizer="adam", loss="mse")
        >>> samples = SampleGrid(num_images=5, every=2,
        ...                      network=autoencoder.get_layer("decoder"))
        >>> history = autoencoder.fit(x, x, epochs=3, verbose=0, callbacks=[samples])
        >>> [(epoch, images.shape) for epoch, images in samples.grids]
        [(2, (5, 8, 8, 1)), (3, (5, 8, 8, 1))]
        >>> fig = samples.plot()  # one row per kept epoch
    """

    def __init__(
        self,
        latent_points=None,
        *,
        num_images=16,
        seed=0,
        every=1,
        epochs=None,
        labels=None,
        network=None,
    ):
        super().__init__()
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(
                f"Expected every to be an int >= 1. Received: every={every!r}"
            )
        if epochs is not None:
            if isinstance(epochs, numbers.Number) or not all(
                isinstance(e, numbers.Integral) and not isinstance(e, bool) and e >= 1
                for e in epochs
            ):
                raise ValueError(
                    "Expected epochs to be a list of ints >= 1 (1-based). "
                    f"Received: epochs={epochs!r}"
                )
            epochs = sorted({int(e) for e in epochs})
        if latent_points is not None:
            latent_points = np.asarray(latent_points, dtype="float32")
            if latent_points.ndim != 2 or len(latent_points) == 0:
                raise ValueError(
                    "Expected latent_points of shape (N, latent_dim) with N >= 1. "
                    f"Received: latent_points.shape={latent_points.shape}"
                )
            num_images = len(latent_points)
        elif not isinstance(num_images, int) or num_images < 1:
            raise ValueError(
                f"Expected num_images >= 1. Received: num_images={num_images!r}"
            )
        if labels is not None:
            labels = np.asarray(labels).reshape(-1)
            if len(labels) != num_images or not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(
                    f"Expected {num_images} integer labels, one per image. "
                    f"Received: labels={labels.tolist()!r}"
                )
        self.latent_points = latent_points
        self.num_images = num_images
        self.seed = seed
        self.every = every
        self.epochs = epochs
        self.labels = labels
        self.network = network
        self.grids = []

    def _network(self):
        if self.network is not None:
            return self.network
        for name in ("generator", "decoder"):
            network = getattr(self.model, name, None)
            if network is not None:
                return network
        raise ValueError(
            "Expected a model with a `generator` or `decoder` attribute, or "
            f"SampleGrid(network=...). Received: model={self.model!r}"
        )

    def on_train_begin(self, logs=None):
        self._num_epochs = self.params.get("epochs") if self.params else None
        if self.latent_points is None:
            latent_dim = _latent_size(self._network())
            if latent_dim is None:
                raise ValueError(
                    "Expected latent_points for a network without Keras inputs. "
                    "Received: latent_points=None"
                )
            rng = np.random.default_rng(self.seed)
            points = rng.standard_normal((self.num_images, latent_dim))
            self.latent_points = points.astype("float32")

    def _inputs(self, network):
        if self.labels is None:
            return self.latent_points
        inputs = getattr(network, "inputs", None)
        if inputs and len(inputs) > 1:
            num_classes = int(inputs[1].shape[-1])
        else:
            num_classes = int(self.model.num_classes)
        one_hot = np.eye(num_classes, dtype="float32")[self.labels]
        return [self.latent_points, one_hot]

    def images(self):
        """Returns the network's images for the fixed points now, as NumPy."""
        network = self._network()
        inputs = self._inputs(network)
        if isinstance(network, keras.layers.Layer):
            images = network(inputs, training=False)
        else:
            images = network(inputs)
        return keras.ops.convert_to_numpy(images)

    def _keeps(self, epoch):
        if self.epochs is not None:
            return epoch in self.epochs
        return epoch % self.every == 0 or epoch == self._num_epochs

    def on_epoch_end(self, epoch, logs=None):
        if self._keeps(epoch + 1):
            self.grids.append((epoch + 1, self.images()))

    def plot(self, num_images=None, title=None, cmap="gray"):
        """Shows the kept grids, one row per epoch (see `keras_ae.plotting`).

        Args:
            num_images: Images per row (default: all points).
            title: Optional title above the figure.
            cmap: Colormap for one-channel images.

        Returns:
            A `matplotlib.figure.Figure`.
        """
        from keras_ae.plotting import plot_rows

        if not self.grids:
            raise ValueError(
                "Expected at least one kept grid: call plot() after fit(). "
                "Received: no grids"
            )
        rows = {}
        for epoch, images in self.grids:
            label, repeat = f"epoch {epoch}", 1
            while label in rows:  # the same epoch number from a second fit()
                repeat += 1
                label = f"epoch {epoch} ({repeat})"
            rows[label] = images
        return plot_rows(
            rows, num_images=num_images or self.num_images, cmap=cmap, title=title
        )
