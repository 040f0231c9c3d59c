import nbformat as nbf

def md(text): return nbf.v4.new_markdown_cell(text.strip())
def code(text, tags=(), ignore=False, output=None):
    """A code cell. ignore: nbval runs it but does not compare its output. output: the
    exact text it must print, stored so that nbval compares it."""
    src = text.strip()
    if ignore:
        src = "# NBVAL_IGNORE_OUTPUT\n" + src
    cell = nbf.v4.new_code_cell(src)
    if tags: cell.metadata["tags"] = list(tags)
    if output is not None:
        cell.outputs = [nbf.v4.new_output("stream", name="stdout", text=output)]
        cell.execution_count = 1  # nbval only compares cells that have been run
    return cell

def notebook(cells):
    nb = nbf.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb

sweep = notebook([
md("""
# svdnet sweep: one experiment

One run of the svdnet experiment. With its defaults it is the **reference experiment**: an MLP
with five hidden `Dense(1024, relu)` layers trained for 10 epochs on MNIST with Adam (batch 128),
where at the end of **every epoch** each Dense kernel `W` is replaced by its rank-k truncated SVD
reconstruction (k = 20), compared with the same network trained dense from the same seed.

Run it headless with Papermill from the project root:

    papermill notebooks/sweep.ipynb out.ipynb -p rank 20

`papermill --help-notebook notebooks/sweep.ipynb` lists every parameter. The result is written
as one JSON file (atomically) under `results_dir`.
"""),
code('''
rank: int = 20  # rank k kept by the truncated SVD of each Dense kernel, from 1 to width
dataset: str = "mnist"  # TFDS dataset: "mnist" or "fashion_mnist"
method: str = "projection"  # "dense", "projection" (rank-k SVD after every epoch), "posthoc" (once after training), "finetune" (factorise, then train the factors) or "lowrank" (train factors from scratch)
ranks: list = []  # several ranks to run one after another (one result each); empty means just `rank`
epochs: int = 10  # training epochs, at least 1
batch_size: int = 128  # examples per training step, at least 1
depth: int = 5  # number of hidden Dense layers, at least 1
width: int = 1024  # units per hidden Dense layer, at least 1
seed: int = 0  # seed of the initial weights, batch order and randomized SVD, at least 0
train_size: int = 0  # training examples to use (the first ones in TFDS order); 0 means the whole split
svd_method: str = "exact"  # SVD backend: "exact" (LAPACK), "randomized" (Halko et al.) or "auto"
every: int = 1  # project every `every` epochs (and always after the last one), at least 1
finetune_epochs: int = 2  # finetune method: of the epochs, how many train the factors (the rest train dense)
jit_compile: bool = True  # compile the training step with XLA
pipeline: str = "tf.data"  # input pipeline: "tf.data" (cached, prefetched) or "numpy"
baseline: bool = True  # also train the dense model with the same seed and data, for comparison
results_dir: str = "reports/results"  # folder of the JSON results, relative to the working directory
cache_dir: str = ""  # folder where dense runs keep weights for posthoc and finetune runs to reuse; empty shares nothing
''', tags=["parameters"]),
md("""
## Checking the parameters

A bad parameter stops the run here, with a message that names the parameter, the value received
and what is allowed.
"""),
code('''
import svdnet
from svdnet import plots
from svdnet.sweep import apply_quick_mode, comparison_table, quick_mode, run_experiment

config = svdnet.RunConfig(
    method=method, rank=rank, dataset=dataset, epochs=epochs, batch_size=batch_size,
    depth=depth, width=width, seed=seed, train_size=train_size, svd_method=svd_method,
    every=every, finetune_epochs=finetune_epochs, jit_compile=jit_compile, pipeline=pipeline,
).replace()  # validates every field
if not isinstance(ranks, (list, tuple)):
    raise TypeError(f"ranks must be a list of ranks; received {ranks!r}.")
configs = [config.replace(rank=value) for value in ranks] if ranks else [config]
'''),
md("""
## Training

`SVDNET_QUICK=1` (set by the notebook tests) trains on the first 2,000 examples only and writes
its result to a scratch folder; a normal run uses the whole training split. With several
`ranks`, the data is loaded once and each rank is one run with its own result file.
"""),
code('''
data = svdnet.load_dataset(config.dataset, train_size=apply_quick_mode(config).train_size)
experiments = []
for run_config in configs:
    experiment = run_experiment(run_config, baseline=baseline and not experiments,
                                results_dir=results_dir, cache_dir=cache_dir, data=data)
    experiments.append(experiment)
    print(f"{run_config.method} rank {run_config.rank}: test accuracy "
          f"{experiment.run.test_accuracy:.4f}; result written to {experiment.path}")
print(f"quick mode: {quick_mode()}; trained on {experiment.payload['data']['train_examples']} examples")
''', ignore=True),
md("""
## Dense against compressed

Test accuracy and loss on the 10,000 test images. Every compressed model is tested as its
exported factorised form (rank-k factors `U·sqrt(S)`, `sqrt(S)·V^T` where that is smaller than
the kernel). *parameters* counts the dense network; *factorised parameters* the exported model;
*compression* is their ratio.
"""),
code('''
comparison_table(experiments).style.format(
    {"test accuracy": "{:.4f}", "test loss": "{:.4f}", "parameters": "{:,}",
     "factorised parameters": "{:,}", "compression": "{:.1f}x", "train s": "{:.1f}",
     "svd s": "{:.2f}"}
)
''', ignore=True),
md("""
What must hold, whatever the numbers: every compressed kernel has rank at most its k, every
accuracy is a fraction, and a dense model is far above chance (10 classes: 10%).
"""),
code('''
for experiment in experiments:
    run = experiment.run
    if run.config.method != "dense":
        assert max(run.ranks.values()) <= run.config.rank, run.ranks
    else:
        assert run.test_accuracy > 0.6, run.test_accuracy
    assert 0.0 <= run.test_accuracy <= 1.0, run.test_accuracy
    if experiment.baseline is not None:
        assert experiment.baseline.test_accuracy > 0.6, experiment.baseline.test_accuracy
print(f"checks passed: method {config.method}, {len(experiments)} run(s), every kernel rank <= its k")
''', output="checks passed: method projection, 1 run(s), every kernel rank <= its k\n"),
md("""
## Learning curves

Training loss and accuracy are measured during each epoch, before its projection; *test_accuracy*
is measured after the epoch's projection, so it is the accuracy of the compressed model itself.
"""),
code('''
histories = {}
for experiment in experiments:
    if experiment.baseline is not None:
        histories["dense"] = experiment.baseline.history
    label = config.method if config.method == "dense" else f"{config.method} rank {experiment.config.rank}"
    if experiment.run.history:  # posthoc trains nothing after truncating
        histories[label] = experiment.run.history
if histories:
    plots.learning_curves(histories);
''', ignore=True),
md("""
## Singular value spectra

For each layer: the singular values of the kernel just before the last truncation, after it
(the k kept values), and of the dense baseline's kernel. The dashed line marks k. With several
ranks, the first run's spectra are shown.
"""),
code('''
experiment = experiments[0]
spectra = {"before last truncation": experiment.spectra["before"],
           "after truncation": experiment.spectra["after"]}
if experiment.payload["spectra"]["dense"] is not None:
    spectra["dense baseline"] = experiment.payload["spectra"]["dense"]
plots.spectrum_plot(spectra, rank=experiment.config.rank);
''', ignore=True),
md("""
## Provenance

The seed and configuration above, and the library versions, machine and commit below, are
stored with the result.
"""),
code('''
experiment.payload["provenance"]
''', ignore=True),
])

