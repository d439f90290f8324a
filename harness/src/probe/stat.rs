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

    #[test]
    fn a_truncated_stat_is_a_parse_error() {
        let err = parse_faults("4242 (x) S 1 2", Path::new("stat")).unwrap_err();
        assert!(matches!(err, ProbeError::Parse { line_no: 1, .. }), "{err}");
    }
}
