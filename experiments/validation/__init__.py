"""Validation studies: published feedback-loop phenomena, reproduced as statistical tests.

Each study module (``chaney``, ``jiang``, ``mansoury``) has ``run(seeds, out_dir)``,
which runs small scenarios through the real run loop for every (arm, seed) with common
random numbers, tests its statement with one-sided paired t-tests over seeds (scipy),
draws its figure to ``docs/figures/validation-<study>.png`` and returns a
:class:`~experiments.validation.common.StudyResult`. Command line::

    python -m experiments.validation chaney --seeds 0-4 --out runs/validation
    python -m experiments.validation all --seeds 0-4 --out runs/validation

Results and their discussion: ``docs/validation.md``.
"""

from experiments.validation.common import StudyResult, TestResult

__all__ = ["STUDIES", "StudyResult", "TestResult"]

#: Study name → module path (imported on use).
STUDIES = {
    "chaney": "experiments.validation.chaney",
    "jiang": "experiments.validation.jiang",
    "mansoury": "experiments.validation.mansoury",
}
