#!/usr/bin/env python3
"""hangfs.py - a FUSE passthrough filesystem that stops answering on demand.

Usage: python3 hangfs.py SRC MNT FSNAME

Mounts the directory SRC at MNT (FUSE, high-level API through fusepy; source
FSNAME, type `fuse.hangfs` in /proc/self/mountinfo) and serves it until it is
unmounted.  Prints "ready <pid>" (flushed) once the kernel has initialised the
mount.

Control is stdin, a path outside the mount, so the test can switch modes even
while every process touching MNT is stuck:
  hang     every request from then on (getattr, lookup, open, opendir,
           readdir, read, write, statfs, release, ...) blocks until "answer";
           prints "hanging"
  answer   the blocked requests and all later ones are served; prints
           "answering"
  EOF      answer, then unmount MNT lazily, so the process exits even if the
           test that started it died.

Why: a FUSE server that stops answering leaves every process that touches the
mount in uninterruptible sleep (it cannot be killed, not even by SIGKILL, while
the server holds the request), which is what an NFS server gone away or a
wedged sshfs does to lockscan on a real host.  Only answering releases them, so
the test's watchdog must be able to say "answer" whatever else is stuck.

No `lock`/`flock` operation is implemented, so the kernel keeps flock and POSIX
locks on these files itself: they show in /proc/locks like local locks and keep
working (and showing) while the server hangs.  Entry and attribute caching is
off, so every stat/lookup of a path under MNT reaches the server (and blocks
while hanging) instead of being answered from the kernel's cache.
"""

import errno
import os
import subprocess
import sys
import threading

try:
    from fuse import FUSE, FuseOSError, Operations
except ImportError as e:  # fusepy (PyPI) and libfuse2 (apt) are needed
    sys.stderr.write("hangfs.py: cannot import fusepy: %s\n" % e)
    sys.exit(3)


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Gate:
    """Open: requests pass.  Closed: they wait until it opens again."""

    def __init__(self):
        self._open = threading.Event()
        self._open.set()

    def wait(self):
        self._open.wait()

    def close(self):
        self._open.clear()

    def open(self):
        self._open.set()


class HangFs(Operations):
    """Passthrough of SRC; every operation first passes the gate."""

    # These two run at mount and unmount time, never on behalf of a caller that
    # could be stuck: gating them would only make the unmount hang.
    UNGATED = ("init", "destroy")

    def __init__(self, src, gate):
        self.src = os.path.realpath(src)
        self.gate = gate

    def __call__(self, op, *args):
        if op not in self.UNGATED:
            self.gate.wait()
        return super().__call__(op, *args)

    def _p(self, path):
        return os.path.join(self.src, path.lstrip("/"))

    def init(self, path):
        out("ready %d" % os.getpid())

    # -- metadata
    def getattr(self, path, fh=None):
        try:
            st = os.lstat(self._p(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return {k: getattr(st, k) for k in (
            "st_mode", "st_ino", "st_nlink", "st_uid", "st_gid", "st_size",
            "st_atime", "st_mtime", "st_ctime")}

    def access(self, path, mode):
        if not os.access(self._p(path), mode):
            raise FuseOSError(errno.EACCES)

    def readlink(self, path):
        return os.readlink(self._p(path))

    def statfs(self, path):
        sv = os.statvfs(self._p(path))
        return {k: getattr(sv, k) for k in (
            "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree",
            "f_files", "f_flag", "f_frsize", "f_namemax")}

    def chmod(self, path, mode):
        os.chmod(self._p(path), mode)

    def chown(self, path, uid, gid):
        os.lchown(self._p(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self._p(path), times, follow_symlinks=False)

    # -- directories
    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._p(path))

    def mkdir(self, path, mode):
        os.mkdir(self._p(path), mode)

    def rmdir(self, path):
        os.rmdir(self._p(path))

    # -- names
    def mknod(self, path, mode, dev):
        os.mknod(self._p(path), mode, dev)

    def unlink(self, path):
        os.unlink(self._p(path))

    def rename(self, old, new):
        os.rename(self._p(old), self._p(new))

    def symlink(self, target, source):
        # fusepy passes (link path, its target).
        os.symlink(source, self._p(target))

    def link(self, target, source):
        os.link(self._p(source), self._p(target))

    # -- files
    def open(self, path, flags):
        return os.open(self._p(path), flags & ~os.O_CREAT)

    def create(self, path, mode, fi=None):
        return os.open(self._p(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._p(path), length)

    def flush(self, path, fh):
        return 0

    def fsync(self, path, datasync, fh):
        os.fsync(fh)

    def release(self, path, fh):
        os.close(fh)


def control(gate, mnt):
    """Reads hang/answer lines from stdin; EOF answers and unmounts."""
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "hang":
            gate.close()
            out("hanging")
        elif cmd == "answer":
            gate.open()
            out("answering")
        elif cmd:
            sys.stderr.write("hangfs.py: unknown command %r\n" % cmd)
    gate.open()
    for argv in (["fusermount", "-u", "-z", mnt], ["umount", "-l", mnt]):
        try:
            if subprocess.call(argv, stderr=subprocess.DEVNULL) == 0:
                return
        except OSError:
            pass


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: hangfs.py SRC MNT FSNAME\n")
        return 3
    src, mnt, fsname = argv
    gate = Gate()
    threading.Thread(target=control, args=(gate, mnt), daemon=True).start()
    FUSE(HangFs(src, gate), mnt, foreground=True, nothreads=False,
         allow_other=True, fsname=fsname, subtype="hangfs",
         attr_timeout=0, entry_timeout=0, negative_timeout=0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
