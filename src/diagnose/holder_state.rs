use super::{Context, Found, Rule, describe, parent_chain};
use crate::model::{AdviceAction, FileReport, FindingCode, ProcessRef, ProcessState, Severity};

pub static STOPPED: Rule = Rule {
    code: FindingCode::HolderStopped,
    severity: Severity::Warning,
    explanation: "A process holding the lock is stopped (state T), typically by Ctrl+Z in a \
terminal or a debugger. It will hold the lock until it is continued or ended; everyone else \
waits or fails.",
    file: Some(|f, _| {
        state_check(
            f,
            &[ProcessState::Stopped, ProcessState::TracingStop],
            stopped,
        )
    }),
    global: None,
};

pub static WAITING_INPUT: Rule = Rule {
    code: FindingCode::HolderWaitingInput,
    severity: Severity::Warning,
    explanation: "A process holding the lock is blocked reading from a terminal: it waits for \
someone to answer a prompt, and holds the lock meanwhile.",
    file: Some(waiting_input),
    global: None,
};

pub static ZOMBIE: Rule = Rule {
    code: FindingCode::HolderZombie,
    severity: Severity::Warning,
    explanation: "A holder is a zombie: its main thread has exited. Locks held through files of \
its remaining threads stay until they exit, and its parent has not reaped it.",
    file: Some(|f, _| state_check(f, &[ProcessState::Zombie], zombie)),
    global: None,
};

pub static UNINTERRUPTIBLE: Rule = Rule {
    code: FindingCode::HolderUninterruptible,
    severity: Severity::Warning,
    explanation: "A holder is in uninterruptible sleep (state D), usually waiting on a hung \
network mount or a failing disk. It cannot be killed until the I/O completes, and holds the lock \
meanwhile.",
    file: Some(|f, _| state_check(f, &[ProcessState::DiskSleep], uninterruptible)),
    global: None,
};

fn stopped(p: &ProcessRef, chain: &str) -> Found {
    Found {
        message: format!("holder {} is stopped (state T){chain}", describe(p)),
        hint: format!(
            "The holder is suspended: continue it with `kill -CONT {}` (or `fg` in its terminal), or end it.",
            p.pid
        ),
        action: AdviceAction::ActOnHolder,
        severity: None,
    }
}

fn zombie(p: &ProcessRef, chain: &str) -> Found {
    Found {
        message: format!("holder {} is a zombie{chain}", describe(p)),
        hint: format!(
            "Its remaining threads keep the lock; end them (`kill -9 {}`) and check why its parent does not reap it.",
            p.pid
        ),
        action: AdviceAction::ActOnHolder,
        severity: None,
    }
}

fn uninterruptible(p: &ProcessRef, chain: &str) -> Found {
    Found {
        message: format!(
            "holder {} is in uninterruptible sleep (state D){}{chain}",
            describe(p),
            p.wchan.as_deref().map(|w| format!(" in {w}")).unwrap_or_default()
        ),
        hint: "Look for a hung mount or failing disk (dmesg, mount); the holder cannot be killed until its I/O returns."
            .into(),
        action: AdviceAction::Investigate,
        severity: None,
    }
}

fn chain_text(p: &ProcessRef) -> String {
    let chain = parent_chain(p);
    if chain.is_empty() {
        String::new()
    } else {
        format!("; started by {}", chain.join(" <- "))
    }
}

fn state_check(
    file: &FileReport,
    states: &[ProcessState],
    make: fn(&ProcessRef, &str) -> Found,
) -> Option<Found> {
    let p = file
        .holders()
        .find(|h| h.state.is_some_and(|s| states.contains(&s)))?;
    Some(make(p, &chain_text(p)))
}

/// Kernel functions a process sleeps in while reading a terminal.
const TTY_READ_WCHANS: &[&str] = &["n_tty_read", "wait_woken", "tty_read"];

/// Kernel functions a process sleeps in while it waits in poll, select or epoll: at
/// a prompt when it is the foreground job of the terminal on its stdin (certbot's
/// e-mail prompt), otherwise on sockets or pipes.
const POLL_WCHANS: &[&str] = &[
    "do_sys_poll",
    "do_select",
    "core_sys_select",
    "ep_poll",
    "do_epoll_wait",
    "poll_schedule_timeout",
];

/// Waits for someone to type: reading its terminal, or polling it in the foreground.
fn waits_for_input(h: &ProcessRef) -> bool {
    // Compilers rename static functions (`poll_schedule_timeout.constprop.0`).
    let Some(w) = h.wchan.as_deref().and_then(|w| w.split('.').next()) else {
        return false;
    };
    h.state == Some(ProcessState::Sleeping)
        && h.tty.is_some()
        && (TTY_READ_WCHANS.contains(&w)
            || (POLL_WCHANS.contains(&w) && h.tty_foreground == Some(true)))
}

fn waiting_input(file: &FileReport, _ctx: &Context) -> Option<Found> {
    let p = file.holders().find(|h| waits_for_input(h))?;
    Some(Found {
        message: format!(
            "holder {} is waiting for input on {}{}",
            describe(p),
            p.tty.as_deref().unwrap_or("a terminal"),
            chain_text(p)
        ),
        hint: format!(
            "Someone must answer its prompt on {} (or end it with `kill {}`); it holds the lock until then.",
            p.tty.as_deref().unwrap_or("its terminal"),
            p.pid
        ),
        action: AdviceAction::ActOnHolder,
        severity: None,
    })
}