explore = notebook([
md("""
# svdnet exploration: how low-rank are trained Dense layers?

Train (or load) the dense reference MLP, look at each layer's singular value spectrum and energy
curve, then truncate the trained kernels once at several ranks, without retraining, and watch
test accuracy against rank and against parameter count. This shows how much of each layer a
truncated SVD can throw away *after* training; `sweep.ipynb` trains with the truncation instead.
"""),
code('''
dataset: str = "mnist"  # TFDS dataset: "mnist" or "fashion_mnist"
epochs: int = 10  # training epochs of the dense model, at least 1
batch_size: int = 128  # examples per training step, at least 1
depth: int = 5  # number of hidden Dense layers, at least 1
width: int = 1024  # units per hidden Dense layer, at least 1
seed: int = 0  # seed of the initial weights and batch order, at least 0
train_size: int = 0  # training examples to use; 0 means the whole split
ranks: list = [1, 2, 5, 10, 20, 50, 100, 200]  # ranks at which to truncate the trained kernels
model_path: str = ""  # a .keras file: loaded when it exists, else the trained model is saved there; "" trains without saving
''', tags=["parameters"]),
code('''
import numpy as np
import seaborn as sns

import svdnet
from svdnet import plots
from svdnet.analysis import load_or_train_dense, truncation_sweep
from svdnet.sweep import apply_quick_mode, layer_spectra

config = apply_quick_mode(svdnet.RunConfig(
    method="dense", dataset=dataset, epochs=epochs, batch_size=batch_size, depth=depth,
    width=width, seed=seed, train_size=train_size,
).replace())
data = svdnet.load_dataset(config.dataset, train_size=config.train_size)
model = load_or_train_dense(data, config, model_path)
dense_loss, dense_accuracy = model.evaluate(data.x_test, data.y_test, batch_size=1024, verbose=0)
print(f"dense model: {model.count_params():,} parameters, test accuracy {dense_accuracy:.4f}")
''', ignore=True),
md("""
## Singular value spectra

Each panel is one trained kernel's singular values on a log scale. A kernel that a few
directions dominate has a steep head and a long flat tail: most of its rank carries little
energy, and a truncated SVD removes that tail cheaply.
"""),
code('''
spectra = layer_spectra(model)
plots.spectrum_plot({"trained dense": spectra}, rank=20);
''', ignore=True),
md("""
## Energy curves

The fraction of each kernel's squared Frobenius norm kept by its top-k singular values. The
table gives the rank each layer needs to keep 90% and 99% of its energy.
"""),
code('''
plots.energy_plot(spectra, rank=20);
{name: {f"{int(100 * level)}%": int(np.searchsorted(svdnet.energy_curve(values), level) + 1)
        for level in (0.9, 0.99)}
 for name, values in spectra.items()}
''', ignore=True),
md("""
## Truncating after training

Every kernel is replaced by its rank-k truncation (layers already of rank at most k are left
as they are) and the model is tested again, with no retraining.
"""),
code('''
sweep = truncation_sweep(model, data.x_test, data.y_test, ranks)
sweep.assign(dense_accuracy=dense_accuracy)
''', ignore=True),
md("""
What must hold: truncation never adds parameters, the factorised size grows with the rank, and
at the largest rank the truncated model is close to the dense one.
"""),
code('''
assert (sweep["factorised parameters"] <= sweep["parameters"]).all()
assert sweep.sort_values("rank")["factorised parameters"].is_monotonic_increasing
assert sweep["test accuracy"].iloc[-1] > 0.6
print(f"checks passed for {len(sweep)} ranks")
''', output="checks passed for 8 ranks\n"),
code('''
figure, axes = plots.plt.subplots(1, 2, figsize=(11, 3.8))
sns.lineplot(data=sweep, x="rank", y="test accuracy", marker="o", ax=axes[0])
sns.lineplot(data=sweep, x="factorised parameters", y="test accuracy", marker="o", ax=axes[1])
for axis in axes:
    axis.set_xscale("log")
    axis.axhline(dense_accuracy, color="grey", linestyle="--", linewidth=1, label="dense")
    axis.legend()
''', ignore=True),
md("""
Reading the plots: accuracy after a one-off truncation falls off sharply below some rank,
because the network was never trained to live in the low-rank subspace. The sweep notebook's
`projection` method trains with the truncation applied every epoch, which recovers much of that
loss at the same parameter count.
"""),
])

"""Writes notebooks/sweep.ipynb and notebooks/explore.ipynb: run from the project root."""
nbf.write(sweep, "notebooks/sweep.ipynb")
nbf.write(explore, "notebooks/explore.ipynb")
