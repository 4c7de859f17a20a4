"""chainrule.data: DataLoader (collate_fn, dataset transforms), seeded image augmentations
and datasets (digits, generated 2-D sets, shapes images, sequence tasks, MNIST IDX files),
all as NumPy arrays; nothing is ever downloaded.
"""

from . import transforms
from .datasets import (
    DATASETS,
    MissingDependencyError,
    Split,
    circles,
    digits,
    load_dataset,
    moons,
    spirals,
    train_test_split,
)
from .idx import IDXError, load_mnist, read_idx, write_idx
from .images import SHAPE_CLASSES, shapes
from .loader import DataLoader, Dataset, TensorDataset, default_collate
from .sequences import adding_problem, noisy_sine, parity

__all__ = [
    "DATASETS",
    "DataLoader",
    "Dataset",
    "IDXError",
    "MissingDependencyError",
    "SHAPE_CLASSES",
    "Split",
    "TensorDataset",
    "adding_problem",
    "circles",
    "default_collate",
    "digits",
    "load_dataset",
    "load_mnist",
    "moons",
    "noisy_sine",
    "parity",
    "read_idx",
    "shapes",
    "spirals",
    "train_test_split",
    "transforms",
    "write_idx",
]
