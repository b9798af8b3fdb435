"""Course tooling behind `python course.py <verb>`: running notebooks, homework copies, grading and slides."""
