"""The Tensor behaves like an ndarray where NumPy has the name, with PyTorch's names that do
not clash as aliases; where the two disagree silently (transpose with two ints) it raises."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_transpose_follows_numpy_and_refuses_the_ambiguous_pytorch_call():
    x = cr.ones(2, 3, 4)
    assert x.transpose().shape == (4, 3, 2)
    assert x.transpose(1, 2, 0).shape == (3, 4, 2)
    assert x.transpose((1, 2, 0)).shape == (3, 4, 2)
    assert x.transpose(None).shape == (4, 3, 2)
    with pytest.raises(
        ValueError, match=r"transpose\(0, 1\): on a 3-d tensor this is ambiguous.*swapaxes\(0, 1\)"
    ):
        x.transpose(0, 1)
    m = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    # on a 2-D tensor NumPy reads (0, 1) as the identity and PyTorch as a swap: refused
    with pytest.raises(ValueError, match="ambiguous"):
        m.transpose(0, 1)
    with pytest.raises(ValueError, match="ambiguous"):
        m.transpose(-2, -1)
    np.testing.assert_array_equal(m.transpose(1, 0).numpy(), [[1.0, 3.0], [2.0, 4.0]])  # both agree
    np.testing.assert_array_equal(
        m.transpose((0, 1)).numpy(), m.numpy()
    )  # NumPy's identity, spelled out
    np.testing.assert_array_equal(m.swapaxes(0, 1).numpy(), m.numpy().T)
    with pytest.raises(ValueError, match="not a permutation"):
        x.transpose(0, 1, 1)


def test_reductions_follow_numpy_and_accept_pytorch_keywords():
    x0 = np.arange(6.0).reshape(2, 3)
    x = cr.tensor(x0)
    assert x.max(1).shape == (2,)  # values, not (values, indices)
    np.testing.assert_array_equal(x.max(dim=1, keepdim=True).numpy(), x0.max(1, keepdims=True))
    np.testing.assert_array_equal(x.sum(dim=0).numpy(), x0.sum(0))
    np.testing.assert_allclose(x.var().item(), x0.var())  # ddof=0
    np.testing.assert_allclose(x.std(unbiased=True).item(), x0.std(ddof=1))
    np.testing.assert_allclose(x.std(axis=0, ddof=1).numpy(), x0.std(axis=0, ddof=1))
    np.testing.assert_array_equal(x.prod(axis=1).numpy(), x0.prod(axis=1))
    np.testing.assert_array_equal(x.cumsum().numpy(), x0.cumsum())
    np.testing.assert_array_equal(x.cumsum(dim=1).numpy(), x0.cumsum(1))
    np.testing.assert_array_equal(x.cumprod(axis=0).numpy(), x0.cumprod(0))
    assert x.argmax().item() == 5 and x.argmin(dim=1).tolist() == [0, 0]
    np.testing.assert_array_equal(
        x.argmax(axis=1, keepdims=True).numpy(), x0.argmax(1, keepdims=True)
    )
    np.testing.assert_array_equal(
        x.mean(axis=(0, 1), keepdims=True).numpy(), x0.mean((0, 1), keepdims=True)
    )
    np.testing.assert_array_equal(x.amax(dim=0).numpy(), x0.max(0))
    with pytest.raises(TypeError, match="axis= or dim="):
        x.sum(0, dim=1)


def test_any_and_all_are_boolean_tensors():
    x = cr.tensor([[0.0, 1.0], [0.0, 0.0]])
    assert x.any().item() is True and x.all().item() is False
    np.testing.assert_array_equal(x.any(axis=1).numpy(), [True, False])
    assert not x.any(axis=1).requires_grad
    assert bool((x >= 0).all())


def test_ndarray_methods_added():
    x0 = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    x = cr.tensor(x0)
    np.testing.assert_array_equal(x.ravel().numpy(), x0.ravel())
    np.testing.assert_array_equal(x.flatten().numpy(), x0.flatten())
    np.testing.assert_array_equal(x.flatten("F").numpy(), x0.flatten("F"))
    np.testing.assert_array_equal(x.argsort().numpy(), x0.argsort())
    np.testing.assert_array_equal(x.round().numpy(), x0.round())
    np.testing.assert_array_equal(x.repeat(2, axis=0).numpy(), x0.repeat(2, axis=0))
    np.testing.assert_array_equal(x.swapaxes(0, 1).numpy(), x0.swapaxes(0, 1))
    np.testing.assert_array_equal(x.diagonal().numpy(), x0.diagonal())
    np.testing.assert_array_equal(x.trace().numpy(), x0.trace())
    np.testing.assert_array_equal(x.take([0, 4]).numpy(), x0.take([0, 4]))
    np.testing.assert_array_equal(x.clip(1.0, 3.0).numpy(), x0.clip(1.0, 3.0))
    np.testing.assert_array_equal(x.dot(x.T).numpy(), x0.dot(x0.T))
    assert [r.tolist() for r in x.nonzero()] == [r.tolist() for r in x0.nonzero()]
    assert x.tolist() == x0.tolist() and x.copy().numpy() is not x0
    assert x.nbytes == x0.nbytes and x.itemsize == 8 and x.size == 6
    assert round(cr.tensor(2.6)).item() == 3.0


def test_sort_and_partition_work_in_place_as_numpy_does():
    t = cr.tensor([3.0, 1.0, 2.0])
    assert t.sort() is None
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    # recorded on a non-leaf: the gradient goes back through the permutation
    x = cr.tensor([3.0, 1.0, 2.0], requires_grad=True)
    y = x * 1.0
    y.sort()
    (y * cr.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 1.0, 10.0])
    with pytest.raises(RuntimeError, match="sort: a leaf tensor that requires grad"):
        x.sort()
    p = cr.tensor([5.0, 1.0, 4.0, 2.0])
    p.partition(1)
    assert p[1].item() == 2.0
    f = cr.zeros(3)
    assert f.fill(2.0) is None and f.tolist() == [2.0, 2.0, 2.0]


def test_pytorch_aliases():
    x = cr.ones(2, 3, 4)
    assert x.permute(2, 0, 1).shape == (4, 2, 3) and x.permute((2, 0, 1)).shape == (4, 2, 3)
    assert cr.ones(3).unsqueeze(-1).shape == (3, 1)
    assert x.view(6, 4).shape == (6, 4) and x.numel() == 24 and x.dim() == 3
    assert x.to(np.float32).dtype == np.float32 and x.to("cpu") is x
    assert x.flatten(1).shape == (2, 12) and x.flatten(0, 1).shape == (6, 4)
    assert cr.ones(3, 1).expand(2, -1, 4).shape == (2, 3, 4)
    assert x.squeeze(dim=None).shape == (2, 3, 4) and cr.ones(1, 2).squeeze(dim=0).shape == (2,)
    assert x.movedim(0, -1).shape == (3, 4, 2)
    np.testing.assert_array_equal(cr.tensor([1.0, 2.0]).flip(dims=0).numpy(), [2.0, 1.0])
    np.testing.assert_array_equal(
        cr.tensor([1.0, 2.0, 3.0]).roll(shifts=1, dims=0).numpy(), [3.0, 1.0, 2.0]
    )
    np.testing.assert_array_equal(cr.tensor([-1.0, 2.0]).clamp(0.0, 1.0).numpy(), [0.0, 1.0])
    with pytest.raises(ValueError, match="cuda"):
        x.to("cuda")
    with pytest.raises(TypeError, match="view: NumPy's view"):
        x.view(np.float32)


def test_repeat_is_numpys_not_pytorchs():
    # PyTorch's repeat tiles; NumPy's repeats each element (the Tensor follows NumPy)
    np.testing.assert_array_equal(cr.tensor([1.0, 2.0]).repeat(2).numpy(), [1.0, 1.0, 2.0, 2.0])


def test_mod_floordiv_divmod_operators():
    a = cr.tensor([5.0, -5.0, 7.5], requires_grad=True)
    np.testing.assert_array_equal((a % 3).numpy(), np.array([5.0, -5.0, 7.5]) % 3)
    np.testing.assert_array_equal((a // 2).numpy(), np.array([5.0, -5.0, 7.5]) // 2)
    q, r = divmod(a, 2.0)
    np.testing.assert_array_equal(q.numpy(), [2.0, -3.0, 3.0])
    np.testing.assert_array_equal(r.numpy(), [1.0, 1.0, 1.5])
    np.testing.assert_array_equal((10.0 % cr.tensor([3.0])).numpy(), [1.0])
    b = cr.tensor([7.0, 8.0])
    b %= 3.0
    b //= 1.0
    np.testing.assert_array_equal(b.numpy(), [1.0, 2.0])


def test_readme_rule_two_sentences_are_in_the_readme():
    import pathlib

    text = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "where NumPy's ndarray has a name" in text


def test_readme_numpy_section_runs():
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = re.search(r"^## NumPy code: `chainrule.numpy`\s*$(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, "README has no chainrule.numpy section"
    blocks = re.findall(r"```python\n(.*?)```", section.group(1), re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
