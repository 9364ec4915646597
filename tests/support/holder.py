#!/usr/bin/env python3
"""holder.py - hold real file locks for lockscan integration tests.

Usage: python3 holder.py ACTION [ACTION ...]

Performs the actions in order, prints "ready <pid>" (flushed) on stdout and
then blocks until stdin reaches EOF or SIGTERM/SIGINT/SIGHUP arrives; then it
kills any helper children it started and exits 0.  Every lock is released by
the process exit.  On any failure: message on stderr, exit status 3, and
"ready" is never printed.  See tests/support/README.md for the protocol.

Actions (PATH is created with O_CREAT, mode 0644, never truncated unless
stated; START/LEN default to 0/0 = whole file; all fds are O_CLOEXEC unless
stated):
  flock-ex:PATH  flock-sh:PATH        flock(LOCK_EX|LOCK_NB) / (LOCK_SH|LOCK_NB)
  posix-w:PATH[:START:LEN]            fcntl F_SETLK     F_WRLCK
  posix-r:PATH[:START:LEN]            fcntl F_SETLK     F_RDLCK
  ofd-w:PATH[:START:LEN]              fcntl F_OFD_SETLK F_WRLCK
  ofd-r:PATH[:START:LEN]              fcntl F_OFD_SETLK F_RDLCK
  lease-r:PATH                        O_RDONLY + F_SETLEASE F_RDLCK (SIGIO ignored)
  deleted-flock:PATH                  flock-ex, then unlink PATH
  pidfile:PATH                        write "<pid>\\n" (truncating), no lock
  inherit-flock:PATH                  flock-ex on a non-CLOEXEC fd, spawn
                                      `sleep 100000` inheriting it, close own
                                      copy; prints "child <sleep pid>"
  inherit-flock-orphan:PATH           like inherit-flock, but done by a forked
                                      child that then exits (and is reaped);
                                      prints "child <sleep pid>", "locker <pid>"
  many-flock:DIR:N                    flock-ex on DIR/f0.lock .. DIR/f<N-1>.lock
  many-posix:PATH:N                   N one-byte F_WRLCK at offsets 0,2,4,...
  wait-flock-ex:PATH                  (last action only) print ready first,
  wait-posix-w:PATH[:START:LEN]       then block in flock(LOCK_EX) / F_SETLKW /
  wait-ofd-w:PATH[:START:LEN]         F_OFD_SETLKW; print "acquired" once granted
"""

import ctypes
import errno
import fcntl
import os
import resource
import signal
import struct
import subprocess
import sys
import threading

EXIT_FAIL = 3

F_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", 36)
F_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", 37)
F_OFD_SETLKW = getattr(fcntl, "F_OFD_SETLKW", 38)
F_SETLEASE = getattr(fcntl, "F_SETLEASE", 1024)
PR_SET_CHILD_SUBREAPER = 36

# struct flock on x86_64 (and every other 64-bit Linux ABI with 64-bit off_t):
#   short l_type; short l_whence; off_t l_start; off_t l_len; pid_t l_pid; + 4 bytes padding
FLOCK_FMT = "hhqqi4x"
assert struct.calcsize(FLOCK_FMT) == 32, "unexpected struct flock size"

SLEEP_SECONDS = "100000"

# Tiny watchdog run as a separate interpreter: it receives helper-child pids
# on stdin and SIGKILLs them (via pidfds, so no pid-reuse hazard) once the
# holder is gone for any reason, including SIGKILL.
WATCHDOG = r"""
import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
fds = []
for line in sys.stdin:
    try:
        fds.append(os.pidfd_open(int(line)))
    except (OSError, ValueError):
        pass
for fd in fds:
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
"""


class Failure(Exception):
    pass


# ---------------------------------------------------------------- state

