"""Tests of `python -m keras_ae train` and `evaluate` (keras_ae.course.cli).

A few kinds are trained for one or two epochs in-process (`main([...])`) once
per module; evaluate's numbers are checked against NumPy, scikit-learn's PCA
and a Frechet distance written out here. The error cases run in a fresh
interpreter, as a user would meet them.
"""

import contextlib
import io
import json
import shutil
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest
import scipy.linalg
from sklearn.decomposition import PCA

import keras_ae
from keras_ae.__main__ import main
from keras_ae.course import cli
from keras_ae.data import load_dataset
from keras_ae.train import registry


def _run(argv):
    """Runs `main(argv)` in-process; returns (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _evaluate_json(path, *extra):
    code, out, err = _run(["evaluate", str(path), "--json", *extra])
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def mnist_5k():
    return load_dataset("mnist_5k")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Trains three kinds; returns {kind: (model path, stdout of train)}.

    The autoencoders train on the small 8x8 digits; the GAN on the course's
    default data set (mnist_5k), so that its samples are judged by the course's
    classifier.
    """
    folder = tmp_path_factory.mktemp("models")
    digits = ["--dataset", "digits"]
    runs = {
        "undercomplete": ["--epochs", "2", "--code-size", "6", *digits],
        "vae": ["--epochs", "2", "--code-size", "4", "--batch-size", "128", *digits],
        "dense-gan": ["--epochs", "1", "--latent-dim", "16", "--seed", "3"],
    }
    results = {}
    for name, options in runs.items():
        kind = name.replace("-", "_")
        path = folder / f"{kind}.keras"
        code, out, err = _run(["train", name, *options, "--output", str(path)])
        assert code == 0, err
        results[kind] = (path, out)
    return results


def test_model_kinds_and_data_sets_match_the_library():
    from keras_ae import data
    from keras_ae.course import runner

    assert cli.DATASETS == data.KNOWN_DATASETS
    assert runner.DEFAULT_DATASET == data.DEFAULT_DATASET


