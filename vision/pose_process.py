"""The pose model in a child process with its own scheduling group, so its CPU time is never the hand path's.

Why a process and not only a low-priority thread: Linux puts each session's processes in one
scheduling group (autogroup, ``/proc/sys/kernel/sched_autogroup_enabled``) and shares the CPU
fairly between groups first; niceness and ``SCHED_IDLE`` only rank threads inside a group. A pose
thread inside the station's process therefore spends the station's share: on a busy machine each
pose frame's ~20 ms of CPU came out of the hand path's time (``bench live``, load ~7: posture on
took the station from 25.1 to 19.5 fps and its capture -> publish p95 up by 45 ms, with the thread
at nice 10 + ``SCHED_IDLE``). This child starts its own session, so it is its own group; once the
model is loaded it sets that group to a low weight (autogroup nice 10: about a tenth of a normal group) and runs its threads
``SCHED_IDLE`` at nice 19: the pose model runs on CPU time the station leaves, and under contention
it takes a small share of the machine, not of the station.

Frames go through a memory-mapped file in /dev/shm (one copy, made in the posture worker's thread);
the six joints come back pickled over a pipe. ``PoseProcess`` has ``PoseTracker``'s interface
(``process(image_bgr, t_ms) -> ArmLandmarks | None``, ``close()``), so the worker uses either.

    with PoseProcess.start(PoseTrackerOptions()) as pose:   # the model is resolved here, loaded there
        arms = pose.process(frame_bgr, t_ms)
"""
from __future__ import annotations

import mmap
import os
import pickle
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from models.errors import ModelError
from vision.pose import ArmLandmarks, PoseTrackerOptions, resolve_pose_model


@dataclass(frozen=True)
class ProcessPriority:
    """How far the child steps back (Linux; elsewhere it runs at normal priority)."""

    # its autogroup's niceness (own session): its weight against the station's group and other jobs. 10 = weight
    # 110 vs 1024: on a saturated machine the pose model keeps about a tenth of one group's share (about 5 Hz
    # against 3 busy groups) and the station loses under 3 % of its own; 19 (weight 15) starved it to
    # 2 pose frames in 11 s on the shared test machine. An idle core runs it at full rate either way.
    group_nice: int = 10
    nice: int = 19  # its threads' niceness inside that group
    sched_idle: bool = True  # SCHED_IDLE for its threads (MediaPipe's inference threads inherit it)


class PoseProcessError(RuntimeError):
    """The pose child failed or went away (one line)."""


def _shm_dir() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


class _FrameBuffer:
    """A frame-sized file mapped into memory, shared with the child by its path."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(int(v) for v in shape)
        self._unlinked = False
        nbytes = int(np.prod(self.shape))
        fd, self.path = tempfile.mkstemp(prefix="cpr-coach-pose-", suffix=".frame", dir=_shm_dir())
        try:
            os.ftruncate(fd, nbytes)
            self._mm = mmap.mmap(fd, nbytes)
        finally:
            os.close(fd)
        self.array = np.ndarray(self.shape, dtype=np.uint8, buffer=self._mm)

    def unlink(self) -> None:
        """Remove the file's name (the mappings stay valid)."""
        if not self._unlinked:
            self._unlinked = True
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def close(self) -> None:
        self.array = None
        try:
            self._mm.close()
        except BufferError:  # a view still alive somewhere: the mapping goes with it
            pass
        self.unlink()


