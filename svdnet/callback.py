"""The epoch-end truncated SVD projection callback."""

from __future__ import annotations

import hashlib
import time

import keras
import numpy as np

from svdnet.calibration import DEFAULT_MAX_EXAMPLES
from svdnet.decompose import NonFiniteWeightsError, calibration, check_sequential, decompose
from svdnet.kernels import KernelView, check_conv_scheme
from svdnet.layers import check_factorized_ranks, check_layer_names, select_layers
from svdnet.printing import print_msg
from svdnet.rank_selection import RankRequest, check_budget, choose_ranks, rank_request
from svdnet.schedule import annealed_rank
from svdnet.svd import BACKENDS, PROJECTION_BACKEND, svd_method_argument
from svdnet.validation import check_bool, check_choice, check_int, check_seed

__all__ = ["NonFiniteWeightsError", "SVDProjection"]


class SVDProjection(keras.callbacks.Callback):
    """Replace Dense, Conv2D and EinsumDense kernels by their rank-k truncated SVD at the
    end of epochs.

    At the end of every ``every``-th epoch, and once more at the end of training if the
    last epoch was not such an epoch or another callback changed the kernels after the
    last projection (``EarlyStopping(restore_best_weights=True)`` restores weights saved
    before it, whatever the callbacks' order), each selected kernel ``W``, read as an ``m x n``
    matrix (a Dense kernel as it is, a Conv2D or EinsumDense kernel through its
    matricisation, :mod:`svdnet.kernels`), is replaced by its best rank-k approximation
    ``U_k S_k V_k^T``. A kernel whose
    ``min(m, n)`` is at most its k cannot exceed rank k and is left untouched. After
    ``fit`` returns, every selected kernel therefore has rank at most its k.

    Each layer's k comes from exactly one of ``rank`` (one rank, or a mapping of layer
    name to rank), ``energy`` (per layer, the smallest rank keeping that fraction of
    the squared singular values) or ``budget`` (ranks keeping the most energy with the
    whole model, as factors, within that many parameters; see
    :func:`svdnet.rank_selection.budget_ranks`). Energy and budget ranks are chosen
    afresh at every projection from the kernels' full (exact) spectra, so they may
    change from epoch to epoch; ``svd_method`` then does not apply.

    Biases are not changed, nor is the optimizer state. The epoch ``logs`` (and so
    ``History``, ``CSVLogger`` and ``TensorBoard``) receive, on projection epochs:

    - ``svd_rank/<layer>``: the rank kept;
    - ``svd_energy/<layer>``: fraction of the kernel's squared Frobenius norm kept;
    - ``svd_error/<layer>``: relative Frobenius error ``||W - W_k|| / ||W||``;
    - ``svd_seconds``: wall time of the projection of all layers.

    Validation metrics that Keras computes for an epoch are those of the weights
    *before* that epoch's projection; evaluate after ``fit`` for the projected model.

    Example:

    >>> callback = SVDProjection(rank=20)
    >>> model.fit(x, y, epochs=10, callbacks=[callback])  # doctest: +SKIP

    Args:
        rank: Target rank k, a positive integer, or a mapping of layer key to rank
            (layers left out of the mapping are not projected). Defaults to ``None``:
            rank 20 unless ``energy`` or ``budget`` is given.
        layers: Names of the layers to project, or ``None`` for every Dense, Conv2D and
            EinsumDense layer of the model, nested models and the projections inside
            layers such as ``MultiHeadAttention`` included. A name that layers of several nested
            models share is given as a path, ``"outer/name"``; logs and records use the
            same keys (see :func:`svdnet.layers.layer_map`). Defaults to ``None``.
        every: Project at the end of every ``every``-th epoch. Defaults to 1.
        svd_method: SVD backend, ``"auto"``, ``"exact"`` or ``"randomized"`` (see
            :func:`svdnet.svd.truncated_svd`). ``"auto"`` takes the randomized SVD when
            k is at most a tenth of the kernel's smaller side (about 1.002x the optimal
            error, for a tenth of the cost; ``benchmarks/README.md``) and the exact one
            otherwise. Defaults to :data:`svdnet.svd.PROJECTION_BACKEND`, ``"auto"``.
        seed: Seed of the randomized backend. Defaults to 0.
        record_spectrum: Keep every singular value of each kernel (with ``data``, of
            its output on the data) as it was just before
            the last projection of training, in :attr:`spectra` (costs one extra
            singular value computation per layer at that epoch when the backend is
            randomized). Defaults to ``False``.
        verbose: Verbosity mode, 0 or 1. Mode 1 prints the ranks and energy kept per
            layer after each projection, and the layers left alone, through Keras' own
            printing (``keras.config.disable_interactive_logging()`` sends it to the
            log). Defaults to 0.
        energy: Fraction ``0 < energy <= 1`` of each kernel's squared singular values
            to keep. Defaults to ``None``.
        budget: Parameter count of the whole model with its projected kernels stored
            as factors. Defaults to ``None``.
        anneal_epochs: Let each layer's kept rank fall from ``start_rank`` to its k over
            this many epochs (:func:`svdnet.schedule.annealed_rank`) instead of dropping
            to k at the first projection; 0 does not anneal. The last epoch of ``fit``
            and the projection at the end of training always keep k, so the guarantee
            above holds however short the training. Needs ``rank`` (one rank or a
            mapping). Defaults to 0.
        start_rank: The rank the annealing starts from, for every layer, or ``None``
            for each kernel's full rank ``min(m, n)``. Defaults to ``None``.
        conv_scheme: How a Conv2D kernel ``(kh, kw, c_in, c_out)`` is read as a matrix:
            ``"weight"`` (``(kh * kw * c_in) x c_out``) or ``"spatial"``
            (``(kh * c_in) x (kw * c_out)``); see :mod:`svdnet.kernels`. Use the scheme
            you will :func:`svdnet.factorize` with. Defaults to ``"weight"``.
        data: Calibration inputs for a data-aware projection, as for
            :func:`svdnet.factorize` (read once, when the callback is given its model):
            each kernel is then replaced by the rank-k kernel that keeps the layer's
            output on those inputs closest, ``energy`` is output energy and the logged
            ``svd_energy``/``svd_error`` are the output's; ``svd_method`` does not apply.
            Each projection costs one forward pass over them (one per layer with
            ``sequential``). Defaults to ``None`` (the SVD of the weights alone).
        sequential: With ``data``, calibrate each layer on the inputs of the layers
            before it once projected (see :func:`svdnet.factorize`). Defaults to
            ``False``.
        max_examples: Most calibration examples read from ``data``. Defaults to 2048.
        method: The former name of ``svd_method``, deprecated (a ``DeprecationWarning``).
            Defaults to ``None``.

    Attributes:
        projections: One dict per projection: ``epoch`` (0-based; ``None`` for the one
            at the end of training), ``seconds`` and per-layer ``rank``, ``energy`` and
            ``error``.
        spectra: Layer key to singular values before the last projection (only with
            ``record_spectrum=True``).
        skipped: Names of selected layers never projected (``min(m, n)`` at most a
            fixed rank, left out of a per-layer mapping, or a kernel that cannot be
            projected).
        skipped_reasons: Layer key to why it is never projected.

    Dense layers that are quantized (``Dense.quantize``) or have LoRA enabled
    (``Dense.enable_lora``) hold no float kernel to project: with ``layers=None`` they
    are left alone (named in :attr:`skipped_reasons`); naming one in ``layers`` raises
    ``ValueError`` when the callback is given its model, before training.
    """

    def __init__(
        self,
        rank=None,
        layers=None,
        every: int = 1,
        svd_method: str = PROJECTION_BACKEND,
        seed: int | None = 0,
        record_spectrum: bool = False,
        verbose: int = 0,
        energy: float | None = None,
        budget: int | None = None,
        anneal_epochs: int = 0,
        start_rank: int | None = None,
        conv_scheme: str = "weight",
        data=None,
        sequential: bool = False,
        max_examples: int = DEFAULT_MAX_EXAMPLES,
        *,
        method: str | None = None,
    ):
        super().__init__()
        self.conv_scheme = check_conv_scheme(conv_scheme)
        self.data = data
        self.sequential = check_sequential(data, sequential)
        self.max_examples = check_int("max_examples", max_examples, minimum=1)
        self.request = rank_request(rank, energy, budget)
        self.anneal_epochs = check_int("anneal_epochs", anneal_epochs, minimum=0)
        self.start_rank = None if start_rank is None else check_int("start_rank", start_rank,
                                                                     minimum=1)
        if self.anneal_epochs and self.request.needs_spectrum:
            raise ValueError(
                f"anneal_epochs={anneal_epochs} needs a rank (one rank or a per-layer "
                f"mapping) to anneal to; received {self.request.describe()}.")
        self.rank = self.request.rank
        self.layer_names = None if layers is None else check_layer_names(layers)
        self.every = check_int("every", every, minimum=1)
        svd_method = svd_method_argument(svd_method, method, "SVDProjection",
                                         PROJECTION_BACKEND)
        self.svd_method = check_choice("svd_method", svd_method, BACKENDS)
        self.seed = check_seed(seed)
        self.record_spectrum = check_bool("record_spectrum", record_spectrum)
        self.verbose = check_int("verbose", verbose, minimum=0, maximum=2)
        self.projections: list[dict] = []
        self.spectra: dict[str, np.ndarray] = {}
        self.skipped: list[str] = []
        self.skipped_reasons: dict[str, str] = {}
        self._layers = None
        self._last_projected_epoch = None
        self._last_epoch = None
        self._digests = {}
        self._calibrated = None

    @property
    def method(self) -> str:
        """The former name of :attr:`svd_method`, deprecated."""
        import warnings

        warnings.warn("SVDProjection.method is deprecated: read svd_method.",
                      DeprecationWarning, stacklevel=2)
        return self.svd_method

    def set_model(self, model):
        super().set_model(model)
        # Resolve the layers and check the request now, so that an unknown name, a rank
        # below a factorized layer's or a budget that cannot be met fails before training.
        if self.request.kind == "rank" and self.layer_names is None:
            check_factorized_ranks(model, self.request.rank)
        self._layers, unsupported = select_layers(model, self.layer_names)
        shapes = {key: KernelView(layer, self.conv_scheme).shape
                  for key, layer in self._layers.items()}
        self._fixed_ranks = None
        if self.request.kind == "budget":
            fixed = int(model.count_params()) - sum(rows * cols for rows, cols in shapes.values())
            check_budget(self.request.budget, shapes, fixed)
        if not self.request.needs_spectrum:
            self._fixed_ranks = choose_ranks(self.request, shapes)
        self.skipped_reasons = dict(unsupported)
        if self._fixed_ranks is not None:
            for name, shape in shapes.items():
                if name not in self._fixed_ranks:
                    self.skipped_reasons[name] = "not in the per-layer ranks"
                elif min(shape) <= self._fixed_ranks[name]:
                    self.skipped_reasons[name] = (
                        f"its {shape[0]}x{shape[1]} kernel matrix has rank at most "
                        f"{min(shape)} <= {self._fixed_ranks[name]} already")
        self.skipped = list(self.skipped_reasons)
        self._calibrated = calibration(model, self.data, self.sequential, self.max_examples)
        if self.verbose:
            for name, reason in self.skipped_reasons.items():
                print_msg(f"SVDProjection: layer {name!r} is left alone: {reason}.")

    def on_train_begin(self, logs=None):
        self.projections = []
        self.spectra = {}
        self._last_projected_epoch = None
        self._last_epoch = None
        self._digests = {}

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch
        if (epoch + 1) % self.every:
            return
        last_epoch = (self.params or {}).get("epochs")
        is_last = last_epoch is not None and epoch + 1 == last_epoch
        record = self._project(epoch, self.record_spectrum and is_last, final=is_last)
        self._last_projected_epoch = epoch
        if logs is not None:
            logs.update(self._logs_of(record))

    def on_train_end(self, logs=None):
        # Guarantee rank <= k after fit even when the last epoch was not a multiple of
        # `every`, training stopped early (EarlyStopping) between projections, or another
        # callback changed the kernels after the last projection (EarlyStopping's
        # restore_best_weights restores weights saved before it); an epoch that was just
        # projected, with its kernels as the projection left them, is not projected twice.
        if self._epoch_needs_final_projection():
            self.project(epoch=None, record_spectrum=self.record_spectrum)

    def _epoch_needs_final_projection(self) -> bool:
        if self._last_projected_epoch is None or self._last_epoch != self._last_projected_epoch:
            return True
        return self._digests != self._kernel_digests()

    def _kernel_digests(self) -> dict:
        """A digest of each projected kernel's bytes: tells whether it changed since."""
        return {key: hashlib.blake2b(
                    np.ascontiguousarray(keras.ops.convert_to_numpy(layer.kernel)).tobytes(),
                    digest_size=16).hexdigest()
                for key, layer in self._layers.items() if key not in self.skipped}

    def project(self, epoch=None, record_spectrum: bool = False) -> dict:
        """Projects every selected kernel to rank k now and returns what it measured.

        Args:
            epoch: Epoch index to record (and, when annealing, whose annealed rank to
                keep), or ``None`` for k. Defaults to ``None``.
            record_spectrum: Store each kernel's full spectrum before projection in
                :attr:`spectra`. Defaults to ``False``.

        Raises:
            NonFiniteWeightsError: if a kernel holds NaN or infinite values.
        """
        return self._project(epoch, record_spectrum, final=epoch is None)

    def _project(self, epoch, record_spectrum: bool, final: bool) -> dict:
        if self._layers is None:
            raise RuntimeError("SVDProjection.project needs a model: call set_model first.")
        start = time.perf_counter()
        record = {"epoch": epoch, "rank": {}, "energy": {}, "error": {}}
        active = {key: layer for key, layer in self._layers.items() if key not in self.skipped}
        when = "at the end of training" if epoch is None else f"at epoch {epoch + 1}"
        request = self.request
        if self._fixed_ranks is not None:  # the fixed ranks of the layers not skipped
            request = RankRequest(rank={key: self.rank_at(key, None if final else epoch)
                                        for key in active})
        parts = decompose(self.model, active, request, svd_method=self.svd_method,
                          seed=self.seed,
                          when=when, conv_scheme=self.conv_scheme,
                          calibrated=self._calibrated) if active else None
        for name, weights in (parts.kernels if parts else {}).items():
            svd = parts.svds[name]
            if svd.rank < min(weights.shape):
                KernelView(active[name], self.conv_scheme).write(
                    svd.reconstruct().astype(weights.dtype, copy=False))
            if record_spectrum:
                # Not part of the projection's cost: measured time stops before it.
                paused = time.perf_counter()
                self.spectra[name] = (
                    svd.all_singular_values
                    if svd.all_singular_values is not None
                    else np.linalg.svd(weights, compute_uv=False)
                )
                start += time.perf_counter() - paused
            record["rank"][name] = svd.rank
            record["energy"][name] = svd.energy_kept()
            record["error"][name] = svd.relative_error()
        record["seconds"] = time.perf_counter() - start
        self._digests = self._kernel_digests()
        self.projections.append(record)
        if self.verbose:
            kept = ", ".join(f"{name} rank {record['rank'][name]} energy {value:.4f}"
                             for name, value in record["energy"].items())
            print_msg(f"SVDProjection ({self.request.describe()}): {kept} "
                      f"({record['seconds']:.3f} s)")
        return record

    def rank_at(self, key: str, epoch: int | None) -> int:
        """The rank layer ``key`` keeps at the end of ``epoch`` (0-based; ``None``: the
        end of training, always its k): its fixed k, or the annealed rank."""
        rank = self._fixed_ranks[key]
        if not self.anneal_epochs or epoch is None:
            return rank
        full = min(KernelView(self._layers[key], self.conv_scheme).shape)
        start = full if self.start_rank is None else min(full, max(self.start_rank, rank))
        return annealed_rank(epoch + 1, rank, self.anneal_epochs, start)

    @staticmethod
    def _logs_of(record: dict) -> dict:
        logs = {f"svd_rank/{name}": value for name, value in record["rank"].items()}
        logs.update({f"svd_energy/{name}": value for name, value in record["energy"].items()})
        logs.update({f"svd_error/{name}": value for name, value in record["error"].items()})
        logs["svd_seconds"] = record["seconds"]
        return logs

    @property
    def total_seconds(self) -> float:
        """Wall time spent projecting during the last ``fit``, in seconds."""
        return float(sum(record["seconds"] for record in self.projections))

