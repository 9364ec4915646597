//! Examining the walk's candidates: what each file says (at most 4 KiB, never from a
//! leased or special file), which program convention it follows, and where its
//! kernel lock lives.
//!
//! The few disk questions go through [`Disk`], so the examination runs the same on a
//! described system (tests) as on this one ([`LiveDisk`]).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::catalog::{self, Convention, ParsedContent};
use super::content::{self, PidContent};
use super::names::{self, NameKind};
use super::walk::{self, Candidate, FileStat};
use crate::sys::{FileKey, FileType, Snapshot};

/// The disk questions an examination asks.
pub trait Disk {
    /// The first 4 KiB (and one byte more) of the regular file at `path`, which must
    /// still be the file the walk saw (`seen`), opened without following a symlink
    /// in any component and without blocking.
    fn read_head(&self, path: &Path, seen: &FileStat) -> Result<Vec<u8>, String>;
    /// Whether anything exists at `path` (a symlink counts, unfollowed).
    fn exists(&self, path: &Path) -> bool;
    /// The lock-table key of the file at `path`, if it exists.
    fn key_of(&self, snap: &Snapshot, path: &Path) -> Option<FileKey>;
    /// The other names of the file at `path` (`seen`) in its own directory (hard
    /// links).
    fn other_names(&self, path: &Path, seen: &FileStat) -> Vec<String>;
}

/// This system's disk, by absolute path: no component may be a symlink (the
/// paths are the walk's canonical roots or what /proc shows a holder has open).
/// The walk itself uses a disk bound to the directory fd it holds
/// (`walk::DirDisk`), which also reaches paths longer than `PATH_MAX`.
pub struct LiveDisk;

impl Disk for LiveDisk {
    fn read_head(&self, path: &Path, seen: &FileStat) -> Result<Vec<u8>, String> {
        content::read_head(path, seen)
    }

    fn exists(&self, path: &Path) -> bool {
        walk::stat_path(path, false).is_some()
    }

    fn key_of(&self, snap: &Snapshot, path: &Path) -> Option<FileKey> {
        walk::stat_path(path, false).and_then(|st| walk::key_for(snap, &st))
    }

    fn other_names(&self, path: &Path, seen: &FileStat) -> Vec<String> {
        let Some(dir) = path.parent() else {
            return Vec::new();
        };
        walk::hard_links_in(dir, path.file_name().unwrap_or_default(), seen)
    }
}

/// One answer a [`Disk`] gave, as [`Recording`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Head(Result<Vec<u8>, String>),
    Exists(bool),
    Key(Option<FileKey>),
    Names(Vec<String>),
}

/// Which question an [`Answer`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Question {
    Head,
    Exists,
    Key,
    Names,
}

/// A disk that asks another and keeps every answer: the examination of files on a
/// served mount runs in a helper process (`Snapshot::guarded`), which sends the
/// answers back so that the scan repeats the examination from them ([`Replay`]).
pub struct Recording<'a> {
    pub inner: &'a dyn Disk,
    pub log: RefCell<Vec<(Question, PathBuf, Answer)>>,
}

impl<'a> Recording<'a> {
    pub fn new(inner: &'a dyn Disk) -> Self {
        Recording {
            inner,
            log: RefCell::new(Vec::new()),
        }
    }

    fn keep(&self, q: Question, path: &Path, a: Answer) {
        self.log.borrow_mut().push((q, path.to_path_buf(), a));
    }
}

impl Disk for Recording<'_> {
    fn read_head(&self, path: &Path, seen: &FileStat) -> Result<Vec<u8>, String> {
        let a = self.inner.read_head(path, seen);
        self.keep(Question::Head, path, Answer::Head(a.clone()));
        a
    }

    fn exists(&self, path: &Path) -> bool {
        let a = self.inner.exists(path);
        self.keep(Question::Exists, path, Answer::Exists(a));
        a
    }

    fn key_of(&self, snap: &Snapshot, path: &Path) -> Option<FileKey> {
        let a = self.inner.key_of(snap, path);
        self.keep(Question::Key, path, Answer::Key(a));
        a
    }

    fn other_names(&self, path: &Path, seen: &FileStat) -> Vec<String> {
        let a = self.inner.other_names(path, seen);
        self.keep(Question::Names, path, Answer::Names(a.clone()));
        a
    }
}

/// Answers recorded by a [`Recording`] elsewhere. A question it has no answer for
/// was never asked there, and gets the answer "nothing known".
#[derive(Debug, Default)]
pub struct Replay {
    pub answers: HashMap<(Question, PathBuf), Answer>,
}

