"""chainrule.data: DataLoader and datasets (scikit-learn's digits, generated 2-D sets,
MNIST IDX files), all as NumPy arrays; nothing is ever downloaded.
"""

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
from .loader import DataLoader, Dataset, TensorDataset

__all__ = [
    "DATASETS",
    "DataLoader",
    "Dataset",
    "IDXError",
    "MissingDependencyError",
    "Split",
    "TensorDataset",
    "circles",
    "digits",
    "load_dataset",
    "load_mnist",
    "moons",
    "read_idx",
    "spirals",
    "train_test_split",
    "write_idx",
]