@pytest.mark.parametrize("kind", ["undercomplete", "vae", "dense_gan"])
def test_train_writes_model_figure_and_metadata(trained, kind):
    path, _ = trained[kind]
    figure_path, metadata_path = path.with_suffix(".png"), path.with_suffix(".json")
    metadata = json.loads(metadata_path.read_text())
    expected = {
        "undercomplete": {"code_size": 6, "num_epochs": 2, "seed": 0},
        "vae": {"code_size": 4, "num_epochs": 2, "batch_size": 128},
        "dense_gan": {"latent_dim": 16, "num_epochs": 1, "seed": 3},
    }[kind]
    assert metadata["kind"] == kind
    assert metadata["family"] == registry.FAMILIES[kind]
    dataset, shape = (
        ("mnist_5k", [28, 28, 1])
        if kind == "dense_gan"
        else (
            "digits",
            [8, 8, 1],
        )
    )
    assert (metadata["dataset"], metadata["image_shape"]) == (dataset, shape)
    assert metadata["keras_ae_version"] == keras_ae.__version__
    assert metadata["train_seconds"] > 0
    assert {key: metadata[key] for key in expected} == expected

    model = keras_ae.load_model(path)
    assert model.count_params() == metadata["num_params"]
    if kind == "vae":
        assert model.latent_dim == 4
    elif kind == "dense_gan":
        assert model.latent_dim == 16
    else:
        assert model.get_layer("encoder").output_shape == (None, 6)

    with open(figure_path, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    pixels = matplotlib.image.imread(figure_path)
    assert pixels.std() > 0.05  # images drawn, not a blank canvas


def test_train_shows_progress_over_the_epochs(trained):
    _, out = trained["undercomplete"]
    assert "Training undercomplete on digits (1077 images 8x8x1): 2 epochs" in out
    assert "epoch 1/2 [" in out and "epoch 2/2 [====================]" in out
    assert " - loss " in out
    assert "python -m keras_ae evaluate" in out


def test_quiet_train_prints_nothing(tmp_path):
    path = tmp_path / "quiet.keras"
    code, out, err = _run(
        ["train", "undercomplete", "--epochs", "1", "--quiet", "--output", str(path)]
    )
    assert (code, out) == (0, "")
    assert path.exists() and path.with_suffix(".json").exists()


def test_evaluate_autoencoder_against_numpy_and_pca(trained, digits):
    (x_train, _), _, (x_test, _), _ = digits
    path, _ = trained["undercomplete"]
    report = _evaluate_json(path)
    metrics = report["metrics"]
    assert (report["kind"], report["dataset"]) == ("undercomplete", "digits")
    assert report["num_test_images"] == len(x_test) == 450

    model = keras_ae.load_model(path)
    reconstructions = model.predict(x_test, verbose=0).astype("float64")
    squared_errors = (x_test.astype("float64") - reconstructions) ** 2
    assert metrics["mse"] == pytest.approx(squared_errors.mean(), rel=1e-5)
    per_image_psnr = 10 * np.log10(1.0 / squared_errors.mean(axis=(1, 2, 3)))
    assert metrics["psnr"] == pytest.approx(per_image_psnr.mean(), rel=1e-5)
    assert 0 < metrics["ssim"] < 1

    pca = PCA(n_components=6, svd_solver="full").fit(x_train.reshape(-1, 64))
    pca_reconstructions = pca.inverse_transform(pca.transform(x_test.reshape(-1, 64)))
    pca_mse = np.mean((x_test.reshape(-1, 64) - pca_reconstructions) ** 2)
    assert metrics["pca_components"] == 6
    assert metrics["pca_mse"] == pytest.approx(pca_mse, rel=1e-6)
    # Two epochs are far from PCA's error; the table still has both.
    assert metrics["mse"] > metrics["pca_mse"]


def test_evaluate_prints_a_table(trained):
    path, _ = trained["undercomplete"]
    code, out, _ = _run(["evaluate", str(path)])
    assert code == 0
    assert f"{path}: undercomplete (autoencoder), measured on 450 digits" in out
    assert "trained 2 epochs" in out
    report = _evaluate_json(path)
    mse_row = next(line for line in out.splitlines() if "reconstruction MSE" in line)
    assert f"{report['metrics']['mse']:.4g}" in mse_row


def test_evaluate_without_metadata_infers_kind_and_data_set(trained, tmp_path):
    path, _ = trained["undercomplete"]
    copy = tmp_path / "no_metadata.keras"
    shutil.copy(path, copy)
    report = _evaluate_json(copy)
    assert report["metadata"] is None
    assert (report["kind"], report["dataset"]) == ("undercomplete", "digits")
    assert report["metrics"] == _evaluate_json(path)["metrics"]


def test_evaluate_vae_reconstructs_the_posterior_mean(trained, digits):
    _, _, (x_test, _), _ = digits
    path, _ = trained["vae"]
    report = _evaluate_json(path)
    metrics = report["metrics"]
    vae = keras_ae.load_model(path)
    z_mean = vae.encoder.predict(x_test, verbose=0)[0]
    reconstructions = vae.decoder.predict(z_mean, verbose=0)
    assert metrics["mse"] == pytest.approx(np.mean((x_test - reconstructions) ** 2))
    expected_elbo = vae.test_elbo(x_test, num_samples=cli.ELBO_SAMPLES, seed=0)
    assert metrics["test_elbo"] == pytest.approx(expected_elbo, rel=1e-6)
    # Bernoulli likelihood of 64 pixels: -ELBO between 0 and 64 log 2 nats
    # (an untrained decoder) plus the KL term.
    assert 0 < -metrics["test_elbo"] < 64 * np.log(2) + 20
    assert 1 <= metrics["num_covered"] <= 10


def _frechet_distance(a, b):
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # dead features after one epoch: singular
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = np.real(scipy.linalg.sqrtm(cov_a @ cov_b))
    return np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * root)


def test_evaluate_gan_sample_quality_against_a_reference(trained, mnist_5k):
    from keras_ae.evaluate.classifier import features, get_classifier

    _, (x_val, _), (x_test, _), _ = mnist_5k
    path, _ = trained["dense_gan"]
    report = _evaluate_json(path, "--seed", "5")
    metrics = report["metrics"]
    assert not {"mse", "pca_mse", "test_elbo"} & set(metrics)

    gan = keras_ae.load_model(path)
    # As many samples as validation images; the floor is validation vs test,
    # two real sets the classifier never trained on.
    generated = np.clip(gan.generate(len(x_val), seed=5), 0, 1)
    classifier = get_classifier("mnist_5k")
    fake = features(classifier, generated).astype("float64")
    real = features(classifier, x_test).astype("float64")
    heldout = features(classifier, x_val).astype("float64")
    assert metrics["frechet_distance"] == pytest.approx(
        _frechet_distance(fake, real), rel=1e-3, abs=1e-3
    )
    assert metrics["real_floor"] == pytest.approx(
        _frechet_distance(heldout, real), rel=1e-3, abs=1e-3
    )
    predicted = classifier.predict(generated, verbose=0).argmax(axis=1)
    fractions = np.bincount(predicted, minlength=10) / len(predicted)
    assert metrics["num_covered"] == int(np.sum(fractions >= 0.01))


def test_progress_line_format():
    progress = cli.EpochProgress(10, stream=io.StringIO(), dynamic=False)
    logs = {"kl_loss": 0.125, "loss": 25.04, "kl_weight": 1.0}
    line = progress.format_line(5, logs, elapsed=65.2, remaining=30.4)
    assert line == (
        "epoch  5/10 [==========          ] 1m05s, ETA 30s - loss 25.04 - kl_loss 0.125"
    )


