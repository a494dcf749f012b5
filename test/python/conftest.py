"""Shared fixtures: a tiny generated dataset, one trained tiny model, and helpers to run the
scripts in-process or as subprocesses. Everything runs on CPU with ``--weights none``."""
from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
from dataclasses import dataclass

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(REPO, "scripts")
SCRIPTS_DEV = os.path.join(REPO, "scripts-dev")
for path in (SCRIPTS, SCRIPTS_DEV):
    if path not in sys.path:
        sys.path.insert(0, path)

import make_synthetic_dataset  # noqa: E402
import train  # noqa: E402

CLASSES = 3
TRAIN_PER_CLASS = 16  # 48 images: 6 batches of 8 in one process, 3 per rank in two
EVAL_PER_CLASS = 6
BATCH = 8
#: Small and fast on 2 CPU cores: resnet18 on 32 px images, no loader workers.
FAST_FLAGS = ["--arch", "resnet18", "--weights", "none", "--image-size", "32",
              "--batch-size", str(BATCH), "--num-workers", "0", "--lr", "0.001"]


@dataclass
class Dataset:
    root: str
    train: str
    valid: str
    test: str
    n_train: int


@dataclass
class RunResult:
    code: int
    stdout: str
    stderr: str

    def metric_lines(self, prefix="epoch="):
        return [line for line in self.stdout.splitlines() if line.startswith(prefix)]


@pytest.fixture(scope="session", autouse=True)
def private_tmpdir(tmp_path_factory):
    """train.py's default image cache lives under the temp dir: keep the tests' in pytest's."""
    import tempfile
    tmp = str(tmp_path_factory.mktemp("tmpdir"))
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"], tempfile.tempdir = tmp, None
    yield tmp
    if old is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = old
    tempfile.tempdir = None


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Dataset:
    root = str(tmp_path_factory.mktemp("dogs"))
    make_synthetic_dataset.write_dataset(
        root, CLASSES, {"train": TRAIN_PER_CLASS, "valid": EVAL_PER_CLASS, "test": EVAL_PER_CLASS}, 32, 0)
    return Dataset(root, os.path.join(root, "train"), os.path.join(root, "valid"),
                   os.path.join(root, "test"), CLASSES * TRAIN_PER_CLASS)


def data_flags(ds: Dataset):
    return ["--train", ds.train, "--valid", ds.valid, "--test", ds.test]


def run_train(argv, env=None) -> RunResult:
    """train.main in this process with its stdout/stderr captured; env {} means flag mode."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = train.main(argv, env={} if env is None else env)
    return RunResult(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def trained(dataset, tmp_path_factory):
    """One 5-epoch run, reused by the learning test and the inference tests."""
    base = tmp_path_factory.mktemp("trained")
    model_dir, out_dir = str(base / "model"), str(base / "output")
    result = run_train(data_flags(dataset) + FAST_FLAGS + [
        "--epochs", "5", "--patience", "0", "--model-dir", model_dir, "--output-data-dir", out_dir,
        "--checkpoint-dir", str(base / "ckpt"), "--some-unknown-hyperparameter", "7"])
    assert result.code == 0, result.stderr
    return {"model_dir": model_dir, "output_dir": out_dir, "result": result}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra) -> dict:
    """The current environment without SageMaker or torchrun variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SM_") and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_subprocess(args, env, timeout=150, cwd=REPO) -> RunResult:
    proc = subprocess.run([sys.executable] + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return RunResult(proc.returncode, proc.stdout, proc.stderr)
