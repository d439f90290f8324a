//! Whether a process has stopped to wait, told from outside: the system call it
//! sleeps in (/proc/PID/syscall), its scheduler state (/proc/PID/stat) and the
//! kernel function it sleeps in (/proc/PID/wchan). None of these stops or
//! traces the process, so it runs at full speed between checkpoints.
//!
//! The parsers are pure over the files' text; [`observe`] reads them through
//! a [`Probe`] (the live /proc, or a captured tree in tests).

use std::fmt;

use nix::sys::signal::Signal;

use crate::model::ProcessState;
use crate::probe::Probe;

/// The ways a program waits for its reader that the harness recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    /// Blocked in read(2) or readv(2) on its standard input (fd 0): the
    /// writings' "press enter" (`getchar()`, `input()`).
    Stdin,
    /// In pause(2): only a signal with a handler ends it.
    Pause,
    /// In rt_sigsuspend(2) (`sigsuspend()`): the same, with a temporary mask.
    SigSuspend,
    /// Stopped by a signal (`raise(SIGSTOP)`, `kill -STOP`): SIGCONT resumes it.
    Stopped,
}

impl fmt::Display for WaitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitKind::Stdin => "reads its standard input",
            WaitKind::Pause => "waits in pause()",
            WaitKind::SigSuspend => "waits in sigsuspend()",
            WaitKind::Stopped => "is stopped (SIGSTOP)",
        })
    }
}

/// What /proc/PID/syscall says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyscallLine {
    /// On a CPU or runnable: not blocked.
    Running,
    /// Blocked outside any system call (`-1 sp pc`).
    NotInSyscall,
    /// Blocked in system call `number` with these six arguments.
    Blocked {
        /// The system call number of this architecture.
        number: i64,
        /// Its six arguments.
        args: [u64; 6],
    },
}

/// Parses /proc/PID/syscall: `running`, `-1 SP PC`, or `NR A1 .. A6 SP PC`.
pub fn parse_syscall(text: &str) -> Option<SyscallLine> {
    let text = text.trim();
    if text == "running" {
        return Some(SyscallLine::Running);
    }
    let mut words = text.split_whitespace();
    let number: i64 = words.next()?.parse().ok()?;
    if number < 0 {
        return Some(SyscallLine::NotInSyscall);
    }
    let mut args = [0u64; 6];
    for arg in &mut args {
        let word = words.next()?;
        *arg = u64::from_str_radix(word.strip_prefix("0x").unwrap_or(word), 16).ok()?;
    }
    Some(SyscallLine::Blocked { number, args })
}

/// The one-letter state of a /proc/PID/stat line (`R`, `S`, `D`, `T`, `t`, `Z`);
/// fields count from the last `)`, since the command name may hold spaces.
pub fn parse_state(stat: &str) -> Option<char> {
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// A signal mask field of /proc/PID/status (`SigCgt`, `SigBlk`, `SigPnd`, `ShdPnd`).
pub fn parse_signal_mask(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        u64::from_str_radix(value.trim(), 16).ok()
    })
}

/// What one look at a process found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The scheduler state letter.
    pub state: char,
    /// The system call it is blocked in, if readable.
    pub syscall: Option<SyscallLine>,
    /// The kernel function it sleeps in (`pipe_read`, `__do_sys_pause`), or empty.
    pub wchan: String,
}

/// Classifies an observation. A read of fd 0 counts only when `stdin_is_ours`
/// says the process's fd 0 is the pipe the harness feeds (so a newline resumes it).
pub fn classify(observation: &Observation, stdin_is_ours: &impl Fn() -> bool) -> Option<WaitKind> {
    match observation.state {
        'T' => return Some(WaitKind::Stopped),
        'S' => {}
        _ => return None,
    }
    let Some(SyscallLine::Blocked { number, args }) = observation.syscall else {
        return None;
    };
    // The system call numbers are libc's: nix has no table of them.
    if (number == libc::SYS_read || number == libc::SYS_readv) && args[0] == 0 {
        return stdin_is_ours().then_some(WaitKind::Stdin);
    }
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    if number == libc::SYS_pause {
        return Some(WaitKind::Pause);
    }
    if number == libc::SYS_rt_sigsuspend {
        return Some(WaitKind::SigSuspend);
    }
    None
}

/// Reads the three files of `pid` (its main thread) through `probe`; `None`
/// once it is gone.
pub fn observe(probe: &dyn Probe, pid: i32) -> Option<Observation> {
    observe_in(probe, pid, "")
}

/// Reads stat, syscall and wchan of the task at `folder` of `pid`'s /proc
/// folder (empty for the main thread, `task/TID/` for another).
fn observe_in(probe: &dyn Probe, pid: i32, folder: &str) -> Option<Observation> {
    let read = |file: &str| probe.process_text(pid, &format!("{folder}{file}"));
    let state = parse_state(&read("stat")?)?;
    let syscall = read("syscall").and_then(|t| parse_syscall(&t));
    let wchan = read("wchan").unwrap_or_default();
    Some(Observation {
        state,
        syscall,
        wchan: wchan.trim().to_string(),
    })
}

