"""Timing helper shared by the benchmark scripts (imported as `_timing`, the
scripts run from their own folder on `sys.path`)."""

import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Records the duration of each epoch, without the set-up of `fit()`."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)
