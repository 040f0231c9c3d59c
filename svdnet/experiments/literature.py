"""Published compression results on MNIST, for the report's accuracy-against-size figure.

These are numbers from papers, on other architectures than the 5x1024 MLP of this
project, trained with other recipes: the figure marks them as published, never as runs
of ours. Where a paper gives a compression ratio instead of a parameter count, the count
is that of LeNet-300-100 (784-300-100-10 with biases: 266,610 parameters) divided by the
ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

COUNTS = ("parameters", "non-zero weights")
"""What a published point's size can count: every parameter of the model, or only the
weights left non-zero (a pruned or sparsified network, whose zeros still sit in dense
matrices unless stored sparsely)."""

MNIST_NOTE = ("our MNIST training images are a reconstruction (97.2% of pixels exact, "
              "the rest within one grey level); published points are on the original")
"""Beside the published points of an MNIST panel: what our MNIST is (from the data's
provenance in ``shared/README.md``)."""

LENET_300_100 = 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10
"""Parameters of LeNet-300-100 with biases: 266,610."""


@dataclass(frozen=True)
class Published:
    """One published result.

    Attributes:
        label: Short name for the figure's legend.
        dataset: The dataset it was measured on (``"mnist"``).
        accuracy: Test accuracy as a fraction.
        parameters: The size of the compressed model, counted as ``counts`` says.
        counts: What ``parameters`` counts, one of :data:`COUNTS`: ``"parameters"``
            (every parameter of the model) or ``"non-zero weights"`` (a pruned or
            sparsified network).
        source: The paper, and how the numbers were read from it.
    """

    label: str
    dataset: str
    accuracy: float
    parameters: float
    counts: str
    source: str

    def __post_init__(self):
        if self.counts not in COUNTS:
            raise ValueError(f"counts must be one of {COUNTS}; received {self.counts!r} "
                             f"for {self.label!r}.")


PUBLISHED = (
    Published("LeNet-300-100 pruned, Han et al. 2015", "mnist", 1 - 0.0159,
              LENET_300_100 / 12, "non-zero weights",
              "Han, Pool, Tran, Dally, 'Learning both Weights and Connections for Efficient "
              "Neural Networks', NeurIPS 2015: 1.59% error at 12x fewer weights"),
    Published("LeNet-300-100 sparse VD, Molchanov et al. 2017", "mnist", 1 - 0.0192,
              LENET_300_100 / 68, "non-zero weights",
              "Molchanov, Ashukha, Vetrov, 'Variational Dropout Sparsifies Deep Neural "
              "Networks', ICML 2017: 1.92% error at 68x fewer weights"),
    Published("784-625-10 TT layer, t3f", "mnist", 0.9751, 21_845, "parameters",
              "t3f (Novikov et al., JMLR 2020) tensor-train layer example, 784-625-10 network: "
              "97.51% test accuracy with 21,845 parameters"),
)
"""The published points drawn on the accuracy-against-size figure."""


def counts_note(points=PUBLISHED) -> str:
    """What the published points' sizes count, for a caption: ``"LeNet-300-100 pruned, Han
    et al. 2015 and ... count non-zero weights; 784-625-10 TT layer, t3f counts
    parameters"``, from each point's :attr:`Published.counts`.

    Args:
        points: :class:`Published` results. Defaults to :data:`PUBLISHED`.
    """
    clauses = []
    for counts in COUNTS:
        labels = [point.label for point in points if point.counts == counts]
        if labels:
            names = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
            clauses.append(f"{names} count{'s' if len(labels) == 1 else ''} {counts}")
    return "; ".join(clauses)
