"""evaluation.py: the test-split evaluation train.py leaves, and the same computed again from the
saved model by the script `mlops evaluate` / `mlops predict` run."""
import json
import os
import re

import evaluation
from conftest import CLASSES, EVAL_PER_CLASS, REPO, clean_env, run_subprocess

EVALUATION_PY = os.path.join(REPO, "scripts", "evaluation.py")


def _read(path):
    with open(path) as fh:
        return json.load(fh)


def test_training_leaves_the_test_evaluation_beside_metrics(trained):
    ev = _read(os.path.join(trained["output_dir"], "evaluation.json"))
    metrics = _read(os.path.join(trained["output_dir"], "metrics.json"))
    assert ev["split"] == "test" and ev["images"] == CLASSES * EVAL_PER_CLASS
    assert ev["classes"] == ["Affenpinscher", "Afghan hound", "Airedale terrier"]
    # The predictor's top-1 on the saved weights is train.py's own test accuracy.
    assert abs(ev["top1_accuracy"] - metrics["test_accuracy"]) <= 0.005
    assert ev["top5_accuracy"] == 1.0  # 3 classes: the true one is always in the top 5
    assert [sum(row) for row in ev["confusion"]] == [EVAL_PER_CLASS] * CLASSES
    assert [c["support"] for c in ev["per_class"]] == [EVAL_PER_CLASS] * CLASSES
    correct = sum(ev["confusion"][i][i] for i in range(CLASSES))
    assert round(correct / ev["images"], 6) == ev["top1_accuracy"]
    for c in ev["per_class"]:
        assert c["recall"] == round(ev["confusion"][c["index"]][c["index"]] / c["support"], 4)
    wrong = ev["images"] - correct
    assert len(ev["worst"]) == min(wrong, evaluation.DEFAULT_WORST)
    for w in ev["worst"]:
        assert w["true"] != w["predicted"] and w["thumbnail"].startswith("data:image/jpeg;base64,")
        assert re.match(r"^\d{3}\.[^/]+/[^/]+\.(jpg|png)$", w["file"]), w["file"]
    assert "evaluation: top-1" in trained["result"].stderr


def test_the_script_reproduces_the_training_evaluation(trained, dataset, tmp_path):
    out = str(tmp_path / "again.json")
    r = run_subprocess([EVALUATION_PY, "evaluate", "--model-dir", trained["model_dir"], "--data", dataset.test,
                        "--output", out, "--split", "test"], clean_env())
    assert r.code == 0, r.stderr
    again, first = _read(out), _read(os.path.join(trained["output_dir"], "evaluation.json"))
    assert abs(again["top1_accuracy"] - first["top1_accuracy"]) <= 0.005
    assert again["confusion"] == first["confusion"]
    assert "progress done={0} total={0}".format(CLASSES * EVAL_PER_CLASS) in r.stderr


def test_predict_writes_one_line_per_image_and_skips_what_is_listed(trained, dataset, tmp_path):
    files = evaluation.list_images(dataset.test)
    skip = tmp_path / "skip.txt"
    skip.write_text(files[0][0] + "\n" + files[1][0] + "\n")
    (tmp_path / "broken").mkdir()
    r = run_subprocess([EVALUATION_PY, "predict", "--model-dir", trained["model_dir"], "--data", dataset.test,
                        "--top-k", "2", "--skip", str(skip)], clean_env())
    assert r.code == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["file"] for row in rows] == [f[0] for f in files[2:]]
    assert all(len(row["predictions"]) == 2 and row["label"] for row in rows)


def test_unreadable_files_are_error_rows_and_unlabelled_folders_have_no_label(trained, tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"not an image")
    r = run_subprocess([EVALUATION_PY, "predict", "--model-dir", trained["model_dir"], "--data", str(tmp_path)],
                       clean_env())
    assert r.code == 0, r.stderr
    [row] = [json.loads(line) for line in r.stdout.splitlines()]
    assert row["file"] == "a.jpg" and row["label"] is None and "not a readable image" in row["error"]


def test_a_missing_folder_is_exit_2_with_a_message(trained, tmp_path):
    r = run_subprocess([EVALUATION_PY, "predict", "--model-dir", trained["model_dir"], "--data",
                        str(tmp_path / "nope")], clean_env())
    assert r.code == 2 and "error: image folder not found" in r.stderr
