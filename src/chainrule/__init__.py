"""chainrule: a small, readable, NumPy-native automatic differentiation library.

Reverse mode (``Tensor.backward``), forward mode (``jvp``), function transforms (``grad``,
``vjp``, ``jacobian``, ``hessian``, ...), custom ``Function``s and gradient checking.
"""

from .function import Context, Function, once_differentiable
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_grad
from .ops import (
    abs,
    add,
    broadcast_to,
    clip,
    concatenate,
    conj,
    cos,
    div,
    dot,
    exp,
    expand_dims,
    getitem,
    imag,
    index_put,
    linear,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    outer,
    pow,
    real,
    relu,
    reshape,
    sigmoid,
    sign,
    sin,
    softmax,
    softmax_cross_entropy,
    sqrt,
    square,
    squeeze,
    stack,
    sub,
    sum,
    take_along_axis,
    tanh,
    transpose,
    var,
    where,
)
from .pytree import tree_map
from .tensor import (
    ConcretizationError,
    Tensor,
    arange,
    as_tensor,
    detect_anomaly,
    enable_grad,
    eye,
    full,
    is_grad_enabled,
    linspace,
    manual_seed,
    no_grad,
    observe_nodes,
    ones,
    ones_like,
    rand,
    randn,
    set_grad_enabled,
    substitute,
    tensor,
    zeros,
    zeros_like,
)
from .transforms import (
    checkpoint,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    value_and_grad,
    vjp,
)
from .vectorize import vmap

__version__ = "0.2.0"

# Submodules and names loaded on first use, so `import chainrule` stays light (NumPy only):
# the training stack, tracing/pictures and attacks import only when asked for.
_LAZY = {
    "nn": ("chainrule.nn", None),
    "optim": ("chainrule.optim", None),
    "data": ("chainrule.data", None),
    "distributed": ("chainrule.distributed", None),
    "attacks": ("chainrule.attacks", None),
    "save": ("chainrule.serialization", "save"),
    "load": ("chainrule.serialization", "load"),
    "trace": ("chainrule.tracing", "trace"),
    "jit": ("chainrule.jitting", "jit"),
    "Graph": ("chainrule.tracing", "Graph"),
    "three_ways": ("chainrule.tracing.three_ways", "three_ways"),
    "linalg": ("chainrule.linalg", None),
    "special": ("chainrule.special", None),
    "fft": ("chainrule.fft", None),
    "einsum": ("chainrule.contractions", "einsum"),
    "tensordot": ("chainrule.contractions", "tensordot"),
    "inner": ("chainrule.contractions", "inner"),
    "kron": ("chainrule.contractions", "kron"),
    "cross": ("chainrule.contractions", "cross"),
}


#: The public names (the eager ones above and the lazy ones in ``_LAZY``).
__all__ = sorted(
    [
        name
        for name, value in list(globals().items())
        if not name.startswith("_") and (callable(value) or isinstance(value, type))
    ]
    + list(_LAZY)
)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        module = importlib.import_module(module_name)
        value = module if attr is None else getattr(module, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
