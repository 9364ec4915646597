//! What a guarded helper process sends back: the walk's candidates and errors, the
//! disk answers its examination got, and probe reports, in a small binary form.
//!
//! Both ends are this same binary (the helper is a fork), so the format needs no
//! versioning; it only has to be lossless (paths are bytes, not text) and to
//! refuse, rather than misread, a message that was cut short.

use std::ffi::OsString;
use std::path::PathBuf;

use super::examine::{Answer, Question};
use super::names::NameKind;
use super::walk::{Candidate, FileStat};
use crate::model::{
    ErrorEntry, LockKind, LockMode, PathBytes, ProbeConflict, ProbeMethod, ProbeReport, ProbeResult,
};
use crate::sys::{FileKey, FileType};

#[derive(Default)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.u64(v as u64);
    }
    pub fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.0.extend_from_slice(v);
    }
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    pub fn path(&mut self, v: &std::path::Path) {
        self.bytes(os_bytes(v.as_os_str()));
    }
    fn opt<T>(&mut self, v: &Option<T>, f: impl FnOnce(&mut Self, &T)) {
        match v {
            None => self.u8(0),
            Some(x) => {
                self.u8(1);
                f(self, x)
            }
        }
    }
    fn key(&mut self, k: &FileKey) {
        self.u32(k.major);
        self.u32(k.minor);
        self.u64(k.ino);
    }

    pub fn candidate(&mut self, c: &Candidate) {
        self.path(&c.path);
        self.opt(&c.name_kind, |e, k| e.u8(index(NameKind::ALL, *k)));
        self.stat(&c.stat);
        self.opt(&c.key, |e, k| e.key(k));
        self.opt(&c.symlink_target, |e, t| e.bytes(os_bytes(t)));
        self.bool(c.explicit);
        self.opt(&c.dir_mode, |e, v| e.u32(*v));
        self.opt(&c.dir_uid, |e, v| e.u32(*v));
    }

    fn stat(&mut self, s: &FileStat) {
        self.u8(index(FileType::ALL, s.file_type));
        self.u64(s.size);
        self.opt(&s.mode, |e, v| e.u32(*v));
        self.opt(&s.uid, |e, v| e.u32(*v));
        self.i64(s.mtime);
        self.u32(s.nlink);
        self.u64(s.ino);
        self.opt(&s.mnt_id, |e, v| e.u64(*v));
        self.u32(s.st_dev.0);
        self.u32(s.st_dev.1);
    }

    pub fn error(&mut self, e: &ErrorEntry) {
        self.str(&e.path);
        self.opt(&e.path_bytes, |w, b| w.bytes(b.bytes()));
        self.str(&e.error);
    }

    pub fn answer(&mut self, q: Question, path: &std::path::Path, a: &Answer) {
        self.u8(q as u8);
        self.path(path);
        match a {
            Answer::Head(Ok(b)) => {
                self.u8(0);
                self.bytes(b)
            }
            Answer::Head(Err(e)) => {
                self.u8(1);
                self.str(e)
            }
            Answer::Exists(v) => {
                self.u8(2);
                self.bool(*v)
            }
            Answer::Key(k) => {
                self.u8(3);
                self.opt(k, |e, k| e.key(k))
            }
            Answer::Names(n) => {
                self.u8(4);
                self.u64(n.len() as u64);
                for s in n {
                    self.str(s);
                }
            }
        }
    }

    pub fn probe(&mut self, r: &ProbeReport) {
        self.u8(index(ProbeMethod::ALL, r.method));
        self.u8(index(ProbeResult::ALL, r.result));
        self.opt(&r.conflict, |e, c| {
            e.u8(index(LockKind::ALL, c.kind));
            e.u8(index(LockMode::ALL, c.mode));
            e.u64(c.start);
            e.opt(&c.end, |e, v| e.u64(*v));
            e.opt(&c.pid, |e, v| e.u32(*v as u32));
        });
        self.opt(&r.note, |e, n| e.str(n));
    }
}

fn index<T: PartialEq + Copy>(all: &[T], v: T) -> u8 {
    all.iter().position(|x| *x == v).unwrap_or(0) as u8
}

#[cfg(unix)]
fn os_bytes(s: &std::ffi::OsStr) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes()
}

#[cfg(not(unix))]
fn os_bytes(s: &std::ffi::OsStr) -> &[u8] {
    s.as_encoded_bytes()
}

