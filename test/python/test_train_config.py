"""Pure parts of train.py: flags and SageMaker defaults, launch planning, helpers."""
import argparse
import json
import urllib.error

import pytest
import torchvision

import model_def
import train
import train_data
import train_dist
from conftest import data_flags, run_train, FAST_FLAGS

SM_ENV = {
    "SM_CHANNEL_TRAIN": "/opt/ml/input/data/train",
    "SM_CHANNEL_VALID": "/opt/ml/input/data/valid",
    "SM_CHANNEL_TEST": "/opt/ml/input/data/test",
    "SM_MODEL_DIR": "/opt/ml/model",
    "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
    "SM_HOSTS": '["algo-1"]',
    "SM_CURRENT_HOST": "algo-1",
    "SM_NUM_GPUS": "0",
}


def test_defaults_come_from_sagemaker_environment():
    args, unknown = train.parse_args([], SM_ENV)
    assert (args.train, args.valid, args.test) == (
        "/opt/ml/input/data/train", "/opt/ml/input/data/valid", "/opt/ml/input/data/test")
    assert (args.model_dir, args.output_data_dir) == ("/opt/ml/model", "/opt/ml/output/data")
    assert args.checkpoint_dir == "/opt/ml/checkpoints"
    assert (args.arch, args.weights, args.epochs, args.batch_size, args.image_size) == ("resnet50", "imagenet", 10, 64, 224)
    assert args.backbone_lr_scale == 0.1 and unknown == []


def test_flag_mode_needs_no_environment():
    args, _ = train.parse_args(["--train", "t", "--valid", "v", "--model-dir", "m", "--weights", "none"], {})
    assert (args.train, args.valid, args.test, args.model_dir) == ("t", "v", None, "m")
    assert args.checkpoint_dir == "" and args.output_data_dir is None
    assert args.backbone_lr_scale == 1.0


@pytest.mark.parametrize("text,expected", [("true", True), ("True", True), ("1", True), ("yes", True),
                                           ("false", False), ("False", False), ("0", False)])
def test_hyperparameter_booleans_arrive_as_text(text, expected):
    args, _ = train.parse_args(["--freeze-backbone", text], SM_ENV)
    assert args.freeze_backbone is expected


def test_bare_boolean_flag_and_underscore_spellings():
    args, _ = train.parse_args(["--freeze-backbone", "--batch_size", "32", "--epochs", "3.0",
                                "--label_smoothing", "0", "--checkpoint-dir", "none"], SM_ENV)
    assert (args.freeze_backbone, args.batch_size, args.epochs, args.label_smoothing) == (True, 32, 3, 0.0)
    assert args.checkpoint_dir == ""


@pytest.mark.parametrize("text,expected", [("auto", "auto"), ("BF16", "bf16"), ("fp16", "fp16"), ("off", "off"),
                                           ("false", "off"), ("False", "off"), ("true", "auto")])
def test_amp_accepts_modes_and_booleans(text, expected):
    assert train.parse_args(["--amp", text], SM_ENV)[0].amp == expected


def test_unknown_hyperparameters_are_returned_not_fatal():
    _, unknown = train.parse_args(["--epochs", "2", "--dropout", "0.3", "--mystery"], SM_ENV)
    assert unknown == ["--dropout", "0.3", "--mystery"]


def test_bad_values_are_usage_errors():
    with pytest.raises(argparse.ArgumentTypeError):
        train.str_to_bool("maybe")
    with pytest.raises(train.UsageError, match="--train and --valid"):
        train.parse_args([], {})
    with pytest.raises(train.UsageError, match="--epochs"):
        train.parse_args(["--epochs", "0"], SM_ENV)


def test_plan_single_process_without_group():
    assert train_dist.plan_processes({}, 0).mode == "single"
    assert train_dist.plan_processes({"SM_HOSTS": '["algo-1"]', "SM_CURRENT_HOST": "algo-1"}, 0).mode == "single"
    assert train_dist.plan_processes({"SM_HOSTS": '["algo-1"]', "SM_NUM_GPUS": "1"}, 1).mode == "single"


def test_plan_under_torchrun():
    plan = train_dist.plan_processes({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4",
                                      "MASTER_ADDR": "algo-1", "MASTER_PORT": "7777"}, 4)
    assert (plan.mode, plan.world_size, plan.procs_per_host) == ("torchrun", 8, 4)


