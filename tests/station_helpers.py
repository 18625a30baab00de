"""A real simulated station running in a background thread, for the overlay tests."""
from __future__ import annotations

import threading
import time

from coach.simsource import SimSourceOptions, SimulationOptions, run_simulation
from coach.station import StationOptions, scaled_clock
from overlays.publisher import PublisherOptions
from overlays.remote import RemoteOptions


class StationThread:
    """``run_simulation`` in a thread; ``.station`` is set once its sockets are bound."""

    def __init__(self, *, duration_s=30.0, speed=1.0, seed=0, scenario="realistic", profile="adult",
                 remote=True, frame_hz=5.0, conflate=False, curve=None, on_ready=None):
        self.station = None
        self.result = None
        self.error = None
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._on_ready = on_ready
        st_opts = StationOptions(
            station_id="sim-test", profile=profile, source_kind="simulator", source_name=f"seed {seed}",
            publisher=PublisherOptions(endpoint="tcp://127.0.0.1:0", station_id="sim-test", curve=curve,
                                       conflate_endpoint="tcp://127.0.0.1:0" if conflate else None),
            remote=RemoteOptions(endpoint="tcp://127.0.0.1:0", curve=curve) if remote else None,
        )
        self.options = SimulationOptions(seed=seed, duration_s=duration_s, scenario=scenario, station=st_opts,
                                         source=SimSourceOptions(frame_hz=frame_hz))
        self.clock, self.sleep = scaled_clock(speed)
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _ready_cb(self, station):
        self.station = station
        if self._on_ready is not None:
            self._on_ready(station)
        self._ready.set()

    def _main(self):
        try:
            self.result = run_simulation(self.options, clock=self.clock, sleep=self.sleep,
                                         status=self.lines.append, on_ready=self._ready_cb)
        except BaseException as exc:  # surfaced to the test
            self.error = exc
        finally:
            self._ready.set()

    def start(self, timeout_s: float = 20.0) -> "StationThread":
        self.thread.start()
        self._ready.wait(timeout_s)
        if self.station is None:
            raise AssertionError(f"station did not start: {self.error!r}")
        return self

    @property
    def pub_endpoint(self) -> str:
        return self.station.publisher.endpoint

    @property
    def remote_endpoint(self) -> str:
        return self.station.remote.endpoint

    def stop(self, timeout_s: float = 20.0):
        if self.station is not None:
            self.station.request_stop()
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "station thread did not stop"
        return self.result

    def join(self, timeout_s: float = 60.0):
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "simulation did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def wait_for(pred, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False
