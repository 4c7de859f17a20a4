"""The MPI job as chainrule sees it: init, ranks, the collectives on arrays and Tensors,
rank-0-only helpers, and the rule that one failing rank stops the whole job.

mpi4py is imported on first use (``init``), so ``import chainrule`` never needs it.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import versions
from ..tensor import Tensor, _stored

__all__ = [
    "DistributedError",
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


class MissingMPIError(ImportError):
    """mpi4py (or the MPI library under it) is not installed.

    >>> import chainrule.distributed as dist
    >>> issubclass(dist.MissingMPIError, ImportError)
    True
    """


class DistributedError(RuntimeError):
    """The ranks of a job disagree (model shapes, batches per epoch, ...) or one stopped.

    ``everywhere`` is True when every rank found the same problem and raises the same
    error (a collective check), so the job can end without aborting: only rank 0 reports.

    >>> import chainrule.distributed as dist
    >>> issubclass(dist.DistributedError, RuntimeError)
    True
    """

    def __init__(self, message: str, everywhere: bool = False) -> None:
        super().__init__(message)
        self.everywhere = everywhere


class ReduceOp:
    """Names of the reductions ``all_reduce`` accepts (PyTorch's ``ReduceOp``).

    >>> import chainrule.distributed as dist
    >>> dist.ReduceOp.SUM, dist.ReduceOp.MAX
    ('sum', 'max')
    """

    SUM = "sum"
    PRODUCT = "prod"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


class _State:
    MPI: Any = None
    comm: Any = None
    rank = 0
    size = 1
    local_rank = 0
    local_size = 1
    previous_hook: Any = None


def is_available() -> bool:
    """Whether mpi4py is installed (checked without importing it, which would start MPI).

    >>> import chainrule.distributed as dist
    >>> isinstance(dist.is_available(), bool)
    True
    """
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def _import_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise MissingMPIError(
            f"cr.distributed needs mpi4py and an MPI library ({e}); "
            f"install them with: pip install 'chainrule[mpi]'"
        ) from None
    return MPI


def init(comm: Any = None, *, abort_on_error: bool = True) -> None:
    """Join the MPI job: find this process's rank, the world size and the local rank.

    Calling it again does nothing. Every other function calls it when needed, so calling
    it yourself is only required to pass ``comm`` or ``abort_on_error``.

    Parameters
    ----------
    comm:
        An mpi4py communicator (default ``MPI.COMM_WORLD``, every process ``mpirun``
        started).
    abort_on_error:
        Install an exception hook so that an uncaught exception on any rank prints which
        rank failed and aborts the whole job (``MPI_Abort``): the other ranks then stop
        at once instead of waiting forever in their next collective.

    Examples
    --------
    >>> import chainrule.distributed as dist
    >>> dist.init()                          # doctest: +SKIP
    >>> dist.get_rank(), dist.get_world_size()   # doctest: +SKIP
    (0, 1)
    """
    if _State.comm is not None:
        return
    MPI = _import_mpi()
    comm = MPI.COMM_WORLD if comm is None else comm
    # Ranks on the same node share memory: their group gives the local rank (which GPU
    # or which cores a process should use), whatever launcher started the job.
    local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
    _State.local_rank, _State.local_size = local.Get_rank(), local.Get_size()
    local.Free()
    _State.MPI, _State.comm = MPI, comm
    _State.rank, _State.size = comm.Get_rank(), comm.Get_size()
    if abort_on_error and _State.previous_hook is None:
        _State.previous_hook = sys.excepthook
        sys.excepthook = _excepthook


def is_initialized() -> bool:
    """Whether ``init`` has run in this process.

    >>> import chainrule.distributed as dist
    >>> dist.is_initialized()  # nothing joined an MPI job in this process
    False
    """
    return _State.comm is not None


def _comm() -> Any:
    if _State.comm is None:
        init()
    return _State.comm


def get_rank() -> int:
    """This process's rank, 0 to ``get_world_size() - 1``.

    >>> import chainrule.distributed as dist
    >>> dist.get_rank()  # doctest: +SKIP
    0
    """
    _comm()
    return _State.rank


def get_world_size() -> int:
    """The number of processes in the job.

    >>> import chainrule.distributed as dist
    >>> dist.get_world_size()  # under mpirun -n 2  # doctest: +SKIP
    2
    """
    _comm()
    return _State.size


def get_local_rank() -> int:
    """This process's rank among the processes on its own machine.

    >>> import chainrule.distributed as dist
    >>> dist.get_local_rank()  # doctest: +SKIP
    0
    """
    _comm()
    return _State.local_rank


def get_local_world_size() -> int:
    """The number of the job's processes on this machine.

    >>> import chainrule.distributed as dist
    >>> dist.get_local_world_size()  # under mpirun -n 2 on one machine  # doctest: +SKIP
    2
    """
    _comm()
    return _State.local_size


def is_main_process() -> bool:
    """True on rank 0, the one that prints and writes files.

    >>> import chainrule.distributed as dist
    >>> if dist.is_main_process():  # doctest: +SKIP
    ...     print('rank 0 writes the outputs')
    rank 0 writes the outputs
    """
    return get_rank() == 0


def _mpi_op(op: str) -> Any:
    MPI = _State.MPI
    table = {"sum": MPI.SUM, "prod": MPI.PROD, "min": MPI.MIN, "max": MPI.MAX, "avg": MPI.SUM}
    if op not in table:
        raise ValueError(f"all_reduce: unknown op {op!r}; expected one of {sorted(table)}")
    return table[op]


def _inplace(x: Any, opname: str) -> tuple[np.ndarray, Callable[[], None]]:
    """The contiguous array a collective works on in place, and how to put it back into
    ``x`` when it had to be a temporary (a non-contiguous view, a 0-d Tensor's scalar).
    Putting back also stamps the changed memory (``versions.mark``), so a graph that saved
    the old values raises at backward instead of using the new ones."""
    if isinstance(x, Tensor):
        data = x.data
        what = f"a tensor of shape {x.shape}"
        if isinstance(data, np.ndarray) and data.flags.c_contiguous and data.flags.writeable:
            return data, lambda: versions.mark(data, opname, what)
        if isinstance(data, np.ndarray) and data.flags.writeable:
            work = np.ascontiguousarray(data)

            def copy_back() -> None:
                np.copyto(data, work)
                versions.mark(data, opname, what)

            return work, copy_back
        work = np.array(data, copy=True)

        def put_back() -> None:
            x.data = _stored(work)

        return work, put_back
    if isinstance(x, np.ndarray):
        if not x.flags.writeable:
            raise ValueError(f"{opname}: the array is read-only, so it cannot be updated in place")
        what = f"an array of shape {x.shape}"
        if x.flags.c_contiguous:
            return x, lambda: versions.mark(x, opname, what)
        work = np.ascontiguousarray(x)

        def copy_back_array() -> None:
            np.copyto(x, work)
            versions.mark(x, opname, what)

        return work, copy_back_array
    raise TypeError(
        f"{opname}: expected a NumPy array or a Tensor (updated in place), got {type(x).__name__}"
    )


def _mpi_call(opname: str, fn: Callable, *args: Any) -> Any:
    try:
        return fn(*args)
    except (KeyError, ValueError, TypeError) as e:  # mpi4py's answer to an unknown dtype
        raise TypeError(f"{opname}: MPI cannot send this data: {e}") from None


def all_reduce(x: Any, op: str = ReduceOp.SUM) -> Any:
    """Reduce ``x`` over all ranks, in place (the sum by default); returns ``x``.

    ``x`` is a NumPy array or a Tensor of the same shape and dtype on every rank (a
    Tensor's values are updated; no graph is recorded). ``op`` is ``"sum"``, ``"prod"``,
    ``"min"``, ``"max"`` or ``"avg"`` (the sum divided by the world size).

    Examples
    --------
    >>> import numpy as np, chainrule.distributed as dist
    >>> a = np.arange(3.0) * (dist.get_rank() + 1)      # doctest: +SKIP
    >>> dist.all_reduce(a)                               # doctest: +SKIP
    array([0., 3., 6.])
    """
    comm = _comm()
    MPI = _State.MPI
    mpi_op = _mpi_op(op)
    work, put_back = _inplace(x, "all_reduce")
    if op == "avg" and work.dtype.kind not in "fc":
        raise TypeError(f"all_reduce: op 'avg' needs a floating-point array, got {work.dtype}")
    if _State.size > 1:
        _mpi_call("all_reduce", comm.Allreduce, MPI.IN_PLACE, work, mpi_op)
    if op == "avg":
        work /= _State.size
    put_back()
    return x


def broadcast(x: Any, src: int = 0) -> Any:
    """Overwrite ``x`` on every rank with rank ``src``'s values, in place; returns ``x``.

    Examples
    --------
    >>> import numpy as np, chainrule.distributed as dist
    >>> w = np.full(2, float(dist.get_rank()))   # doctest: +SKIP
    >>> dist.broadcast(w, src=0)                 # doctest: +SKIP
    array([0., 0.])
    """
    comm = _comm()
    _check_rank("broadcast", src)
    work, put_back = _inplace(x, "broadcast")
    if _State.size > 1:
        _mpi_call("broadcast", comm.Bcast, work, src)
    put_back()
    return x


def all_gather(x: Any) -> list:
    """Every rank's ``x``, in rank order, on every rank (new arrays, or Tensors when ``x``
    is a Tensor). The shapes and dtypes must agree: a mismatch is a ``DistributedError``
    naming the ranks, raised on all of them.

    Examples
    --------
    >>> import numpy as np, chainrule.distributed as dist
    >>> [int(a[0]) for a in dist.all_gather(np.array([dist.get_rank()]))]  # doctest: +SKIP
    [0, 1]
    """
    comm = _comm()
    is_tensor = isinstance(x, Tensor)
    arr = np.ascontiguousarray(x.data if is_tensor else np.asarray(x))
    layouts = all_gather_object((arr.shape, arr.dtype.str))
    for r, layout in enumerate(layouts):
        if layout != layouts[0]:
            raise DistributedError(
                f"all_gather: rank {r} sent shape {layout[0]} dtype {np.dtype(layout[1])}, "
                f"rank 0 sent shape {layouts[0][0]} dtype {np.dtype(layouts[0][1])}",
                everywhere=True,
            )
    out = np.empty((_State.size, *arr.shape), dtype=arr.dtype)
    if _State.size > 1:
        _mpi_call("all_gather", comm.Allgather, arr, out)
    else:
        out[0] = arr
    parts = [out[r] for r in range(_State.size)]
    if is_tensor:
        return [Tensor(p) for p in parts]
    return parts


def all_gather_object(obj: Any) -> list:
    """Every rank's picklable ``obj``, in rank order (for small things: settings, shapes).

    >>> import chainrule.distributed as dist
    >>> dist.all_gather_object({'rank': dist.get_rank()})  # 2 ranks  # doctest: +SKIP
    [{'rank': 0}, {'rank': 1}]
    """
    return _comm().allgather(obj)


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s picklable ``obj``, on every rank.

    >>> import chainrule.distributed as dist
    >>> dist.broadcast_object({'seed': 7} if dist.get_rank() == 0 else None)  # doctest: +SKIP
    {'seed': 7}
    """
    _check_rank("broadcast_object", src)
    return _comm().bcast(obj, root=src)


def barrier() -> None:
    """Wait until every rank has reached this call.

    >>> import chainrule.distributed as dist
    >>> dist.barrier()  # every rank waits here  # doctest: +SKIP
    """
    _comm().Barrier()


def _check_rank(opname: str, src: int) -> None:
    if not 0 <= int(src) < _State.size:
        raise ValueError(f"{opname}: src must be a rank in 0..{_State.size - 1}, got {src}")


# ---------------------------------------------------------------------- rank 0 only


def rank_zero_only(fn: Callable) -> Callable:
    """Decorator: ``fn`` runs on rank 0 only (other ranks get None). Not a collective:
    ``fn`` must not call collectives, as the other ranks do not join them.

    >>> import chainrule.distributed as dist
    >>> @dist.rank_zero_only
    ... def log(msg):
    ...     print(msg)
    >>> log("epoch 1 done")                 # doctest: +SKIP
    epoch 1 done
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if get_rank() == 0:
            return fn(*args, **kwargs)
        return None

    return wrapper


def print0(*args: Any, **kwargs: Any) -> None:
    """``print`` on rank 0 only (flushed, so lines arrive while the job runs).

    >>> import chainrule.distributed as dist
    >>> dist.print0('epoch 1: loss 0.42')  # printed once, by rank 0  # doctest: +SKIP
    epoch 1: loss 0.42
    """
    if get_rank() == 0:
        kwargs.setdefault("flush", True)
        print(*args, **kwargs)


def save0(obj: Any, path: Any) -> None:
    """``cr.save(obj, path)`` on rank 0 only, then a barrier: when it returns on any rank,
    the file is complete. A collective: every rank must call it.

    >>> import chainrule.distributed as dist
    >>> dist.save0(model.state_dict(), 'model.npz')  # doctest: +SKIP
    """
    if get_rank() == 0:
        from ..serialization import save

        save(obj, path)
    barrier()


# ---------------------------------------------------------------------- faults


def abort(message: str, code: int = 1) -> None:
    """Print ``message`` (prefixed with this rank) on stderr and stop every rank of the job
    now (``MPI_Abort``): the way out when the ranks can no longer agree.

    >>> import chainrule.distributed as dist
    >>> dist.abort('ranks disagree on the model')  # stops every rank  # doctest: +SKIP
    """
    sys.stderr.write(f"chainrule.distributed: rank {_State.rank} of {_State.size}: {message}\n")
    sys.stderr.flush()
    if _State.comm is not None and _State.size > 1:
        _State.comm.Abort(code)
    os._exit(code)  # pragma: no cover - Abort does not return


def _excepthook(exc_type: type, exc: BaseException, tb: Any) -> None:
    if isinstance(exc, DistributedError) and exc.everywhere:
        # Every rank raised this same error: rank 0 reports it, all end normally (after a
        # barrier: mpirun stops the job as soon as one rank exits with an error).
        if _State.rank == 0:
            _State.previous_hook(exc_type, exc, tb)
            sys.stderr.flush()
        _State.comm.Barrier()
        return
    _State.previous_hook(exc_type, exc, tb)
    if _State.size > 1:
        abort(f"raised {exc_type.__name__}: {exc}; stopping all {_State.size} ranks")
