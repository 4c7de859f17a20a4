"""Attention: scaled_dot_product_attention (masks, causal), multi-head attention as a
function and as ``MultiheadAttention``, and ``TransformerEncoderLayer`` / ``TransformerEncoder``.

PyTorch's arguments, mask conventions, shapes (batch_first) and state_dict keys; composed
of matmul, softmax and linear, so every derivative comes from the primitives' rules.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from .. import kernels as K
from .. import ops
from ..tensor import Tensor, as_tensor
from . import init
from .layers import Dropout, Linear, ModuleList
from .module import Module, _initial
from .normalization import LayerNorm

__all__ = [
    "MultiheadAttention",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "multi_head_attention_forward",
    "scaled_dot_product_attention",
]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


def _additive_mask(op: str, mask: Any, dtype: Any, true_means_keep: bool) -> Any:
    """A mask as something to add to the attention scores: boolean masks become 0 / -inf
    (``true_means_keep`` says which value keeps a position: SDPA's convention is True =
    attend, MultiheadAttention's True = masked out); float masks are added as they are."""
    if mask is None:
        return None
    if isinstance(mask, Tensor) and mask.dtype.kind == "f":
        return mask
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.dtype == bool:
        blocked = ~m if true_means_keep else m
        return np.where(blocked, -np.inf, 0.0).astype(dtype)
    if m.dtype.kind == "f":
        return m.astype(dtype, copy=False)
    raise TypeError(f"{op}: masks must be boolean or floating point, got dtype {m.dtype}")


def _dropout(x: Tensor, p: float, rng: Any = None) -> Tensor:
    if p <= 0.0:
        return x
    return x * K.dropout_mask(x._data, p, rng)


def scaled_dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(q k^T * scale + mask) v over the last two axes: query (..., L, E), key
    (..., S, E), value (..., S, Ev) -> (..., L, Ev).

    ``attn_mask`` broadcasts to (..., L, S): boolean True = may attend (PyTorch's
    convention here), or floats added to the scores. ``is_causal`` masks out keys after
    each query (top-left aligned); it cannot be combined with ``attn_mask``. ``scale``
    defaults to 1/sqrt(E). ``dropout_p`` drops attention weights (always, as PyTorch's
    functional form does).

    Examples
    --------
    >>> import chainrule as cr
    >>> q = k = v = cr.ones(1, 2, 4)
    >>> cr.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).shape
    (1, 2, 4)
    """
    q, k, v = _t(query), _t(key), _t(value)
    op = "scaled_dot_product_attention"
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"{op}: query, key and value need at least 2 dimensions")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"{op}: query {q.shape}, key {k.shape} and value {v.shape} do not fit: query and "
            f"key need the same last axis, key and value the same sequence length"
        )
    if enable_gqa and q.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        repeat = q.shape[-3] // k.shape[-3]
        index = np.repeat(np.arange(k.shape[-3]), repeat)
        sel = (Ellipsis, index, slice(None), slice(None))
        k, v = ops.getitem(k, sel), ops.getitem(v, sel)
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = ops.matmul(q, k.mT) * scale
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{op}: give attn_mask or is_causal, not both")
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    mask = _additive_mask(op, attn_mask, q.dtype, true_means_keep=True)
    if mask is not None:
        scores = scores + mask
    weights = ops.softmax(scores, -1)
    weights = _dropout(weights, dropout_p)
    return ops.matmul(weights, v)


def _in_projection(q, k, v, w_q, w_k, w_v, b_q, b_k, b_v):
    return ops.linear(q, w_q, b_q), ops.linear(k, w_k, b_k), ops.linear(v, w_v, b_v)


def multi_head_attention_forward(
    query: Any,
    key: Any,
    value: Any,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Any,
    in_proj_bias: Any,
    bias_k: Any,
    bias_v: Any,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Any,
    out_proj_bias: Any,
    training: bool = True,
    key_padding_mask: Any = None,
    need_weights: bool = True,
    attn_mask: Any = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Any = None,
    k_proj_weight: Any = None,
    v_proj_weight: Any = None,
    static_k: Any = None,
    static_v: Any = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    *,
    _op: str = "multi_head_attention_forward",
    _rng: Any = None,
) -> tuple[Tensor, Tensor | None]:
    """PyTorch's functional multi-head attention on (L, N, E) query and (S, N, E) key and
    value (or unbatched (L, E), (S, E)): returns (output (L, N, E), weights (N, L, S)
    averaged over heads, or (N, H, L, S), or None without ``need_weights``).

    Masks: ``attn_mask`` (L, S) or (N * H, L, S), ``key_padding_mask`` (N, S); boolean
    True means "do not attend", floats are added to the scores.

    Examples
    --------
    >>> import chainrule as cr
    >>> mha = cr.nn.MultiheadAttention(4, 2, seed=0)
    >>> x = cr.ones(3, 1, 4)
    >>> out, w = cr.nn.functional.multi_head_attention_forward(
    ...     x, x, x, 4, 2, mha.in_proj_weight, mha.in_proj_bias, None, None, False, 0.0,
    ...     mha.out_proj.weight, mha.out_proj.bias)
    >>> out.shape, w.shape
    ((3, 1, 4), (1, 3, 3))
    """
    op = _op
    q_in, k_in, v_in = _t(query), _t(key), _t(value)
    if static_k is not None or static_v is not None:
        raise NotImplementedError(f"{op}: static_k / static_v are not supported")
    unbatched = q_in.ndim == 2
    if q_in.ndim not in (2, 3) or k_in.ndim != q_in.ndim or v_in.ndim != q_in.ndim:
        raise ValueError(
            f"{op}: expected query, key and value all 3-D (L, N, E) or all 2-D (L, E), got "
            f"shapes {q_in.shape}, {k_in.shape}, {v_in.shape}"
        )
    if unbatched:
        q_in, k_in, v_in = (ops.reshape(t, t.shape[0], 1, t.shape[1]) for t in (q_in, k_in, v_in))
        if key_padding_mask is not None:
            key_padding_mask = np.asarray(
                key_padding_mask.data if isinstance(key_padding_mask, Tensor) else key_padding_mask
            )[None]
    L, N, E = q_in.shape
    S = k_in.shape[0]
    if E != embed_dim_to_check:
        raise ValueError(
            f"{op}: expected query of shape (L, N, {embed_dim_to_check}), got "
            f"{tuple(_t(query).shape)}"
        )
    if k_in.shape[:2] != (S, N) or v_in.shape[:2] != (S, N):
        raise ValueError(
            f"{op}: key {k_in.shape} and value {v_in.shape} must be (S, N, *) with N = {N}"
        )
    H = num_heads
    if E % H:
        raise ValueError(f"{op}: embed_dim {E} is not divisible by num_heads {H}")
    hd = E // H
    if is_causal and attn_mask is None:
        raise RuntimeError(
            f"{op}: is_causal is a hint that attn_mask is the causal mask: pass attn_mask too"
        )
    dtype = q_in.dtype
    # projections
    if use_separate_proj_weight:
        b = [None, None, None]
        if in_proj_bias is not None:
            b = [ops.getitem(_t(in_proj_bias), slice(i * E, (i + 1) * E)) for i in range(3)]
        q, k, v = _in_projection(q_in, k_in, v_in, q_proj_weight, k_proj_weight, v_proj_weight, *b)
    else:
        w = _t(in_proj_weight)
        ws = [ops.getitem(w, slice(i * E, (i + 1) * E)) for i in range(3)]
        bs = [None, None, None]
        if in_proj_bias is not None:
            bs = [ops.getitem(_t(in_proj_bias), slice(i * E, (i + 1) * E)) for i in range(3)]
        q, k, v = _in_projection(q_in, k_in, v_in, *ws, *bs)
    mask = _additive_mask(op, attn_mask, dtype, true_means_keep=False)
    if mask is not None:
        mshape = tuple(np.shape(mask._data if isinstance(mask, Tensor) else mask))
        if mshape not in ((L, S), (N * H, L, S)):
            raise ValueError(
                f"{op}: attn_mask must have shape ({L}, {S}) or ({N * H}, {L}, {S}), got {mshape}"
            )
        if len(mshape) == 2:
            mask = (
                mask.reshape(1, L, S)
                if not isinstance(mask, Tensor)
                else ops.reshape(mask, 1, L, S)
            )
    kpm = _additive_mask(op, key_padding_mask, dtype, true_means_keep=False)
    if kpm is not None:
        kshape = tuple(np.shape(kpm._data if isinstance(kpm, Tensor) else kpm))
        if kshape != (N, S):
            raise ValueError(f"{op}: key_padding_mask must have shape ({N}, {S}), got {kshape}")
    if bias_k is not None and bias_v is not None:
        k = ops.concatenate([k, ops.broadcast_to(_t(bias_k), (1, N, E))], axis=0)
        v = ops.concatenate([v, ops.broadcast_to(_t(bias_v), (1, N, E))], axis=0)
        mask = _pad_last(mask)
        kpm = _pad_last(kpm)
    elif (bias_k is None) != (bias_v is None):
        raise ValueError(f"{op}: give both bias_k and bias_v or neither")
    # (L, N, E) -> (N * H, L, hd)
    q = ops.transpose(ops.reshape(q, L, N * H, hd), 1, 0, 2)
    k = ops.transpose(ops.reshape(k, k.shape[0], N * H, hd), 1, 0, 2)
    v = ops.transpose(ops.reshape(v, v.shape[0], N * H, hd), 1, 0, 2)
    if add_zero_attn:
        zeros = np.zeros((N * H, 1, hd), dtype=dtype)
        k = ops.concatenate([k, zeros], axis=1)
        v = ops.concatenate([v, zeros], axis=1)
        mask = _pad_last(mask)
        kpm = _pad_last(kpm)
    S2 = k.shape[1]
    if kpm is not None:
        # (N, S) -> (N * H, 1, S): every head of a sample ignores the same keys
        kpm_b = (
            ops.reshape(
                ops.broadcast_to(ops.reshape(kpm, N, 1, 1, S2), (N, H, 1, S2)), N * H, 1, S2
            )
            if isinstance(kpm, Tensor)
            else np.broadcast_to(kpm.reshape(N, 1, 1, S2), (N, H, 1, S2)).reshape(N * H, 1, S2)
        )
        mask = kpm_b if mask is None else mask + kpm_b
    scores = ops.matmul(q * math.sqrt(1.0 / hd), ops.transpose(k, 0, 2, 1))
    if mask is not None:
        scores = scores + mask
    weights = ops.softmax(scores, -1)
    if training and dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, _rng)
    out = ops.matmul(weights, v)  # (N * H, L, hd)
    out = ops.reshape(ops.transpose(out, 1, 0, 2), L * N, E)
    out = (
        ops.linear(out, out_proj_weight, out_proj_bias)
        if out_proj_bias is not None
        else (ops.matmul(out, _t(out_proj_weight).T))
    )
    out = ops.reshape(out, L, N, E)
    avg = None
    if need_weights:
        avg = ops.reshape(weights, N, H, L, S2)
        if average_attn_weights:
            avg = ops.mean(avg, axis=1)
    if unbatched:
        out = ops.reshape(out, L, E)
        if avg is not None:
            avg = ops.reshape(avg, avg.shape[1:])
    return out, avg


def _pad_last(mask: Any) -> Any:
    """A zero column appended to a mask's last axis (the extra key position)."""
    if mask is None:
        return None
    if isinstance(mask, Tensor):
        zeros = np.zeros(mask.shape[:-1] + (1,), dtype=mask.dtype)
        return ops.concatenate([mask, zeros], axis=-1)
    return np.concatenate([mask, np.zeros(mask.shape[:-1] + (1,), dtype=mask.dtype)], axis=-1)


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's arguments and state_dict keys
    (``in_proj_weight`` (3E, E), ``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``;
    ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when kdim/vdim differ;
    ``bias_k``/``bias_v`` with ``add_bias_kv``) and initialisation (Xavier-uniform input
    projection, zero biases).

    ``forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False) -> (output, weights)``.

    Examples
    --------
    >>> import chainrule as cr
    >>> mha = cr.nn.MultiheadAttention(8, 2, batch_first=True, seed=0)
    >>> x = cr.ones(3, 5, 8)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    ((3, 5, 8), (3, 5, 5))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
        seed: Any = None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"MultiheadAttention: embed_dim and num_heads must be positive, got "
                f"{embed_dim} and {num_heads}"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                f"({num_heads})"
            )
        if device not in (None, "cpu"):
            raise ValueError(f"only device='cpu' (or None) is supported, got {device!r}")
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.kdim = embed_dim if kdim is None else int(kdim)
        self.vdim = embed_dim if vdim is None else int(vdim)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = bool(add_zero_attn)
        rng = init.generator(seed)
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _initial(np.zeros((3 * E, E), dtype=dtype))
            init.xavier_uniform_(self.in_proj_weight, seed=rng)
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.q_proj_weight = _initial(np.zeros((E, E), dtype=dtype))
            self.k_proj_weight = _initial(np.zeros((E, self.kdim), dtype=dtype))
            self.v_proj_weight = _initial(np.zeros((E, self.vdim), dtype=dtype))
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w, seed=rng)
            self.in_proj_weight = None
        self.in_proj_bias = _initial(np.zeros(3 * E, dtype=dtype)) if bias else None
        if add_bias_kv:
            self.bias_k = _initial(np.zeros((1, 1, E), dtype=dtype))
            self.bias_v = _initial(np.zeros((1, 1, E), dtype=dtype))
            init.xavier_normal_(self.bias_k, seed=rng)
            init.xavier_normal_(self.bias_v, seed=rng)
        else:
            self.bias_k = self.bias_v = None
        # Linear's own initialisation for the weight (as PyTorch), a zero bias
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype, seed=rng)
        if bias:
            init.zeros_(self.out_proj.bias)
        self._rng = init.generator(rng.integers(2**63))

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"

    def forward(
        self,
        query: Any,
        key: Any,
        value: Any,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        name = f"MultiheadAttention({self.extra_repr()})"
        q, k, v = _t(query), _t(key), _t(value)
        for label, t, dim in (
            ("query", q, self.embed_dim),
            ("key", k, self.kdim),
            ("value", v, self.vdim),
        ):
            if t.ndim not in (2, 3) or t.shape[-1] != dim:
                order = "(N, L, E)" if self.batch_first else "(L, N, E)"
                raise ValueError(
                    f"{name}: expected {label} of shape {order.replace('E', str(dim))} or "
                    f"unbatched (L, {dim}), got shape {t.shape}"
                )
        batched = q.ndim == 3
        if self.batch_first and batched:
            q, k, v = (ops.transpose(t, 1, 0, 2) for t in (q, k, v))
        out, weights = multi_head_attention_forward(
            q,
            k,
            v,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
            _op=name,
            _rng=self._rng,
        )
        if self.batch_first and batched:
            out = ops.transpose(out, 1, 0, 2)
        return out, weights


def _activation(name: Any) -> Any:
    from . import functional as F

    if callable(name):
        return name
    if name == "relu":
        return F.relu
    if name == "gelu":
        return F.gelu
    raise ValueError(
        f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a callable, got {name!r}"
    )


class TransformerEncoderLayer(Module):
    """One Transformer encoder block (self-attention, then a feed-forward network, each
    with dropout, a residual connection and LayerNorm; ``norm_first`` normalises before
    each sub-block instead of after), with PyTorch's arguments and state_dict keys
    (``self_attn.*``, ``linear1.*``, ``linear2.*``, ``norm1.*``, ``norm2.*``).

    Examples
    --------
    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True, seed=0)
    >>> layer.eval()(cr.ones(2, 5, 8)).shape
    (2, 5, 8)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Any = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        seed: Any = None,
    ) -> None:
        super().__init__()
        rng = init.generator(seed)
        dtype = np.dtype(np.float32 if dtype is None else dtype)

        def child() -> int:
            return int(rng.integers(2**63))

        self.self_attn = MultiheadAttention(
            d_model,
            nhead,
            dropout=dropout,
            bias=bias,
            batch_first=batch_first,
            device=device,
            dtype=dtype,
            seed=child(),
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype, seed=child())
        self.dropout = Dropout(dropout, seed=child())
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype, seed=child())
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, seed=child())
        self.dropout2 = Dropout(dropout, seed=child())
        self.activation = _activation(activation)
        self.batch_first = bool(batch_first)

    def _sa_block(
        self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool
    ) -> Tensor:
        out = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return self.dropout1(out)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(
        self,
        src: Any,
        src_mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool = False,
    ) -> Tensor:
        x = _t(src)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` (keys ``layers.0.*``, ...),
    optionally followed by ``norm``.

    Examples
    --------
    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, seed=0)
    >>> encoder = cr.nn.TransformerEncoder(layer, 2).eval()
    >>> encoder(cr.ones(5, 3, 8)).shape, list(encoder.state_dict())[0]
    ((5, 3, 8), 'layers.0.self_attn.in_proj_weight')
    """

    def __init__(
        self,
        encoder_layer: Module,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        src: Any,
        mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        x = _t(src)
        for layer in self.layers:
            x = layer(
                x,
                src_mask=mask,
                src_key_padding_mask=src_key_padding_mask,
                is_causal=bool(is_causal),
            )
        return self.norm(x) if self.norm is not None else x
