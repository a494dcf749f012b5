"""End-to-end training runs on the tiny dataset: learning, SageMaker vs flag mode, resume,
torchrun with two gloo processes, and one process per "host" on localhost."""
import json
import os
import re

import torch

import train_data
from conftest import (BATCH, FAST_FLAGS, REPO, clean_env, data_flags, free_port, run_subprocess,
                      run_train)

TRAIN_PY = os.path.join(REPO, "scripts", "train.py")
EPOCH_RE = re.compile(
    r"^epoch=(\d+) train_loss=(\d+\.\d{3}) val_loss=(\d+\.\d{3}) val_accuracy=(\d\.\d{3}) images_per_sec=(\d+\.\d)$")
TEST_RE = re.compile(r"^test_accuracy=(\d\.\d{3}) test_loss=(\d+\.\d{3})$")
BATCHES_RE = re.compile(r"epoch (\d+): (\d+) train batches, (\d+) images")


def _without_speed(lines):
    return [line.rsplit(" images_per_sec=", 1)[0] for line in lines]


def _same_weights(dir_a, dir_b):
    a = torch.load(os.path.join(dir_a, "model.pth"))
    b = torch.load(os.path.join(dir_b, "model.pth"))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_learns_and_writes_the_model_artifact(trained):
    result = trained["result"]
    lines = result.metric_lines()
    assert [EPOCH_RE.match(line).group(1) for line in lines] == ["1", "2", "3", "4", "5"], result.stdout
    accuracies = [float(EPOCH_RE.match(line).group(4)) for line in lines]
    assert max(accuracies) >= 0.75, lines  # chance is 0.33
    test_lines = result.metric_lines("test_accuracy=")
    assert len(test_lines) == 1 and TEST_RE.match(test_lines[0])
    assert float(TEST_RE.match(test_lines[0]).group(1)) >= 0.6
    assert "ignoring unknown arguments: --some-unknown-hyperparameter 7" in result.stderr

    model_dir = trained["model_dir"]
    assert sorted(os.listdir(model_dir)) == ["classes.json", "code", "model-info.json", "model.pth"]
    assert sorted(os.listdir(os.path.join(model_dir, "code"))) == ["deployment.py", "inference.py", "model_def.py",
                                                                 "serve_compat.py", "url_fetch.py"]
    with open(os.path.join(model_dir, "classes.json")) as fh:
        assert json.load(fh) == {"0": "Affenpinscher", "1": "Afghan hound", "2": "Airedale terrier"}
    with open(os.path.join(model_dir, "model-info.json")) as fh:
        info = json.load(fh)
    assert {k: info[k] for k in ("arch", "num_classes", "image_size", "classes_file", "framework")} == {
        "arch": "resnet18", "num_classes": 3, "image_size": 32, "classes_file": "classes.json", "framework": "pytorch"}
    assert len(info["mean"]) == 3 and len(info["std"]) == 3 and info["torch_version"]
    with open(os.path.join(trained["output_dir"], "metrics.json")) as fh:
        metrics = json.load(fh)
    assert len(metrics["history"]) == 5 and "test_accuracy" in metrics
    assert torch.load(os.path.join(model_dir, "model.pth"))["fc.weight"].shape == (3, 512)


def test_sagemaker_environment_and_flags_give_the_same_run(dataset, tmp_path):
    hyperparameters = FAST_FLAGS + ["--epochs", "2", "--seed", "3"]
    sm_env = {
        "SM_CHANNEL_TRAIN": dataset.train, "SM_CHANNEL_VALID": dataset.valid, "SM_CHANNEL_TEST": dataset.test,
        "SM_MODEL_DIR": str(tmp_path / "sm-model"), "SM_OUTPUT_DATA_DIR": str(tmp_path / "sm-out"),
        "SM_HOSTS": '["algo-1"]', "SM_CURRENT_HOST": "algo-1", "SM_NUM_GPUS": "0",
    }
    sm = run_train(hyperparameters + ["--checkpoint-dir", str(tmp_path / "sm-ckpt")], env=sm_env)
    flags = run_train(data_flags(dataset) + hyperparameters + [
        "--model-dir", str(tmp_path / "flag-model"), "--output-data-dir", str(tmp_path / "flag-out")])
    assert sm.code == 0 and flags.code == 0, sm.stderr + flags.stderr
    assert len(sm.metric_lines()) == 2
    assert _without_speed(sm.metric_lines()) == _without_speed(flags.metric_lines())
    assert sm.metric_lines("test_") == flags.metric_lines("test_")
    assert _same_weights(tmp_path / "sm-model", tmp_path / "flag-model")
    assert os.path.exists(tmp_path / "sm-out" / "metrics.json")


