"""The lectures' worked examples as traceable functions, by name (``chainrule explain --example``).

Each example is written the way the lecture stages it, one local variable per intermediate,
so the graph, the table and the generated code use the lecture's names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import ops, transforms
from .graph import Graph, trace

__all__ = ["EXAMPLES", "Example", "circuit", "example", "neuron", "patterns", "staged"]


def circuit(x, y, z):
    """f(x, y, z) = (x + y) z, the first circuit of the backprop lecture.

    Examples
    --------
    >>> from chainrule.tracing.examples import circuit
    >>> float(circuit(-2.0, 5.0, -4.0))
    -12.0
    """
    q = x + y
    f = q * z
    return f


def neuron(w0, x0, w1, x1, w2):
    """A sigmoid neuron, the lecture's "flat" gradient code example.

    Examples
    --------
    >>> from chainrule.tracing.examples import neuron
    >>> round(float(neuron(2.0, -1.0, -3.0, -2.0, -3.0)), 4)
    0.7311
    """
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    L = ops.sigmoid(s3)  # noqa: N806 - the lecture's name
    return L


def staged(x, y):
    """f(x, y) = (x + sigmoid(y)) / (sigmoid(x) + (x + y)**2), staged as in the lecture.

    Examples
    --------
    >>> from chainrule.tracing.examples import staged
    >>> round(float(staged(3.0, -4.0)), 4)
    1.5456
    """
    sigy = ops.sigmoid(y)  # sigmoid in numerator
    num = x + sigy  # numerator
    sigx = ops.sigmoid(x)  # sigmoid in denominator
    xpy = x + y
    xpysqr = xpy**2
    den = sigx + xpysqr  # denominator
    invden = 1.0 / den
    f = num * invden  # done!
    return f


def patterns(x, y, z, w):
    """2 (x y + max(z, w)): the add gate distributes, mul swaps, max routes.

    Examples
    --------
    >>> from chainrule.tracing.examples import patterns
    >>> float(patterns(3.0, -4.0, 2.0, -1.0))
    -20.0
    """
    a = x * y
    b = ops.maximum(z, w)
    c = a + b
    f = c * 2.0
    return f


@dataclass(frozen=True)
class Example:
    """A lecture example: its name, title, function and arguments; ``trace()`` records it.

    Examples
    --------
    >>> from chainrule.tracing.examples import EXAMPLES
    >>> ex = EXAMPLES['circuit']
    >>> ex.args, [v.name for v in ex.trace().ops]
    ((-2, 5, -4), ['q', 'f'])
    """

    name: str
    title: str
    function: Callable[..., Any]
    args: tuple
    #: trace the gradient function (autodiff's graph of the gradient) instead of f
    gradient_graph: bool = False

    def trace(self) -> Graph:
        if self.gradient_graph:
            argnums = tuple(range(len(self.args)))
            graph = trace(transforms.grad(self.function, argnums=argnums), *self.args)
            names = self.function.__code__.co_varnames[: len(self.args)]
            graph.rename(**{o.name: f"d{n}" for o, n in zip(graph.outputs, names)})
            return graph
        return trace(self.function, *self.args)


EXAMPLES: dict[str, Example] = {
    e.name: e
    for e in [
        Example("circuit", "f(x, y, z) = (x + y) z at x=-2, y=5, z=-4", circuit, (-2, 5, -4)),
        Example(
            "neuron",
            "sigmoid neuron L = sigmoid(w0 x0 + w1 x1 + w2) at w=(2, -3, -3), x=(-1, -2)",
            neuron,
            (2, -1, -3, -2, -3),
        ),
        Example(
            "staged",
            "f(x, y) = (x + sigmoid(y)) / (sigmoid(x) + (x + y)**2) at x=3, y=-4",
            staged,
            (3, -4),
        ),
        Example(
            "staged-grad",
            "the graph autodiff builds for the gradient of the staged example",
            staged,
            (3, -4),
            gradient_graph=True,
        ),
        Example(
            "patterns",
            "f = 2 (x y + max(z, w)) at x=3, y=-4, z=2, w=-1: add, mul and max gates",
            patterns,
            (3, -4, 2, -1),
        ),
    ]
}


def example(name: str) -> Example:
    """Look an example up by name (``KeyError`` lists the names).

    Examples
    --------
    >>> from chainrule.tracing.examples import example
    >>> example('staged').title
    'f(x, y) = (x + sigmoid(y)) / (sigmoid(x) + (x + y)**2) at x=3, y=-4'
    """
    try:
        return EXAMPLES[name]
    except KeyError:
        raise KeyError(f"no example {name!r}; examples: {', '.join(EXAMPLES)}") from None
