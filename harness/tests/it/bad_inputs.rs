//! The table of bad inputs (tests/fixtures/bad-inputs.tsv): numbers, names,
//! paths, hostile files and closed or full stdout over every subcommand. A
//! case is handled when its exit code is the table's, stderr is one line
//! starting `harness: ` (none for a closed pipe, which is the reader's
//! choice), nothing panicked, and nothing is left in the results or temporary
//! folders.

use std::process::Stdio;

use crate::reliability::{describe, Sandbox, FIXTURE};

const TABLE: &str = include_str!("../fixtures/bad-inputs.tsv");

/// One row of the table.
struct Case {
    exit: i32,
    stdout: String,
    args: Vec<String>,
}

fn cases() -> Vec<Case> {
    TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let mut fields = line.split('\t');
            let exit = fields
                .next()
                .and_then(|e| e.parse().ok())
                .expect("exit code");
            let stdout = fields.next().expect("stdout mode").to_string();
            Case {
                exit,
                stdout,
                args: fields.map(String::from).collect(),
            }
        })
        .collect()
}

/// What a case may use besides the sandbox's own inputs.
fn prepare(sandbox: &Sandbox) {
    let inputs = sandbox.inputs();
    std::fs::write(inputs.join("bad-claims.toml"), "[[claim]]\nid = 3\n").expect("write");
    std::fs::create_dir(inputs.join("run")).expect("mkdir");
    std::fs::copy(FIXTURE, inputs.join("run/results.json")).expect("copy");
}

fn run_case(case: &Case) -> Option<String> {
    let sandbox = Sandbox::new();
    prepare(&sandbox);
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| {
            a.replace("{inputs}", &sandbox.inputs().display().to_string())
                .replace("{out}", &sandbox.out().display().to_string())
                .replace("{fixture}", FIXTURE)
        })
        .collect();
    let mut command = sandbox.command(&args);
    let output = match case.stdout.as_str() {
        "closed" => {
            let (reader, writer) = nix::unistd::pipe().expect("pipe");
            drop(reader);
            command.stdout(Stdio::from(writer)).output()
        }
        "full" => {
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full");
            command.stdout(full).output()
        }
        _ => command.output(),
    }
    .expect("run the harness");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    // With stdout closed or full the command may have done its work (notes
    // on stderr, files in --out); what counts is how the write failure ends.
    let one_line = match case.stdout.as_str() {
        "closed" => !stderr.contains("harness:"),
        "full" => lines
            .last()
            .is_some_and(|l| l.starts_with("harness: cannot write the report to stdout")),
        _ => lines.len() == 1 && lines[0].starts_with("harness: "),
    };
    let left_tmp = Sandbox::entries(&sandbox.tmp());
    let left_out = if case.stdout == "-" {
        Sandbox::entries(&sandbox.out())
    } else {
        Vec::new()
    };
    let handled = output.status.code() == Some(case.exit)
        && one_line
        && !stderr.contains("panicked")
        && (case.stdout != "-" || output.stdout.is_empty())
        && left_tmp.is_empty()
        && left_out.is_empty();
    (!handled).then(|| {
        format!(
            "expected exit {} (stdout {}), one line, nothing left (tmp: {left_tmp:?}, out: {left_out:?})\n{}",
            case.exit,
            case.stdout,
            describe(&args, &output)
        )
    })
}

fn the_bad_input_table_has_no_mishandled_case() {
    let cases = cases();
    assert!(cases.len() >= 300, "{} cases", cases.len());
    let failures: Vec<String> = cases.iter().filter_map(run_case).collect();
    println!("{} bad inputs, {} mishandled", cases.len(), failures.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases mishandled:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

crate::tests![the_bad_input_table_has_no_mishandled_case];
