"""bf16 autocast in the predictor on CPU (issue 30 item 1): train.py measures top-1 on the test split in
fp32 and bf16 and records it in model-info.json; the predictor uses bf16 only on a CPU with native bf16
and with a record that says top-1 held, MLOPS_BF16 overriding."""
import json
import os
import shutil

import pytest
import torch
from PIL import Image

import evaluation
import inference
from conftest import FAST_FLAGS, data_flags, run_train

NATIVE = frozenset({"fpu", "avx2", "avx512f", "avx512_bf16"})
AMX = frozenset({"fpu", "avx2", "amx_tile", "amx_bf16"})
NO_BF16 = frozenset({"fpu", "avx2", "avx512f"})
RECORD_OK = {"images": 400, "top1_fp32": 0.8, "top1_bf16": 0.7975, "same_top1": 0.99, "within_half_point": True,
             "seconds": 3.0}
RECORD_LOST = dict(RECORD_OK, top1_bf16=0.79, within_half_point=False)
RECORDS = {"ok": {"bf16": RECORD_OK}, "lost": {"bf16": RECORD_LOST}, "missing": {}}
#: Every (flags, record, MLOPS_BF16) that turns bf16 on; the other 15 of the 18 keep fp32.
ON = {("native", "ok", "auto"), ("native", "ok", "on"), ("none", "ok", "on")}


def _read_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


# --------------------------------------------------------------------------- the record train.py writes


def test_training_records_fp32_and_bf16_top1_of_the_test_split(trained):
    info = _read_json(os.path.join(trained["model_dir"], "model-info.json"))
    record = info["bf16"]
    assert set(record) == {"images", "top1_fp32", "top1_bf16", "same_top1", "within_half_point", "time_limited",
                           "seconds"}
    assert record["time_limited"] is False
    assert record["images"] == 18  # the whole tiny test split: under the default cap of 500
    assert 0 <= record["top1_bf16"] <= 1 and 0 <= record["same_top1"] <= 1 and record["seconds"] > 0
    hits_fp32, hits_bf16 = round(record["top1_fp32"] * 18), round(record["top1_bf16"] * 18)
    assert record["within_half_point"] is (abs(hits_fp32 - hits_bf16) * 200 <= 18)
    # fp32 through the predictor's preprocessing is the test evaluation's top-1 (same images, same transform).
    test_eval = _read_json(os.path.join(trained["output_dir"], "evaluation.json"))
    assert record["top1_fp32"] == pytest.approx(test_eval["top1_accuracy"], abs=1e-6)
    assert _read_json(os.path.join(trained["output_dir"], "metrics.json"))["bf16_check"] == record
    lines = [line for line in trained["result"].stderr.splitlines() if line.startswith("bf16 check:")]
    assert len(lines) == 1 and "on 18 test images" in lines[0] and "0.5 points" in lines[0], lines


def test_the_check_is_capped_and_can_be_turned_off(dataset, tmp_path):
    def train(images):
        model_dir = str(tmp_path / "model-{}".format(images))
        result = run_train(data_flags(dataset) + FAST_FLAGS + [
            "--epochs", "1", "--model-dir", model_dir, "--checkpoint-dir", "none", "--bf16-check-images", images])
        assert result.code == 0, result.stderr
        return _read_json(os.path.join(model_dir, "model-info.json")), result

    capped, _ = train("4")
    assert capped["bf16"]["images"] == 4
    off, result = train("0")
    assert "bf16" not in off
    assert "bf16 check: off (--bf16-check-images 0)" in result.stderr


def test_a_capped_check_samples_the_classes_in_a_fixed_order():
    files = ["{}/{}".format(c, i) for c in "abc" for i in range(20)]
    first = evaluation.sample(files, 6)
    assert first == evaluation.sample(files, 6) and len(set(first)) == 6 and set(first) <= set(files)
    assert len({f[0] for f in first}) > 1  # not the first folder's six
    assert evaluation.sample(files, 12)[:6] == first  # a check cut short saw a prefix of the same sample
    assert sorted(evaluation.sample(files, 0)) == sorted(files)


class FlipsBrightImagesUnderAutocast(torch.nn.Module):
    """Two classes: always class 0 in fp32; under CPU autocast, class 1 for bright images."""

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 2)
        logits[:, 0] = 1.0
        if torch.is_autocast_cpu_enabled():
            logits[x.mean(dim=(1, 2, 3)) > 0] = torch.tensor([0.0, 1.0])
        return logits


def _two_classes(root, images, bright=0):
    """Folders 000.a (``images`` 8 px images, the first ``bright`` of them white) and an empty 001.b."""
    folder = root / "000.a"
    folder.mkdir(parents=True)
    (root / "001.b").mkdir()
    for i in range(images):
        Image.new("RGB", (8, 8), (255, 255, 255) if i < bright else (0, 0, 0)).save(folder / "{:03d}.png".format(i))
    return str(root)


