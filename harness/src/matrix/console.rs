//! Framing results.json over a serial line. The guest has no network and no disk
//! the host can read, but QEMU writes each serial port to a file. The text there
//! may also hold the kernel's own messages, carriage returns and anything else
//! the guest printed, so the payload travels as numbered base64 lines between a
//! `begin` line (byte count and an FNV-1a checksum) and an `end` line:
//!
//! ```text
//! vmlab-results begin bytes=1234 lines=17 fnv1a64=0123456789abcdef
//! vmlab-results 0 eyJmb3JtYXRfdmVyc2lvbiI6...
//! [    3.141592] some kernel message
//! vmlab-results 1 ...
//! vmlab-results end
//! ```
//!
//! [`decode`] finds the frame anywhere in the text, ignores every other line
//! (also noise before the marker on the same line), and checks the count, the
//! length and the checksum, so a damaged transfer is reported, never returned as
//! wrong data.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The marker every framing line carries.
pub const MARKER: &str = "vmlab-results";
/// The prefix of progress lines the guest prints on its console.
pub const PROGRESS: &str = "vmlab-guest:";
/// Raw bytes per line (76 base64 characters).
const CHUNK_BYTES: usize = 57;

/// Why no payload could be taken from a console capture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// No `begin` line: the guest never got to send its results.
    #[error("no results frame in the console output (no `{MARKER} begin` line)")]
    NoBegin,
    /// `begin` without `end`: the guest stopped (or was stopped) while sending.
    #[error("the results frame is cut off after {got} of {expected} lines")]
    Truncated {
        /// Lines announced.
        expected: usize,
        /// Lines received.
        got: usize,
    },
    /// A framing line that does not parse.
    #[error("damaged results line {line_no} of the console output: {reason}: {line:?}")]
    Damaged {
        /// 1-based line number in the capture.
        line_no: usize,
        /// What is wrong.
        reason: String,
        /// The line as captured.
        line: String,
    },
    /// All lines arrived but the bytes do not match the `begin` line.
    #[error("the results frame does not check out: {0}")]
    Mismatch(String),
}

/// The text the guest writes for `payload`.
pub fn encode(payload: &[u8]) -> String {
    let chunks: Vec<&[u8]> = payload.chunks(CHUNK_BYTES).collect();
    let mut out = format!(
        "{MARKER} begin bytes={} lines={} fnv1a64={:016x}\n",
        payload.len(),
        chunks.len(),
        fnv1a64(payload)
    );
    for (seq, chunk) in chunks.iter().enumerate() {
        out.push_str(&format!("{MARKER} {seq} {}\n", STANDARD.encode(chunk)));
    }
    out.push_str(&format!("{MARKER} end\n"));
    out
}

/// The payload of the last complete frame in `capture`.
pub fn decode(capture: &str) -> Result<Vec<u8>, FrameError> {
    let mut frame: Option<Header> = None;
    let mut lines: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
    let mut done: Option<Vec<u8>> = None;
    for (index, raw) in capture.split(['\n', '\r']).enumerate() {
        let line_no = index + 1;
        let Some(at) = raw.find(MARKER) else {
            continue;
        };
        let rest = raw[at + MARKER.len()..].trim();
        let damaged = |reason: &str| FrameError::Damaged {
            line_no,
            reason: reason.to_string(),
            line: raw.to_string(),
        };
        if let Some(fields) = rest.strip_prefix("begin ") {
            frame = Some(Header::parse(fields).ok_or_else(|| damaged("bad begin line"))?);
            lines.clear();
            continue;
        }
        let Some(header) = &frame else {
            continue;
        };
        if rest == "end" {
            done = Some(header.assemble(&lines)?);
            frame = None;
            continue;
        }
        let (seq, data) = rest
            .split_once(' ')
            .ok_or_else(|| damaged("no sequence number"))?;
        let seq: usize = seq.parse().map_err(|_| damaged("bad sequence number"))?;
        if seq >= header.lines {
            return Err(damaged("sequence number beyond the announced count"));
        }
        let bytes = STANDARD
            .decode(data.trim())
            .map_err(|_| damaged("not base64"))?;
        if bytes.len() != header.line_bytes(seq) {
            return Err(damaged("wrong length (interrupted by other output?)"));
        }
        lines.insert(seq, bytes);
    }
    match (done, frame) {
        (_, Some(header)) => Err(FrameError::Truncated {
            expected: header.lines,
            got: lines.len(),
        }),
        (Some(payload), None) => Ok(payload),
        (None, None) => Err(FrameError::NoBegin),
    }
}

/// The progress lines the guest printed (without their prefix), in order.
pub fn progress_lines(capture: &str) -> impl Iterator<Item = &str> {
    capture
        .lines()
        .filter_map(|l| l.find(PROGRESS).map(|at| l[at + PROGRESS.len()..].trim()))
}

struct Header {
    bytes: usize,
    lines: usize,
    fnv: u64,
}

