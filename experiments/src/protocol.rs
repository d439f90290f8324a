//! The checkpoint protocol: one line per message, experiment → harness on the
//! experiment's stdout, and one `go` line back on its stdin.
//!
//! ```text
//! vmlab-protocol 1 ready pid=4242 page_size=4096
//! vmlab-protocol 1 note write_chunk_bytes 1048576
//! vmlab-protocol 1 region data start=0x7f0000000000 len=1000000000
//! vmlab-protocol 1 null-phase begin main=4242
//! vmlab-protocol 1 null-phase end main=4242
//! vmlab-protocol 1 checkpoint after-fork main=4242 child=4250
//! vmlab-protocol 1 checkpoint-children all-started worker main=4242
//! vmlab-protocol 1 done
//! ```
//!
//! `checkpoint-children` serves experiments with more processes than a line can
//! name (a 1 KiB line holds about eighty pids): besides the processes it lists, the
//! harness finds every child of the first one itself and takes a brief snapshot of
//! each, recorded as one population under the given role.
//!
//! `ready`, `null-phase` and `checkpoint` block the experiment until the harness
//! answers `go`; every other message is one-way. Encoding writes into any
//! [`fmt::Write`], so the experiment can format into a stack buffer (no allocation
//! while it is being measured); parsing, done by the harness, may allocate.

use std::fmt::{self, Write};

/// First word of every line, so stray output on stdout is recognised as such.
pub const MAGIC: &str = "vmlab-protocol";
/// Version of the line format; a harness refuses any other.
pub const VERSION: u32 = 1;
/// The harness's answer that releases a waiting experiment.
pub const GO: &str = "go";

/// One message from an experiment, as parsed by the harness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The experiment has started; nothing is measured before this.
    Ready {
        /// Process id of the experiment's main process.
        pid: i32,
        /// The page size the experiment sees, in bytes.
        page_size: u64,
    },
    /// Half of the null phase: two snapshots with nothing in between measure the
    /// noise the protocol itself adds (it must be zero faults, zero bytes).
    NullPhase {
        /// `true` for `begin`, `false` for `end`.
        begin: bool,
        /// The processes to snapshot.
        processes: Vec<ProcessRef>,
    },
    /// A named checkpoint: the experiment waits while the harness snapshots.
    Checkpoint {
        /// Kebab-case name of what has just happened (`after-mmap`).
        label: String,
        /// The processes to snapshot, the experiment's main process first.
        processes: Vec<ProcessRef>,
    },
    /// A checkpoint at which, besides `processes`, every child of the first of them
    /// is snapshotted briefly as one population named `role`.
    CheckpointChildren {
        /// Kebab-case name of what has just happened (`all-started`).
        label: String,
        /// Kebab-case name of the population (`worker`).
        role: String,
        /// The processes to snapshot in full; the children of the first are the population.
        processes: Vec<ProcessRef>,
    },
    /// A fact about the run that the harness records as is (`write_chunk_bytes`).
    Note {
        /// Snake-case key.
        key: String,
        /// Free text up to the end of the line.
        value: String,
    },
    /// An address range the harness should follow in every later snapshot.
    Region {
        /// Kebab-case region name.
        name: String,
        /// First address of the range.
        start: u64,
        /// Length of the range in bytes.
        len: u64,
    },
    /// Progress of long preparation work (never sent while a phase is measured).
    Progress {
        /// Units done so far.
        done: u64,
        /// Units in all.
        total: u64,
        /// What is being done, for the progress bar.
        what: String,
    },
    /// The experiment cannot run here; the text says why.
    Skip {
        /// One sentence for the user.
        reason: String,
    },
    /// The experiment finished its checkpoints.
    Done,
}

/// A process to snapshot at a checkpoint, named by its role in the experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRef {
    /// Kebab-case role (`main`, `parent`, `child`, `child-3`).
    pub role: String,
    /// Its process id.
    pub pid: i32,
}

/// A line that is not a valid protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line as received.
    pub line: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in protocol line {:?}", self.reason, self.line)
    }
}