impl Replay {
    pub fn add(&mut self, log: Vec<(Question, PathBuf, Answer)>) {
        for (q, p, a) in log {
            self.answers.insert((q, p), a);
        }
    }

    fn get(&self, q: Question, path: &Path) -> Option<&Answer> {
        self.answers.get(&(q, path.to_path_buf()))
    }
}

impl Disk for Replay {
    fn read_head(&self, path: &Path, _seen: &FileStat) -> Result<Vec<u8>, String> {
        match self.get(Question::Head, path) {
            Some(Answer::Head(a)) => a.clone(),
            _ => Err("not read: its filesystem's server did not answer".into()),
        }
    }

    fn exists(&self, path: &Path) -> bool {
        matches!(self.get(Question::Exists, path), Some(Answer::Exists(true)))
    }

    fn key_of(&self, _snap: &Snapshot, path: &Path) -> Option<FileKey> {
        match self.get(Question::Key, path) {
            Some(Answer::Key(k)) => *k,
            _ => None,
        }
    }

    fn other_names(&self, path: &Path, _seen: &FileStat) -> Vec<String> {
        match self.get(Question::Names, path) {
            Some(Answer::Names(n)) => n.clone(),
            _ => Vec::new(),
        }
    }
}

/// A file recognised as following a program's convention.
#[derive(Debug, Clone)]
pub struct Recognised {
    pub conv: &'static Convention,
    pub parsed: Parsed,
}

/// What a convention's content parser said; nothing at all for most files (an
/// empty lockfile), which then cost no allocation: a scan of a million empty
/// lockfiles keeps one of these per file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed(Option<Box<ParsedContent>>);

impl From<ParsedContent> for Parsed {
    fn from(p: ParsedContent) -> Parsed {
        if p == ParsedContent::default() {
            Parsed(None)
        } else {
            Parsed(Some(Box::new(p)))
        }
    }
}

impl std::ops::Deref for Parsed {
    type Target = ParsedContent;
    fn deref(&self) -> &ParsedContent {
        static NOTHING: std::sync::OnceLock<ParsedContent> = std::sync::OnceLock::new();
        self.0
            .as_deref()
            .unwrap_or_else(|| NOTHING.get_or_init(ParsedContent::default))
    }
}

/// What the examination found about one candidate (kept in the candidate itself:
/// a scan of a million lockfiles keeps no map from paths to these).
#[derive(Debug, Clone, Default)]
pub struct Exam {
    /// What a pidfile (or a lockfile that carries a pid) says.
    pub content: Option<Box<PidContent>>,
    /// The program convention recognised, with what its content says.
    pub recognised: Option<Recognised>,
    /// For conventions whose kernel lock is on another file (Terraform's state file,
    /// Firefox's .parentlock): that file's key.
    pub lock_site_key: Option<Box<Option<FileKey>>>,
}

/// Every pid the files name (pidfile content, symlink targets), for process context.
pub fn pids(cands: &[Candidate]) -> impl Iterator<Item = i32> + '_ {
    let from_content = cands
        .iter()
        .filter_map(|c| c.exam.content.as_deref())
        .flat_map(|c| match c {
            PidContent::Pid(p) => vec![*p],
            PidContent::LinkName { pids, .. } => pids.clone(),
            _ => Vec::new(),
        });
    let from_links = cands.iter().filter_map(|c| {
        c.symlink_target
            .as_ref()
            .and_then(|t| names::pid_from_symlink_target(&t.to_string_lossy()))
    });
    from_content.chain(from_links)
}

/// Examines `cands`, which a helper process examined already, from the answers its
/// disk gave there (`answers`), without touching the disk here.
pub fn replay(
    examiner: &Examiner,
    cands: &mut [Candidate],
    answers: Vec<(Question, PathBuf, Answer)>,
) {
    let mut replay = Replay::default();
    replay.add(answers);
    for c in cands {
        examiner.examine_one(c, &replay);
    }
}

/// Examines every examinable candidate.
pub fn examine(snap: &Snapshot, cands: &mut [Candidate], disk: &dyn Disk) {
    let ex = Examiner::new(snap);
    for c in cands {
        ex.examine_one(c, disk);
    }
}

/// Examines candidates one at a time (the walk does, while it holds their
/// directory open), with what every examination needs once.
pub struct Examiner<'a> {
    snap: &'a Snapshot,
    leased: HashSet<FileKey>,
    /// Conventions ask about the same few sibling names for every file in a
    /// directory: one lookup per (directory, name).
    siblings: RefCell<HashMap<String, bool>>,
    /// The directory `siblings` is about.
    siblings_of: RefCell<PathBuf>,
}