def test_resume_continues_the_epoch_count(dataset, tmp_path):
    ckpt = str(tmp_path / "ckpt")
    common = data_flags(dataset) + FAST_FLAGS + ["--patience", "0", "--checkpoint-dir", ckpt,
                                                 "--output-data-dir", str(tmp_path / "out")]
    full = run_train(common + ["--epochs", "3", "--model-dir", str(tmp_path / "full")])
    assert full.code == 0, full.stderr
    assert sorted(os.listdir(ckpt)) == ["best-model.pth", "checkpoint-epoch0002.pt", "checkpoint-epoch0003.pt"]
    # Simulate a spot interruption after epoch 2: the epoch-3 checkpoint never reached S3.
    os.remove(os.path.join(ckpt, "checkpoint-epoch0003.pt"))
    resumed = run_train(common + ["--epochs", "3", "--model-dir", str(tmp_path / "resumed")])
    assert resumed.code == 0, resumed.stderr
    assert "resuming after epoch 2" in resumed.stderr
    assert [line.split()[0] for line in resumed.metric_lines()] == ["epoch=3"]
    # Same data order, same augmentations, same optimizer state: the same epoch 3 and model.
    assert _without_speed(resumed.metric_lines()) == _without_speed(full.metric_lines()[-1:])
    assert _same_weights(tmp_path / "full", tmp_path / "resumed")
    with open(tmp_path / "out" / "metrics.json") as fh:
        assert [h["epoch"] for h in json.load(fh)["history"]] == [1, 2, 3]
    # Done already: a rerun trains nothing and still writes the model.
    again = run_train(common + ["--epochs", "3", "--model-dir", str(tmp_path / "again")])
    assert again.code == 0 and again.metric_lines() == [] and len(again.metric_lines("test_")) == 1


def test_early_stopping_stops_when_val_accuracy_stalls(dataset, tmp_path):
    # lr 0 and a frozen backbone (BatchNorm statistics frozen too): nothing changes after
    # epoch 1, so patience 1 stops after epoch 2.
    flags = [f if f != "0.001" else "0" for f in FAST_FLAGS]
    r = run_train(data_flags(dataset) + flags + ["--epochs", "6", "--patience", "1", "--freeze-backbone", "true",
                                                 "--model-dir", str(tmp_path / "m")])
    assert r.code == 0, r.stderr
    assert len(r.metric_lines()) == 2 and "early stop" in r.stderr


def test_torchrun_two_gloo_processes_split_each_epoch(dataset, tmp_path, trained):
    model_dir = tmp_path / "model"
    # --redirects/--tee 1: Debian's torch 1.13 on Python 3.11 cannot parse the default "0"
    # (IntFlag iteration changed); tee keeps stdout on the console.
    r = run_subprocess(["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
                        "--redirects", "1", "--tee", "1", TRAIN_PY] + data_flags(dataset) + FAST_FLAGS
                       + ["--epochs", "2", "--model-dir", str(model_dir), "--checkpoint-dir", str(tmp_path / "ckpt")],
                       clean_env())
    assert r.code == 0, r.stdout + r.stderr
    one_process = {int(m.group(2)) for m in BATCHES_RE.finditer(trained["result"].stderr)}
    assert one_process == {train_data.expected_batches(dataset.n_train, 1, BATCH)} == {6}
    for rank in (0, 1):
        per_rank = re.findall(r"\[rank {}/2\] epoch \d+: (\d+) train batches, (\d+) images".format(rank), r.stderr)
        assert per_rank == [("3", "24"), ("3", "24")], r.stderr  # half of a one-process epoch
    epoch_lines = re.findall(r"^\[(\w+)\]:(epoch=\d+ .*)$", r.stdout, re.M)
    assert [who for who, _ in epoch_lines] == ["default0", "default0"]  # only the leader prints
    assert all(EPOCH_RE.match(line) for _, line in epoch_lines)
    assert r.stderr.count("saved model.pth") == 1 and "[rank 0/2] saved model.pth" in r.stderr
    assert os.path.exists(model_dir / "model.pth")


def test_one_process_per_sagemaker_host(dataset, tmp_path):
    """Two "hosts" on localhost: SM_HOSTS/SM_CURRENT_HOST give the ranks, MASTER_ADDR points at us."""
    port = free_port()
    procs = {}
    import subprocess
    import sys
    for host in ("algo-1", "algo-2"):
        env = clean_env(SM_HOSTS='["algo-1","algo-2"]', SM_CURRENT_HOST=host, SM_NUM_GPUS="0",
                        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                        SM_CHANNEL_TRAIN=dataset.train, SM_CHANNEL_VALID=dataset.valid, SM_CHANNEL_TEST=dataset.test,
                        SM_MODEL_DIR=str(tmp_path / host / "model"))
        procs[host] = subprocess.Popen(
            [sys.executable, TRAIN_PY] + FAST_FLAGS + ["--epochs", "2", "--checkpoint-dir", str(tmp_path / host / "ckpt")],
            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = {}
    try:
        for host, proc in procs.items():
            outputs[host] = proc.communicate(timeout=150) + (proc.returncode,)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    (out1, err1, rc1), (out2, err2, rc2) = outputs["algo-1"], outputs["algo-2"]
    assert rc1 == 0 and rc2 == 0, err1 + err2
    assert "[rank 0/2] epoch 1: 3 train batches, 24 images" in err1
    assert "[rank 1/2] epoch 1: 3 train batches, 24 images" in err2
    assert len([line for line in out1.splitlines() if EPOCH_RE.match(line)]) == 2
    assert out2.strip() == ""  # metrics come from the leader only
    assert os.path.exists(tmp_path / "algo-1" / "model" / "model.pth")
    assert not os.path.exists(tmp_path / "algo-2" / "model")  # only the leader writes
    assert not os.path.exists(tmp_path / "algo-2" / "ckpt")
