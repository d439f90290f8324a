//! /proc/PID/stat: the fault counters.

use std::path::Path;

use procfs_core::process::Stat;
use procfs_core::FromRead;

use crate::error::ProbeError;
use crate::model::Faults;

/// The cumulative minor and major fault counts of a process (they survive execve).
pub fn parse_faults(text: &str, path: &Path) -> Result<Faults, ProbeError> {
    let stat = Stat::from_read(text.as_bytes())
        .map_err(|e| super::parse_error(path, text, 1, e.to_string()))?;
    Ok(Faults {
        minor: stat.minflt,
        major: stat.majflt,
    })
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
    fn a_truncated_stat_is_a_parse_error() {
        let err = parse_faults("4242 (x) S 1 2", Path::new("stat")).unwrap_err();
        assert!(matches!(err, ProbeError::Parse { line_no: 1, .. }), "{err}");
    }
}