/// A thread other than the main one of a multi-threaded `pid` that reads the
/// standard input (Go, Java and threaded Python programs may read it from any
/// thread). Only stdin counts here: a signal that ends a pause() may be taken
/// by another thread, so pause() and sigsuspend() count in the main thread only.
pub fn thread_reading_stdin(
    probe: &dyn Probe,
    pid: i32,
    stdin_is_ours: impl Fn() -> bool,
) -> Option<Observation> {
    probe
        .threads(pid)
        .into_iter()
        .filter(|tid| *tid != pid)
        .find_map(|tid| {
            let seen = observe_in(probe, pid, &format!("task/{tid}/"))?;
            let reads = classify(&seen, &stdin_is_ours) == Some(WaitKind::Stdin);
            reads.then_some(seen)
        })
}

/// The signals a process in pause() or sigsuspend() would run a handler for
/// (caught and not blocked), in the order the harness prefers to send them: the
/// user signals first, the ones that usually mean "stop" last. `None` when it
/// catches none: then nothing but a fatal signal ends the wait.
pub fn signal_to_resume(status: &str) -> Option<i32> {
    let caught = parse_signal_mask(status, "SigCgt")?;
    let blocked = parse_signal_mask(status, "SigBlk").unwrap_or(0);
    let usable = caught & !blocked;
    let bit = |sig: i32| 1u64 << (sig - 1);
    let preferred = [
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGCONT,
        Signal::SIGALRM,
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGTERM,
    ];
    preferred
        .into_iter()
        .map(|s| s as i32)
        .find(|s| usable & bit(*s) != 0)
        .or_else(|| (1..=64).find(|s| usable & bit(*s) != 0))
}

/// Whether `signal` still waits to be delivered to the process (SigPnd or ShdPnd).
pub fn signal_pending(status: &str, signal: i32) -> bool {
    let bit = 1u64 << (signal - 1);
    ["SigPnd", "ShdPnd"]
        .iter()
        .any(|f| parse_signal_mask(status, f).is_some_and(|m| m & bit != 0))
}

/// A quick look at a process before and after it is read: its scheduler
/// state and the CPU time it has used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glance {
    /// The scheduler state letter.
    pub state: char,
    /// Nanoseconds on a CPU so far (/proc/PID/schedstat), if readable.
    pub cpu_nanos: Option<u64>,
}

/// Looks at `pid` through `probe`; `None` once it is gone.
pub fn glance(probe: &dyn Probe, pid: i32) -> Option<Glance> {
    let stat = probe.process_text(pid, "stat")?;
    let cpu_nanos = probe
        .process_text(pid, "schedstat")
        .and_then(|s| s.split_whitespace().next()?.parse().ok());
    Some(Glance {
        state: parse_state(&stat)?,
        cpu_nanos,
    })
}

