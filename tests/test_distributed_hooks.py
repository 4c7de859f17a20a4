"""Post-accumulate-grad hooks and backward callbacks: what data-parallel training builds on.

No MPI here: these check the engine's side (when the hooks fire, what ``.grad`` holds then,
and that the gradients are unchanged by them).
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import engine


def _mlp_and_batch(dtype=np.float64):
    model = cr.nn.mlp([6, 8, 7, 3], dtype=dtype, seed=0)
    rng = np.random.default_rng(1)
    X = cr.tensor(rng.standard_normal((5, 6)).astype(dtype))
    y = rng.integers(0, 3, size=5)
    return model, X, y


def _loss(model, X, y):
    return cr.nn.functional.cross_entropy(model(X), y)


def test_hooks_fire_during_backward_last_layer_first_and_grads_unchanged():
    model, X, y = _mlp_and_batch()
    _loss(model, X, y).backward()
    expected = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    model.zero_grad()

    params = dict(model.named_parameters())
    events = []

    def hook_for(name):
        def hook(p):
            # which parameters already hold their gradient when this one's hook fires
            done = sorted(n for n, q in params.items() if q.grad is not None)
            events.append((name, done, p.grad.numpy().copy()))

        return hook

    handles = [p.register_post_accumulate_grad_hook(hook_for(n)) for n, p in params.items()]
    _loss(model, X, y).backward()
    events.append(("returned", None, None))

    order = [e[0] for e in events]
    assert order[-1] == "returned" and len(order) == len(params) + 1
    # The last layer's parameters are complete first; the first layer's come after them,
    # and still inside backward (before it returned).
    assert order.index("4.weight") < order.index("2.weight") < order.index("0.weight")
    assert order.index("4.bias") < order.index("2.bias") < order.index("0.bias")
    assert order.index("0.weight") < order.index("returned")
    name, done, _ = events[0]
    assert name.startswith("4.")  # Sequential: Linear, ReLU, Linear, ReLU, Linear
    assert "0.weight" not in done and "0.bias" not in done  # the walk had not reached them
    for name, _done, grad_then in events[:-1]:
        np.testing.assert_array_equal(grad_then, expected[name])  # complete when fired
    for n, p in params.items():
        np.testing.assert_array_equal(p.grad.numpy(), expected[n])  # gradients unchanged
    for h in handles:
        h.remove()
    assert not engine._count_post_hooked([_loss(model, X, y)])  # no hook left to count


def test_hook_of_a_shared_leaf_fires_once_with_all_contributions():
    w = cr.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    x = cr.tensor([0.5, -2.0])
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.numpy().copy()))
    h = (w @ x).tanh()
    out = (w @ h).sum() + (w * w).sum()  # w is used three times, at three depths
    out.backward()
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], w.grad.numpy())

    w2 = cr.tensor(w.numpy(), requires_grad=True)
    h2 = (w2 @ x).tanh()
    ((w2 @ h2).sum() + (w2 * w2).sum()).backward()
    np.testing.assert_array_equal(w.grad.numpy(), w2.grad.numpy())


def test_hook_sees_the_accumulated_grad_across_backward_calls():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (w * 3).sum().backward()
    (w * 4).sum().backward()
    assert seen == [[3.0, 3.0], [7.0, 7.0]]


def test_hooked_leaf_that_is_a_root_and_create_graph():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    w.backward(np.array([1.0, 1.0]))
    assert seen == [[1.0, 1.0]]
    w.grad = None
    (w**3).sum().backward(create_graph=True)
    assert seen[-1] == [3.0, 12.0]


@pytest.mark.parametrize("scale_after_add", [False, True])
def test_gradients_given_to_hooks_are_not_shared_between_leaves(scale_after_add):
    # add sends the same upstream array to both inputs: each .grad must own its array
    # (a hook, or clip_grad_norm_, may scale one in place), also when the hooked leaf's
    # .grad is written early in the walk and the other one at its end.
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)

    def scale(t):
        t.grad.data *= 10.0

    a.register_post_accumulate_grad_hook(scale)
    seed = np.array([1.0, 1.0])
    k = 2.0 if scale_after_add else 1.0
    ((a + b) * 2.0 if scale_after_add else a + b).backward(seed)
    assert a.grad.tolist() == [10.0 * k, 10.0 * k]
    assert b.grad.tolist() == [k, k]
    assert not np.shares_memory(a.grad.data, b.grad.data)
    assert seed.tolist() == [1.0, 1.0]


def test_register_post_accumulate_grad_hook_errors():
    x = cr.tensor([1.0])
    with pytest.raises(RuntimeError, match="only leaf tensors that require grad"):
        x.register_post_accumulate_grad_hook(lambda t: None)
    y = cr.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        y.register_post_accumulate_grad_hook(lambda t: None)


def test_queue_callback_runs_after_every_grad_is_written():
    model, X, y = _mlp_and_batch()
    params = list(model.parameters())
    state = {}

    def at_end():
        state["all_written"] = all(p.grad is not None for p in params)

    def first_hook(p):
        if "queued" not in state:
            state["queued"] = True
            engine.queue_callback(at_end)

    handles = [p.register_post_accumulate_grad_hook(first_hook) for p in params]
    _loss(model, X, y).backward()
    assert state == {"queued": True, "all_written": True}
    for h in handles:
        h.remove()


def test_queued_callbacks_of_a_failed_backward_are_dropped():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    ran = []

    def failing(t):
        engine.queue_callback(lambda: ran.append("stale"))
        raise ValueError("hook failed")

    handle = w.register_post_accumulate_grad_hook(failing)
    with pytest.raises(ValueError, match="hook failed"):
        ((w * w).sum() + w.sum()).backward()
    handle.remove()
    (w * 2).sum().backward()
    assert ran == []


def test_queued_callbacks_belong_to_the_thread_that_queued_them():
    import threading

    ran = []

    def run_in_thread():
        w = cr.tensor([1.0, 2.0], requires_grad=True)

        def hook(t):
            engine.queue_callback(lambda: ran.append(threading.current_thread().name))

        w.register_post_accumulate_grad_hook(hook)
        (w * w).sum().backward()

    worker = threading.Thread(target=run_in_thread, name="worker")
    worker.start()
    worker.join()
    assert ran == ["worker"]
    assert engine._QUEUED.callbacks == []  # nothing left for this thread's next backward
