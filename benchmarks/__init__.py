"""Benchmarks of the course: `python -m benchmarks.train_speed` compares the classic blog training loop with
`course_utils.fit` (results in `benchmarks/RESULTS.md`)."""
