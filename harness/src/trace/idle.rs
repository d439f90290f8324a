//! What a traced program slept in while no checkpoint came, so that a run
//! that measured nothing can say why: the program never waited in a way the
//! harness recognises (its stdin, pause(), sigsuspend(), a stop), it slept in
//! something else (a `sleep()`, a poll loop, waitpid).

use std::collections::BTreeMap;
use std::time::Duration;

use super::wait::{Observation, SyscallLine};

/// How many looks found each process asleep in each place.
#[derive(Debug, Clone, Default)]
pub struct IdleTally {
    /// Looks per (process, place), the place a whole phrase.
    looks: BTreeMap<(String, String), u32>,
}

impl IdleTally {
    /// Counts one look at a process that was not in a recognised wait.
    pub fn note(&mut self, role: &str, pid: i32, seen: &Observation) {
        if !matches!(seen.state, 'S' | 'D') {
            return;
        }
        let call = match &seen.syscall {
            Some(SyscallLine::Blocked { number, .. }) => match syscall_name(*number) {
                Some(name) => format!("{name}() (system call {number})"),
                None => format!("system call {number}"),
            },
            Some(SyscallLine::NotInSyscall) => "no system call".into(),
            Some(SyscallLine::Running) | None => "an unknown place".into(),
        };
        let wchan = match seen.wchan.as_str() {
            "" | "0" => String::new(),
            w => format!(", kernel function {w}"),
        };
        let who = format!("{role} (pid {pid})");
        let place = format!("{who} slept in {call}{wchan}");
        *self.looks.entry((who, place)).or_default() += 1;
    }

    /// Where each process slept longest, longest first (at most three
    /// processes), each with roughly how long, given the time between two looks.
    pub fn summary(&self, poll: Duration) -> Vec<String> {
        let mut longest: BTreeMap<&str, (&String, u32)> = BTreeMap::new();
        for ((who, place), looks) in &self.looks {
            let best = longest.entry(who.as_str()).or_insert((place, *looks));
            if *looks > best.1 {
                *best = (place, *looks);
            }
        }
        let mut places: Vec<(&String, u32)> = longest.into_values().collect();
        places.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        places
            .into_iter()
            .take(3)
            .map(|(place, looks)| {
                format!("{place} for about {:.1} s", (poll * looks).as_secs_f64())
            })
            .collect()
    }
}

/// Why a run with no checkpoint measured nothing, and what to try.
pub fn nothing_measured(tally: &IdleTally, poll: Duration) -> String {
    let places = tally.summary(poll);
    let slept = if places.is_empty() {
        "it never slept where the harness looked".to_string()
    } else {
        places.join("; ")
    };
    format!(
        "no checkpoint: the program never waited on its standard input, in pause() or sigsuspend(), or stopped ({slept}); nothing was measured; pass --every 1s to snapshot it while it runs"
    )
}

/// The name of the system calls a program commonly sleeps in, by this
/// architecture's number (libc's constants; nix has no table of them).
pub fn syscall_name(number: i64) -> Option<&'static str> {
    let known: &[(i64, &str)] = &[
        (libc::SYS_read, "read"),
        (libc::SYS_write, "write"),
        (libc::SYS_nanosleep, "nanosleep"),
        (libc::SYS_clock_nanosleep, "clock_nanosleep"),
        (libc::SYS_pselect6, "pselect6"),
        (libc::SYS_ppoll, "ppoll"),
        (libc::SYS_epoll_pwait, "epoll_pwait"),
        (libc::SYS_wait4, "wait4"),
        (libc::SYS_waitid, "waitid"),
        (libc::SYS_futex, "futex"),
        (libc::SYS_accept4, "accept4"),
        (libc::SYS_recvfrom, "recvfrom"),
        (libc::SYS_rt_sigtimedwait, "rt_sigtimedwait"),
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        (libc::SYS_select, "select"),
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        (libc::SYS_poll, "poll"),
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        (libc::SYS_epoll_wait, "epoll_wait"),
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        (libc::SYS_accept, "accept"),
    ];
    known
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::wait::parse_syscall;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_sleep_is_named_with_its_system_call_and_kernel_function() {
        let mut tally = IdleTally::default();
        let sleeping = Observation {
            state: 'S',
            // Captured: python3 in time.sleep(3) on Linux 6.18 x86_64.
            syscall: parse_syscall("230 0x1 0x0 0x7ffd 0x0 0x0 0x0 0x7ffd 0x7f3a"),
            wchan: "hrtimer_nanosleep".into(),
        };
        for _ in 0..50 {
            tally.note("main", 42, &sleeping);
        }
        tally.note(
            "main",
            42,
            &Observation {
                state: 'R',
                ..sleeping.clone()
            },
        );
        let reading = Observation {
            syscall: parse_syscall("0 0x3 0x0 0x0 0x0 0x0 0x0 0x7ffd 0x7f3a"),
            ..sleeping.clone()
        };
        tally.note("main", 42, &reading);
        let why = nothing_measured(&tally, Duration::from_millis(20));
        assert!(
            why.contains("main (pid 42) slept in clock_nanosleep() (system call 230), kernel function hrtimer_nanosleep for about 1.0 s"),
            "{why}"
        );
        assert!(!why.contains("read()"), "only the longest place: {why}");
        assert!(why.contains("--every"), "{why}");
    }
}
