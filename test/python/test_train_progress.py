"""Per-batch progress with an ETA inside each epoch (issue 31 item 2): a long CPU epoch is not silent,
and the progress lines never look like metric lines."""
import re

import train
from conftest import BATCH, TRAIN_PER_CLASS, CLASSES

PROGRESS_RE = re.compile(
    r"^progress: epoch (\d+)/(\d+) batch (\d+)/(\d+) \((\d+)%\) elapsed (\d+\.\d)s eta (\d+\.\d)s$")


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_first_and_last_batch_always_and_at_most_one_line_per_interval_between():
    clock, lines = FakeClock(), []
    progress = train.BatchProgress(lines.append, epoch=2, epochs=10, total=100, interval=5.0, clock=clock)
    for batch in range(1, 101):
        clock.now += 1.0  # one second per batch
        progress.update(batch)
    assert lines[0] == "progress: epoch 2/10 batch 1/100 (1%) elapsed 1.0s eta 99.0s"
    assert lines[1] == "progress: epoch 2/10 batch 6/100 (6%) elapsed 6.0s eta 94.0s"
    assert lines[-1] == "progress: epoch 2/10 batch 100/100 (100%) elapsed 100.0s eta 0.0s"
    assert len(lines) == 21  # batch 1, every 5 s after it, and the last (which is also on the 5 s beat)
    assert all(PROGRESS_RE.match(line) for line in lines)


def test_no_metric_regex_matches_a_progress_line():
    line = "progress: epoch 2/10 batch 6/100 (6%) elapsed 6.0s eta 94.0s"
    for name in ("epoch", "train_loss", "val_loss", "val_accuracy", "images_per_sec", "test_accuracy", "test_loss"):
        assert not re.search(r"(?:^|\s){}=([-+]?[0-9]*\.?[0-9]+)".format(name), line)


def test_a_training_run_prints_progress_for_each_epoch_on_stderr(dataset, tmp_path):
    from conftest import FAST_FLAGS, data_flags, run_train
    result = run_train(data_flags(dataset) + FAST_FLAGS + ["--epochs", "2", "--model-dir", str(tmp_path / "m"),
                                                          "--checkpoint-dir", "none"])
    assert result.code == 0, result.stderr
    progress = [PROGRESS_RE.match(line) for line in result.stderr.splitlines() if line.startswith("progress:")]
    assert progress and all(progress)
    batches = CLASSES * TRAIN_PER_CLASS // BATCH
    assert {(m.group(1), m.group(2)) for m in progress} == {("1", "2"), ("2", "2")}
    assert [m.group(3) for m in progress if m.group(1) == "1"][-1] == str(batches)
    assert "progress:" not in result.stdout  # stdout holds only the metric lines