@pytest.mark.parametrize("flipped,within", [(0, True), (1, True), (2, False)])
def test_within_half_a_point_is_counted_in_whole_images(tmp_path, flipped, within):
    """200 images: one changed answer is exactly half a point (kept), two are a point (refused)."""
    folder = _two_classes(tmp_path, 200, flipped)
    record = evaluation.check_bf16(FlipsBrightImagesUnderAutocast(), ["000.a", "001.b"], folder, 8, 0)
    assert record["images"] == 200 and record["top1_fp32"] == 1.0 and record["time_limited"] is False
    assert record["top1_bf16"] == pytest.approx(1 - flipped / 200)
    assert record["within_half_point"] is within


class NoOneDnnBf16(FlipsBrightImagesUnderAutocast):
    """What torch 1.13's oneDNN does with bf16 on a CPU without AVX-512 (ONEDNN_MAX_CPU_ISA=AVX2 here)."""

    def forward(self, x):
        if torch.is_autocast_cpu_enabled() and torch.backends.mkldnn.enabled:
            raise RuntimeError("could not create a primitive descriptor iterator")
        return super().forward(x)


def test_the_check_stops_starting_batches_at_its_time_limit(tmp_path):
    folder = _two_classes(tmp_path, 40)
    ticks = iter(range(0, 10_000, 50))  # the start at 0 s, before the 2nd batch 50 s, before the 3rd 100 s
    record = evaluation.check_bf16(FlipsBrightImagesUnderAutocast(), ["000.a", "001.b"], folder, 8, 0,
                                   max_seconds=80, clock=lambda: next(ticks))
    assert (record["images"], record["time_limited"]) == (2 * evaluation.BF16_CHECK_BATCH, True)
    assert record["within_half_point"] is True  # on what it saw


def test_the_check_runs_where_onednn_has_no_bf16(tmp_path):
    """A g5's AVX2 EPYC trains as well: the check falls back to ATen's kernels rather than failing."""
    folder = _two_classes(tmp_path, 4, 1)
    record = evaluation.check_bf16(NoOneDnnBf16(), ["000.a", "001.b"], folder, 8, 0, batch_size=2)
    assert (record["images"], record["top1_fp32"], record["top1_bf16"]) == (4, 1.0, 0.75)
    assert torch.backends.mkldnn.enabled


# --------------------------------------------------------------------------- the decision


@pytest.mark.parametrize("env", ["auto", "on", "off"])
@pytest.mark.parametrize("record", ["ok", "lost", "missing"])
@pytest.mark.parametrize("flags", ["native", "none"])
def test_bf16_only_with_native_bf16_and_a_record_that_held(flags, record, env, monkeypatch):
    monkeypatch.setenv("MLOPS_BF16", env)
    use, why = inference.choose_cpu_bf16("cpu", RECORDS[record], flags=NATIVE if flags == "native" else NO_BF16)
    assert use is ((flags, record, env) in ON), why
    assert why.startswith("on (" if use else "off ("), why
    if env == "off":
        assert "MLOPS_BF16=off" in why
    elif (flags, env) == ("none", "auto"):
        assert "CPU has no avx512_bf16/amx_bf16" in why
    elif record == "missing":
        assert "no bf16 record" in why
    elif record == "lost":
        assert "not within 0.5 points" in why


def test_amx_counts_as_native_and_the_mode_argument_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("MLOPS_BF16", "off")
    assert inference.choose_cpu_bf16("cpu", RECORDS["ok"], mode="auto", flags=AMX) == (
        True, "on (CPU has amx_bf16; top-1 0.8 fp32 vs 0.7975 bf16 on 400 test images)")


@pytest.mark.parametrize("env", ["auto", "on"])
def test_a_gpu_keeps_fp32(env):
    assert inference.choose_cpu_bf16("cuda", RECORDS["ok"], mode=env, flags=NATIVE) == (False, "off (fp32 on cuda)")


@pytest.mark.parametrize("env", ["yes", "bf16", "1"])
def test_an_unknown_mode_is_fp32(env):
    use, why = inference.choose_cpu_bf16("cpu", RECORDS["ok"], mode=env, flags=NATIVE)
    assert not use and "is not one of auto, on, off" in why


@pytest.mark.parametrize("record", [
    {"bf16": dict(RECORD_OK, images=0)}, {"bf16": dict(RECORD_OK, within_half_point="true")}, {"bf16": True}])
def test_a_malformed_record_is_no_record(record):
    assert inference.choose_cpu_bf16("cpu", record, mode="auto", flags=NATIVE)[0] is False


def test_the_cpu_flags_come_from_proc_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu avx2 avx512_bf16\n")
    assert inference.cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16"}
    assert inference.cpu_flags(str(tmp_path / "absent")) == frozenset()  # macOS: no /proc, auto means fp32


# --------------------------------------------------------------------------- the predictor


