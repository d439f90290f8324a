//! One reader thread per input stream, handing its lines over a channel, so
//! that whoever waits for a line can also wake on a timeout (Ctrl-C, a poll, a
//! deadline). The experiment's stdout, a traced program's protocol channel and
//! the terminal's stdin (step mode, `watch --on-enter`) are all read this way.

use std::io::{self, BufRead};
use std::sync::mpsc::{self, Receiver, Sender};

/// Reads the lines of the stream `open` returns (opened on the reader thread,
/// so a lock it takes stays there), read errors included; the thread ends at
/// end of input or when the receiver is dropped.
pub fn spawn<R: BufRead>(
    open: impl FnOnce() -> R + Send + 'static,
) -> Receiver<io::Result<String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || forward(open(), &tx, Some));
    rx
}

/// [`spawn`] for callers that treat a read error as the end of input.
pub fn spawn_text<R: BufRead>(open: impl FnOnce() -> R + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || forward(open(), &tx, Result::ok));
    rx
}

/// Sends each line as `wrap` makes it, until `wrap` says stop (`None`), the
/// input ends or nobody listens.
fn forward<T>(input: impl BufRead, tx: &Sender<T>, wrap: impl Fn(io::Result<String>) -> Option<T>) {
    for line in input.lines() {
        let Some(item) = wrap(line) else { break };
        if tx.send(item).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_arrives_in_order_and_the_channel_closes_at_the_end() {
        let rx = spawn_text(|| io::Cursor::new(b"one\ntwo\n".to_vec()));
        assert_eq!(rx.iter().collect::<Vec<_>>(), ["one", "two"]);
        let rx = spawn(|| io::Cursor::new(b"a\n".to_vec()));
        let got: Vec<String> = rx.iter().map(|l| l.unwrap()).collect();
        assert_eq!(got, ["a"]);
    }

    #[test]
    fn a_read_error_ends_the_text_reader_but_reaches_the_other() {
        let bad = || io::Cursor::new(vec![b'o', b'k', b'\n', 0xff, b'\n']);
        assert_eq!(spawn_text(bad).iter().collect::<Vec<_>>(), ["ok"]);
        let all: Vec<io::Result<String>> = spawn(bad).iter().collect();
        assert!(all[0].is_ok() && all[1].is_err(), "{all:?}");
    }
}
