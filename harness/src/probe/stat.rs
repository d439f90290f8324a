//! /proc/PID/stat: the fault counters.

use std::path::Path;

use procfs_core::process::Stat;
use procfs_core::FromRead;

use crate::error::ProbeError;
use crate::model::Faults;

/// The cumulative minor and major fault counts of a process (they survive execve).
pub fn parse_faults(text: &str, path: &Path) -> Result<Faults, ProbeError> {
    check_shape(text).map_err(|reason| super::parse_error(path, text, 1, reason))?;
    let stat = Stat::from_read(text.as_bytes())
        .map_err(|e| super::parse_error(path, text, 1, e.to_string()))?;
    Ok(Faults {
        minor: stat.minflt,
        major: stat.majflt,
    })
}

/// The kernel's `PF_EXITING` task flag (include/linux/sched.h): set when the
/// task enters `do_exit`, before it releases its memory.
const PF_EXITING: u32 = 0x0000_0004;

/// Whether the process this stat line describes is on its way out: exiting,
/// a zombie or dead. A line that does not parse says nothing of the kind.
pub fn is_exiting(text: &str) -> bool {
    if check_shape(text).is_err() {
        return false;
    }
    Stat::from_read(text.as_bytes())
        .is_ok_and(|stat| matches!(stat.state, 'Z' | 'X' | 'x') || stat.flags & PF_EXITING != 0)
}

/// The fields procfs-core reads up to the fault counters and beyond: the
/// kernel writes 52 (Linux 3.5 on); the parser needs those through `rss`.
const MIN_FIELDS_AFTER_COMM: usize = 22;

/// Checks what procfs-core's parser assumes without checking (it slices the
/// text by byte offsets around the parentheses and panics when they are not
/// where it expects): `PID (COMM) STATE FIELD...` on one line, the PID in
/// digits, one space on either side of the command, and enough numeric fields.
fn check_shape(text: &str) -> Result<(), String> {
    let line = text.trim();
    if line.lines().count() != 1 {
        return Err("expected one line".into());
    }
    let (Some(open), Some(close)) = (line.find('('), line.rfind(')')) else {
        return Err("expected 'PID (COMMAND) STATE ...'".into());
    };
    if close < open || !line[..open].ends_with(' ') {
        return Err("expected 'PID (COMMAND) STATE ...'".into());
    }
    let pid = &line[..open - 1];
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the PID before the command is not a number".into());
    }
    let Some(rest) = line[close + 1..].strip_prefix(' ') else {
        return Err("expected a space after the command's ')'".into());
    };
    let mut fields = rest.split(' ');
    let state_ok = fields
        .next()
        .is_some_and(|s| s.len() == 1 && s.bytes().all(|b| b.is_ascii_alphabetic()));
    if !state_ok {
        return Err("the state after the command is not one letter".into());
    }
    let numbers = fields.take_while(|f| f.parse::<i64>().is_ok() || f.parse::<u64>().is_ok());
    if numbers.count() < MIN_FIELDS_AFTER_COMM {
        return Err(format!(
            "fewer than {MIN_FIELDS_AFTER_COMM} numeric fields after the state"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fault_counters_of_a_command_with_spaces() {
        let text = "4242 (mmap file) S 4241 4242 4241 0 -1 4194304 1234 0 5 0 0 0 0 0 20 0 1 0 100 1000000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let faults = parse_faults(text, Path::new("stat")).unwrap();
        assert_eq!(
            faults,
            Faults {
                minor: 1234,
                major: 5
            }
        );
    }

    #[test]
    fn malformed_stat_lines_are_parse_errors_not_panics() {
        for text in [
            "(x) S 1",
            "é(x) S 1 2 3",
            "1 (x",
            "1 )x( S 1 2",
            "1 (x)",
            "1 (x)é",
            "1 (x) SS 1 2 3",
            "",
            "1 (é) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 x",
        ] {
            let err = parse_faults(text, Path::new("/proc/1/stat")).unwrap_err();
            assert!(matches!(err, ProbeError::Parse { .. }), "{text:?}: {err}");
        }
    }

    /// kthreadd and a shell, as this machine's /proc wrote them; the shell's
    /// flags with PF_EXITING added, and in the zombie state.
    const KTHREADD: &str = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 24 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
    const SHELL: &str = "19222 (sh) S 19217 19217 1246 0 -1 4194304 86 0 1 0 0 0 0 0 20 0 1 0 90926 2654208 380 18446744073709551615 94623018741760 94623018818489 140728055367152 0 0 0 0 0 65538 1 0 0 17 1 0 0 0 0 0 94623018847792 94623018852928 94623645818880 140728055368397 140728055368439 140728055368439 140728055369708 0\n";

    #[test]
    fn only_an_exiting_zombie_or_dead_process_is_exiting() {
        assert!(!is_exiting(KTHREADD));
        assert!(!is_exiting(SHELL));
        assert!(is_exiting(&SHELL.replace(" 4194304 ", " 4194308 ")));
        assert!(is_exiting(&SHELL.replace(" S ", " Z ")));
        assert!(is_exiting(&SHELL.replace(" S ", " X ")));
        assert!(!is_exiting("1 (x"));
    }

    #[test]
    fn a_truncated_stat_is_a_parse_error() {
        let err = parse_faults("4242 (x) S 1 2", Path::new("stat")).unwrap_err();
        assert!(matches!(err, ProbeError::Parse { line_no: 1, .. }), "{err}");
    }
}
