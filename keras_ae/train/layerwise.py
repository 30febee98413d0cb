"""Greedy layer-wise training of a stacked dense autoencoder.

Before good initializations and optimizers, deep autoencoders were trained one
layer at a time (Hinton & Salakhutdinov, 2006; Hands-On ML, ch. 17): train a
shallow autoencoder on the inputs, keep its encoder fixed, train a second
shallow autoencoder on the first one's codes, and so on; then stack the
encoders, and the decoders in reverse order, into one deep autoencoder, which
can be fine-tuned end to end.
"""

import keras
import numpy as np

from keras_ae._validation import check_batch, check_units
from keras_ae.models.autoencoders import (
    build_autoencoder,
    build_dense_decoder,
    build_dense_encoder,
)
from keras_ae.train.recipes import fit_autoencoder

__all__ = ["greedy_layerwise_autoencoder", "shallow_autoencoder"]


def shallow_autoencoder(
    input_size, units, activation="relu", output_activation=None, name="shallow"
):
    """Builds a one-hidden-layer autoencoder on vectors: Dense(units), Dense(input).

    Args:
        input_size: Length of the input vectors.
        units: Units of the code layer.
        activation: Activation of the code layer.
        output_activation: Activation of the reconstruction.
        name: Name of the model.

    Returns:
        An uncompiled Functional `keras.Model` whose Dense layers are named
        `"encode"` and `"decode"`.

    Example:

    >>> shallow_autoencoder(6, 2).output_shape
    (None, 6)
    """
    inputs = keras.Input(shape=(int(input_size),))
    codes = keras.layers.Dense(units, activation=activation, name="encode")(inputs)
    outputs = keras.layers.Dense(
        int(input_size), activation=output_activation, name="decode"
    )(codes)
    return keras.Model(inputs, outputs, name=name)


def _dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def greedy_layerwise_autoencoder(
    x_train,
    layer_sizes,
    *,
    activation="relu",
    code_activation=None,
    output_activation="sigmoid",
    num_epochs=20,
    batch_size=64,
    learning_rate=3e-3,
    loss="mse",
    seed=0,
):
    """Trains a stacked dense autoencoder one layer at a time and stacks it.

    Stage `i` trains `shallow_autoencoder(size_{i-1}, layer_sizes[i])` with
    `fit_autoencoder` to reconstruct the codes of stage `i - 1` (the inputs,
    flattened, for stage 1), with the MSE on codes and `loss` on the pixels.
    The code layer of the last stage is `code_activation`, the others
    `activation`; the reconstruction of stage 1 is `output_activation`, the
    others `activation` (they rebuild codes of that activation). The stacked
    model is `build_dense_encoder` and `build_dense_decoder` (hidden units
    `layer_sizes[:-1]`, mirrored) joined by `build_autoencoder`, holding
    the stages' weights: the same architecture as one trained end to end,
    ready for fine-tuning.

    Args:
        x_train: Training inputs `(N, ...)`.
        layer_sizes: Units of the encoder's layers from the input side, the last
            being the code size, e.g. `(256, 64, 32)`.
        activation: Activation of the hidden layers.
        code_activation: Activation of the code layer.
        output_activation: Activation of the pixels.
        num_epochs: Epochs of each stage.
        batch_size: Inputs per training step.
        learning_rate: Initial step size of Adam (cosine decay, see
            `fit_autoencoder`).
        loss: Loss of stage 1 on the pixels.
        seed: Seed of each stage's shuffling; stage `i` uses `seed + i`.

    Returns:
        A dict: `"autoencoder"` (the stacked, uncompiled model), `"stages"` (the
        trained shallow autoencoders) and `"histories"` (their `History`s).

    Example:

    >>> x = np.random.default_rng(0).uniform(size=(64, 8)).astype("float32")
    >>> result = greedy_layerwise_autoencoder(x, (6, 3), num_epochs=1)
    >>> [stage.count_params() for stage in result["stages"]]
    [110, 45]
    >>> result["autoencoder"].count_params() == 110 + 45
    True
    """
    x_train = check_batch("x_train", x_train)
    layer_sizes = check_units("layer_sizes", layer_sizes, "(256, 64, 32)")
    inputs = x_train.reshape(len(x_train), -1)
    stages, histories = [], []
    for i, units in enumerate(layer_sizes):
        last = i == len(layer_sizes) - 1
        keras.utils.set_random_seed(seed + i)
        stage = shallow_autoencoder(
            inputs.shape[1],
            units,
            activation=code_activation if last else activation,
            output_activation=output_activation if i == 0 else activation,
            name=f"stage_{i + 1}",
        )
        histories.append(
            fit_autoencoder(
                stage,
                inputs,
                num_epochs=num_epochs,
                batch_size=batch_size,
                learning_rate=learning_rate,
                loss=loss if i == 0 else "mse",
                seed=seed + i,
            )
        )
        stages.append(stage)
        inputs = np.asarray(stage.get_layer("encode")(inputs))
    encoder = build_dense_encoder(
        input_shape=x_train.shape[1:],
        code_size=layer_sizes[-1],
        hidden_units=layer_sizes[:-1],
        activation=activation,
        code_activation=code_activation,
    )
    decoder = build_dense_decoder(
        output_shape=x_train.shape[1:],
        code_size=layer_sizes[-1],
        hidden_units=layer_sizes[:-1][::-1],
        activation=activation,
        output_activation=output_activation,
    )
    autoencoder = build_autoencoder(encoder, decoder)
    encoder_layers = _dense_layers(autoencoder.get_layer("encoder"))
    decoder_layers = _dense_layers(autoencoder.get_layer("decoder"))[::-1]
    for stage, encode, decode in zip(
        stages, encoder_layers, decoder_layers, strict=True
    ):
        encode.set_weights(stage.get_layer("encode").get_weights())
        decode.set_weights(stage.get_layer("decode").get_weights())
    return {"autoencoder": autoencoder, "stages": stages, "histories": histories}
