"""micrograd's scalar MLP (2 -> 16 -> 16 -> 1) on 0-d tensors: forward and backward per
sample, per micrograd node, measured side by side with micrograd itself (pure Python
floats) when it is installed (``pip install micrograd``).

Target (shared/TARGETS.md): chainrule at most 0.8x micrograd's time per node.
"""

from __future__ import annotations

import random

import numpy as np

import chainrule as cr
from _timing import interleaved, table

SIZES = (2, 16, 16, 1)


def make_weights(seed: int = 0) -> list[list[tuple[list[float], float]]]:
    """Layers of neurons, each (weights, bias), shared by both implementations."""
    rnd = random.Random(seed)
    layers = []
    for nin, nout in zip(SIZES[:-1], SIZES[1:]):
        layers.append([([rnd.uniform(-1, 1) for _ in range(nin)], 0.0) for _ in range(nout)])
    return layers


class ChainruleScalarMLP:
    """The micrograd network written with 0-d chainrule tensors, neuron by neuron."""

    def __init__(self) -> None:
        self.layers = [
            [
                ([cr.tensor(w, requires_grad=True) for w in ws], cr.tensor(b, requires_grad=True))
                for ws, b in layer
            ]
            for layer in make_weights()
        ]

    def __call__(self, x: list) -> cr.Tensor:
        for k, layer in enumerate(self.layers):
            last = k == len(self.layers) - 1
            out = []
            for ws, b in layer:
                act = b
                for wi, xi in zip(ws, x):
                    act = act + wi * xi
                out.append(act if last else act.relu())
            x = out
        return x[0]

    def parameters(self) -> list[cr.Tensor]:
        return [p for layer in self.layers for ws, b in layer for p in (*ws, b)]


def chainrule_sample(model: ChainruleScalarMLP, x: list) -> None:
    for p in model.parameters():
        p.grad = None
    model(x).backward()


def micrograd_model():  # pragma: no cover - optional peer
    from micrograd.nn import MLP

    model = MLP(2, [16, 16, 1])
    for layer, weights in zip(model.layers, make_weights()):
        for neuron, (ws, b) in zip(layer.neurons, weights):
            for v, w in zip(neuron.w, ws):
                v.data = w
            neuron.b.data = b
        layer.neurons[0].nonlin = layer.neurons[0].nonlin  # keep micrograd's own setting
    return model


def micrograd_sample(model, x) -> None:  # pragma: no cover - optional peer
    model.zero_grad()
    model(x).backward()


def count_micrograd_nodes() -> int:
    """Nodes micrograd creates per sample: inputs, a mul and an add per weight, relus."""
    n = 0
    for k, (nin, nout) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        relu = k < len(SIZES) - 2
        n += nout * (2 * nin + (1 if relu else 0))
    return n


def main() -> None:
    x = [0.5, -1.2]
    ours = ChainruleScalarMLP()
    fns = {"chainrule (0-d tensors)": lambda: chainrule_sample(ours, x)}
    try:
        mg = micrograd_model()
        mg_out = mg(x).data
        assert abs(mg_out - ours(x).item()) < 1e-9, (mg_out, ours(x).item())
        fns = {"micrograd (Python floats)": lambda: micrograd_sample(mg, x), **fns}
    except ImportError:
        print("micrograd is not installed (pip install micrograd): chainrule only")
    nodes = count_micrograd_nodes()
    times = interleaved(fns, repeats=11, number=50)
    base = times.get("micrograd (Python floats)", times["chainrule (0-d tensors)"])
    rows = [(name, t / nodes, "us") for name, t in times.items()]
    print(
        table(
            f"micrograd's MLP 2-16-16-1, one sample forward+backward, per node ({nodes} nodes)",
            rows,
            base / nodes,
        )
    )
    print("target: chainrule <= 0.8x micrograd")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