def test_progress_rewrites_one_line_on_a_terminal():
    stream = io.StringIO()
    progress = cli.EpochProgress(3, stream=stream, dynamic=True)
    for epoch in (1, 2, 3):
        progress.update(epoch, {"loss": 1.0 / epoch})
    assert "\n" not in stream.getvalue()
    assert stream.getvalue().count("\r") == 3
    progress.close()
    assert stream.getvalue().endswith("ETA 0s - loss 0.3333\n")


def test_progress_writes_a_tenth_of_the_lines_to_a_log():
    stream = io.StringIO()
    progress = cli.EpochProgress(100, stream=stream, dynamic=False)
    for epoch in range(1, 101):
        progress.update(epoch, {"d_loss": 0.7, "g_loss": 0.9, "d_real": 0.5})
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[-1].startswith("epoch 100/100 [====================]")
    assert lines[-1].endswith("- d_loss 0.7 - g_loss 0.9")


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "keras_ae", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["train", "autoencoder"], 2, "invalid choice: 'autoencoder'"),
        (["train", "vae", "--epochs", "0"], 2, "--epochs: expected a whole number > 0"),
        (["train", "vae", "--epochs", "-3"], 2, "received '-3'"),
        (["train", "vae", "--batch-size", "abc"], 2, "--batch-size: expected a whole"),
        (["train", "vae", "--code-size", "2.5"], 2, "received '2.5'"),
        (["evaluate", "missing.keras"], 1, "no such file: missing.keras"),
        (["evaluate", "notes.keras"], 1, "notes.keras is not a Keras model file"),
    ],
)
def test_errors_are_one_line_on_stderr(tmp_path, args, code, message):
    (tmp_path / "notes.keras").write_text("not a model\n")
    result = _cli(*args, cwd=tmp_path)
    assert result.returncode == code
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_arguments_fail_before_tensorflow_is_imported(tmp_path):
    script = (
        "import sys; from keras_ae.__main__ import main; "
        "codes = [main(['train', 'vae', '--epochs', '0']), "
        "main(['evaluate', 'missing.keras']), main(['evaluate', 'notes.keras'])]; "
        "print(codes, 'tensorflow' in sys.modules)"
    )
    (tmp_path / "notes.keras").write_text("not a model\n")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.stdout.strip() == "[2, 1, 1] False"


def test_unloadable_keras_archive_is_one_line(tmp_path):
    path = tmp_path / "broken.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{not json")
    code, out, err = _run(["evaluate", str(path)])
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith(f"error: cannot load {path} as a Keras model: ")


def test_options_that_do_not_apply_to_the_kind_are_usage_errors():
    code, _, err = _run(["train", "dcgan", "--code-size", "4"])
    assert code == 2 and "--code-size does not apply to dcgan" in err
    code, _, err = _run(["train", "wgan-gp", "--learning-rate", "0.01"])
    assert code == 2 and "--learning-rate does not apply to wgan_gp" in err
    code, _, err = _run(["train", "vae", "--latent-dim", "4"])
    assert code == 2 and "use --code-size" in err
    code, _, err = _run(["train", "vae", "--learning-rate", "-1"])
    assert code == 2 and "expected a number > 0" in err


def test_help_lists_every_model_kind():
    code, out, _ = _run(["train", "--help"])
    assert code == 0
    text = " ".join(out.split())
    assert all(kind in text for kind in registry.MODEL_KINDS)


def test_evaluate_refuses_a_sidecar_that_names_another_kind(trained, tmp_path):
    source, _ = trained["undercomplete"]
    path = tmp_path / "model.keras"
    shutil.copyfile(source, path)
    metadata = json.loads(source.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**metadata, "kind": "denoising"}))
    code, out, err = _run(["evaluate", str(path)])
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        f"error: {path} holds a model of kind undercomplete but model.json says "
        "denoising; remove or fix that file"
    ]


def test_evaluate_refuses_a_data_set_of_another_image_shape(trained):
    path, _ = trained["undercomplete"]  # trained on the 8x8 digits
    code, _, err = _run(["evaluate", str(path), "--dataset", "mnist"])
    # Offline, mnist falls back to mnist_5k at 28x28: still not 8x8.
    assert code == 1
    assert "works on images (8, 8, 1)" in err.strip().splitlines()[-1]


def test_evaluate_says_where_the_data_set_came_from(trained, tmp_path):
    source, _ = trained["undercomplete"]
    path = tmp_path / "bare.keras"
    shutil.copyfile(source, path)  # no .json beside it
    assert _evaluate_json(path)["dataset_source"].startswith("guessed from the")
    assert _evaluate_json(source)["dataset_source"] == "training metadata"
    assert _evaluate_json(source, "--dataset", "digits")["dataset_source"] == (
        "--dataset"
    )
