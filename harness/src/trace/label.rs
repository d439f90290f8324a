//! Checkpoint labels for programs that do not name their checkpoints: the names
//! given with `--label`, in order, else the program's last output line made
//! kebab-case, without its numbers ([`from_line`]). Labels stay unique within a run (`-2`, `-3` are appended), since
//! claims and comparisons find checkpoints by label.

use std::collections::BTreeSet;

use experiments::protocol::is_valid_name;

/// Longest label made from an output line.
const MAX_LEN: usize = 48;

/// `line` as a kebab-case label: lower-case letters and digits, every other run
/// of characters one `-`. Every word that starts with a digit is left out: a
/// number (`4242`, `3.5`), a number with its unit (`64MiB`, `200ms`) or a hex
/// address (`0x7f...`). A program's output holds pids, addresses, sizes and
/// sums that differ from run to run and input to input; without them two runs
/// get the same labels and can be compared checkpoint by checkpoint. Words
/// that merely hold a digit (`python3`, `sha256`) stay.
pub fn from_line(line: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for word in line.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        words.push(word.to_ascii_lowercase());
    }
    let mut label = String::new();
    for word in words {
        if label.len() + word.len() + 1 > MAX_LEN {
            break;
        }
        if !label.is_empty() {
            label.push('-');
        }
        label.push_str(&word);
    }
    label
}

/// Hands out the labels of one run.
#[derive(Debug, Clone, Default)]
pub struct Labeller {
    given: Vec<String>,
    next_given: usize,
    used: BTreeSet<String>,
}

impl Labeller {
    /// Labels come from `given` first (already checked with [`check_given`]).
    pub fn new(given: Vec<String>) -> Labeller {
        Labeller {
            given,
            ..Default::default()
        }
    }

    /// The label of the next checkpoint the harness detected (a wait): the next
    /// `--label` name, else the last output line, else `wait-N`.
    pub fn for_wait(&mut self, last_line: &str) -> String {
        let base = if let Some(name) = self.given.get(self.next_given) {
            self.next_given += 1;
            name.clone()
        } else {
            let from_output = from_line(last_line);
            if from_output.is_empty() {
                format!("wait-{}", self.used.len() + 1)
            } else {
                from_output
            }
        };
        self.unique(base)
    }

    /// A label the program or the clock chose, made unique.
    pub fn named(&mut self, base: &str) -> String {
        self.unique(base.to_string())
    }

    fn unique(&mut self, base: String) -> String {
        let mut label = base.clone();
        let mut n = 2;
        while self.used.contains(&label) {
            label = format!("{base}-{n}");
            n += 1;
        }
        self.used.insert(label.clone());
        label
    }
}

/// Checks `--label` names: kebab-case (they become folder and KTAP test names).
pub fn check_given(names: &[String]) -> Result<(), String> {
    match names.iter().find(|n| !is_valid_name(n)) {
        Some(bad) => Err(format!(
            "--label '{bad}' is not a valid checkpoint name; use lower-case letters, digits, '-' and '_' (at most 64)"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lines_become_stable_kebab_case_labels() {
        assert_eq!(
            from_line("My PID is 4242, press enter"),
            "my-pid-is-press-enter"
        );
        assert_eq!(from_line("After read: 64 MiB"), "after-read-mib");
        assert_eq!(from_line("mapped at 0x7f9f3a800000"), "mapped-at");
        assert_eq!(from_line("   "), "");
        assert!(from_line(&"word ".repeat(40)).len() <= MAX_LEN);
    }

    // See: issue 31
    #[test]
    fn numbers_a_program_prints_are_left_out_so_two_inputs_give_one_label() {
        assert_eq!(
            from_line("read every page (sum 512)"),
            from_line("read every page (sum 131072)")
        );
        assert_eq!(from_line("took 3.25s, 64MiB, -7"), "took");
        assert_eq!(from_line("python3 sha256 done"), "python3-sha256-done");
    }

    #[test]
    fn given_names_come_first_then_output_and_repeats_are_numbered() {
        let mut l = Labeller::new(vec!["start".into()]);
        assert_eq!(l.for_wait("pid 7"), "start");
        assert_eq!(l.for_wait("pid 7"), "pid");
        assert_eq!(l.for_wait("pid 7"), "pid-2");
        assert_eq!(l.for_wait(""), "wait-4");
        assert!(check_given(&["Bad Name".into()]).is_err());
    }
}
