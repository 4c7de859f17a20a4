"""Per-thread state: grad mode and anomaly detection in one thread never leak into another."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import chainrule as cr


def _in_thread(fn):
    result = {}

    def run():
        try:
            result["value"] = fn()
        except BaseException as e:  # pragma: no cover - reported below
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, result


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    entered, release = threading.Event(), threading.Event()

    def worker():
        with cr.no_grad():
            entered.set()
            release.wait(5)
            x = cr.tensor(1.0, requires_grad=True)
            return (x * 2).requires_grad

    t, result = _in_thread(worker)
    assert entered.wait(5)
    x = cr.tensor(3.0, requires_grad=True)
    y = x * x  # the other thread is inside no_grad right now
    assert y.requires_grad and cr.is_grad_enabled()
    y.backward()
    assert x.grad.item() == 6.0
    release.set()
    t.join(5)
    assert result == {"value": False}


def test_overlapping_no_grad_blocks_in_two_threads_leave_recording_on():
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def thread_a():
        with cr.no_grad():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def thread_b():
        a_in.wait(5)
        with cr.no_grad():
            b_in.set()
            a_out.wait(5)  # A leaves its block while B is still inside its own
        x = cr.tensor(1.0, requires_grad=True)
        return (x * 2).requires_grad

    ta, _ = _in_thread(thread_a)
    tb, result = _in_thread(thread_b)
    ta.join(5)
    tb.join(5)
    assert result == {"value": True}
    assert cr.is_grad_enabled()
    x = cr.tensor(1.0, requires_grad=True)
    assert (x * 2).requires_grad and x.exp().requires_grad and cr.sum(x).requires_grad


def test_set_grad_enabled_as_a_plain_call_switches_recording():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    try:
        cr.set_grad_enabled(False)
        assert not cr.is_grad_enabled()
        assert not (x * 2).requires_grad
        assert not x.tanh().requires_grad
        assert not cr.sum(x).requires_grad
    finally:
        cr.set_grad_enabled(True)
    assert cr.is_grad_enabled()
    assert (x * 2).requires_grad


def test_set_grad_enabled_as_a_context_manager_restores():
    with cr.no_grad():
        with cr.set_grad_enabled(True):
            assert cr.is_grad_enabled()
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()


def test_no_grad_as_a_decorator_applies_per_call():
    @cr.no_grad()
    def f(x):
        return x * 2

    x = cr.tensor(1.0, requires_grad=True)
    assert not f(x).requires_grad
    assert (x * 2).requires_grad
    assert not f(x).requires_grad


def test_anomaly_detection_is_per_thread():
    entered, release = threading.Event(), threading.Event()

    def worker():
        with cr.detect_anomaly():
            entered.set()
            release.wait(5)

    t, _ = _in_thread(worker)
    assert entered.wait(5)
    with np.errstate(divide="ignore"):
        y = cr.log(cr.tensor([0.0], requires_grad=True))  # no anomaly mode in this thread
    assert np.isinf(y.numpy()).all()
    release.set()
    t.join(5)
    with pytest.raises(FloatingPointError, match="log"), cr.detect_anomaly():
        cr.log(cr.tensor([0.0], requires_grad=True))


def test_a_new_thread_starts_with_recording_on_even_inside_no_grad():
    with cr.no_grad():
        t, result = _in_thread(lambda: (cr.tensor(1.0, requires_grad=True) * 2).requires_grad)
        t.join(5)
    assert result == {"value": True}
