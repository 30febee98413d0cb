"""`import keras_ae` changes no global setting and hides nothing TensorFlow says.

Every check runs in a fresh interpreter, since this one has long imported
keras_ae, Keras and TensorFlow.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Variables the package used to set or read at import.
IMPORT_TIME_VARIABLES = ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "KERAS_AE_VERBOSE_TF")
# TensorFlow's C++ log lines: "I0000 00:00:17.7   24386 port.cc:153] message".
ABSL_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] (.*)$")


def run_python(code, tmp_path, **variables):
    """Runs `code` in a fresh interpreter, in a clean Keras home; returns it done."""
    env = {k: v for k, v in os.environ.items() if k not in IMPORT_TIME_VARIABLES}
    env["KERAS_HOME"] = str(tmp_path / "keras_home")  # no user keras.json
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_leaves_environment_and_import_hooks_unchanged(tmp_path):
    completed = run_python(
        """
        import json, os, sys
        environ, meta_path = dict(os.environ), list(sys.meta_path)
        import keras_ae
        print(json.dumps({
            "added": sorted(set(os.environ) - set(environ)),
            "environ_unchanged": dict(os.environ) == environ,
            "meta_path_unchanged": list(sys.meta_path) == meta_path,
            "heavy_imports": sorted({"keras", "tensorflow"} & set(sys.modules)),
        }))
        """,
        tmp_path,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.splitlines()[-1])
    assert result == {
        "added": [],
        "environ_unchanged": True,
        "meta_path_unchanged": True,
        "heavy_imports": [],  # and it stays cheap: no Keras, no TensorFlow
    }


def messages(stderr):
    """The stderr lines, TensorFlow's log lines without time stamp and thread."""
    lines = set()
    for line in stderr.splitlines():
        match = ABSL_LINE.match(line)
        lines.add(match.group(1) if match else line)
    return lines


def test_tensorflow_start_up_lines_still_reach_stderr(tmp_path):
    # With every level shown, what `import tensorflow` writes to file
    # descriptor 2 on its own must also appear after `import keras_ae`.
    alone = run_python("import tensorflow", tmp_path, TF_CPP_MIN_LOG_LEVEL="0")
    after_keras_ae = run_python(
        """
        import os, sys
        import keras_ae
        import tensorflow
        os.write(2, b"written to file descriptor 2\\n")
        print("written to sys.stderr", file=sys.stderr, flush=True)
        """,
        tmp_path,
        TF_CPP_MIN_LOG_LEVEL="0",
    )

    assert alone.returncode == 0, alone.stderr[-3000:]
    assert after_keras_ae.returncode == 0, after_keras_ae.stderr[-3000:]
    shown = messages(after_keras_ae.stderr)
    assert messages(alone.stderr) <= shown, after_keras_ae.stderr
    assert {"written to file descriptor 2", "written to sys.stderr"} <= shown


def test_tensorflow_is_keras_default_backend(tmp_path):
    # KERAS_BACKEND unset and no keras.json: Keras 3 itself picks TensorFlow,
    # so nothing needs the `setdefault` the package used to do.
    completed = run_python(
        """
        import keras_ae
        keras_ae.require_tensorflow_backend()
        import keras
        print(keras.backend.backend())
        """,
        tmp_path,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split()[-1] == "tensorflow"


def installed_other_backend():
    """A Keras backend other than TensorFlow that can be imported here, or None.

    Keras's "numpy" backend imports jax as well (Keras 3.15), so it is no
    fallback when jax is missing.
    """
    for backend in ("jax", "torch", "openvino"):
        if importlib.util.find_spec(backend) is not None:
            return backend
    return None


OTHER_BACKEND = installed_other_backend()
needs_other_backend = pytest.mark.skipif(
    OTHER_BACKEND is None,
    reason="no other Keras backend (jax, torch or openvino) is installed",
)
CATCH_ERROR = """
    import keras_ae
    try:
        keras_ae.load_model("missing.keras")
    except RuntimeError as error:
        print(error)
    else:
        print("no error")
    """


@needs_other_backend
def test_load_model_on_another_backend_names_keras_backend(tmp_path):
    completed = run_python(CATCH_ERROR, tmp_path, KERAS_BACKEND=OTHER_BACKEND)

    assert completed.returncode == 0, completed.stderr[-3000:]
    message = completed.stdout.strip().splitlines()[-1]
    assert message.startswith(
        "keras_ae.load_model needs Keras's TensorFlow backend, but Keras runs on "
        f"{OTHER_BACKEND!r} (KERAS_BACKEND={OTHER_BACKEND!r} is set). "
        "Set the environment variable KERAS_BACKEND=tensorflow"
    ), message


@needs_other_backend
def test_backend_from_keras_json_is_named_too(tmp_path):
    home = tmp_path / "keras_home"
    home.mkdir()
    (home / "keras.json").write_text(json.dumps({"backend": OTHER_BACKEND}))

    completed = run_python(CATCH_ERROR, tmp_path)

    assert completed.returncode == 0, completed.stderr[-3000:]
    message = completed.stdout.strip().splitlines()[-1]
    assert f"but Keras runs on {OTHER_BACKEND!r}" in message
    assert f"KERAS_BACKEND is not set; {home}/keras.json names it" in message


def test_load_model_checks_the_backend_before_reading_the_file(monkeypatch, tmp_path):
    # Where no other backend is installed: Keras's answer is replaced instead.
    import keras

    import keras_ae

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    with pytest.raises(
        RuntimeError,
        match=r"^keras_ae\.load_model needs Keras's TensorFlow backend, but Keras "
        r"runs on 'jax' \(KERAS_BACKEND='jax' is set\)\. Set the environment "
        r"variable KERAS_BACKEND=tensorflow \(or unset it\) before Keras is first "
        r"imported",
    ):
        keras_ae.load_model(tmp_path / "missing.keras")

    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setenv("KERAS_HOME", "/somewhere")
    with pytest.raises(
        RuntimeError, match=r"KERAS_BACKEND is not set; /somewhere/keras\.json names"
    ):
        keras_ae.require_tensorflow_backend()