impl Header {
    fn parse(fields: &str) -> Option<Header> {
        let mut bytes = None;
        let mut lines = None;
        let mut fnv = None;
        for field in fields.split_whitespace() {
            match field.split_once('=')? {
                ("bytes", v) => bytes = v.parse().ok(),
                ("lines", v) => lines = v.parse().ok(),
                ("fnv1a64", v) => fnv = u64::from_str_radix(v, 16).ok(),
                _ => {}
            }
        }
        let header = Header {
            bytes: bytes?,
            lines: lines?,
            fnv: fnv?,
        };
        (header.lines == header.bytes.div_ceil(CHUNK_BYTES)).then_some(header)
    }

    fn line_bytes(&self, seq: usize) -> usize {
        (self.bytes - seq * CHUNK_BYTES).min(CHUNK_BYTES)
    }

    fn assemble(&self, lines: &BTreeMap<usize, Vec<u8>>) -> Result<Vec<u8>, FrameError> {
        if lines.len() != self.lines {
            let missing: Vec<String> = (0..self.lines)
                .filter(|s| !lines.contains_key(s))
                .take(5)
                .map(|s| s.to_string())
                .collect();
            return Err(FrameError::Mismatch(format!(
                "{} of {} lines arrived; missing {}",
                lines.len(),
                self.lines,
                missing.join(", ")
            )));
        }
        let payload: Vec<u8> = lines.values().flatten().copied().collect();
        let fnv = fnv1a64(&payload);
        if payload.len() != self.bytes || fnv != self.fnv {
            return Err(FrameError::Mismatch(format!(
                "{} bytes with checksum {fnv:016x}, announced {} bytes with {:016x}",
                payload.len(),
                self.bytes,
                self.fnv
            )));
        }
        Ok(payload)
    }
}

/// 64-bit FNV-1a: small, dependency-free, and enough to catch a damaged line.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 13) as u8).collect()
    }

    #[test]
    fn frames_round_trip_every_remainder_in_padded_standard_base64() {
        for n in 0..10 {
            let bytes = payload(n);
            assert_eq!(decode(&encode(&bytes)), Ok(bytes));
        }
        // The standard alphabet with `=` padding, as base64(1) reads it.
        assert!(encode(b"Man").contains(" 0 TWFu\n"));
        assert!(encode(b"Ma").contains(" 0 TWE=\n"));
    }

    #[test]
    fn results_split_across_many_lines_come_back_whole() {
        let bytes = payload(1000);
        let text = encode(&bytes);
        assert!(text.lines().count() > 10, "spread over lines:\n{text}");
        assert_eq!(decode(&text), Ok(bytes));
    }

    #[test]
    fn empty_and_exact_multiple_payloads_frame_correctly() {
        for n in [0, CHUNK_BYTES, 2 * CHUNK_BYTES] {
            assert_eq!(decode(&encode(&payload(n))), Ok(payload(n)), "{n} bytes");
        }
    }

    #[test]
    fn kernel_messages_between_and_before_lines_are_ignored() {
        let bytes = payload(300);
        let mut noisy = String::from("[    0.000000] Linux version 6.1.0\r\n");
        for (i, line) in encode(&bytes).lines().enumerate() {
            // Console output uses CRLF, and a message may start the same line.
            if i % 2 == 0 {
                noisy.push_str(&format!("[    1.{i:06}] random: crng init done\r\n"));
            }
            if i == 3 {
                noisy.push_str("[    2.000000] partial message ");
            }
            noisy.push_str(line);
            noisy.push_str("\r\n");
        }
        noisy.push_str("[    5.000000] reboot: Power down\r\n");
        assert_eq!(decode(&noisy), Ok(bytes));
    }

    #[test]
    fn a_line_broken_by_another_message_is_reported_not_returned() {
        let text = encode(&payload(300));
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let broken = lines[2].clone();
        let (a, b) = broken.split_at(40);
        lines[2] = format!("{a}[    3.0] oops\n{b}");
        let err = decode(&lines.join("\n")).unwrap_err();
        assert!(
            matches!(err, FrameError::Damaged { line_no: 3, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_missing_end_is_a_truncated_frame() {
        let text = encode(&payload(200));
        let cut: Vec<&str> = text.lines().take(3).collect();
        assert_eq!(
            decode(&cut.join("\n")),
            Err(FrameError::Truncated {
                expected: 4,
                got: 2
            })
        );
        assert_eq!(
            decode("[ 0.1] booting\nKernel panic"),
            Err(FrameError::NoBegin)
        );
    }

    #[test]
    fn a_changed_byte_fails_the_checksum() {
        let text = encode(b"{\"kernel\":\"6.1\"}");
        let tampered = text.replace("eyJr", "eyJs");
        assert_ne!(text, tampered);
        assert!(matches!(decode(&tampered), Err(FrameError::Mismatch(_))));
    }

    #[test]
    fn a_missing_line_is_named() {
        let text = encode(&payload(300));
        let without: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("vmlab-results 2 "))
            .collect();
        match decode(&without.join("\n")) {
            Err(FrameError::Mismatch(why)) => assert!(why.contains("missing 2"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn progress_lines_are_found_among_noise() {
        let text = "[ 1.0] x\nvmlab-guest: running an-experiment\r\n[ 2.0] y vmlab-guest: done\n";
        assert_eq!(
            progress_lines(text).collect::<Vec<_>>(),
            vec!["running an-experiment", "done"]
        );
    }
}