/// What a process was doing while it was read, from a look just before and
/// just after; `at_checkpoint` when the harness (or the SDK) holds it at the
/// checkpoint being taken.
pub fn state_over(
    at_checkpoint: bool,
    before: Option<Glance>,
    after: Option<Glance>,
) -> ProcessState {
    let Some(before) = before else {
        return ProcessState::Exiting;
    };
    let letters = [Some(before.state), after.map(|a| a.state)];
    if letters
        .iter()
        .flatten()
        .any(|c| matches!(c, 'Z' | 'X' | 'x'))
    {
        return ProcessState::Exiting;
    }
    if at_checkpoint {
        return ProcessState::Waiting;
    }
    let Some(after) = after else {
        return ProcessState::Exiting;
    };
    if matches!(before.state, 'T' | 't') && matches!(after.state, 'T' | 't') {
        return ProcessState::Stopped;
    }
    let ran = before.state == 'R'
        || after.state == 'R'
        || matches!((before.cpu_nanos, after.cpu_nanos), (Some(x), Some(y)) if x != y);
    if ran {
        ProcessState::Running
    } else {
        ProcessState::Sleeping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured on Linux 6.18 x86_64: `sleep 100`, and a Python process in signal.pause().
    const NANOSLEEP: &str =
        "230 0x0 0x0 0x7fff2a473600 0x7fff2a473640 0x0 0x0 0x7fff2a4735e8 0x7f7d42e80503\n";
    const PAUSE: &str =
        "34 0x7efc90f4e6f8 0x0 0x0 0x7efc90837fa0 0x0 0x0 0x7ffe8c5cec38 0x7efc908f1dd0\n";
    const READ_STDIN: &str =
        "0 0x0 0x55d0c1a2b2a0 0x400 0x0 0x0 0x0 0x7ffc5e1e0b58 0x7f5a2d51e7e2\n";
    const STAT: &str =
        "30114 (python3 -c) S 1 30114 1 0 -1 4194304 1023 0 0 0 3 1 0 0 20 0 1 0 1 1 1\n";

    fn seen(state: char, syscall: &str) -> Observation {
        Observation {
            state,
            syscall: parse_syscall(syscall),
            wchan: String::new(),
        }
    }

    #[test]
    fn syscall_lines_parse_in_their_three_forms() {
        assert_eq!(parse_syscall("running\n"), Some(SyscallLine::Running));
        assert_eq!(
            parse_syscall("-1 0x7ffe8c5cec38 0x7efc908f1dd0"),
            Some(SyscallLine::NotInSyscall)
        );
        let Some(SyscallLine::Blocked { number, args }) = parse_syscall(NANOSLEEP) else {
            panic!("not parsed as blocked");
        };
        assert_eq!(number, 230);
        assert_eq!(args[2], 0x7fff2a473600);
        assert_eq!(parse_syscall("0 0x0"), None);
    }

    #[test]
    fn the_state_is_read_past_a_command_name_with_spaces() {
        assert_eq!(parse_state(STAT), Some('S'));
        assert_eq!(parse_state("7 (a) b) T 1"), Some('T'));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn waits_are_told_apart_from_other_sleeps() {
        assert_eq!(
            classify(&seen('S', READ_STDIN), &|| true),
            Some(WaitKind::Stdin)
        );
        assert_eq!(classify(&seen('S', READ_STDIN), &|| false), None);
        assert_eq!(classify(&seen('S', PAUSE), &|| true), Some(WaitKind::Pause));
        assert_eq!(classify(&seen('S', NANOSLEEP), &|| true), None);
        assert_eq!(classify(&seen('R', "running"), &|| true), None);
        assert_eq!(
            classify(&seen('T', "running"), &|| true),
            Some(WaitKind::Stopped)
        );
        assert_eq!(classify(&seen('Z', PAUSE), &|| true), None);
    }

    #[test]
    fn the_resuming_signal_is_a_caught_unblocked_one() {
        // SIGUSR1 (10) and SIGINT (2) caught; SIGUSR1 blocked.
        let status = "SigPnd:\t0000000000000000\nShdPnd:\t0000000000000200\nSigBlk:\t0000000000000200\nSigCgt:\t0000000000000202\n";
        assert_eq!(signal_to_resume(status), Some(Signal::SIGINT as i32));
        assert!(signal_pending(status, Signal::SIGUSR1 as i32));
        assert!(!signal_pending(status, Signal::SIGINT as i32));
        let none = "SigBlk:\t0000000000000000\nSigCgt:\t0000000000000000\n";
        assert_eq!(signal_to_resume(none), None);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_captured_processes_are_seen_in_their_waits() {
        let probe = crate::probe::traced();
        let sleep = observe(&probe, 29691).expect("sleep is there");
        assert_eq!(sleep.state, 'S');
        assert_eq!(sleep.wchan, "hrtimer_nanosleep");
        assert!(matches!(
            sleep.syscall,
            Some(SyscallLine::Blocked { number: 230, .. })
        ));
        assert_eq!(classify(&sleep, &|| true), None);
        let cat = observe(&probe, 29692).unwrap();
        assert_eq!(classify(&cat, &|| true), Some(WaitKind::Stdin));
        let python = observe(&probe, 29689).unwrap();
        assert_eq!(classify(&python, &|| true), Some(WaitKind::Pause));
        assert_eq!(python.wchan, "__do_sys_pause");
        let reader = thread_reading_stdin(&probe, 29689, || true).expect("thread 29795");
        assert_eq!(reader.wchan, "anon_pipe_read");
        assert_eq!(thread_reading_stdin(&probe, 29689, || false), None);
        assert_eq!(
            thread_reading_stdin(&probe, 29692, || true),
            None,
            "one thread"
        );
        assert_eq!(observe(&probe, 4), None, "no such process");
        assert_eq!(
            glance(&probe, 29691),
            Some(Glance {
                state: 'S',
                cpu_nanos: Some(1228952)
            })
        );
    }

    #[test]
    fn the_captured_pause_is_ended_by_the_signal_it_catches() {
        let status = crate::probe::traced()
            .process_text(29689, "status")
            .unwrap();
        assert_eq!(signal_to_resume(&status), Some(Signal::SIGUSR1 as i32));
        assert!(!signal_pending(&status, Signal::SIGUSR1 as i32));
    }

    #[test]
    fn a_process_not_held_at_the_checkpoint_is_running_if_it_used_cpu_while_read() {
        let at = |state, cpu| {
            Some(Glance {
                state,
                cpu_nanos: Some(cpu),
            })
        };
        assert_eq!(
            state_over(true, at('S', 1), at('S', 1)),
            ProcessState::Waiting
        );
        assert_eq!(
            state_over(false, at('S', 1), at('S', 1)),
            ProcessState::Sleeping
        );
        assert_eq!(
            state_over(false, at('S', 1), at('S', 9)),
            ProcessState::Running
        );
        assert_eq!(
            state_over(false, at('R', 1), at('S', 1)),
            ProcessState::Running
        );
        assert_eq!(
            state_over(false, at('T', 1), at('T', 1)),
            ProcessState::Stopped
        );
        assert_eq!(state_over(true, at('Z', 1), None), ProcessState::Exiting);
        assert_eq!(state_over(false, None, None), ProcessState::Exiting);
    }
}
