"""Which process a run belongs to: the pid and host the journal records with a run, and
whether that process is still alive (what tells a ``running`` run from an interrupted one)."""

from __future__ import annotations

import os
import socket
import sys

__all__ = ["pid_alive", "this_host"]


def this_host() -> str:
    """The name of this machine, as the journal records it with a run."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return False
    return True


if sys.platform == "win32":
    import ctypes

    _QUERY_LIMITED_INFORMATION = 0x1000
    _STILL_ACTIVE = 259

    def _windows_pid_alive(pid: int) -> bool:
        # os.kill on Windows terminates the process: ask for its exit code instead
        kernel = ctypes.windll.kernel32
        handle = kernel.OpenProcess(_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            if not kernel.GetExitCodeProcess(handle, ctypes.byref(code)):
                return False
            return code.value == _STILL_ACTIVE
        finally:
            kernel.CloseHandle(handle)

else:

    def _windows_pid_alive(pid: int) -> bool:
        raise OSError("only on Windows")