@pytest.fixture()
def model_dirs(trained, tmp_path):
    """The trained model as it is (its record held: 18 images, no answer changed), and with its record
    lost or missing."""
    info = _read_json(os.path.join(trained["model_dir"], "model-info.json"))
    assert info["bf16"]["within_half_point"] is True
    for name, record in (("lost", RECORD_LOST), ("missing", None)):
        path = str(tmp_path / name)
        shutil.copytree(trained["model_dir"], path)
        changed = {k: v for k, v in info.items() if k != "bf16"}
        if record is not None:
            changed["bf16"] = record
        with open(os.path.join(path, "model-info.json"), "w", encoding="utf-8") as fh:
            json.dump(changed, fh)
    return {"ok": trained["model_dir"], "lost": str(tmp_path / "lost"), "missing": str(tmp_path / "missing")}


@pytest.mark.parametrize("flags,record,env,bf16", [
    ("native", "ok", "auto", True),
    ("none", "ok", "auto", False),
    ("none", "ok", "on", True),
    ("native", "lost", "auto", False),
    ("native", "missing", "on", False),
    ("native", "ok", "off", False),
])
def test_model_fn_applies_the_decision_and_logs_it_once(model_dirs, monkeypatch, capsys, flags, record, env, bf16):
    before = torch.get_num_threads()
    monkeypatch.setattr(inference, "cpu_flags", lambda: NATIVE if flags == "native" else NO_BF16)
    monkeypatch.setenv("MLOPS_BF16", env)
    try:
        bundle = inference.model_fn(model_dirs[record])
    finally:
        torch.set_num_threads(before)
    assert bundle["autocast_dtype"] == (torch.bfloat16 if bf16 else None)
    # bf16 runs the eager module under autocast; fp32 keeps the frozen TorchScript graph.
    assert isinstance(bundle["model"], torch.jit.ScriptModule) is not bf16
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("bf16: ")]
    assert len(lines) == 1 and lines[0].startswith("bf16: on (" if bf16 else "bf16: off ("), lines


def test_bf16_that_cannot_run_here_is_refused_at_load(trained, monkeypatch, capsys):
    """MLOPS_BF16=on on a CPU whose kernels have no bf16: fp32 and a reason, not a 500 per request."""
    build = inference.model_def.build_model

    def build_without_bf16(*args, **kwargs):
        model = build(*args, **kwargs)
        model.conv1.register_forward_pre_hook(_refuse_bf16)
        return model

    monkeypatch.setattr(inference.model_def, "build_model", build_without_bf16)
    monkeypatch.setenv("MLOPS_BF16", "on")
    before = torch.get_num_threads()
    try:
        bundle = inference.model_fn(trained["model_dir"])
    finally:
        torch.set_num_threads(before)
    assert bundle["autocast_dtype"] is None and isinstance(bundle["model"], torch.jit.ScriptModule)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("bf16: ")]
    assert len(lines) == 1 and lines[0].startswith("bf16: off (MLOPS_BF16=on; top-1 ") and lines[0].endswith(
        "on 18 test images, but a bf16 forward pass fails here: RuntimeError: could not create a primitive "
        "descriptor iterator)"), lines
    answer = inference.predict_fn({"image": Image.new("RGB", (40, 40)), "top_k": 1, "logits": False}, bundle)
    assert answer["top_k"] == 1


def _refuse_bf16(module, args):
    if torch.is_autocast_cpu_enabled():
        raise RuntimeError("could not create a primitive descriptor iterator")


def _bundles(model_dir, monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("MLOPS_BF16", "on")
        bf16 = inference.model_fn(model_dir)
        monkeypatch.setenv("MLOPS_BF16", "off")
        fp32 = inference.model_fn(model_dir)
    finally:
        torch.set_num_threads(before)
    return fp32, bf16


def test_forced_bf16_runs_under_autocast_with_the_same_top1_and_reply_shape(trained, dataset, monkeypatch):
    fp32, bf16 = _bundles(trained["model_dir"], monkeypatch)
    assert bf16["autocast_dtype"] == torch.bfloat16 and fp32["autocast_dtype"] is None
    seen = []
    bf16["model"].fc.register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    files = evaluation.list_images(dataset.test)
    requests = []
    for _, path, _ in files:
        with open(path, "rb") as fh:
            requests.append({"image": inference.decode_image(fh.read(), 32), "top_k": 3, "logits": True})
    answers_fp32 = inference.predict_batch(requests, fp32)
    answers_bf16 = inference.predict_batch(requests, bf16)
    assert seen == [torch.bfloat16]  # one forward pass, its last layer computed in bf16: autocast was on
    assert [a["predictions"][0]["index"] for a in answers_bf16] == [a["predictions"][0]["index"] for a in answers_fp32]
    for a, b in zip(answers_fp32, answers_bf16):
        assert list(a) == list(b) and a["top_k"] == b["top_k"] == 3 and a["model"] == b["model"]
        assert [list(p) for p in a["predictions"]] == [list(p) for p in b["predictions"]]
        assert len(a["logits"]) == len(b["logits"]) == 3 and all(type(x) is float for x in b["logits"])
        assert all(type(p["probability"]) is float for p in b["predictions"])
    # and bf16 did change the arithmetic (else this test would not tell autocast from fp32)
    assert any(a["logits"] != b["logits"] for a, b in zip(answers_fp32, answers_bf16))
    assert json.loads(inference.output_fn(answers_bf16[0], "application/json")[0]) == answers_bf16[0]
