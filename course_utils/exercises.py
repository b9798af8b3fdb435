"""Checks for homework tests: the rules an exercise states ("from scratch", "without loops", "without conv2d", "not by
building the layer") enforced, not only the shape of the answer.

Hidden tests use them like this::

    from course_utils.exercises import assert_avoids, torch_calls

    assert_avoids(corr2d_matmul, names=("conv2d", "corr2d"), loops=True)   # what the code refers to
    out, calls = torch_calls(corr2d_matmul, X, K)                          # what it calls at run time
    assert not any("conv" in c for c in calls) and "matmul" in calls

`assert_avoids` reads the function's compiled code (names it refers to, loops); `torch_calls` records every torch
function and tensor method the call reaches, however the student imported it.
"""

from __future__ import annotations

import dis
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from torch.overrides import TorchFunctionMode

_LOOP_OPS = {"FOR_ITER", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP_ABSOLUTE"}


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    """`code` and every code object nested in it (inner functions, lambdas, comprehensions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def referenced_names(fn: Callable[..., Any]) -> set[str]:
    """Every global, attribute and variable name the code of `fn` (and of the functions nested in it) refers to."""
    code = getattr(fn, "__code__", None)
    if code is None:
        raise TypeError(f"{fn!r} is not a Python function: pass the function the exercise asks for")
    names: set[str] = set()
    for c in _code_objects(code):
        names |= set(c.co_names) | set(c.co_varnames) | set(c.co_freevars)
    return names


def has_loop(fn: Callable[..., Any]) -> bool:
    """Whether `fn` contains a `for` or `while` loop or a comprehension (a backward jump in its bytecode)."""
    for c in _code_objects(fn.__code__):
        if any(ins.opname in _LOOP_OPS and (ins.opname != "JUMP_ABSOLUTE" or ins.argval <= ins.offset)
               for ins in dis.get_instructions(c)):  # fmt: skip
            return True
    return False


def assert_avoids(fn: Callable[..., Any], names: Iterable[str] = (), loops: bool = False) -> None:
    """Fail with a message for the student if `fn` refers to a forbidden name (any name containing one of `names`,
    e.g. "conv2d" also catches `F.conv2d` and `torch.nn.functional.conv2d`) or, with `loops=True`, contains a loop."""
    used = referenced_names(fn)
    for forbidden in names:
        hits = sorted(n for n in used if forbidden in n)
        if hits:
            raise AssertionError(f"this exercise asks you not to use {forbidden}, but the code uses {', '.join(hits)}")
    if loops and has_loop(fn):
        raise AssertionError("this exercise asks for a solution without Python loops (for, while, comprehensions)")


class _Recorder(TorchFunctionMode):
    """Records the name of every torch function and tensor method called while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        self.calls.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def torch_calls(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Call `fn(*args, **kwargs)` and return its result with the names of the torch functions it called, in order."""
    recorder = _Recorder()
    with recorder:
        result = fn(*args, **kwargs)
    return result, recorder.calls