_keep = []           # fds (ints) that must stay open for the process lifetime
_children = []       # (pid, pidfd or None, reap: bool)
_watchdog = None     # subprocess.Popen of the watchdog
_by_inode = {}       # (st_dev, st_ino) -> writable fd we hold (for pidfile:)
_leased = set()      # (st_dev, st_ino) of files we hold a lease on


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def cleanup_children():
    for pid, pidfd, reap in _children:
        try:
            if pidfd is not None:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        if reap:
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass
    _children.clear()


def finish(status):
    cleanup_children()
    try:
        sys.stdout.flush()
    except Exception:
        pass
    os._exit(status)


def on_signal(signum, frame):
    finish(0)


def register_child(pid, reap):
    global _watchdog
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        pidfd = None
    _children.append((pid, pidfd, reap))
    if _watchdog is None:
        _watchdog = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
    try:
        _watchdog.stdin.write(b"%d\n" % pid)
        _watchdog.stdin.flush()
    except OSError:
        pass


# ---------------------------------------------------------------- helpers

def parse_int(text, what):
    try:
        v = int(text, 0)
    except ValueError:
        raise Failure("bad %s %r" % (what, text))
    if v < 0:
        raise Failure("negative %s %r" % (what, text))
    return v


def split_range(arg):
    """PATH[:START:LEN] -> (path, start, len).  PATH may itself contain ':'."""
    parts = arg.rsplit(":", 2)
    if len(parts) == 3:
        try:
            return parts[0], int(parts[1], 0), int(parts[2], 0)
        except ValueError:
            pass
    return arg, 0, 0


def split_count(arg, action):
    parts = arg.rsplit(":", 1)
    if len(parts) != 2 or not parts[0]:
        raise Failure("%s needs ARG:N" % action)
    return parts[0], parse_int(parts[1], "count")


def check_not_leased(path):
    # Opening our own leased file for writing would start a lease break against
    # ourselves and block for lease-break-time (45 s): refuse instead.
    try:
        st = os.stat(path)
    except OSError:
        return
    if (st.st_dev, st.st_ino) in _leased:
        raise Failure("%s: refusing to open a file we hold a lease on for writing "
                      "(it would break our own lease)" % path)


def open_file(path, flags=os.O_RDWR, cloexec=True):
    if flags & os.O_ACCMODE != os.O_RDONLY:
        check_not_leased(path)
    flags |= os.O_CREAT
    if cloexec:
        flags |= os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        raise Failure("open %s: %s" % (path, e.strerror))
    # Python makes every fd non-inheritable (O_CLOEXEC) by default.
    os.set_inheritable(fd, not cloexec)
    _keep.append(fd)
    if flags & os.O_ACCMODE != os.O_RDONLY:
        st = os.fstat(fd)
        _by_inode.setdefault((st.st_dev, st.st_ino), fd)
    return fd


def close_file(fd):
    _keep.remove(fd)
    for k, v in list(_by_inode.items()):
        if v == fd:
            del _by_inode[k]
    os.close(fd)


def pack_flock(l_type, start, length):
    return struct.pack(FLOCK_FMT, l_type, os.SEEK_SET, start, length, 0)


def do_flock(fd, path, op):
    try:
        fcntl.flock(fd, op)
    except OSError as e:
        raise Failure("flock %s: %s" % (path, e.strerror))


def do_fcntl_lock(fd, path, cmd, l_type, start, length):
    try:
        fcntl.fcntl(fd, cmd, pack_flock(l_type, start, length))
    except OSError as e:
        raise Failure("fcntl(%d) %s [%d,+%d]: %s" % (cmd, path, start, length, e.strerror))


def ensure_nofile(extra):
    """Make room for `extra` more fds: soft -> hard, and hard up if root."""
    nopen = len(os.listdir("/proc/self/fd"))
    need = nopen + extra + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if need <= soft:
        return
    if need <= hard or hard == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
    except (OSError, ValueError):
        raise Failure("need %d open files but the RLIMIT_NOFILE hard limit is %d "
                      "(raising it needs CAP_SYS_RESOURCE; use fewer files per "
                      "process or `ulimit -Hn` as root)" % (need, hard))


