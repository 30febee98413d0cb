import keras
import numpy as np
import pytest

from keras_ae.train.callbacks import EpochLogger, SampleGrid


def test_epoch_logger_prints_every_nth_and_last_epoch(capsys):
    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, x, epochs=7, verbose=0, callbacks=[EpochLogger(every=3)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["3/7", "6/7", "7/7"]
    # The printed loss is the logged loss of that epoch.
    assert f"loss {history.history['loss'][5]:.4g}" in lines[1]


@pytest.mark.parametrize("every", [0, -1, 2.5])
def test_epoch_logger_rejects_bad_every(every):
    with pytest.raises(ValueError, match="Expected every to be an int >= 1"):
        EpochLogger(every=every)


# SampleGrid.


class _Recorder(keras.callbacks.Callback):
    """Records network(inputs) after every epoch, for comparison."""

    def __init__(self, network, inputs):
        super().__init__()
        self.network, self.inputs, self.images = network, inputs, {}

    def on_epoch_end(self, epoch, logs=None):
        images = self.network(self.inputs, training=False)
        self.images[epoch + 1] = keras.ops.convert_to_numpy(images)


def _small_gan(num_classes=None, seed=0):
    from keras_ae.models.gan_builders import (
        build_dense_discriminator,
        build_dense_generator,
    )
    from keras_ae.models.gans import GAN, ConditionalGAN

    keras.utils.set_random_seed(seed)
    generator = build_dense_generator(
        4, (8, 8, 1), hidden_units=(16,), num_classes=num_classes
    )
    discriminator = build_dense_discriminator(
        (8, 8, 1), hidden_units=(16,), num_classes=num_classes
    )
    model_class = GAN if num_classes is None else ConditionalGAN
    gan = model_class(generator, discriminator, seed=seed)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(0.01), g_optimizer=keras.optimizers.Adam(0.01)
    )
    return gan


def _images(size=64, seed=0):
    return np.random.default_rng(seed).uniform(size=(size, 8, 8, 1)).astype("float32")


def test_sample_grid_keeps_the_generators_images_every_n_epochs():
    gan = _small_gan()
    grid = SampleGrid(num_images=6, seed=3, every=2)
    points = np.random.default_rng(3).standard_normal((6, 4)).astype("float32")
    recorder = _Recorder(gan.generator, points)
    gan.fit(_images(), epochs=5, batch_size=16, verbose=0, callbacks=[grid, recorder])
    np.testing.assert_array_equal(grid.latent_points, points)
    # Every 2nd epoch, and the last one.
    assert [epoch for epoch, _ in grid.grids] == [2, 4, 5]
    for epoch, images in grid.grids:
        assert images.shape == (6, 8, 8, 1)
        np.testing.assert_array_equal(images, recorder.images[epoch])
    # The generator trained between the kept epochs: the same points changed.
    assert np.abs(grid.grids[0][1] - grid.grids[-1][1]).max() > 1e-3


def test_sample_grid_with_given_points_epochs_and_labels():
    gan = _small_gan(num_classes=3, seed=1)
    points = np.random.default_rng(1).standard_normal((3, 4))
    labels = np.array([0, 1, 2])
    grid = SampleGrid(points, epochs=[3, 1], labels=labels)
    inputs = [points.astype("float32"), np.eye(3, dtype="float32")]
    recorder = _Recorder(gan.generator, inputs)
    callbacks = [grid, recorder]
    x, y = _images(48), np.arange(48) % 3
    gan.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=callbacks)
    assert [epoch for epoch, _ in grid.grids] == [1, 3]
    for epoch, images in grid.grids:
        np.testing.assert_array_equal(images, recorder.images[epoch])
    # The labels reach the generator: one-hot of other classes gives other images.
    other = keras.ops.convert_to_numpy(gan.generator([inputs[0], inputs[1][::-1]]))
    assert np.abs(other - grid.grids[-1][1]).max() > 1e-4


def test_sample_grid_uses_a_decoder_and_plots_rows():
    from matplotlib.figure import Figure

    from keras_ae.models.denoising import DenoisingAutoencoder

    keras.utils.set_random_seed(2)
    inputs = keras.Input((8, 8, 1))
    codes = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))
    encoder = keras.Model(inputs, codes)
    code_input = keras.Input((3,))
    pixels = keras.layers.Dense(64, activation="sigmoid")(code_input)
    decoder = keras.Model(code_input, keras.layers.Reshape((8, 8, 1))(pixels))
    model = DenoisingAutoencoder(encoder, decoder, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    grid = SampleGrid(num_images=5, seed=0, every=1)
    model.fit(_images(32), epochs=2, batch_size=16, verbose=0, callbacks=[grid])
    points = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    np.testing.assert_allclose(
        grid.grids[-1][1], keras.ops.convert_to_numpy(decoder(points)), rtol=1e-6
    )
    fig = grid.plot(num_images=4, title="Samples")
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 4
    assert [fig.axes[0].get_ylabel(), fig.axes[4].get_ylabel()] == [
        "epoch 1",
        "epoch 2",
    ]
    for row, (_, images) in enumerate(grid.grids):
        for column in range(4):
            shown = fig.axes[4 * row + column].images[0].get_array()
            np.testing.assert_allclose(shown, images[column, ..., 0], rtol=1e-6)


def test_sample_grid_accepts_any_callable():
    calls = []

    def network(points):
        calls.append(points)
        return np.full((len(points), 2, 2, 1), float(len(calls)))

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss="mse")
    grid = SampleGrid(np.zeros((3, 2)), network=network, epochs=[2])
    x = np.zeros((8, 4), dtype="float32")
    model.fit(x, x, epochs=3, verbose=0, callbacks=[grid])
    assert len(calls) == 1 and grid.grids[0][0] == 2
    np.testing.assert_array_equal(grid.grids[0][1], np.ones((3, 2, 2, 1)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"every": 0}, "Expected every to be an int >= 1. Received: every=0"),
        ({"epochs": [0, 2]}, "Expected epochs to be a list of ints >= 1"),
        ({"num_images": 0}, "Expected num_images >= 1. Received: num_images=0"),
        (
            {"latent_points": np.zeros(4)},
            "Expected latent_points of shape (N, latent_dim)",
        ),
        (
            {"num_images": 3, "labels": [0, 1]},
            "Expected 3 integer labels, one per image. Received: labels=[0, 1]",
        ),
    ],
)
def test_sample_grid_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as error:
        SampleGrid(**kwargs)
    assert message in str(error.value)


def test_sample_grid_needs_a_network_and_a_fit():
    grid = SampleGrid()
    with pytest.raises(ValueError, match="Expected at least one kept grid"):
        grid.plot()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((8, 4), dtype="float32")
    with pytest.raises(ValueError, match="Expected a model with a `generator` or"):
        model.fit(x, x, epochs=1, verbose=0, callbacks=[grid])