#[cfg(unix)]
fn os_string(b: Vec<u8>) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(b)
}

#[cfg(not(unix))]
fn os_string(b: Vec<u8>) -> OsString {
    // SAFETY: the bytes came from `as_encoded_bytes` of this same binary.
    unsafe { OsString::from_encoded_bytes_unchecked(b) }
}

/// A message that ended early or holds a value out of range.
#[derive(Debug)]
pub struct Truncated;

pub struct Dec<'a> {
    buf: &'a [u8],
}

type R<T> = Result<T, Truncated>;

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Dec { buf }
    }
    pub fn done(&self) -> bool {
        self.buf.is_empty()
    }
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Truncated);
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    pub fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> R<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    pub fn u64(&mut self) -> R<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn i64(&mut self) -> R<i64> {
        Ok(self.u64()? as i64)
    }
    fn bool(&mut self) -> R<bool> {
        Ok(self.u8()? != 0)
    }
    pub fn bytes(&mut self) -> R<Vec<u8>> {
        let n = usize::try_from(self.u64()?).map_err(|_| Truncated)?;
        Ok(self.take(n)?.to_vec())
    }
    pub fn string(&mut self) -> R<String> {
        String::from_utf8(self.bytes()?).map_err(|_| Truncated)
    }
    pub fn path(&mut self) -> R<PathBuf> {
        Ok(PathBuf::from(os_string(self.bytes()?)))
    }
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<Option<T>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(f(self)?)),
            _ => Err(Truncated),
        }
    }
    fn pick<T: Copy>(&mut self, all: &[T]) -> R<T> {
        all.get(self.u8()? as usize).copied().ok_or(Truncated)
    }
    fn key(&mut self) -> R<FileKey> {
        Ok(FileKey {
            major: self.u32()?,
            minor: self.u32()?,
            ino: self.u64()?,
        })
    }

    pub fn candidate(&mut self) -> R<Candidate> {
        Ok(Candidate {
            path: self.path()?,
            name_kind: self.opt(|d| d.pick(NameKind::ALL))?,
            stat: self.stat()?,
            key: self.opt(|d| d.key())?,
            symlink_target: self.opt(|d| Ok(os_string(d.bytes()?)))?,
            explicit: self.bool()?,
            dir_mode: self.opt(|d| d.u32())?,
            dir_uid: self.opt(|d| d.u32())?,
            exam: Default::default(),
        })
    }

    fn stat(&mut self) -> R<FileStat> {
        Ok(FileStat {
            file_type: self.pick(FileType::ALL)?,
            size: self.u64()?,
            mode: self.opt(|d| d.u32())?,
            uid: self.opt(|d| d.u32())?,
            mtime: self.i64()?,
            nlink: self.u32()?,
            ino: self.u64()?,
            mnt_id: self.opt(|d| d.u64())?,
            st_dev: (self.u32()?, self.u32()?),
        })
    }

    pub fn error(&mut self) -> R<ErrorEntry> {
        Ok(ErrorEntry {
            path: self.string()?,
            path_bytes: self.opt(|d| Ok(PathBytes(d.bytes()?.into())))?,
            error: self.string()?,
        })
    }

    pub fn answer(&mut self) -> R<(Question, PathBuf, Answer)> {
        let q = self.pick(&[
            Question::Head,
            Question::Exists,
            Question::Key,
            Question::Names,
        ])?;
        let path = self.path()?;
        let a = match self.u8()? {
            0 => Answer::Head(Ok(self.bytes()?)),
            1 => Answer::Head(Err(self.string()?)),
            2 => Answer::Exists(self.bool()?),
            3 => Answer::Key(self.opt(|d| d.key())?),
            4 => {
                let n = self.u64()?;
                let mut v = Vec::new();
                for _ in 0..n {
                    v.push(self.string()?);
                }
                Answer::Names(v)
            }
            _ => return Err(Truncated),
        };
        Ok((q, path, a))
    }

    pub fn probe(&mut self) -> R<ProbeReport> {
        Ok(ProbeReport {
            method: self.pick(ProbeMethod::ALL)?,
            result: self.pick(ProbeResult::ALL)?,
            conflict: self.opt(|d| {
                Ok(ProbeConflict {
                    kind: d.pick(LockKind::ALL)?,
                    mode: d.pick(LockMode::ALL)?,
                    start: d.u64()?,
                    end: d.opt(|d| d.u64())?,
                    pid: d.opt(|d| Ok(d.u32()? as i32))?,
                })
            })?,
            note: self.opt(|d| d.string())?,
        })
    }
}

