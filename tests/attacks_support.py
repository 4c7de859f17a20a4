"""Shared by the attack, visualization and attack-CLI tests: the default digits model of
``chainrule train`` (100 epochs, 64-128-10 ReLU MLP), trained once per test session."""

from __future__ import annotations

from pathlib import Path

_cache: dict[str, Path] = {}


def default_digits_model(root: Path) -> Path:
    """Train ``chainrule train``'s default digits model into ``root`` once; return the
    folder holding ``model.npz`` and ``metrics.json``."""
    if "default" not in _cache:
        from chainrule.train_cli import TrainConfig, train

        out = root / "digits-default"
        # Defaults of `chainrule train` (the acceptance model); only the output changes.
        train(TrainConfig(out=str(out), plots=False, progress="none"), write=lambda s: None)
        _cache["default"] = out
    return _cache["default"]


def load_default(root: Path):
    """(model, split) for the default digits model, rebuilt as the CLI rebuilds it."""
    from chainrule.attacks_cli import load_trained

    loaded = load_trained(default_digits_model(root) / "model.npz")
    return loaded.model, loaded.split
