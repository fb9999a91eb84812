"""Loss-spike detection with llm-foundry's KillLossSpike semantics.

A rolling window of the last `window` step losses; detection starts once the window is full.
A loss >= `factor` x the window's mean is an outlier; more than `patience` outliers in a row
(with the defaults: 5 consecutive steps above 2x the mean) is a spike. A non-outlier resets
the count. Every loss, outlier or not, then enters the window (as llm-foundry does). One spike
is reported once, at the step it is confirmed; a new one needs a normal step in between.
What to do on a spike (an event, optionally a stop) is the trainer's business.
"""

from collections import deque
from dataclasses import dataclass


@dataclass
class Spike:
    step: int
    loss: float
    running_mean: float  # mean of the window the confirming loss was compared with
    outlier_steps: list  # the consecutive outlier steps, the confirming one last


class LossSpikeDetector:
    def __init__(self, window: int = 100, factor: float = 2.0, patience: int = 4):
        if window < 1 or factor <= 0 or patience < 0:
            raise ValueError("window >= 1, factor > 0 and patience >= 0 are required")
        self.factor, self.patience = factor, patience
        self.losses = deque(maxlen=window)
        self.outliers: list = []  # steps of the current run of outliers
        self.reported = False

    def update(self, step: int, loss: float):
        """Feed one step's loss; return a Spike when this step confirms one, else None."""
        spike = None
        if len(self.losses) == self.losses.maxlen:
            mean = sum(self.losses) / len(self.losses)
            if loss >= mean * self.factor:
                self.outliers.append(step)
                if len(self.outliers) > self.patience and not self.reported:
                    self.reported = True
                    spike = Spike(step, loss, mean, list(self.outliers))
            else:
                self.outliers, self.reported = [], False
        self.losses.append(loss)
        return spike