/// What a helper that walked or looked at files sends back: how many directory
/// entries it saw, the candidates (not yet examined), errors, and every answer its
/// examination got from the disk (to replay, see `examine::Replay`).
#[derive(Debug, Default)]
pub struct Found {
    pub entries: usize,
    pub candidates: Vec<Candidate>,
    pub errors: Vec<ErrorEntry>,
    pub answers: Vec<(Question, PathBuf, Answer)>,
}

impl Found {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.u64(self.entries as u64);
        e.u64(self.candidates.len() as u64);
        for c in &self.candidates {
            e.candidate(c);
        }
        e.u64(self.errors.len() as u64);
        for err in &self.errors {
            e.error(err);
        }
        e.u64(self.answers.len() as u64);
        for (q, p, a) in &self.answers {
            e.answer(*q, p, a);
        }
        e.0
    }

    pub fn decode(bytes: &[u8]) -> Result<Found, Truncated> {
        let mut d = Dec::new(bytes);
        let entries = d.u64()? as usize;
        let n = d.u64()?;
        let candidates = (0..n).map(|_| d.candidate()).collect::<R<Vec<_>>>()?;
        let n = d.u64()?;
        let errors = (0..n).map(|_| d.error()).collect::<R<Vec<_>>>()?;
        let n = d.u64()?;
        let answers = (0..n).map(|_| d.answer()).collect::<R<Vec<_>>>()?;
        if !d.done() {
            return Err(Truncated);
        }
        Ok(Found {
            entries,
            candidates,
            errors,
            answers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand() -> Candidate {
        Candidate {
            path: PathBuf::from("/mnt/nfs/run/app.pid"),
            name_kind: Some(NameKind::Pidfile),
            stat: FileStat {
                file_type: FileType::Regular,
                size: 5,
                mode: Some(0o644),
                uid: Some(1000),
                mtime: -3,
                nlink: 1,
                ino: 257,
                mnt_id: Some(42),
                st_dev: (0, 51),
            },
            key: Some(FileKey {
                major: 0,
                minor: 51,
                ino: 257,
            }),
            symlink_target: Some(OsString::from("host:4242")),
            explicit: false,
            dir_mode: Some(0o1777),
            dir_uid: None,
            exam: Default::default(),
        }
    }

    #[test]
    fn what_a_helper_sends_comes_back_the_same() {
        let c = cand();
        let answers = [
            (Question::Head, Answer::Head(Ok(b"4242\n".to_vec()))),
            (Question::Head, Answer::Head(Err("EACCES".into()))),
            (Question::Exists, Answer::Exists(true)),
            (Question::Key, Answer::Key(c.key)),
            (Question::Names, Answer::Names(vec!["a".into(), "b".into()])),
        ];
        let probe = ProbeReport {
            method: ProbeMethod::GetlkAcquire,
            result: ProbeResult::Held,
            conflict: Some(ProbeConflict {
                kind: LockKind::Ofd,
                mode: LockMode::Write,
                start: 0,
                end: None,
                pid: Some(-1),
            }),
            note: Some("n".into()),
        };
        let mut e = Enc::default();
        e.candidate(&c);
        for (q, a) in &answers {
            e.answer(*q, &c.path, a);
        }
        e.probe(&probe);
        let mut d = Dec::new(&e.0);
        let back = d.candidate().unwrap();
        assert_eq!(back.path, c.path);
        assert_eq!(back.stat, c.stat);
        assert_eq!(back.key, c.key);
        assert_eq!(back.symlink_target, c.symlink_target);
        for (q, a) in &answers {
            assert_eq!(d.answer().unwrap(), (*q, c.path.clone(), a.clone()));
        }
        assert_eq!(d.probe().unwrap(), probe);
        assert!(d.done());
    }

    #[test]
    fn a_message_cut_short_is_refused_not_misread() {
        let mut e = Enc::default();
        e.candidate(&cand());
        for n in 0..e.0.len() {
            assert!(Dec::new(&e.0[..n]).candidate().is_err(), "cut at {n}");
        }
    }
}
