"""Keras callbacks the notebooks share."""

import time

import keras


class EpochLogger(keras.callbacks.Callback):
    """Prints one compact line every `every` epochs, and after the last one.

    A middle way between `verbose=0` (silence during a long fit) and
    `verbose=2` (a line per epoch, hundreds of lines in a notebook).

    Args:
        every: Print after every `every`-th epoch.
        metrics: Names of the logged values to print (default: all).

    Example:
        >>> model.fit(x, x, epochs=200, verbose=0, callbacks=[EpochLogger(50)])
        epoch  50/200  loss 0.0312  val_loss 0.0330  (4.1 s)
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
