"""`History`: what `fit` (and the classic loop) return — per-epoch losses, accuracies and seconds."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class History:
    """Per-epoch train/validation/test loss and accuracy, seconds per epoch and the loss of every step."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    interrupted: bool = False
    loaded_from_checkpoint: bool = False
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.seconds)

    def time_to_accuracy(self, threshold: float, on: str = "test") -> float | None:
        """Training seconds until the `on` ('test' or 'val') accuracy first reaches `threshold`, or None."""
        accs = self.test_acc if on == "test" else self.val_acc
        elapsed = 0.0
        for acc, sec in zip(accs, self.seconds):
            elapsed += sec
            if acc >= threshold:
                return elapsed
        return None

    def add_epoch(self, loss: float, acc: float, seconds: float, step_loss: list[float]) -> None:
        """Record one training epoch: its mean loss and accuracy, its seconds and the loss of every step."""
        self.train_loss.append(loss)
        self.train_acc.append(acc)
        self.seconds.append(seconds)
        self.step_loss += step_loss

    def add_eval(self, split: str, loss: float, acc: float) -> None:
        """Record an evaluation after an epoch on `split` ('val' or 'test')."""
        if split not in ("val", "test"):
            raise ValueError(f"split must be 'val' or 'test', got {split!r}")
        getattr(self, f"{split}_loss").append(loss)
        getattr(self, f"{split}_acc").append(acc)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (safe for `torch.load(weights_only=True)` and JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Inverse of `to_dict`."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def __repr__(self) -> str:
        if not self.epochs:
            return "History(no completed epoch)"
        last = f"train loss {self.train_loss[-1]:.4f}, train acc {self.train_acc[-1]:.4f}"
        if self.test_acc:
            last += f", test acc {self.test_acc[-1]:.4f}"
        return f"History({self.epochs} epochs, {sum(self.seconds):.1f} s; {last})"
