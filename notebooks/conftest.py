"""nbval runs the notebooks in quick mode: same defaults, 2,000 training examples.

The kernels nbval starts inherit this environment. See svdnet.experiments.sweep for what quick mode
changes (training subset size and the scratch results folder, nothing else).
"""

import os

os.environ["SVDNET_QUICK"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