impl std::error::Error for ParseError {}

/// True for names made of lower-case ASCII letters, digits, `-` and `_`: safe as
/// folder names and as KTAP test names.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn header(w: &mut impl Write) -> fmt::Result {
    write!(w, "{MAGIC} {VERSION} ")
}

fn processes(w: &mut impl Write, procs: &[(&str, i32)]) -> fmt::Result {
    for (role, pid) in procs {
        write!(w, " {role}={pid}")?;
    }
    Ok(())
}

/// Writes a `ready` line.
pub fn encode_ready(w: &mut impl Write, pid: i32, page_size: u64) -> fmt::Result {
    header(w)?;
    writeln!(w, "ready pid={pid} page_size={page_size}")
}

/// Writes a `null-phase begin|end` line.
pub fn encode_null_phase(w: &mut impl Write, begin: bool, procs: &[(&str, i32)]) -> fmt::Result {
    header(w)?;
    write!(w, "null-phase {}", if begin { "begin" } else { "end" })?;
    processes(w, procs)?;
    writeln!(w)
}

/// Writes a `checkpoint` line.
pub fn encode_checkpoint(w: &mut impl Write, label: &str, procs: &[(&str, i32)]) -> fmt::Result {
    header(w)?;
    write!(w, "checkpoint {label}")?;
    processes(w, procs)?;
    writeln!(w)
}

/// Writes a `checkpoint-children` line: `procs` in full, and every child of the
/// first of them as the population `role`.
pub fn encode_checkpoint_children(
    w: &mut impl Write,
    label: &str,
    role: &str,
    procs: &[(&str, i32)],
) -> fmt::Result {
    header(w)?;
    write!(w, "checkpoint-children {label} {role}")?;
    processes(w, procs)?;
    writeln!(w)
}

/// Writes a `note` line. Line breaks in the value are replaced by spaces.
pub fn encode_note(w: &mut impl Write, key: &str, value: fmt::Arguments<'_>) -> fmt::Result {
    header(w)?;
    write!(w, "note {key} ")?;
    NoNewlines(w).write_fmt(value)?;
    writeln!(w)
}

/// Writes a `region` line.
pub fn encode_region(w: &mut impl Write, name: &str, start: u64, len: u64) -> fmt::Result {
    header(w)?;
    writeln!(w, "region {name} start={start:#x} len={len}")
}

/// Writes a `progress` line.
pub fn encode_progress(w: &mut impl Write, done: u64, total: u64, what: &str) -> fmt::Result {
    header(w)?;
    write!(w, "progress {done} {total} ")?;
    NoNewlines(w).write_str(what)?;
    writeln!(w)
}

/// Writes a `skip` line.
pub fn encode_skip(w: &mut impl Write, reason: fmt::Arguments<'_>) -> fmt::Result {
    header(w)?;
    write!(w, "skip ")?;
    NoNewlines(w).write_fmt(reason)?;
    writeln!(w)
}

/// Writes a `done` line.
pub fn encode_done(w: &mut impl Write) -> fmt::Result {
    header(w)?;
    writeln!(w, "done")
}

/// Keeps free text on one line.
struct NoNewlines<'a, W: Write>(&'a mut W);

impl<W: Write> Write for NoNewlines<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for part in s.split_inclusive(['\n', '\r']) {
            let text = part.trim_end_matches(['\n', '\r']);
            self.0.write_str(text)?;
            if text.len() != part.len() {
                self.0.write_char(' ')?;
            }
        }
        Ok(())
    }
}

/// Parses one line (without its line break) from an experiment.
pub fn parse(line: &str) -> Result<Event, ParseError> {
    parse_message(line).map_err(|reason| ParseError {
        line: line.to_string(),
        reason,
    })
}

