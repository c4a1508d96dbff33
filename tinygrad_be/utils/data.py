"""Datasets and the DataLoader, with torch.utils.data's names and semantics.

>>> from tinygrad_be.utils.data import DataLoader, TensorDataset
>>> loader = DataLoader(TensorDataset(x_train, y_train), batch_size=256, shuffle=True)
>>> for images, labels in loader:   # Tensors (<=256, ...) and (<=256,), rows of x_train, y_train
...     ...

A *dataset* is anything with `__getitem__(i)` and `__len__()` (map-style, `Dataset`) or an iterable
(`IterableDataset`). The DataLoader asks a *sampler* for sample indices (in order, or shuffled),
groups them into batches, fetches the samples and stacks them with a *collate* function into
Tensors (`default_collate`, recursively through tuples, lists and dicts, as torch's).

Fast path: a `TensorDataset` (or a numpy array or Tensor used as the dataset, or a `Subset` of one)
is batched with ONE fancy index per batch (`x[indices]`), never a Python loop over samples; the
batch's array is wrapped as a Tensor without another copy.

Beyond torch (torch code never passes them, so it runs unchanged):
- `DataLoader(..., shuffle=True, seed=s)`: epoch e visits the samples in the order
  `np.random.default_rng([s, e]).permutation(N)`, the same in every run whatever happened before;
  `loader.epoch` counts the epochs started and can be set to resume a run at an epoch.
- Generators are numpy `np.random.Generator`s (where torch takes a `torch.Generator`):
  `generator=np.random.default_rng(42)` for `torch.Generator().manual_seed(42)`. Without one, the
  library's default generator is used (`tinygrad_be.manual_seed` makes it reproducible).
- `num_workers > 0` uses a pool of threads, not processes (numpy releases the GIL in its heavy
  loops): the same batches in the same order as `num_workers=0`, fetched ahead of time. Random
  per-item transforms then draw from the shared default generator in the order the threads reach
  it, so their draws are not reproducible (in torch each worker process has its own seed, so
  they differ from `num_workers=0` there too). An error in a worker is raised in the caller,
  with the index of the sample that failed in its notes.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from tinygrad_be import rng as _rng
from tinygrad_be.tensor import Tensor, from_numpy, stack

__all__ = [
    "BatchSampler",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "default_collate",
    "default_convert",
    "random_split",
]


def _generator(generator: np.random.Generator | None) -> np.random.Generator:
    """The numpy generator to draw from: `generator`, else the library's default one."""
    if generator is None:
        return _rng.default_generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"generator must be a numpy np.random.Generator (e.g. np.random.default_rng(42), "
            f"where torch takes torch.Generator().manual_seed(42)), got {type(generator).__name__}"
        )
    return generator


# --------------------------------------------------------------------------------------------------
# Datasets
class Dataset:
    """A map-style dataset: `dataset[i]` is sample i, `len(dataset)` the number of samples.

    Subclasses write `__getitem__` and `__len__`. `a + b` concatenates two datasets.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset read as a stream: subclasses write `__iter__` (yielding samples)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class TensorDataset(Dataset):
    """Samples `(t[i] for t in tensors)` of Tensors or arrays that share their first dimension.

    `dataset.tensors` is the tuple of Tensors (numpy arrays are wrapped without a copy). The
    DataLoader batches it with one fancy index per tensor per batch.
    """

    def __init__(self, *tensors: Any) -> None:
        wrapped = []
        for t in tensors:
            t = t if isinstance(t, Tensor) else from_numpy(np.asarray(t))
            if t.ndim == 0:
                raise ValueError("TensorDataset: every tensor needs a first (sample) dimension, "
                                 f"got shapes {[tuple(np.shape(x)) for x in tensors]}")  # fmt: skip
            wrapped.append(t)
        if len({len(t) for t in wrapped}) > 1:
            raise ValueError(
                "TensorDataset: size mismatch between tensors: shapes "
                f"{[tuple(t.shape) for t in wrapped]} (the first dimensions must be equal)"
            )
        self.tensors = tuple(wrapped)

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor._wrap(t._data[index]) for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0]) if self.tensors else 0

    def _get_batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """The collated batch of samples `indices` (B,): one fancy index per tensor."""
        return tuple(from_numpy(t._data[indices]) for t in self.tensors)


class Subset(Dataset):
    """The samples `dataset[i]` for i in `indices`, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, index: int | list[int]) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: list[int]) -> list[Any]:
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def _get_batch(self, indices: np.ndarray) -> Any:
        if getattr(self, "_index_array", None) is None:  # made once, not per batch
            self._index_array = np.asarray(self.indices, dtype=np.int64)
        return _fast_batch(self.dataset, self._index_array[indices])


