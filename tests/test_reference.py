"""Reference results: every committed file validates, `--smoke` writes files that validate, and a missing result
names the command that produces it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from course_utils import reference as ref
from course_utils.models import ResNet18

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(ref.RESULTS_DIR.glob("*.json"))


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_results_validate(path):
    result = json.loads(path.read_text(encoding="utf-8"))
    assert ref.validate(result) == []
    assert not result["config"]["smoke"], "a smoke-test result must never be committed"
    assert path.name == f"{result['experiment']}.{result['provenance']['device_kind']}.json"
    assert ref.provenance_line(result).startswith("reference: ")


def test_smoke_writes_valid_results(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # gpu-idle imports the classic loop from benchmarks/
    torch_threads = torch.get_num_threads()
    try:
        assert ref.main(["--smoke", "--threads", "1", "--out", str(tmp_path)]) == 0
    finally:
        torch.set_num_threads(torch_threads)
    written = sorted(p.name for p in tmp_path.glob("*.json"))
    assert written == sorted(f"{e}.cpu.json" for e in ref.EXPERIMENTS)
    for name in written:
        result = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        assert ref.validate(result) == [], name
        assert result["config"]["smoke"] and "SMOKE" in ref.provenance_line(result)
        assert result["provenance"]["command"] == "python -m course_utils.reference --smoke --threads 1 --out <out>"
    degradation = ref.load_reference("degradation", "cpu", folder=tmp_path)
    assert "conclusion" in degradation["summary"]
    # a GPU kind without its own file falls back to the CPU result
    assert ref.load_reference("zoo", "cuda-h200", folder=tmp_path)["experiment"] == "zoo"

    broken = copy.deepcopy(degradation)
    del broken["provenance"]["git_commit"]
    broken["runs"][0]["final"]["train_error"] = float("nan")
    broken["seeds"] = broken["seeds"][:1]
    problems = ref.validate(broken)
    assert any("git_commit" in p for p in problems)
    assert any("non-finite" in p for p in problems)
    assert any("fewer than the declared" in p for p in problems)
    broken = copy.deepcopy(degradation)
    broken["config"]["data_source"] = "full Fashion-MNIST from /home/ann/data/fashion-mnist"
    assert any("a path of the producing machine" in p for p in ref.validate(broken))


def test_paths_are_redacted():
    assert ref.redact_paths({"a": ["x --data-root /d/e", "/d/e/raw"]}, {"<data-root>": "/d/e", "<out>": None}) == {
        "a": ["x --data-root <data-root>", "<data-root>/raw"]}


def test_degradation_conclusion_is_computed_and_hedged():
    """The verdict is recomputed from the numbers when read, and says when the deepest plain net was still learning."""
    result = ref.load_reference("degradation")
    text = ref.degradation_conclusion(result)
    assert "plain-56" in text and "Fig. 1" in text
    drop = ref.last_epoch_drop(result, "plain-56")
    assert drop > 2 and f"{drop:.1f} points" in text and "cannot say" in text
    flat = copy.deepcopy(result)
    for run in flat["runs"]:
        run["curves"]["train_error"][-2] = run["curves"]["train_error"][-1]
    assert "cannot say" not in ref.degradation_conclusion(flat)


def test_missing_result_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        ref.load_reference("shortcuts", "cpu", folder=tmp_path)
    assert isinstance(info.value, ref.ReferenceMissingError)
    assert "python -m course_utils.reference shortcuts --device cpu" in str(info.value)
    with pytest.raises(ValueError, match="unknown experiment"):
        ref.load_reference("nonsense")


def test_plain_resnet18_gets_every_tensor_from_the_residual_one():
    torch.manual_seed(0)
    residual, plain = ResNet18(use_residual=True), ResNet18(use_residual=False)
    copied = ref.copy_shared_weights(residual, plain)
    assert len(copied) == len(plain.state_dict())
    for key, value in plain.state_dict().items():
        assert torch.equal(value, residual.state_dict()[key])


@pytest.mark.parametrize("experiment", ["shortcuts", "degradation"])
def test_a_stored_conclusion_must_be_the_reading_of_the_numbers(experiment):
    """A file whose stored sentence claims more than its numbers (e.g. "lower" where the seed ranges overlap) fails."""
    result = copy.deepcopy(ref.load_reference(experiment))
    reading = ref.shortcuts_reading if experiment == "shortcuts" else ref.degradation_conclusion
    assert result["summary"]["conclusion"] == reading(result)
    result["summary"]["conclusion"] = "mnist: with shortcuts the test error is lower"
    problems = ref.validate(result)
    assert len(problems) == 1 and "differs from the reading computed from the numbers" in problems[0]