/// Checks the magic word and the version, then parses the message after them.
fn parse_message(line: &str) -> Result<Event, String> {
    let rest = line
        .strip_prefix(MAGIC)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| format!("expected a line starting with '{MAGIC}'"))?;
    let (version, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if version != VERSION.to_string() {
        return Err(format!(
            "protocol version {version} (this harness speaks version {VERSION})"
        ));
    }
    let (verb, args) = rest.split_once(' ').unwrap_or((rest, ""));
    match verb {
        "ready" => {
            let fields = key_values(args)?;
            Ok(Event::Ready {
                pid: field(&fields, "pid")?,
                page_size: field(&fields, "page_size")?,
            })
        }
        "null-phase" => parse_null_phase(args),
        "checkpoint" => parse_checkpoint(args),
        "checkpoint-children" => parse_checkpoint_children(args),
        "note" => parse_note(args),
        "region" => parse_region(args),
        "progress" => parse_progress(args),
        "skip" => Ok(Event::Skip {
            reason: args.to_string(),
        }),
        "done" => Ok(Event::Done),
        other => Err(format!("unknown message '{other}'")),
    }
}

fn parse_null_phase(args: &str) -> Result<Event, String> {
    let (which, procs) = args.split_once(' ').unwrap_or((args, ""));
    let begin = match which {
        "begin" => true,
        "end" => false,
        other => return Err(format!("null-phase '{other}' is neither begin nor end")),
    };
    Ok(Event::NullPhase {
        begin,
        processes: process_refs(procs)?,
    })
}

fn parse_checkpoint(args: &str) -> Result<Event, String> {
    let (label, procs) = args.split_once(' ').unwrap_or((args, ""));
    if !is_valid_name(label) {
        return Err(format!("checkpoint label '{label}' is not kebab-case"));
    }
    Ok(Event::Checkpoint {
        label: label.to_string(),
        processes: process_refs(procs)?,
    })
}

fn parse_checkpoint_children(args: &str) -> Result<Event, String> {
    let mut parts = args.splitn(3, ' ');
    let label = parts.next().unwrap_or("");
    let role = parts.next().unwrap_or("");
    for (what, name) in [("label", label), ("population role", role)] {
        if !is_valid_name(name) {
            return Err(format!("checkpoint {what} '{name}' is not kebab-case"));
        }
    }
    Ok(Event::CheckpointChildren {
        label: label.to_string(),
        role: role.to_string(),
        processes: process_refs(parts.next().unwrap_or(""))?,
    })
}

fn parse_note(args: &str) -> Result<Event, String> {
    let (key, value) = args.split_once(' ').unwrap_or((args, ""));
    if !is_valid_name(key) {
        return Err(format!("note key '{key}' is not a plain name"));
    }
    Ok(Event::Note {
        key: key.to_string(),
        value: value.to_string(),
    })
}

fn parse_region(args: &str) -> Result<Event, String> {
    let (name, rest) = args.split_once(' ').unwrap_or((args, ""));
    if !is_valid_name(name) {
        return Err(format!("region name '{name}' is not kebab-case"));
    }
    let fields = key_values(rest)?;
    let start_text: String = field(&fields, "start")?;
    let start = start_text
        .strip_prefix("0x")
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .ok_or_else(|| format!("region start '{start_text}' is not a hex address"))?;
    Ok(Event::Region {
        name: name.to_string(),
        start,
        len: field(&fields, "len")?,
    })
}

fn parse_progress(args: &str) -> Result<Event, String> {
    let mut parts = args.splitn(3, ' ');
    let mut number = |what: &str| {
        parts
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| format!("progress needs a whole number for '{what}'"))
    };
    let done = number("done")?;
    let total = number("total")?;
    Ok(Event::Progress {
        done,
        total,
        what: parts.next().unwrap_or("").to_string(),
    })
}

fn key_values(args: &str) -> Result<Vec<(&str, &str)>, String> {
    args.split_whitespace()
        .map(|kv| {
            kv.split_once('=')
                .ok_or_else(|| format!("'{kv}' is not of the form key=value"))
        })
        .collect()
}

fn field<T: std::str::FromStr>(fields: &[(&str, &str)], key: &str) -> Result<T, String> {
    let text = fields
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("missing field '{key}'"))?;
    text.parse()
        .map_err(|_| format!("field '{key}' has a bad value '{text}'"))
}

