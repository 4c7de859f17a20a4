"""cr.distributed: data-parallel training over MPI (mpi4py), PyTorch's torch.distributed API.

Start the job with ``mpirun -n N python script.py`` (or Slurm's ``srun``); every process
runs the same script. mpi4py is an optional extra (``pip install 'chainrule[mpi]'``) and is
imported only when the job is joined (``init()``, or the first function that needs it).

>>> import chainrule.distributed as dist
>>> s = dist.DistributedSampler(8, num_replicas=2, rank=1, shuffle=False)
>>> list(s)
[1, 3, 5, 7]
"""

from .collectives import (
    DistributedError,
    MissingMPIError,
    ReduceOp,
    abort,
    all_gather,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object,
    get_local_rank,
    get_local_world_size,
    get_rank,
    get_world_size,
    init,
    is_available,
    is_initialized,
    is_main_process,
    print0,
    rank_zero_only,
    save0,
)
from .ddp import DistributedDataParallel
from .sampler import DistributedSampler

__all__ = [
    "DistributedDataParallel",
    "DistributedError",
    "DistributedSampler",
    "MissingMPIError",
    "ReduceOp",
    "abort",
    "all_gather",
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast",
    "broadcast_object",
    "get_local_rank",
    "get_local_world_size",
    "get_rank",
    "get_world_size",
    "init",
    "is_available",
    "is_initialized",
    "is_main_process",
    "print0",
    "rank_zero_only",
    "save0",
]