def test_plan_one_process_per_host_from_sm_hosts():
    env = {"SM_HOSTS": json.dumps(["algo-1", "algo-2", "algo-3", "algo-4"]), "SM_CURRENT_HOST": "algo-3",
           "SM_NUM_GPUS": "0"}
    plan = train_dist.plan_processes(env, 0)
    assert (plan.mode, plan.world_size, plan.node_rank, plan.procs_per_host) == ("hosts", 4, 2, 1)
    assert (plan.master_addr, plan.master_port) == ("algo-1", 7777)
    plan = train_dist.plan_processes(dict(env, MASTER_ADDR="127.0.0.1", MASTER_PORT="29500"), 0)
    assert (plan.master_addr, plan.master_port) == ("127.0.0.1", 29500)


def test_plan_gpu_hosts_spawn_one_process_per_gpu():
    env = {"SM_HOSTS": '["algo-1","algo-2"]', "SM_CURRENT_HOST": "algo-2", "SM_NUM_GPUS": "4"}
    plan = train_dist.plan_processes(env, 4)
    assert (plan.world_size, plan.procs_per_host, plan.node_rank) == (8, 4, 1)
    # rank = host index x GPUs per host + local rank
    assert plan.node_rank * plan.procs_per_host + 2 == 6


def test_plan_rejects_unknown_current_host():
    with pytest.raises(ValueError, match="algo-9"):
        train_dist.plan_processes({"SM_HOSTS": '["algo-1","algo-2"]', "SM_CURRENT_HOST": "algo-9"}, 0)


def test_sharded_channels_from_input_data_config():
    env = {"SM_INPUT_DATA_CONFIG": json.dumps({
        "train": {"S3DistributionType": "ShardedByS3Key"}, "valid": {"S3DistributionType": "FullyReplicated"}})}
    assert train_data.sharded_channels(env) == {"train"}
    assert train_data.sharded_channels({}) == set()


def test_expected_batches():
    assert train_data.expected_batches(48, 1, 8) == 6
    assert train_data.expected_batches(48, 2, 8) == 3
    assert train_data.expected_batches(49, 1, 8) == 6  # a lone last image is dropped (BatchNorm)


def test_display_names_and_classes_mapping(tmp_path):
    assert model_def.display_name("001.Affenpinscher") == "Affenpinscher"
    assert model_def.display_name("002.Afghan_hound") == "Afghan hound"
    assert model_def.display_name("cat") == "cat"
    mapping = model_def.classes_mapping(["001.Affenpinscher", "002.Afghan_hound"])
    assert mapping == {"0": "Affenpinscher", "1": "Afghan hound"}
    path = tmp_path / "classes.json"
    path.write_text(json.dumps(mapping))
    assert model_def.read_classes(str(path)) == ["Affenpinscher", "Afghan hound"]


@pytest.mark.parametrize("arch", model_def.ARCHS)
def test_every_arch_builds_with_a_new_head(arch):
    model = model_def.build_model(arch, 7, "none")
    assert model.fc.out_features == 7


def test_weight_download_failure_suggests_the_mlops_flag_for_weights_none(monkeypatch, dataset, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torchvision.models, "resnet18", offline)
    # Issue 31 item 2: the hint names the mlops flag that sets the script argument, not the bare argument.
    with pytest.raises(model_def.WeightsUnavailableError, match="`mlops train --hyperparameter weights=none`"):
        model_def.build_model("resnet18", 3, "imagenet")
    out_dir = tmp_path / "sm-output"
    out_dir.mkdir()
    flags = [f for f in FAST_FLAGS if f != "none"]
    flags.remove("--weights")
    result = run_train(data_flags(dataset) + flags + ["--model-dir", str(tmp_path / "m")],
                       env={"SM_OUTPUT_DIR": str(out_dir)})
    assert result.code == 2
    hint = "`mlops train --hyperparameter weights=none`"
    assert hint in result.stderr and "--weights none" not in result.stderr and "Traceback" not in result.stderr
    assert hint in (out_dir / "failure").read_text()  # SageMaker's FailureReason


def test_missing_data_folder_is_a_clear_error(tmp_path):
    result = run_train(["--train", str(tmp_path / "nope"), "--valid", str(tmp_path / "nope")] + FAST_FLAGS)
    assert result.code == 2 and "data folder not found" in result.stderr