fn process_refs(args: &str) -> Result<Vec<ProcessRef>, String> {
    let refs = key_values(args)?
        .into_iter()
        .map(|(role, pid)| {
            if !is_valid_name(role) {
                return Err(format!("process role '{role}' is not kebab-case"));
            }
            let pid = pid
                .parse::<i32>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("process '{role}' has a bad pid '{pid}'"))?;
            Ok(ProcessRef {
                role: role.to_string(),
                pid,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if refs.is_empty() {
        return Err("a checkpoint names no process".to_string());
    }
    Ok(refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(f: impl FnOnce(&mut String) -> fmt::Result) -> String {
        let mut s = String::new();
        f(&mut s).expect("writing to a String cannot fail");
        s.trim_end().to_string()
    }

    #[test]
    fn every_message_survives_a_round_trip() {
        let cases = [
            (
                encoded(|w| encode_ready(w, 42, 4096)),
                Event::Ready {
                    pid: 42,
                    page_size: 4096,
                },
            ),
            (
                encoded(|w| encode_checkpoint(w, "after-fork", &[("parent", 42), ("child", 43)])),
                Event::Checkpoint {
                    label: "after-fork".into(),
                    processes: vec![
                        ProcessRef {
                            role: "parent".into(),
                            pid: 42,
                        },
                        ProcessRef {
                            role: "child".into(),
                            pid: 43,
                        },
                    ],
                },
            ),
            (
                encoded(|w| encode_null_phase(w, false, &[("main", 7)])),
                Event::NullPhase {
                    begin: false,
                    processes: vec![ProcessRef {
                        role: "main".into(),
                        pid: 7,
                    }],
                },
            ),
            (
                encoded(|w| encode_note(w, "chunk_bytes", format_args!("1 MiB\nper write"))),
                Event::Note {
                    key: "chunk_bytes".into(),
                    value: "1 MiB per write".into(),
                },
            ),
            (
                encoded(|w| encode_region(w, "data", 0x7f00_0000_1000, 8192)),
                Event::Region {
                    name: "data".into(),
                    start: 0x7f00_0000_1000,
                    len: 8192,
                },
            ),
            (
                encoded(|w| encode_progress(w, 3, 10, "writing the file")),
                Event::Progress {
                    done: 3,
                    total: 10,
                    what: "writing the file".into(),
                },
            ),
            (
                encoded(|w| encode_skip(w, format_args!("no space"))),
                Event::Skip {
                    reason: "no space".into(),
                },
            ),
            (
                encoded(|w| encode_checkpoint_children(w, "all-started", "worker", &[("main", 9)])),
                Event::CheckpointChildren {
                    label: "all-started".into(),
                    role: "worker".into(),
                    processes: vec![ProcessRef {
                        role: "main".into(),
                        pid: 9,
                    }],
                },
            ),
            (encoded(encode_done), Event::Done),
        ];
        for (line, event) in cases {
            assert_eq!(parse(&line), Ok(event), "line: {line}");
        }
    }

    #[test]
    fn other_versions_and_stray_output_are_refused() {
        assert!(parse("vmlab-protocol 2 done")
            .unwrap_err()
            .reason
            .contains("version 2"));
        assert!(parse("hello world").is_err());
        assert!(parse("vmlab-protocol 1 checkpoint Bad_Label main=1").is_err());
        assert!(parse("vmlab-protocol 1 checkpoint ok").is_err());
        assert!(parse("vmlab-protocol 1 checkpoint ok main=-3").is_err());
        assert!(parse("vmlab-protocol 1 frobnicate").is_err());
    }

    #[test]
    fn a_population_checkpoint_needs_a_role_and_a_parent() {
        assert!(parse("vmlab-protocol 1 checkpoint-children all-started worker").is_err());
        assert!(parse("vmlab-protocol 1 checkpoint-children all-started main=4").is_err());
        assert!(parse("vmlab-protocol 1 checkpoint-children all-started Worker main=4").is_err());
        assert!(parse("vmlab-protocol 1 checkpoint-children all-started worker main=4").is_ok());
    }
}