def spawn_sleep(fd):
    try:
        p = subprocess.Popen(["sleep", SLEEP_SECONDS], pass_fds=(fd,),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    except OSError as e:
        raise Failure("spawn sleep: %s" % e.strerror)
    return p.pid


def set_subreaper():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except Exception:
        pass


# ---------------------------------------------------------------- actions

def a_flock(arg, op):
    fd = open_file(arg)
    do_flock(fd, arg, op | fcntl.LOCK_NB)


def a_posix(arg, l_type, cmd=fcntl.F_SETLK):
    path, start, length = split_range(arg)
    fd = open_file(path)
    do_fcntl_lock(fd, path, cmd, l_type, start, length)


def a_lease(arg):
    signal.signal(signal.SIGIO, signal.SIG_IGN)
    fd = open_file(arg, os.O_RDONLY)
    try:
        fcntl.fcntl(fd, F_SETLEASE, fcntl.F_RDLCK)
    except OSError as e:
        hint = ""
        if e.errno == errno.EAGAIN:
            hint = " (the file is open for writing somewhere, maybe by an earlier action)"
        raise Failure("F_SETLEASE F_RDLCK %s: %s%s" % (arg, e.strerror, hint))
    st = os.fstat(fd)
    _leased.add((st.st_dev, st.st_ino))


def a_deleted(arg):
    fd = open_file(arg)
    do_flock(fd, arg, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        os.unlink(arg)
    except OSError as e:
        raise Failure("unlink %s: %s" % (arg, e.strerror))


def a_pidfile(arg):
    data = b"%d\n" % os.getpid()
    check_not_leased(arg)
    # If an earlier action holds a writable fd on the same inode, write through
    # it: opening and closing a second fd would drop this process's POSIX locks
    # on the file (close() calls locks_remove_posix for the whole inode).
    try:
        st = os.stat(arg)
        fd = _by_inode.get((st.st_dev, st.st_ino))
    except OSError:
        fd = None
    try:
        if fd is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            return
        fd = os.open(arg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as e:
        raise Failure("pidfile %s: %s" % (arg, e.strerror))


def a_inherit(arg):
    fd = open_file(arg, cloexec=False)
    do_flock(fd, arg, fcntl.LOCK_EX | fcntl.LOCK_NB)
    pid = spawn_sleep(fd)
    register_child(pid, reap=True)
    close_file(fd)
    out("child %d" % pid)


def a_inherit_orphan(arg):
    set_subreaper()   # the orphaned sleep is re-parented to us, so we can reap it
    r, w = os.pipe()  # both O_CLOEXEC
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:
        try:
            os.close(r)
            fd = open_file(arg, cloexec=False)
            do_flock(fd, arg, fcntl.LOCK_EX | fcntl.LOCK_NB)
            pid = spawn_sleep(fd)
            os.write(w, b"%d\n" % pid)
            os._exit(0)
        except Failure as e:
            sys.stderr.write("holder.py: inherit-flock-orphan (child): %s\n" % e)
        except BaseException as e:
            sys.stderr.write("holder.py: inherit-flock-orphan (child): %r\n" % (e,))
        sys.stderr.flush()
        os._exit(EXIT_FAIL)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 64)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, status = os.waitpid(child, 0)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0) or not data.strip():
        raise Failure("inherit-flock-orphan: locker child %d failed (status %d)" % (child, status))
    pid = int(data)
    register_child(pid, reap=True)
    out("child %d" % pid)
    out("locker %d" % child)


def a_many_flock(arg):
    d, n = split_count(arg, "many-flock")
    ensure_nofile(n)
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        raise Failure("mkdir %s: %s" % (d, e.strerror))
    for i in range(n):
        p = os.path.join(d, "f%d.lock" % i)
        try:
            fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise Failure("open %s (%d of %d): %s" % (p, i, n, e.strerror))
        _keep.append(fd)
        do_flock(fd, p, fcntl.LOCK_EX | fcntl.LOCK_NB)


def a_many_posix(arg):
    path, n = split_count(arg, "many-posix")
    fd = open_file(path)
    for i in range(n):
        do_fcntl_lock(fd, path, fcntl.F_SETLK, fcntl.F_WRLCK, 2 * i, 1)


def wait_prepare(action, arg):
    """Open (and validate) before 'ready'; return the blocking call."""
    if action == "wait-flock-ex":
        fd = open_file(arg)
        return lambda: do_flock(fd, arg, fcntl.LOCK_EX)
    path, start, length = split_range(arg)
    fd = open_file(path)
    cmd = fcntl.F_SETLKW if action == "wait-posix-w" else F_OFD_SETLKW
    return lambda: do_fcntl_lock(fd, path, cmd, fcntl.F_WRLCK, start, length)


ACTIONS = {
    "flock-ex": lambda a: a_flock(a, fcntl.LOCK_EX),
    "flock-sh": lambda a: a_flock(a, fcntl.LOCK_SH),
    "posix-w": lambda a: a_posix(a, fcntl.F_WRLCK),
    "posix-r": lambda a: a_posix(a, fcntl.F_RDLCK),
    "ofd-w": lambda a: a_posix(a, fcntl.F_WRLCK, F_OFD_SETLK),
    "ofd-r": lambda a: a_posix(a, fcntl.F_RDLCK, F_OFD_SETLK),
    "lease-r": a_lease,
    "deleted-flock": a_deleted,
    "pidfile": a_pidfile,
    "inherit-flock": a_inherit,
    "inherit-flock-orphan": a_inherit_orphan,
    "many-flock": a_many_flock,
    "many-posix": a_many_posix,
}
WAIT_ACTIONS = ("wait-flock-ex", "wait-posix-w", "wait-ofd-w")


def parse(argv):
    if not argv or argv[0] in ("-h", "--help"):
        raise Failure("usage: holder.py ACTION [ACTION ...]\n" + __doc__)
    plan = []
    for i, spec in enumerate(argv):
        name, sep, arg = spec.partition(":")
        if not sep or not arg:
            raise Failure("bad action %r (expected NAME:ARG)" % spec)
        if name in WAIT_ACTIONS:
            if i != len(argv) - 1:
                raise Failure("%s must be the last action" % name)
        elif name not in ACTIONS:
            raise Failure("unknown action %r" % name)
        if name in ("many-flock", "many-posix"):
            split_count(arg, name)
        plan.append((name, arg))
    return plan


def wait_for_eof():
    stdin = sys.stdin.fileno()
    while True:
        try:
            if not os.read(stdin, 65536):
                return
        except OSError as e:
            if e.errno == errno.EINTR:
                continue
            return


def stdin_watcher():
    # Never take process-directed signals in this thread: SIGTERM must hit the
    # main thread so that it interrupts a blocking lock call.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    wait_for_eof()
    finish(0)


def main(argv):
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        plan = parse(argv)
        waiter = None
        for name, arg in plan:
            if name in WAIT_ACTIONS:
                waiter = wait_prepare(name, arg)
            else:
                try:
                    ACTIONS[name](arg)
                except Failure as e:
                    raise Failure("%s: %s" % (name, e))
        out("ready %d" % os.getpid())
        if waiter is not None:
            threading.Thread(target=stdin_watcher, daemon=True).start()
            waiter()
            out("acquired")
            while True:
                signal.pause()
        wait_for_eof()
    except Failure as e:
        sys.stderr.write("holder.py: %s\n" % e)
        sys.stderr.flush()
        finish(EXIT_FAIL)
    except BrokenPipeError:
        finish(EXIT_FAIL)
    finish(0)


if __name__ == "__main__":
    main(sys.argv[1:])