class ConcatDataset(Dataset):
    """Several map-style datasets one after the other: sample i of the first, then of the next..."""

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


def random_split(
    dataset: Any, lengths: Sequence[int | float], generator: np.random.Generator | None = None
) -> list[Subset]:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths.

    lengths: sample counts summing to len(dataset), or fractions summing to 1 (each part gets
    floor(fraction * n) samples, then the remaining samples go one each to the first parts, as
    torch). generator: the numpy generator of the permutation (default: the library's).
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        if any(not 0 <= frac <= 1 for frac in lengths):
            raise ValueError(f"random_split: fractions must be in [0, 1], got {lengths}")
        counts = [math.floor(n * frac) for frac in lengths]
        for i in range(n - sum(counts)):  # the remainder, round-robin
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: sum of input lengths {lengths} does not equal the length of the input "
            f"dataset ({n})"
        )
    order = _generator(generator).permutation(n)
    return [
        Subset(dataset, order[stop - length : stop].tolist())
        for length, stop in zip(lengths, itertools.accumulate(lengths), strict=True)
    ]


# --------------------------------------------------------------------------------------------------
# Samplers: which sample indices, in which order
class Sampler:
    """An iterable of sample indices (or of lists of them, for a batch sampler)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError

    def _order(self) -> np.ndarray | None:
        """This epoch's indices as one array (the fast path), or None to iterate instead."""
        return None


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __len__(self) -> int:
        return len(self.data_source)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def _order(self) -> np.ndarray:
        return np.arange(len(self.data_source))


