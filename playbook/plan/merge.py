"""The shards' JSON lines put together (plan/shards.py runs the workers; this writes what
they wrote in the plan's order).

Each shard writes each JSON section's lines to a file with, per line, its time, account,
contact and where it ends (plan/sections.py). `MergedSections` writes a section of the
plan from them: the lines ordered by time, then account, then contact, then each shard's
own order — no two shards have lines of one account or contact, so that order is not left
to chance — copied as runs of consecutive lines of one shard: long runs by the kernel
(`copy_file_range`, a thread per shard), short ones gathered from memory maps.
"""

from __future__ import annotations

import errno
import io
import mmap
import os
import shutil
import stat
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

import numpy as np

from playbook.plan.jsonwriter import LINE_SEPARATOR


class MergedSections:
    """The shards' lines of each JSON section, written in the plan's order: by time, then
    account (then contact, for lines without one), then each shard's own order (its lines
    are in that order already). No two shards have lines of one account or contact, so
    their order is not left to chance."""

    def __init__(self, parts: list[dict[str, Any]], directory: str):
        self.parts = parts
        self.directory = directory
        weakref.finalize(self, shutil.rmtree, directory, True)  # the files go, whatever happens

    def write(self, name: str, out: TextIO) -> None:
        """What write_json writes after a section's '[': its lines, then the ']'."""
        lines = [part[name] for part in self.parts]
        if not sum(len(x.at) for x in lines):
            out.write("]")
            return
        at = np.concatenate([x.at for x in lines])
        account = _ranks([(x.accounts, x.account) for x in lines])
        contact = _ranks([(x.contacts, x.contact) for x in lines])
        shard = np.concatenate([np.full(len(x.at), i, np.int64) for i, x in enumerate(lines)])
        order = _in_order(at, account, contact)
        shard = shard[order]
        ends = np.concatenate([x.ends for x in lines])
        begins = ends - np.concatenate([np.diff(x.ends, prepend=0) for x in lines])
        begins, ends = begins[order], ends[order]
        # runs of consecutive lines of one shard (consecutive in its file too): one copy each
        starts = np.flatnonzero(np.diff(shard, prepend=-1))
        stops = np.append(starts[1:], len(shard)) - 1
        ends_of_runs = ends[stops]
        ends_of_runs[-1] -= len(LINE_SEPARATOR.encode())  # no separator after the last line
        out.write("\n    ")
        paths = [x.path for x in lines]
        run_shard, run_begin = shard[starts], begins[starts]
        run_length = ends_of_runs - run_begin
        # Long runs (touches: Moments audiences) are copied by the kernel, side by side;
        # short ones (events) are gathered in order, where a call per run would cost more.
        long_runs = int(run_length.sum()) >= _LONG_RUNS * len(run_length)
        if not (long_runs and _copy_at_once(out, paths, run_shard, run_begin, run_length)):
            _gather(out, paths, run_shard, run_begin, run_length)
        out.write("\n  ]")

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _in_order(at: np.ndarray, account: np.ndarray, contact: np.ndarray) -> np.ndarray:
    """The order of the lines by (time, account, contact), ties in the order given (the
    shards' lines one shard after the other, each shard's in its own order). One integer
    key where the three fit in 63 bits: a stable sort of it finds the shards' sorted runs
    and merges them, in a fraction of a three-key sort."""
    low = int(at.min())
    widths = [int(at.max() - low).bit_length(), int(account.max()).bit_length(), int(contact.max()).bit_length()]
    if sum(widths) > 62:
        return np.lexsort((np.arange(len(at)), contact, account, at))  # the last key first
    key = (((at - low) << widths[1] | account) << widths[2]) | contact
    return np.argsort(key, kind="stable")


def _ranks(parts: list[tuple[list[str], np.ndarray]]) -> np.ndarray:
    """Each line's string (given per shard as its names and an index into them) as its rank
    among all the shards' names."""
    rank = {a: i for i, a in enumerate(sorted(set().union(*(names for names, _ in parts))))}
    return np.concatenate([np.array([rank[a] for a in names], np.int64)[codes] for names, codes in parts])


def _copy_at_once(out: TextIO, paths: list[str], run_shard: np.ndarray, run_begin: np.ndarray,
                  run_length: np.ndarray) -> bool:  # fmt: skip
    """Into an output that is a regular file: every run to its place at once, a thread per
    shard copying its runs (the kernel copies; the copies of two threads go side by side).
    False for another kind of output (a pipe): then copy in order."""
    try:
        out.flush()
        fd = out.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        base = os.lseek(fd, 0, os.SEEK_CUR)
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False
    places = base + np.cumsum(run_length) - run_length

    def copy(k: int) -> None:
        mine = run_shard == k
        with open(paths[k], "rb") as source:
            runs = zip(run_begin[mine].tolist(), places[mine].tolist(), run_length[mine].tolist(), strict=True)
            _copy_runs(source.fileno(), fd, runs)

    with ThreadPoolExecutor(len(paths)) as pool:
        for done in [pool.submit(copy, k) for k in range(len(paths))]:
            done.result()  # raises what a thread raised
    os.lseek(fd, base + int(run_length.sum()), os.SEEK_SET)
    return True


def _copy_runs(source: int, target: int, runs: Any) -> None:
    """Byte ranges (offset, place, count) of one file into places of another: by
    copy_file_range, or by reading and writing where the system cannot."""
    kernel = hasattr(os, "copy_file_range")
    for offset, place, count in runs:
        while count > 0:
            if kernel:
                try:
                    done = os.copy_file_range(source, target, count, offset, place)
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                        raise
                    kernel = False
                    continue
            else:
                done = os.pwrite(target, os.pread(source, count, offset), place)
            if done == 0:
                raise OSError(errno.EIO, "the plan's lines ended early")
            offset, place, count = offset + done, place + done, count - done


_LONG_RUNS = 4096  # bytes per run on average, from which the kernel copies a section


def _gather(out: TextIO, paths: list[str], run_shard: np.ndarray, run_begin: np.ndarray,
            run_length: np.ndarray) -> None:  # fmt: skip
    """The runs in order into the output, gathered a few MB at a time from the mapped files:
    written to its file descriptor, or as text to an output without one (a StringIO)."""
    files, views = [], []
    try:
        for path in paths:
            f = open(path, "rb")  # noqa: SIM115 (closed below)
            files.append(f)
            size = os.fstat(f.fileno()).st_size
            views.append(memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)) if size else memoryview(b""))
        try:
            out.flush()
            fd: int | None = out.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            fd = None
        buffer = bytearray()
        for k, begin, count in zip(run_shard.tolist(), run_begin.tolist(), run_length.tolist(), strict=True):
            buffer += views[k][begin : begin + count]
            if len(buffer) >= 1 << 22:
                _put(out, fd, buffer)
                buffer.clear()
        _put(out, fd, buffer)
    finally:
        for view in views:
            view.release()
        for f in files:
            f.close()


def _put(out: TextIO, fd: int | None, data: bytearray) -> None:
    """Whole lines of UTF-8 into the output."""
    if fd is None:
        out.write(data.decode("utf-8"))
        return
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
