"""``LowRankMultiHeadAttention``: Keras' multi-head attention with rank-k projections."""

from __future__ import annotations

import keras

from svdnet.lowrank_einsum import LowRankEinsumDense
from svdnet.validation import check_rank

PROJECTIONS = {"query": "_query_dense", "key": "_key_dense", "value": "_value_dense",
               "attention_output": "_output_dense"}
"""The projections of ``MultiHeadAttention`` (their layer names) and where it keeps them."""


@keras.saving.register_keras_serializable(package="svdnet")
class LowRankMultiHeadAttention(keras.layers.MultiHeadAttention):
    """``keras.layers.MultiHeadAttention`` whose named projections are rank-k
    :class:`svdnet.lowrank_einsum.LowRankEinsumDense` layers.

    Everything else (heads, masks, dropout, the attention itself) is Keras' own; the
    ranks are part of the layer's config, so a model with this layer saves and loads
    as ``.keras`` like any other. :func:`svdnet.factorize` builds it from a trained
    ``MultiHeadAttention``.

    Args:
        num_heads: As for ``MultiHeadAttention``.
        key_dim: As for ``MultiHeadAttention``.
        projection_ranks: Projection name (``"query"``, ``"key"``, ``"value"``,
            ``"attention_output"``) to its rank; projections left out stay
            ``EinsumDense``. Defaults to ``None`` (none).
        **kwargs: Every other ``MultiHeadAttention`` argument.

    Raises:
        ValueError: naming an unknown projection or a bad rank.
    """

    def __init__(self, num_heads, key_dim, projection_ranks=None, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        ranks = dict(projection_ranks or {})
        unknown = sorted(set(ranks) - set(PROJECTIONS))
        if unknown:
            raise ValueError(f"projection_ranks names unknown projection(s) {unknown}; "
                             f"allowed: {list(PROJECTIONS)}.")
        self.projection_ranks = {name: check_rank(rank) for name, rank in ranks.items()}

    def build(self, query_shape, value_shape, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        for name, rank in self.projection_ranks.items():
            attribute = PROJECTIONS[name]
            dense = getattr(self, attribute)
            low = LowRankEinsumDense.like(dense, rank)
            self._swap_sublayer(attribute, dense, low)

    def _swap_sublayer(self, attribute, old, new):
        """Puts ``new`` in ``old``'s attribute and in its place among the tracked
        sub-layers (Keras keeps them in ``_layers``), so that ``old``'s kernel is neither
        counted, trained nor saved, and the layers' order (and ``get_weights``') is that
        of the original.

        Placed by identity, not by trusting Keras' tracker to append ``new``: the tracker
        remembers the ``id()`` of every layer it has seen, and a new layer that happens to
        get the address of a freed one would not be appended (the cause of a rare failure
        of factorize on a transformer under JAX).
        """
        index = next(i for i, layer in enumerate(self._layers) if layer is old)
        tracker = getattr(self, "_tracker", None)
        if tracker is not None and hasattr(tracker, "untrack"):
            tracker.untrack(old)  # forget old's id, so a later layer at its address is tracked
        setattr(self, attribute, new)
        rest = [layer for layer in self._layers if layer is not old and layer is not new]
        self._layers[:] = rest[:index] + [new] + rest[index:]

    def get_config(self):
        return {**super().get_config(), "projection_ranks": dict(self.projection_ranks)}
