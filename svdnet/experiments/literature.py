"""Published compression results on MNIST, for the report's accuracy-against-size figure.

These are numbers from papers, on other architectures than the 5x1024 MLP of this
project, trained with other recipes: the figure marks them as published, never as runs
of ours. Where a paper gives a compression ratio instead of a parameter count, the count
is that of LeNet-300-100 (784-300-100-10 with biases: 266,610 parameters) divided by the
ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

LENET_300_100 = 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10
"""Parameters of LeNet-300-100 with biases: 266,610."""


@dataclass(frozen=True)
class Published:
    """One published result.

    Attributes:
        label: Short name for the figure's legend.
        dataset: The dataset it was measured on (``"mnist"``).
        accuracy: Test accuracy as a fraction.
        parameters: Parameters of the compressed model (nonzero weights for pruning).
        source: The paper, and how the numbers were read from it.
    """

    label: str
    dataset: str
    accuracy: float
    parameters: float
    source: str


PUBLISHED = (
    Published("LeNet-300-100 pruned, Han et al. 2015", "mnist", 1 - 0.0159,
              LENET_300_100 / 12,
              "Han, Pool, Tran, Dally, 'Learning both Weights and Connections for Efficient "
              "Neural Networks', NeurIPS 2015: 1.59% error at 12x fewer weights"),
    Published("LeNet-300-100 sparse VD, Molchanov et al. 2017", "mnist", 1 - 0.0192,
              LENET_300_100 / 68,
              "Molchanov, Ashukha, Vetrov, 'Variational Dropout Sparsifies Deep Neural "
              "Networks', ICML 2017: 1.92% error at 68x fewer weights"),
    Published("784-625-10 TT layer, t3f", "mnist", 0.9751, 21_845,
              "t3f (Novikov et al., JMLR 2020) tensor-train layer example, 784-625-10 network: "
              "97.51% test accuracy with 21,845 parameters"),
)
"""The published points drawn on the accuracy-against-size figure."""
