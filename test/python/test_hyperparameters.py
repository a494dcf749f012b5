"""hyperparameters.json is the one description of train.py's flags (issue 14 item 11): the parser is
built from it, and the TypeScript CLI validates configs with it."""
import argparse
import json
import os

import pytest

import model_def
import train
from conftest import SCRIPTS, run_train

SPECS_PATH = os.path.join(SCRIPTS, "hyperparameters.json")
TYPES = {"int", "float", "bool", "string", "choice"}
KEYS = {"name", "type", "default", "min", "max", "choices", "bool_means", "negative_flag", "env",
        "sagemaker_default", "category", "help"}


def _specs():
    with open(SPECS_PATH, encoding="utf-8") as fh:
        data = json.load(fh)
    assert data["format"] == 1
    return data["hyperparameters"]


def _options(parser):
    """{dest: action} for every real flag (not -h)."""
    return {a.dest: a for a in parser._actions if not isinstance(a, argparse._HelpAction)}


def test_the_file_is_well_formed():
    specs = _specs()
    names = [s["name"] for s in specs]
    assert len(names) == len(set(names))
    for s in specs:
        assert set(s) <= KEYS, s
        assert s["type"] in TYPES and s["help"] and s["category"] in ("training", "speed", "data", "paths")
        if s["type"] == "choice":
            assert s["default"] in s["choices"]
        if "min" in s or "max" in s:
            assert s["type"] in ("int", "float")
            if s["default"] is not None:
                assert s.get("min", s["default"]) <= s["default"] <= s.get("max", s["default"])
    arch = next(s for s in specs if s["name"] == "arch")
    assert tuple(arch["choices"]) == model_def.ARCHS and arch["default"] == model_def.DEFAULT_ARCH


def test_every_entry_is_a_flag_with_that_default_and_type():
    parser = train.build_parser({})
    options = _options(parser)
    for s in _specs():
        dest = s["name"].replace("-", "_")
        action = options[dest] if not s.get("negative_flag") else next(
            a for a in parser._actions if a.dest == dest and "--" + s["name"] in a.option_strings)
        assert "--" + s["name"] in action.option_strings
        if "-" in s["name"]:
            assert "--" + dest in action.option_strings  # the underscore spelling
        assert action.default == s["default"], s["name"]
        assert action.help == s["help"]
        if s["type"] == "choice":
            assert list(action.choices) == s["choices"]
        expected_type = {"int": train.lenient_int, "float": float, "bool": train.str_to_bool,
                         "string": str}.get(s["type"])
        if expected_type is not None:
            assert action.type is expected_type, s["name"]


def test_every_flag_is_in_the_file():
    names = {"--" + s["name"] for s in _specs()} | {s["negative_flag"] for s in _specs() if s.get("negative_flag")}
    flags = {o for a in train.build_parser({})._actions if not isinstance(a, argparse._HelpAction)
             for o in a.option_strings if "_" not in o}
    assert flags == names


def test_environment_defaults_follow_the_file():
    env = {"SM_CHANNEL_TRAIN": "/t", "SM_CHANNEL_VALIDATION": "/v", "SM_MODEL_DIR": "/m", "SM_CURRENT_HOST": "algo-1"}
    args, _ = train.parse_args([], env)
    assert (args.train, args.valid, args.model_dir, args.checkpoint_dir) == ("/t", "/v", "/m", "/opt/ml/checkpoints")


@pytest.mark.parametrize("flag,value,message", [
    ("--epochs", "-3", "--epochs must be between 1 and 1000, got -3"),
    ("--batch-size", "0", "--batch-size must be between 1 and 4096, got 0"),
    ("--lr", "-0.1", "--lr must be between 0 and 10, got -0.1"),
    ("--label-smoothing", "1.5", "--label-smoothing must be between 0 and 1, got 1.5"),
    ("--num-workers", "-2", "--num-workers must be between -1 and 256, got -2"),
    ("--patience", "-1", "--patience must be between 0 and 1000, got -1"),
])
def test_out_of_range_values_are_refused_with_a_clear_message(tmp_path, flag, value, message):
    with pytest.raises(train.UsageError) as info:
        train.parse_args(["--train", "t", "--valid", "v", flag, value], {})
    assert str(info.value) == message
    result = run_train(["--train", str(tmp_path), "--valid", str(tmp_path), flag, value])
    assert result.code == 2
    assert result.stderr.strip() == "error: " + message and "Traceback" not in result.stderr


def test_the_bounds_themselves_are_accepted():
    args, _ = train.parse_args(["--train", "t", "--valid", "v", "--epochs", "1000", "--lr", "0",
                                "--num-workers", "-1", "--label_smoothing", "1"], {})
    assert (args.epochs, args.lr, args.num_workers, args.label_smoothing) == (1000, 0.0, -1, 1.0)
