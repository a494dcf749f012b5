"""Mixed precision choice (issue 14 item 3): bf16 only on GPUs with native bf16 (sm_80+), fp16 with a
grad scaler elsewhere, even where torch.cuda.is_bf16_supported() says yes because it emulates."""
import pytest
import torch

import train

CUDA = torch.device("cuda", 0)


@pytest.fixture
def fake_gpu(monkeypatch):
    def install(name, capability):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
        # What torch reports on a T4 too: emulated bf16 counts as supported.
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    return install


def test_t4_gets_fp16_with_a_scaler_although_bf16_is_emulated(fake_gpu):
    fake_gpu("Tesla T4", (7, 5))
    speed = train.speed_config(CUDA, "auto")
    assert speed.amp_dtype == torch.float16 and speed.needs_scaler
    assert speed.amp_reason == "fp16 with a grad scaler (T4 sm_75 has no native bf16)"


@pytest.mark.parametrize("name,capability", [("NVIDIA A100-SXM4-40GB", (8, 0)), ("NVIDIA A10G", (8, 6)),
                                             ("NVIDIA H100 80GB HBM3", (9, 0))])
def test_ampere_and_later_get_bf16_without_a_scaler(fake_gpu, name, capability):
    fake_gpu(name, capability)
    speed = train.speed_config(CUDA, "auto")
    assert speed.amp_dtype == torch.bfloat16 and not speed.needs_scaler
    assert speed.amp_reason.startswith("bf16 (") and "sm_{}{}".format(*capability) in speed.amp_reason
    assert "has native bf16" in speed.amp_reason


def test_explicit_modes_are_honoured_and_explained(fake_gpu):
    fake_gpu("Tesla V100-SXM2-16GB", (7, 0))
    forced = train.speed_config(CUDA, "bf16")
    assert forced.amp_dtype == torch.bfloat16 and "emulated" in forced.amp_reason
    assert train.speed_config(CUDA, "fp16").amp_dtype == torch.float16
    off = train.speed_config(CUDA, "off")
    assert off.amp_dtype is None and off.amp_reason == "off (--amp off)"


def test_cpu_has_no_amp_and_says_so():
    speed = train.speed_config(torch.device("cpu"), "auto")
    assert speed.amp_dtype is None and speed.amp_reason == "off on cpu"


def test_training_log_names_the_precision(trained):
    assert "amp: off on cpu" in trained["result"].stderr
