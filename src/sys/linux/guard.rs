//! Calls that may wait on a filesystem server, run where lockscan can walk away.
//!
//! A FUSE request that reaches a server which never answers cannot be
//! interrupted: fs/fuse/dev.c `request_wait_answer` ends in an uninterruptible
//! wait once the server has read the request, and a dead NFS or SMB server leaves
//! callers in the same state. A thread stuck there stops the whole process from
//! exiting (even SIGKILL waits for it), so a watchdog thread is no answer. Like
//! lsof (which forks for each `stat`/`readlink` that may block and gives up after
//! `-S` seconds), every such call runs in a forked child process: the parent waits
//! for its answer with a deadline and, when the deadline passes, kills it and
//! leaves it to the kernel. The parent never makes the call itself, so it always
//! finishes.
//!
//! The deadline is one of *inactivity*: a child doing long work (walking a big,
//! healthy NFS tree) reports progress, and only a child that says nothing for the
//! whole deadline is given up on.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// What a guarded call came to.
#[derive(Debug)]
pub enum Guarded {
    /// The child finished; its answer.
    Done(Vec<u8>),
    /// The child said nothing for the whole deadline and was abandoned.
    TimedOut { waited: Duration },
    /// The child could not be started, or died without an answer.
    Failed(String),
}

/// Lets the child's work say it is still making progress.
pub struct Progress {
    fd: OwnedFd,
    last: Instant,
}

impl Progress {
    /// Says "still alive" (at most every 100 ms, so a fast walk costs nothing).
    pub fn tick(&mut self) {
        if self.last.elapsed() >= Duration::from_millis(100) {
            self.last = Instant::now();
            let _ = rustix::io::write(&self.fd, b".");
        }
    }
}

const ANSWER: u8 = b'R';

/// Runs `work` in a forked child and returns what it returned, unless the child
/// stays silent for `idle`.
///
/// The child writes nothing to our stdout or stderr (they become /dev/null, so an
/// abandoned child holds no pipe a caller waits on) and leaves with `_exit`, never
/// running the parent's exit handlers or destructors.
pub fn run<F>(idle: Duration, work: F) -> Guarded
where
    F: FnOnce(&mut Progress) -> Vec<u8>,
{
    let (read_end, write_end) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok(p) => p,
        Err(e) => return Guarded::Failed(format!("pipe: {e}")),
    };
    // SAFETY: the child only runs `work` (which allocates: glibc's malloc is made
    // fork-safe by its atfork handlers) and async-signal-safe calls, then `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Guarded::Failed(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(read_end);
        child(write_end, work);
    }
    drop(write_end);
    wait_for_answer(read_end, pid, idle)
}

fn child<F>(write_end: OwnedFd, work: F) -> !
where
    F: FnOnce(&mut Progress) -> Vec<u8>,
{
    // SAFETY: plain syscalls on fds this process owns.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null >= 0 {
            for fd in 0..=2 {
                libc::dup2(null, fd);
            }
        }
    }
    let mut progress = Progress {
        fd: write_end,
        last: Instant::now(),
    };
    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut progress)))
    {
        Ok(answer) => {
            let mut out = Vec::with_capacity(answer.len() + 9);
            out.push(ANSWER);
            out.extend_from_slice(&(answer.len() as u64).to_le_bytes());
            out.extend_from_slice(&answer);
            // SAFETY: the fd stays open until `_exit`.
            let mut pipe = unsafe { std::fs::File::from_raw_fd(progress.fd.as_raw_fd()) };
            let ok = pipe.write_all(&out).is_ok();
            std::mem::forget(pipe);
            if ok { 0 } else { 1 }
        }
        Err(_) => 2,
    };
    // SAFETY: ends the child without unwinding into the parent's code.
    unsafe { libc::_exit(code) }
}

fn wait_for_answer(read_end: OwnedFd, pid: libc::pid_t, idle: Duration) -> Guarded {
    let started = Instant::now();
    let mut last = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let left = idle.saturating_sub(last.elapsed());
        if left.is_zero() {
            // SAFETY: our own child; it is never waited for (it may never die).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return Guarded::TimedOut {
                waited: started.elapsed(),
            };
        }
        let mut fds = [rustix::event::PollFd::new(
            &read_end,
            rustix::event::PollFlags::IN,
        )];
        let timeout = rustix::time::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        };
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Guarded::Failed(format!("poll: {e}")),
        }
        match rustix::io::read(&read_end, &mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                last = Instant::now();
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(rustix::io::Errno::INTR) | Err(rustix::io::Errno::AGAIN) => {}
            Err(e) => return Guarded::Failed(format!("read: {e}")),
        }
    }
    // EOF: the child has closed its end, i.e. it is exiting. Reap it without
    // waiting long (it cannot be stuck any more, but never block on it anyway).
    for _ in 0..50 {
        let mut status = 0;
        // SAFETY: our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r != 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let Some(start) = buf.iter().position(|b| *b == ANSWER) else {
        return Guarded::Failed("the helper process ended without an answer".into());
    };
    let rest = &buf[start + 1..];
    if rest.len() < 8 {
        return Guarded::Failed("the helper process's answer was cut short".into());
    }
    let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
    if rest.len() - 8 != len {
        return Guarded::Failed("the helper process's answer was cut short".into());
    }
    Guarded::Done(rest[8..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_comes_back_whole() {
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let want = big.clone();
        match run(Duration::from_secs(5), move |p| {
            p.tick();
            big
        }) {
            Guarded::Done(b) => assert_eq!(b, want),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_silent_child_is_abandoned_at_the_deadline() {
        let t = Instant::now();
        let r = run(Duration::from_millis(300), |_| {
            std::thread::sleep(Duration::from_secs(30));
            Vec::new()
        });
        assert!(matches!(r, Guarded::TimedOut { .. }), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn progress_keeps_a_slow_child_alive() {
        let r = run(Duration::from_millis(400), |p| {
            for _ in 0..12 {
                std::thread::sleep(Duration::from_millis(110));
                p.tick();
            }
            b"done".to_vec()
        });
        assert!(matches!(r, Guarded::Done(ref b) if b == b"done"), "{r:?}");
    }

    #[test]
    fn a_panicking_child_is_a_failure_not_a_hang() {
        let r = run(Duration::from_secs(5), |_| panic!("boom"));
        assert!(matches!(r, Guarded::Failed(_)), "{r:?}");
    }
}
