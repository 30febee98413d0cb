"""Loads `.keras` models in a fresh process and writes their predictions.

Used by tests/test_autoencoders.py to check that saved models load with
`safe_mode=True` in a process that never built them.

Usage: python _load_and_predict.py REPORT.json MODEL.keras:INPUT.npy:OUTPUT.npy ...
"""

import json
import sys

import keras
import numpy as np

import keras_ae.models.layers  # noqa: F401  (registers the custom layers before loading)
from keras_ae.models.layers import DenseTranspose


def tie_report(model):
    """Returns, for each DenseTranspose of the decoder, whether its tied layer is
    the encoder's layer of the same name (the very object, not a copy)."""
    encoder = model.get_layer("encoder")
    decoder = model.get_layer("decoder")
    return [
        layer.tied_to is encoder.get_layer(layer.tied_to.name)
        for layer in decoder.layers
        if isinstance(layer, DenseTranspose)
    ]


def main(report_path, jobs):
    report = {}
    for job in jobs:
        model_path, input_path, output_path = job.split(":")
        model = keras.saving.load_model(model_path, safe_mode=True)
        np.save(output_path, model.predict(np.load(input_path), verbose=0))
        report[model_path] = {
            "count_params": model.count_params(),
            "ties": tie_report(model),
        }
    with open(report_path, "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