class RandomSampler(Sampler):
    """A random order of the samples, a new one each time it is iterated.

    As torch: `replacement=True` draws `num_samples` indices with replacement; `generator` is a
    numpy Generator (default: the library's). Ours too: `seed` makes epoch e's order
    `np.random.default_rng([seed, e]).permutation(n)`; `set_epoch(e)` chooses e (as torch's
    DistributedSampler), and each iteration moves on to the next epoch.
    """

    def __init__(
        self,
        data_source: Any,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: np.random.Generator | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        if num_samples is not None and (int(num_samples) != num_samples or num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, got {num_samples}")
        if seed is not None and (isinstance(seed, bool) or int(seed) != seed or seed < 0):
            raise ValueError(f"RandomSampler: seed must be a non-negative integer, got {seed}")
        if seed is not None and generator is not None:
            raise ValueError("RandomSampler: pass seed or generator, not both")
        if generator is not None:
            _generator(generator)  # type check now, not at the first epoch
        self.data_source, self.replacement = data_source, bool(replacement)
        self._num_samples, self.generator = num_samples, generator
        self.seed = None if seed is None else int(seed)
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _order(self) -> np.ndarray:
        n, count = len(self.data_source), self.num_samples
        if self.seed is not None:
            generator = np.random.default_rng([self.seed, self.epoch])
        else:
            generator = _generator(self.generator)
        self.epoch += 1
        if self.replacement:
            return generator.integers(0, n, size=count)
        # Without replacement: whole permutations, then part of one more (as torch).
        parts = [generator.permutation(n) for _ in range(count // n)]
        if count % n:
            parts.append(generator.permutation(n)[: count % n])
        return np.concatenate(parts) if len(parts) != 1 else parts[0]

    def __iter__(self) -> Iterator[int]:
        return iter(self._order().tolist())


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (a new one each iteration)."""

    def __init__(self, indices: Sequence[int], generator: np.random.Generator | None = None) -> None:
        self.indices, self.generator = indices, generator

    def __len__(self) -> int:
        return len(self.indices)

    def _order(self) -> np.ndarray:
        return np.asarray(self.indices)[_generator(self.generator).permutation(len(self.indices))]

    def __iter__(self) -> Iterator[int]:
        return iter(self._order().tolist())


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size` (the last one shorter unless
    `drop_last`)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:  # fmt: skip
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size!r}"
            )
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), bool(drop_last)

    def __len__(self) -> int:
        n, b = len(self.sampler), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._index_batches():
            yield batch.tolist() if isinstance(batch, np.ndarray) else batch

    def _index_batches(self) -> Iterator[np.ndarray | list[int]]:
        """Batches as slices of the sampler's order array when it has one (no per-sample work)."""
        order = self.sampler._order() if isinstance(self.sampler, Sampler) else None
        size = self.batch_size
        if order is not None:
            stop = len(order) - len(order) % size if self.drop_last else len(order)
            for start in range(0, stop, size):
                yield order[start : start + size]
            return
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch


# --------------------------------------------------------------------------------------------------
# Collate: a list of samples -> one batch of Tensors
_COLLATE_TYPES = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists"


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, as torch's `default_collate`.

    Tensors, numpy arrays and numpy scalars -> one Tensor (B, ...) of their dtype; Python floats ->
    float64, ints -> int64, bools -> bool Tensors (B,); strings stay a list; tuples and lists are
    collated position by position (a tuple gives a list), dicts key by key, named tuples field by
    field. Samples of different shapes or types raise an error naming the two samples.
    """
    return _collate(batch, None)


def _describe(value: Any) -> str:
    if isinstance(value, (Tensor, np.ndarray)):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    return type(value).__name__


def _kind(value: Any) -> type | str:
    """What must agree between the samples of a batch: arrays, numbers, or else the type."""
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        return "array"
    if isinstance(value, (int, float)):
        return "number"
    return type(value)


def _collate(batch: Sequence[Any], indices: Sequence[int] | None) -> Any:
    """`default_collate`, naming sample k as "dataset index indices[k]" in errors when known."""

    def name(k: int) -> str:
        return f"entry {k}" if indices is None else f"dataset index {indices[k]}"

    first = batch[0]
    for k, sample in enumerate(batch):  # same kind of thing everywhere, or an error naming both
        if _kind(sample) != _kind(first):
            raise TypeError(
                f"default_collate: samples differ in type: {name(0)} is {_describe(first)}, "
                f"{name(k)} is {_describe(sample)}"
            )
    if isinstance(first, (Tensor, np.ndarray, np.generic)):
        arrays = [s._data if isinstance(s, Tensor) else np.asarray(s) for s in batch]
        if arrays[0].dtype.kind not in "biuf":
            raise TypeError(f"{_COLLATE_TYPES}; found {arrays[0].dtype}")
        for k, array in enumerate(arrays):
            if array.shape != arrays[0].shape:
                raise RuntimeError(
                    f"default_collate: stack expects each sample to be of equal size, but "
                    f"{name(0)} has shape {arrays[0].shape} and {name(k)} has shape {array.shape}"
                )
        if isinstance(first, Tensor) and any(s.requires_grad for s in batch):
            return stack(batch)  # keeps the graph, as torch.stack would
        return from_numpy(np.stack(arrays))
    if isinstance(first, int):  # also bool; torch's defaults: int64, bool (float32 if mixed)
        return Tensor(batch)
    if isinstance(first, float):
        return from_numpy(np.array(batch, dtype=np.float64))  # as torch: Python floats are doubles
    if isinstance(first, (str, bytes)):
        return batch
    if isinstance(first, Mapping):
        collated = {key: _collate([d[key] for d in batch], indices) for key in first}
        try:
            return type(first)(collated)
        except TypeError:
            return collated
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # a named tuple
        return type(first)(*(_collate(list(s), indices) for s in zip(*batch, strict=True)))
    if isinstance(first, Sequence):
        for k, sample in enumerate(batch):
            if len(sample) != len(first):
                raise RuntimeError(
                    f"default_collate: each element in list of batch should be of equal size: "
                    f"{name(0)} has {len(first)} elements, {name(k)} has {len(sample)}"
                )
        columns = [_collate(list(column), indices) for column in zip(*batch, strict=True)]
        if isinstance(first, tuple):
            return columns  # as torch: a tuple of fields becomes a list of batches
        try:
            return type(first)(columns)
        except TypeError:
            return columns
    raise TypeError(f"{_COLLATE_TYPES}; found {type(first)}")


def default_convert(data: Any) -> Any:
    """One sample as the loader gives it with `batch_size=None`: numpy arrays become Tensors
    (sharing memory), recursively through tuples, lists and dicts; the rest is unchanged."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return from_numpy(data)
    if isinstance(data, Mapping):
        return type(data)({key: default_convert(value) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(d) for d in data)
    return data


def _batches_fast(dataset: Any) -> bool:
    """Whether `_fast_batch` can batch `dataset` with one fancy index."""
    if isinstance(dataset, Subset):
        return _batches_fast(dataset.dataset)
    if isinstance(dataset, np.ndarray):
        return dataset.dtype.kind in "biuf"
    if isinstance(dataset, Tensor):
        return not dataset.requires_grad
    if isinstance(dataset, TensorDataset):  # a tensor that requires grad keeps torch's graph
        return not any(t.requires_grad for t in dataset.tensors)
    return False


def _fast_batch(dataset: Any, indices: np.ndarray) -> Any:
    """The collated batch of samples `indices` (B,) by one fancy index (`_batches_fast` datasets)."""
    if isinstance(dataset, (TensorDataset, Subset)):
        return dataset._get_batch(indices)
    return from_numpy((dataset._data if isinstance(dataset, Tensor) else dataset)[indices])


# --------------------------------------------------------------------------------------------------
# The DataLoader
class DataLoader:
    """Batches of a dataset, as torch's DataLoader.

    dataset: map-style (`__getitem__`, `__len__`) or an `IterableDataset`.
    batch_size: samples per batch (None: single samples, not collated). shuffle: a new random order
    each epoch (`RandomSampler`). sampler / batch_sampler: the order of the indices / of whole
    batches (exclusive with shuffle, as torch). collate_fn: list of samples -> batch (default
    `default_collate`). drop_last: drop the last, incomplete batch. generator: numpy Generator of
    the shuffle. num_workers: threads fetching batches ahead (0: in the calling thread);
    prefetch_factor: batches in flight per worker (default 2); worker_init_fn(worker_id) runs once
    in each worker thread. seed (ours): seeded epochs, see the module docstring; `loader.epoch`.
    pin_memory, timeout, multiprocessing_context, persistent_workers, pin_memory_device: accepted
    for torch code and ignored (there is no GPU memory to pin, and threads need no context).

    `len(loader)` is the number of batches per epoch.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: np.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = None,
    ) -> None:
        if isinstance(batch_size, (np.ndarray, Tensor, list)):
            raise TypeError(
                "DataLoader(dataset, batch_size, ...): batch_size must be an int, got "
                f"{type(batch_size).__name__}. The old DataLoader(x, y, batch_size) is now "
                "DataLoader(TensorDataset(x, y), batch_size, shuffle=True) (torch's form)"
            )
        if isinstance(num_workers, bool) or int(num_workers) != num_workers or num_workers < 0:
            raise ValueError(f"num_workers option should be non-negative, got {num_workers}")
        if not in_order:
            raise ValueError("DataLoader: in_order=False is not supported (batches always come "
                             "in the sampler's order)")  # fmt: skip
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing. "
                             "let num_workers > 0 to enable multiprocessing.")  # fmt: skip
        self.dataset, self.num_workers = dataset, int(num_workers)
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.worker_init_fn, self.generator = worker_init_fn, generator
        self.pin_memory, self.timeout = pin_memory, timeout
        self.multiprocessing_context, self.persistent_workers = multiprocessing_context, persistent_workers
        self._iterable = isinstance(dataset, IterableDataset)
        self.epoch = 0

        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")  # fmt: skip
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 "and batch_sampler options")  # fmt: skip
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")  # fmt: skip
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")  # fmt: skip
        if sampler is None and not self._iterable:
            if shuffle:
                sampler = RandomSampler(dataset, generator=generator, seed=seed)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size <= 0:
                raise ValueError(
                    f"batch_size should be a positive integer value, but got batch_size={batch_size}"
                )
            batch_size = int(batch_size)
            if not self._iterable:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last, self.shuffle = batch_size, bool(drop_last), bool(shuffle)
        self.sampler, self.batch_sampler, self.seed = sampler, batch_sampler, seed
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size)
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert
        )  # fmt: skip

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # TypeError for a stream without a length, as torch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self) -> Iterator[Any]:
        # Not a generator function: the epoch's order is fixed (and the counter advanced) the
        # moment iteration starts, so an abandoned epoch still counts.
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(self.epoch)
        self.epoch += 1
        if self._iterable:
            return self._stream()
        if self.batch_sampler is None:  # batch_size=None: single samples
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        batches = self.batch_sampler
        if isinstance(batches, BatchSampler):
            batches = batches._index_batches()
        fetch = self._fetch
        if self.num_workers == 0:
            return (fetch(indices) for indices in batches)
        return self._prefetched(batches)

    def _fetch(self, indices: Any) -> Any:
        """The collated batch of the samples `indices` (a list or an int array)."""
        if self.collate_fn is default_collate and _batches_fast(self.dataset):
            return _fast_batch(self.dataset, np.asarray(indices, dtype=np.int64))
        if isinstance(indices, np.ndarray):
            indices = indices.tolist()
        samples = []
        for i in indices:
            try:
                samples.append(self.dataset[i])
            except Exception as error:
                error.add_note(f"DataLoader: while loading sample {i} of the dataset")
                raise
        if self.collate_fn is default_collate:
            return _collate(samples, indices)
        return self.collate_fn(samples)

    def _prefetched(self, batches: Iterable[Any]) -> Iterator[Any]:
        """Fetch batches on a thread pool, up to `prefetch_factor * num_workers` ahead, and yield
        them in order; an error in a worker is raised here, with the sample index in its notes."""
        worker_ids = itertools.count()
        lock = threading.Lock()

        def start_worker() -> None:
            with lock:
                worker_id = next(worker_ids)
            if self.worker_init_fn is not None:
                self.worker_init_fn(worker_id)

        pool = ThreadPoolExecutor(self.num_workers, thread_name_prefix="DataLoader",
                                  initializer=start_worker)  # fmt: skip
        pending: deque = deque()
        batches = iter(batches)
        try:
            for indices in itertools.islice(batches, self.num_workers * self.prefetch_factor):
                pending.append(pool.submit(self._fetch, indices))
            while pending:
                batch = pending.popleft().result()  # re-raises a worker's exception
                for indices in itertools.islice(batches, 1):
                    pending.append(pool.submit(self._fetch, indices))
                yield batch
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True)

    def _stream(self) -> Iterator[Any]:
        """Batches of an IterableDataset, read in the calling thread (torch would run a copy of
        the stream in each worker process; threads would have to share one iterator)."""
        samples = iter(self.dataset)
        if not self._auto_collation:
            yield from (self.collate_fn(sample) for sample in samples)
            return
        while batch := list(itertools.islice(samples, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield self.collate_fn(batch)

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, num_workers={self.num_workers}"
            + (f", seed={self.seed}" if self.seed is not None else "") + ")"
        )
