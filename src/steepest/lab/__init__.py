"""The lab: every experiment of the optimization lectures as one call, with the lecture's
claim checked by a number.

::

    import steepest.lab
    steepest.lab.listing()                                   # what there is
    result = steepest.lab.run("conditioning", quick=True)    # a LabResult
    result.verdicts, result.table, result.plot(), result.save("runs/lab/conditioning")
"""

from .base import (
    EXPERIMENTS,
    Context,
    Experiment,
    LabResult,
    Verdict,
    check,
    experiment,
    get,
    listing,
    run,
)

__all__ = ["EXPERIMENTS", "Context", "Experiment", "LabResult", "Verdict", "check", "experiment",
           "get", "listing", "run"]