class PoseProcess:
    """The pose model behind a pipe. One caller at a time (the posture worker's thread)."""

    def __init__(self, proc: subprocess.Popen, to_child, from_child) -> None:
        self._proc = proc
        self._to = to_child
        self._from = from_child
        self._lock = threading.Lock()
        self._buf: _FrameBuffer | None = None
        self._closed = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    @classmethod
    def start(cls, options: PoseTrackerOptions | None = None, priority: ProcessPriority | None = None) -> "PoseProcess":
        """Resolve the model here (one-line ``ModelError``), then start the child and wait until it has loaded it."""
        options = options or PoseTrackerOptions()
        path = resolve_pose_model(options)
        child_opts = replace(options, model_path=str(path), cache_dir=None, fetch=False)
        c_read, p_write = os.pipe()
        p_read, c_write = os.pipe()
        root = str(Path(__file__).resolve().parent.parent)  # the child imports vision/ and models/ from here
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "vision.pose_process", str(c_read), str(c_write)],
                pass_fds=(c_read, c_write), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                start_new_session=True,  # its own session: its own scheduling group (and no Ctrl-C: the parent closes it)
                env=env, close_fds=True)
        finally:
            os.close(c_read)
            os.close(c_write)
        self = cls(proc, os.fdopen(p_write, "wb"), os.fdopen(p_read, "rb"))
        try:
            self._send(("init", asdict(child_opts), asdict(priority or ProcessPriority())))
            kind, detail = self._recv()
        except BaseException:
            self.close()
            raise
        if kind != "ready":
            self.close()
            raise ModelError(detail) if kind == "model_error" else PoseProcessError(f"pose process: {detail}")
        return self

    def _send(self, msg) -> None:
        try:
            pickle.dump(msg, self._to, protocol=pickle.HIGHEST_PROTOCOL)
            self._to.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise PoseProcessError(f"the pose process is gone (exit code {self._proc.poll()}): {exc}") from None

    def _recv(self):
        try:
            return pickle.load(self._from)
        except (EOFError, OSError, ValueError, pickle.UnpicklingError) as exc:
            raise PoseProcessError(f"the pose process is gone (exit code {self._proc.poll()}): "
                                   f"{type(exc).__name__}") from None

    def process(self, image_bgr: np.ndarray, t_ms: int | None = None) -> ArmLandmarks | None:
        """Arms of the (single) rescuer in a BGR frame, or None: as ``PoseTracker.process``, in the child."""
        image = np.asarray(image_bgr)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
            raise ValueError(f"expected an HxWx3 uint8 BGR frame, got {image.dtype} {image.shape}")
        with self._lock:
            if self._closed:
                raise PoseProcessError("the pose process is closed")
            if self._buf is None or self._buf.shape != image.shape:
                if self._buf is not None:
                    self._buf.close()
                self._buf = _FrameBuffer(image.shape)
            np.copyto(self._buf.array, image)
            self._send(("frame", self._buf.path, self._buf.shape, None if t_ms is None else int(t_ms)))
            kind, detail = self._recv()
            if kind == "arms":
                self._buf.unlink()  # both sides have it mapped now: nothing is left behind if either dies
        if kind == "error":
            raise PoseProcessError(f"pose process: {detail}")
        return detail

    def close(self, timeout_s: float = 3.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._send(("close",))
            except PoseProcessError:
                pass
            for f in (self._to, self._from):
                try:
                    f.close()
                except OSError:
                    pass
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout_s)
            if self._buf is not None:
                self._buf.close()
                self._buf = None

    def __enter__(self) -> "PoseProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- the child
def _thread_ids() -> list[int]:
    """This process's threads (Linux: those started at import, e.g. BLAS pools, as well), or just this one."""
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def step_back(priority: ProcessPriority) -> None:
    """Lower this process's group weight and its threads' priority (threads created later inherit it)."""
    try:  # an unprivileged process may lower (never raise) its own autogroup's weight
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(int(priority.group_nice)))
    except OSError:
        pass  # no autogroups (another kernel, another OS): the thread settings below still apply
    for tid in _thread_ids():
        lower_thread(tid, int(priority.nice), priority.sched_idle)


def lower_thread(tid: int, nice: int, sched_idle: bool) -> None:
    """Niceness and SCHED_IDLE for one thread (on Linux both act per thread, and threads it creates inherit
    them); not permitted or not supported: left at normal priority."""
    if nice and hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        except OSError:
            pass
    if sched_idle and hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            pass


def _child(read_fd: int, write_fd: int) -> int:
    from vision.pose import PoseTracker

    inp, out = os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb")

    def reply(msg) -> None:
        pickle.dump(msg, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    try:
        _, opts, prio = pickle.load(inp)
    except (EOFError, pickle.UnpicklingError):
        return 1
    try:  # loaded at the group's full weight: at the low weight a busy machine stretched the start to many seconds
        tracker = PoseTracker.create_from_options(PoseTrackerOptions(**opts))
    except ModelError as exc:
        reply(("model_error", str(exc)))
        return 1
    except Exception as exc:  # noqa: BLE001 - reported to the parent in one line
        reply(("error", f"{type(exc).__name__}: {exc}"))
        return 1
    step_back(ProcessPriority(**prio))  # every thread, MediaPipe's included, then the group
    reply(("ready", None))
    maps: dict[str, tuple[mmap.mmap, np.ndarray]] = {}
    with tracker:
        while True:
            try:
                msg = pickle.load(inp)
            except (EOFError, pickle.UnpicklingError, OSError):
                return 0  # the parent went away
            if msg[0] == "close":
                return 0
            _, path, shape, t_ms = msg
            try:
                if path not in maps:
                    maps.clear()  # a new frame size: the old mapping closes with its last reference
                    with open(path, "rb") as f:
                        mm = mmap.mmap(f.fileno(), int(np.prod(shape)), access=mmap.ACCESS_READ)
                    maps[path] = (mm, np.ndarray(shape, dtype=np.uint8, buffer=mm))
                arms = tracker.process(maps[path][1], t_ms)
            except Exception as exc:  # noqa: BLE001 - a bad frame is the parent's error to count, not the child's end
                reply(("error", f"{type(exc).__name__}: {exc}"))
                continue
            try:
                reply(("arms", arms))
            except (BrokenPipeError, OSError):
                return 0


if __name__ == "__main__":
    sys.exit(_child(int(sys.argv[1]), int(sys.argv[2])))
