"""Figures (course_utils/plot.py): no text drawn over other text, in the shared figures and in placed point labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from course_utils import plot, reference
from course_utils.history import History

REFERENCE_PLOTS = {
    "degradation": plot.plot_reference_degradation,
    "shortcuts": plot.plot_reference_shortcuts,
    "zoo": plot.plot_reference_zoo,
    "gpu-idle": plot.plot_reference_gpu_idle,
}


@pytest.fixture(autouse=True)
def course_style():
    with matplotlib.rc_context():
        plot.use_style()
        yield
    plt.close("all")


def test_overlap_check_sees_text_over_text():
    fig, ax = plt.subplots()
    ax.set_axis_off()
    ax.text(0.5, 0.5, "first label")
    ax.text(0.52, 0.5, "second label")
    ax.text(0.1, 0.1, "alone")
    assert plot.overlapping_text(fig) == [("first label", "second label")]


@pytest.mark.parametrize("experiment", sorted(REFERENCE_PLOTS))
def test_reference_figures_write_no_text_over_text(experiment):
    result = reference.load_reference(experiment)
    fig = REFERENCE_PLOTS[experiment](result, reference.provenance_line(result))
    assert plot.overlapping_text(fig) == []


def test_loop_comparison_and_history_write_no_text_over_text():
    results = {"SmallCNN": {"speedup": 3.1, "classic_tta": 40.0, "course_tta": 9.5},
               "ResNet18": {"speedup": 1.4, "classic_tta": None, "course_tta": 120.0}}  # fmt: skip
    assert plot.overlapping_text(plot.plot_loop_comparison(results, 0.98, "cpu, quick mode")) == []
    h = History()
    for epoch in range(3):
        h.add_epoch(1.0 / (epoch + 1), 0.5 + 0.1 * epoch, 1.0, [1.0, 0.9])
        h.add_eval("test", 1.2 / (epoch + 1), 0.45 + 0.1 * epoch)
    assert plot.overlapping_text(plot.plot_history({"a": h, "b": h}, title="one seed")) == []


def test_crowded_point_labels_are_placed_apart_and_inside():
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = [1e7, 1.3e7, 1.6e7, 2e7, 2.2e7, 3e8, 1e6]
    ys = [95.0, 95.3, 95.1, 95.4, 94.9, 96.0, 90.0]
    labels = [f"network number {i} (3 seeds)" for i in range(len(xs))]
    ax.plot(xs, ys, "o")
    ax.set(xscale="log", ylim=(85, 100))
    ax.margins(x=0.25)
    fig.tight_layout()
    texts = plot.label_points(ax, xs, ys, labels)
    assert [t.get_text() for t in texts] == labels
    assert plot.overlapping_text(fig) == []
    frame = ax.get_window_extent(fig.canvas.get_renderer())
    for t in texts:
        box = plot._text_box(t, fig.canvas.get_renderer())
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, t.get_text()


def test_figure_check_runs_a_notebook_and_names_the_overlap(tmp_path, capsys):
    import nbformat

    from course_utils.tools import figure_check

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\nax.set_axis_off()\nax.set_title('clean')\n"
        "fig2, ax2 = plt.subplots()\nax2.set_axis_off()\nax2.set_title('crowded')\n"
        "ax2.text(0.5, 0.5, 'first label')\nax2.text(0.52, 0.5, 'second label')")]  # fmt: skip
    path = tmp_path / "figs.ipynb"
    nbformat.write(nb, path)
    assert figure_check.figure_overlaps(path) == [("clean", []), ("crowded", [("first label", "second label")])]
    assert figure_check.main([str(path)]) == 1
    assert "'crowded': 'first label' over 'second label'" in capsys.readouterr().out


def test_log_ticks_are_round_and_few():
    ticks = plot._LogTicks()
    assert ticks.tick_values(0.5, 60) == [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
    assert ticks.tick_values(1e-3, 1e2) == [1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0]
    assert ticks.tick_values(1.3, 2.6) == pytest.approx([1.4, 1.6, 1.8, 2.0, 2.5])
