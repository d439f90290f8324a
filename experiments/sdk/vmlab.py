"""vmlab: named checkpoints for programs measured with `harness trace`.

Copy this one file next to a program (or put this folder on PYTHONPATH)::

    import vmlab
    data = bytearray(64 << 20)
    vmlab.region("data", vmlab.address_of(data), len(data))
    vmlab.checkpoint("after-alloc")   # waits here while the harness looks

The calls speak vmlab's checkpoint protocol (the lines the built-in experiments
write, ``vmlab-protocol 1 checkpoint LABEL main=PID``) over the two descriptors
the harness names in the environment variable ``VMLAB_CHANNEL`` ("W,R": protocol
lines go to W, the answer ``go`` comes from R). Run outside the harness, where
the variable is absent, every call returns at once and the program continues.
Only the standard library is used.

Labels, region names and note keys: lower-case letters, digits, '-' and '_'.
Each call returns True on success (or outside the harness) and False when the
harness stopped answering.
"""

import ctypes
import os

CHANNEL_ENV = "VMLAB_CHANNEL"
_HEADER = "vmlab-protocol 1 "


def _channel():
    spec = os.environ.get(CHANNEL_ENV, "")
    try:
        write_fd, read_fd = (int(part) for part in spec.split(","))
    except ValueError:
        return None
    return write_fd, read_fd


_FDS = _channel()


def active():
    """True when the program runs under `harness trace`."""
    return _FDS is not None


def _send(text):
    if _FDS is None:
        return True
    data = (_HEADER + text + "\n").encode()
    try:
        while data:
            data = data[os.write(_FDS[0], data):]
    except OSError:
        return False
    return True


def _wait_for_go():
    answer = b""
    while not answer.endswith(b"\n"):
        try:
            byte = os.read(_FDS[1], 1)
        except InterruptedError:
            continue
        except OSError:
            return False
        if not byte:
            return False
        answer += byte
    return answer == b"go\n"


def checkpoint(label):
    """Waits at a checkpoint named `label` until the harness has snapshotted
    the program's processes."""
    if _FDS is None:
        return True
    return _send("checkpoint %s main=%d" % (label, os.getpid())) and _wait_for_go()


def region(name, start, length):
    """Asks the harness to follow `length` bytes from address `start` as region
    `name` in every later snapshot."""
    return _send("region %s start=%#x len=%d" % (name, start, length))


def note(key, value):
    """Records a fact about the run (one line of text)."""
    return _send("note %s %s" % (key, " ".join(str(value).splitlines())))


def address_of(buffer):
    """The address of a writable buffer (a bytearray, an mmap), for `region`."""
    return ctypes.addressof((ctypes.c_char * len(buffer)).from_buffer(buffer))