impl<'a> Examiner<'a> {
    pub fn new(snap: &'a Snapshot) -> Self {
        Examiner {
            snap,
            leased: snap.leased_keys(),
            siblings: Default::default(),
            siblings_of: Default::default(),
        }
    }

    /// Forgets the sibling answers (the walk moves to another directory).
    pub fn next_directory(&self) {
        self.siblings.borrow_mut().clear();
    }

    /// Examines one candidate, adding what it finds to `out`.
    pub fn examine_one(&self, c: &mut Candidate, disk: &dyn Disk) {
        let snap = self.snap;
        let leased = &self.leased;
        let siblings = &self.siblings;
        let ft = c.stat.file_type;
        if !ft.is_examinable() {
            return;
        }
        let target = c
            .symlink_target
            .as_ref()
            .map(|t| t.to_string_lossy().into_owned());
        let parent = c.path.parent().unwrap_or(Path::new("/")).to_path_buf();
        if *self.siblings_of.borrow() != parent {
            siblings.borrow_mut().clear();
            *self.siblings_of.borrow_mut() = parent.clone();
        }
        let sibling_exists = |n: &str| {
            if let Some(hit) = siblings.borrow().get(n) {
                return *hit;
            }
            let there = disk.exists(&parent.join(n));
            siblings.borrow_mut().insert(n.to_string(), there);
            there
        };
        let mut obs = catalog::Observed {
            path: &c.path,
            file_type: ft,
            symlink_target: target.as_deref(),
            content: None,
            sibling_exists: &sibling_exists,
        };
        let leased_file = c.key.is_some_and(|k| leased.contains(&k));
        let size = c.stat.size;
        let regular = ft == FileType::Regular;
        // Lockfiles often carry their owner's pid (UUCP LCK.., hand-written ones); a
        // short, non-empty one is worth a look.
        let pidlike = c.name_kind == Some(NameKind::Pidfile)
            || (c.name_kind == Some(NameKind::Lockfile) && (1..=64).contains(&size));
        // An empty file has nothing to read: say so without opening it (most lockfiles
        // are empty, and a system scan can see tens of thousands of them).
        let head = if regular && size == 0 && !leased_file {
            Some(Ok(Vec::new()))
        } else {
            (regular && !leased_file && (pidlike || catalog::content_would_help(&obs)))
                .then(|| disk.read_head(&c.path, &c.stat))
        };
        obs.content = head
            .as_ref()
            .and_then(|h| h.as_ref().ok())
            .map(|b| b.as_slice());
        let conv = catalog::recognise(&obs);
        let parsed = conv.map(|cv| catalog::parse_content(cv, &obs));
        let mut pid = match (&head, c.name_kind) {
            (None, Some(NameKind::Pidfile)) if leased_file && regular => Some(PidContent::NotRead(
                "the file carries a lease; opening it would start a lease break".into(),
            )),
            (Some(Err(e)), Some(NameKind::Pidfile)) => Some(PidContent::NotRead(e.clone())),
            (Some(Ok(b)), Some(NameKind::Pidfile)) => Some(content::pid_from_head(b, size)),
            (Some(Ok(b)), _) if pidlike => match content::pid_from_head(b, size) {
                PidContent::Pid(p) => Some(PidContent::Pid(p)),
                _ => None,
            },
            _ => None,
        };
        // The convention's own format knows better (`pid 4242`, a Vim swap header, ...).
        if ft != FileType::Symlink
            && !matches!(pid, Some(PidContent::Pid(_)))
            && let Some(p) = parsed.as_ref().and_then(|p| p.pid)
        {
            pid = Some(PidContent::Pid(p));
        }
        // python's lockfile.LinkLockFile: the lock is a hard link, and the owner's
        // pid is in the name of the other link.
        if pid.is_none() && regular && c.stat.nlink >= 2 && c.name_kind == Some(NameKind::Lockfile)
        {
            pid = disk
                .other_names(&c.path, &c.stat)
                .into_iter()
                .find_map(|name| {
                    let pids = content::pids_from_link_name(&name);
                    (!pids.is_empty()).then_some(PidContent::LinkName { name, pids })
                });
        }
        let mut exam = Exam {
            content: pid.map(Box::new),
            ..Default::default()
        };
        if let (Some(conv), Some(parsed)) = (conv, parsed) {
            let site = catalog::kernel_lock_path(conv, &c.path);
            if site != c.path {
                exam.lock_site_key = Some(Box::new(disk.key_of(snap, &site)));
            }
            exam.recognised = Some(Recognised {
                conv,
                parsed: parsed.into(),
            });
        }
        c.exam = exam;
    }
}
