//! The harness's KTAP read by real consumers, as kernel CI would read it: the
//! kernel's own parser (tools/testing/kunit/kunit_parser.py, which `kunit.py
//! parse` uses), Python's tap.py and Perl's TAP::Parser (what `prove` runs on).
//! `.ci/run` installs all three; the kernel's parser comes from Debian's
//! `linux-source-*` package at CI time and is never kept in this repository.
//!
//! TAP consumers read one level: to see the leaves, each nested block (from its
//! `KTAP version 1` line to the line before its parent's result) is handed to
//! tap.py and TAP::Parser as a document of its own, which ktap.rst says every
//! nested block is. tap.py's runner (`tappy`) is not used: it applies TAP 13's
//! rule that a plan may follow only a `TAP version` line, so it rejects the
//! plan of every KTAP document, the examples of ktap.rst included.
//!
//! A consumer that is missing fails the test under CI (`CI=true`); elsewhere it
//! prints a SKIP line, and a test with none of the three ends as ignored.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::util::HarnessRun;

/// Reads each nested block with tap.py's parser: `RESULT depth ok|not-ok
/// skip|- name` per result line, `BLOCK depth plan results` per block.
const TAP_PY: &str = r#"
import sys
from tap.parser import Parser
lines = open(sys.argv[1]).read().splitlines()
def indent(line):
    return len(line) - len(line.lstrip(" "))
for i, line in enumerate(lines):
    if line.strip() != "KTAP version 1":
        continue
    d = indent(line)
    block = [line[d:]]
    for other in lines[i + 1:]:
        if other.strip() and indent(other) < d:
            break
        if indent(other) == d:
            block.append(other[d:])
    plan, results = None, 0
    for t in Parser().parse_text("\n".join(block) + "\n"):
        if t.category == "plan":
            plan = t.expected_tests
        elif t.category == "test":
            results += 1
            print("RESULT", d // 2, "ok" if t.ok else "not-ok",
                  "skip" if t.skip else "-", t.description.strip())
    print("BLOCK", d // 2, plan, results)
"#;

/// The same with Perl's TAP::Parser; `BLOCK depth planned run failed errors`.
const TAP_PARSER_PL: &str = r#"
use strict; use warnings; use TAP::Parser;
open(my $fh, '<', $ARGV[0]) or die "$ARGV[0]: $!";
my @lines = <$fh>; chomp @lines;
sub indent { $_[0] =~ /^( *)/; return length $1 }
for my $i (0 .. $#lines) {
    next unless $lines[$i] =~ /^ *KTAP version 1$/;
    my $d = indent($lines[$i]);
    my @block = (substr($lines[$i], $d));
    for my $other (@lines[$i + 1 .. $#lines]) {
        last if $other =~ /\S/ && indent($other) < $d;
        push @block, substr($other, $d) if indent($other) == $d;
    }
    my $p = TAP::Parser->new({ tap => join("\n", @block) . "\n" });
    while (my $r = $p->next) {
        next unless $r->is_test;
        my ($name) = split / /, $r->description;
        printf "RESULT %d %s %s %s\n", $d / 2, ($r->is_actual_ok ? 'ok' : 'not-ok'),
            ($r->has_skip ? 'skip' : '-'), $name // '';
    }
    my $errors = join('|', $p->parse_errors) || '-';
    printf "BLOCK %d %d %d %d %s\n", $d / 2, $p->tests_planned // -1, $p->tests_run,
        scalar($p->failed), $errors;
}
"#;

/// Parses with kunit_parser.parse_run_tests: `LEAF path status` per leaf, then
/// `COUNTS passed failed crashed skipped errors` and `STATUS name`.
pub(crate) const KUNIT_PY: &str = r#"
import sys
sys.path.insert(0, sys.argv[1])
import kunit_parser
test = kunit_parser.parse_run_tests(open(sys.argv[2]).read().splitlines())
def walk(t, path):
    for s in t.subtests:
        if s.subtests:
            walk(s, path + [s.name])
        else:
            print("LEAF", "/".join(path + [s.name]), s.status.name)
walk(test, [])
c = test.counts
print("COUNTS", c.passed, c.failed, c.crashed, c.skipped, c.errors)
print("STATUS", test.status.name)
"#;

/// The consumers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Consumer {
    TapPy,
    TapParser,
    Kunit,
}

/// Where the kernel's tools/testing/kunit is: `VMLAB_KUNIT_DIR`, else what
/// `.ci/run` unpacks under ~/.cache/vmlab/kunit/.
pub(crate) fn kunit_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("VMLAB_KUNIT_DIR") {
        return Some(PathBuf::from(dir));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let root = cache.join("vmlab").join("kunit");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("tools/testing/kunit"))
        .filter(|p| p.join("kunit_parser.py").is_file())
        .collect();
    found.sort();
    found.pop()
}

fn probe(program: &str, args: &[&str]) -> Result<(), String> {
    match Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(format!("{program}: {e}")),
    }
}

impl Consumer {
    fn available(self) -> Result<(), String> {
        match self {
            Consumer::TapPy => probe("python3", &["-c", "import tap.parser"])
                .map_err(|e| format!("tap.py (pip install tap.py): {e}")),
            Consumer::TapParser => probe("perl", &["-MTAP::Parser", "-e", "1"])
                .and_then(|()| probe("prove", &["--version"]))
                .map_err(|e| format!("Perl's TAP::Parser and prove (Debian perl): {e}")),
            Consumer::Kunit => match kunit_dir() {
                Some(dir) if dir.join("kunit_parser.py").is_file() => {
                    probe("python3", &["--version"])
                }
                Some(dir) => Err(format!(
                    "the kernel's kunit_parser.py is not in {}",
                    dir.display()
                )),
                None => Err(
                    "the kernel's kunit_parser.py: set VMLAB_KUNIT_DIR or run .ci/run, \
                     which unpacks it from Debian's linux-source package"
                        .into(),
                ),
            },
        }
    }

    /// True if the consumer can run; under CI, a missing one fails the test.
    pub(crate) fn present(self) -> bool {
        match self.available() {
            Ok(()) => true,
            Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("KTAP consumer missing under CI: {why}; .ci/run installs it")
            }
            Err(why) => {
                eprintln!("SKIP: KTAP not checked with {self:?}, not installed: {why}");
                false
            }
        }
    }

    /// Ends the test as ignored when no consumer at all is installed here
    /// (under CI, [`Consumer::present`] fails the test instead).
    fn skip_unless_any() {
        let missing: Vec<String> = [Consumer::Kunit, Consumer::TapPy, Consumer::TapParser]
            .into_iter()
            .filter_map(|c| c.available().err())
            .collect();
        if missing.len() == 3 && !std::env::var("CI").is_ok_and(|v| v == "true") {
            crate::trials::skip(format!(
                "no KTAP consumer installed: {}",
                missing.join("; ")
            ));
        }
    }

    /// Runs the consumer on the KTAP in `file`; its stdout's lines.
    pub(crate) fn read(self, file: &Path) -> Vec<String> {
        let mut command = match self {
            Consumer::TapPy => {
                let mut c = Command::new("python3");
                c.args(["-c", TAP_PY]).arg(file);
                c
            }
            Consumer::TapParser => {
                let mut c = Command::new("perl");
                c.args(["-e", TAP_PARSER_PL]).arg(file);
                c
            }
            Consumer::Kunit => {
                let mut c = Command::new("python3");
                c.args(["-c", KUNIT_PY])
                    .arg(kunit_dir().expect("checked"))
                    .arg(file);
                c
            }
        };
        let output = command.output().expect("run the consumer");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "{self:?} failed on {}\n--- stdout\n{stdout}\n--- stderr\n{}\n--- ktap\n{}",
            file.display(),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(file).unwrap_or_default()
        );
        stdout
            .lines()
            .filter(|l| {
                ["RESULT ", "BLOCK ", "LEAF ", "COUNTS ", "STATUS "]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .map(String::from)
            .collect()
    }
}

/// `kunit.py parse FILE`, the kernel's command line: its exit status and output.
fn kunit_cli(file: &Path) -> (Option<i32>, String) {
    let dir = kunit_dir().expect("checked");
    let output = Command::new("python3")
        .arg(dir.join("kunit.py"))
        .arg("parse")
        .arg(file)
        .output()
        .expect("run kunit.py");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).to_string(),
    )
}

/// `prove` on the document (the top level, as Perl's harness reads it): its
/// exit status and output.
fn prove(file: &Path) -> (Option<i32>, String) {
    let output = Command::new("prove")
        .args(["--exec", "cat"])
        .arg(file)
        .output()
        .expect("run prove");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).to_string(),
    )
}

/// A run's KTAP on disk, and everything needed to debug a failed assertion.
struct Ktap {
    _dir: tempfile::TempDir,
    file: PathBuf,
    run: Arc<HarnessRun>,
}

impl Ktap {
    fn of(run: impl Into<Arc<HarnessRun>>) -> Ktap {
        let run = run.into();
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("run.ktap");
        std::fs::write(&file, &run.output.stdout).expect("write ktap");
        Ktap {
            _dir: dir,
            file,
            run,
        }
    }

    fn why(&self, consumer: &[String]) -> String {
        format!(
            "{}\n--- consumer\n{}",
            self.run.describe(),
            consumer.join("\n")
        )
    }

    /// The `# Totals:` figures: pass, fail, xfail, xpass, skip, error.
    fn totals(&self) -> Vec<usize> {
        let text = String::from_utf8_lossy(&self.run.output.stdout).to_string();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("# Totals: "))
            .unwrap_or_else(|| panic!("no Totals line\n{}", self.run.describe()));
        line.split(' ')
            .map(|kv| {
                kv.split_once(':')
                    .expect("kind:count")
                    .1
                    .parse()
                    .expect("count")
            })
            .collect()
    }
}

/// Every block's plan matches its results, for tap.py (`BLOCK d plan n`) and
/// TAP::Parser (`BLOCK d planned run failed errors`, with no parse error).
fn assert_plans_hold(lines: &[String], why: &str) {
    let blocks: Vec<Vec<&str>> = lines
        .iter()
        .filter(|l| l.starts_with("BLOCK "))
        .map(|l| l.split(' ').collect())
        .collect();
    assert!(blocks.len() > 1, "no nested blocks\n{why}");
    for b in &blocks {
        assert_eq!(
            b[2], b[3],
            "a plan does not match its results: {b:?}\n{why}"
        );
        if b.len() > 5 {
            assert_eq!(b[5], "-", "TAP::Parser parse errors: {b:?}\n{why}");
        }
    }
}

fn crashed_run() -> Ktap {
    let bins = tempfile::tempdir().expect("temp dir");
    let path = bins.path().join("vmlab-mmap-file");
    std::fs::write(
        &path,
        "#!/bin/sh\necho \"vmlab-protocol 1 ready pid=$$ page_size=4096\"; read go; \
         echo 'out of cheese' >&2; exit 7\n",
    )
    .expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let run = HarnessRun::with_env(
        &["run", "mmap-file", "--quick", "--format", "tap"],
        &[("VMLAB_EXPERIMENTS_DIR", bins.path())],
    );
    run.assert_code(1);
    Ktap::of(run)
}

// See: a crashed run passed the kernel's parser with every leaf `ok ... # SKIP`.
fn a_crashed_experiment_fails_in_the_kernels_parser_and_its_leaves_are_not_ok() {
    Consumer::skip_unless_any();
    let k = crashed_run();
    let totals = k.totals();
    assert!(totals[5] > 0 && totals[0] == 0, "{}", k.run.describe());

    if Consumer::Kunit.present() {
        let out = Consumer::Kunit.read(&k.file);
        let why = k.why(&out);
        assert!(out.contains(&"STATUS FAILURE".to_string()), "{why}");
        let counts: Vec<&str> = out
            .iter()
            .find_map(|l| l.strip_prefix("COUNTS "))
            .expect("counts")
            .split(' ')
            .collect();
        assert_eq!(counts[0], "0", "no leaf passed: {why}");
        assert_eq!(
            counts[1],
            totals[5].to_string(),
            "every error leaf failed: {why}"
        );
        assert_eq!(
            counts[4], "0",
            "kunit_parser found errors in the KTAP: {why}"
        );
        let leaves: Vec<&String> = out.iter().filter(|l| l.starts_with("LEAF ")).collect();
        assert!(!leaves.is_empty(), "{why}");
        for leaf in leaves {
            assert!(
                leaf.starts_with("LEAF mmap-file/") && leaf.ends_with(" FAILURE"),
                "{leaf}\n{why}"
            );
        }
        let (code, text) = kunit_cli(&k.file);
        let summary = format!("Testing complete. Ran {0} tests: failed: {0}\n", totals[5]);
        assert!(
            code == Some(1) && text.contains(&summary),
            "kunit.py parse must fail with {summary:?}\n{text}\n{why}"
        );
    }
    for consumer in [Consumer::TapPy, Consumer::TapParser] {
        if !consumer.present() {
            continue;
        }
        let out = consumer.read(&k.file);
        let why = k.why(&out);
        assert_plans_hold(&out, &why);
        let leaves: Vec<&String> = out.iter().filter(|l| l.starts_with("RESULT 1 ")).collect();
        assert_eq!(leaves.len(), totals[5], "{consumer:?}: {why}");
        assert!(
            leaves.iter().all(|l| l.starts_with("RESULT 1 not-ok - ")),
            "{consumer:?}: every leaf is not ok\n{why}"
        );
        assert!(
            out.iter()
                .any(|l| l.starts_with("RESULT 0 not-ok - mmap-file")),
            "{consumer:?}: {why}"
        );
        if let Some(b) = out.iter().find(|l| l.starts_with("BLOCK 1 ")) {
            let fields: Vec<&str> = b.split(' ').collect();
            if fields.len() > 5 {
                assert_eq!(
                    fields[4], fields[3],
                    "TAP::Parser counts every leaf failed: {why}"
                );
            }
        }
        if let Consumer::TapParser = consumer {
            let (code, text) = prove(&k.file);
            assert!(
                code != Some(0) && text.contains("Result: FAIL"),
                "prove must fail\n{text}\n{why}"
            );
        }
    }
}

/// The quick run of every experiment in KTAP, shared with the repeatability
/// test, which reads its results folder as one of its runs.
pub const ALL_QUICK_TAP: &[&str] = &["all", "--quick", "--format", "tap"];

fn a_clean_quick_run_passes_the_kernels_parser_tap_py_and_tap_parser() {
    Consumer::skip_unless_any();
    let k = Ktap::of(crate::util::shared_run(ALL_QUICK_TAP));
    k.run.assert_code(0);
    let totals = k.totals();
    assert_eq!((totals[1], totals[5]), (0, 0), "{}", k.run.describe());

    if Consumer::Kunit.present() {
        let out = Consumer::Kunit.read(&k.file);
        let why = k.why(&out);
        assert!(out.contains(&"STATUS SUCCESS".to_string()), "{why}");
        let counts: Vec<usize> = out
            .iter()
            .find_map(|l| l.strip_prefix("COUNTS "))
            .expect("counts")
            .split(' ')
            .map(|n| n.parse().expect("count"))
            .collect();
        // kunit has no xfail or xpass: those are `ok` lines, so passes to it.
        assert_eq!(counts[0], totals[0] + totals[2] + totals[3], "{why}");
        assert_eq!(counts[1] + counts[2], 0, "{why}");
        assert_eq!(counts[3], totals[4], "skips agree with Totals: {why}");
        assert_eq!(counts[4], 0, "kunit_parser found errors in the KTAP: {why}");
        let (code, text) = kunit_cli(&k.file);
        // kunit names only the kinds it saw.
        let mut kinds = vec![format!("passed: {}", counts[0])];
        if counts[3] > 0 {
            kinds.push(format!("skipped: {}", counts[3]));
        }
        let summary = format!(
            "Testing complete. Ran {} tests: {}\n",
            counts[0] + counts[3],
            kinds.join(", ")
        );
        assert!(
            code == Some(0) && text.contains(&summary),
            "kunit.py parse must pass with {summary:?}\n{text}\n{why}"
        );
    }
    for consumer in [Consumer::TapPy, Consumer::TapParser] {
        if !consumer.present() {
            continue;
        }
        let out = consumer.read(&k.file);
        let why = k.why(&out);
        assert_plans_hold(&out, &why);
        assert!(
            !out.iter().any(|l| l.contains(" not-ok ")),
            "{consumer:?}: {why}"
        );
        // Leaves: every nested result, and each top-level result without a block.
        let count = |prefix: &str| out.iter().filter(|l| l.starts_with(prefix)).count();
        assert_eq!(
            count("RESULT 1 ") + count("RESULT 0 ") - count("BLOCK 1 "),
            totals.iter().sum::<usize>(),
            "{consumer:?} sees every leaf the Totals count: {why}"
        );
        if let Consumer::TapParser = consumer {
            let (code, text) = prove(&k.file);
            assert!(
                code == Some(0) && text.contains("Result: PASS"),
                "prove must pass\n{text}\n{why}"
            );
        }
    }
}

fn the_matrix_ktap_nests_kernels_experiments_and_claims_for_all_three_parsers() {
    // Even the host column runs the guests' static binaries, whose build (into
    // ~/.cache/vmlab) takes minutes: a heavy test.
    if !crate::trials::heavy_tests_asked() {
        crate::trials::skip(crate::trials::HEAVY_MATRIX_REASON);
    }
    Consumer::skip_unless_any();
    let out = tempfile::tempdir().expect("temp dir");
    let output = Command::new(crate::util::harness_bin())
        .args([
            "matrix",
            "--kernel",
            "host",
            "--experiments",
            "tiny-malloc",
            "--ktap",
            "--out",
        ])
        .arg(out.path())
        .output()
        .expect("run the harness");
    let describe = format!(
        "command: harness matrix --kernel host --experiments tiny-malloc --ktap\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "{describe}");
    // The kernel's results.json of this matrix run, against the published schema.
    crate::schema::assert_valid(
        &out.path().join("latest/host/results.json"),
        "matrix --kernel host",
    );
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        text.starts_with("KTAP version 1\n1..1\n  KTAP version 1\n  # Subtest: host\n  1..1\n    KTAP version 1\n    # Subtest: tiny-malloc\n"),
        "{describe}"
    );
    let file = out.path().join("matrix.ktap");
    std::fs::write(&file, &text).expect("write");
    if Consumer::Kunit.present() {
        let lines = Consumer::Kunit.read(&file);
        assert!(
            lines.contains(&"STATUS SUCCESS".to_string()),
            "{describe}\n{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("LEAF host/tiny-malloc/")),
            "{describe}\n{lines:?}"
        );
    }
    for consumer in [Consumer::TapPy, Consumer::TapParser] {
        if consumer.present() {
            let lines = consumer.read(&file);
            let why = format!("{describe}\n--- consumer\n{}", lines.join("\n"));
            assert_plans_hold(&lines, &why);
            assert!(lines.iter().any(|l| l.starts_with("BLOCK 2 ")), "{why}");
            assert!(!lines.iter().any(|l| l.contains(" not-ok ")), "{why}");
        }
    }
}

/// The leaves every consumer read as `not ok`, `ok`, and skipped, by name;
/// checks the plans hold and, with kunit, returns its status.
fn leaves_in_every_consumer(k: &Ktap) -> Vec<(Consumer, Vec<String>)> {
    let mut seen = Vec::new();
    for consumer in [Consumer::Kunit, Consumer::TapPy, Consumer::TapParser] {
        if !consumer.present() {
            continue;
        }
        let out = consumer.read(&k.file);
        if !matches!(consumer, Consumer::Kunit) {
            assert_plans_hold(&out, &k.why(&out));
        }
        seen.push((consumer, out));
    }
    seen
}

fn stand_in(script: &str) -> tempfile::TempDir {
    let bins = tempfile::tempdir().expect("temp dir");
    let path = bins.path().join("vmlab-mmap-file");
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    bins
}

// ktap.rst: a test that did not finish in time is `not ok ... # TIMEOUT`.
fn a_hang_reads_timeout_in_the_kernels_parser_and_fails_in_every_consumer() {
    Consumer::skip_unless_any();
    let bins = stand_in("echo \"vmlab-protocol 1 ready pid=$$ page_size=4096\"; read go; sleep 60");
    let run = HarnessRun::with_env(
        &[
            "run",
            "mmap-file",
            "--quick",
            "--timeout",
            "1",
            "--format",
            "tap",
        ],
        &[("VMLAB_EXPERIMENTS_DIR", bins.path())],
    );
    run.assert_code(1);
    let k = Ktap::of(run);
    let text = String::from_utf8_lossy(&k.run.output.stdout).to_string();
    assert!(
        text.contains("  not ok 1 warm.mmap-grows-vsz-by-mapping-size # TIMEOUT variant warm failed: timed out after 1s"),
        "{}",
        k.run.describe()
    );
    assert!(!text.contains("# ERROR"), "{}", k.run.describe());
    for (consumer, out) in leaves_in_every_consumer(&k) {
        let why = k.why(&out);
        match consumer {
            Consumer::Kunit => {
                assert!(out.contains(&"STATUS FAILURE".to_string()), "{why}");
                let (code, printed) = kunit_cli(&k.file);
                assert_ne!(code, Some(0), "{printed}\n{why}");
                assert!(
                    printed.contains("TIMEOUT variant warm failed: timed out after 1s"),
                    "kunit.py parse shows the TIMEOUT:\n{printed}\n{why}"
                );
            }
            _ => {
                assert!(
                    out.iter()
                        .filter(|l| l.starts_with("RESULT 1 "))
                        .all(|l| l.contains(" not-ok ")),
                    "{consumer:?}: {why}"
                );
                if let Consumer::TapParser = consumer {
                    let (code, printed) = prove(&k.file);
                    assert!(
                        code != Some(0) && printed.contains("Result: FAIL"),
                        "{printed}\n{why}"
                    );
                }
            }
        }
    }
}

const STRICT_CLAIMS: &str = r#"
source = "a user's claim"

[[claim]]
id = "a-shell-fits-in-a-page"
statement = "A shell fits in one page"
at = "started"
figure = "rss"
op = "<="
value = "1 page"
strict = true

[[claim]]
id = "a-shell-maps-something"
at = "started"
figure = "rss"
op = ">="
value = "1 page"
"#;

// A refutation not declared in advance passes as a finding, unless strict.
fn a_strict_claim_that_is_refuted_is_not_ok_in_every_consumer() {
    Consumer::skip_unless_any();
    let dir = tempfile::tempdir().expect("temp dir");
    let claims = dir.path().join("claims.toml");
    std::fs::write(&claims, STRICT_CLAIMS).expect("write claims");
    // HarnessRun puts --out and --dir last: after `--` they would be the
    // program's, so the program is a script that ignores its arguments.
    let script = dir.path().join("program.sh");
    std::fs::write(&script, "#!/bin/sh\necho started; read x; echo done\n").expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let run = HarnessRun::new(&[
        "trace",
        "--claims",
        claims.to_str().expect("utf-8"),
        "--format",
        "tap",
        "--out",
        dir.path().join("out").to_str().expect("utf-8"),
        "--",
        script.to_str().expect("utf-8"),
    ]);
    run.assert_code(1);
    let k = Ktap::of(run);
    let text = String::from_utf8_lossy(&k.run.output.stdout).to_string();
    assert!(
        text.contains("  not ok 1 a-shell-fits-in-a-page\n"),
        "{}",
        k.run.describe()
    );
    assert!(
        text.contains("  ok 2 a-shell-maps-something\n"),
        "{}",
        k.run.describe()
    );
    for (consumer, out) in leaves_in_every_consumer(&k) {
        let why = k.why(&out);
        match consumer {
            Consumer::Kunit => {
                assert!(out.contains(&"STATUS FAILURE".to_string()), "{why}");
                assert!(
                    out.iter()
                        .any(|l| l.ends_with("a-shell-fits-in-a-page FAILURE")),
                    "{why}"
                );
                assert!(
                    out.iter()
                        .any(|l| l.ends_with("a-shell-maps-something SUCCESS")),
                    "{why}"
                );
                let (code, printed) = kunit_cli(&k.file);
                assert_ne!(code, Some(0), "{printed}\n{why}");
            }
            _ => {
                assert!(
                    out.iter()
                        .any(|l| l.starts_with("RESULT 1 not-ok - a-shell-fits-in-a-page")),
                    "{consumer:?}: {why}"
                );
                assert!(
                    out.iter()
                        .any(|l| l.starts_with("RESULT 1 ok - a-shell-maps-something")),
                    "{consumer:?}: {why}"
                );
                if let Consumer::TapParser = consumer {
                    let (code, printed) = prove(&k.file);
                    assert!(
                        code != Some(0) && printed.contains("Result: FAIL"),
                        "{printed}\n{why}"
                    );
                }
            }
        }
    }
}

// A baseline of another --size compares no metric: each variant says so as a
// skip, and the run exits 4 (1 with --require-comparable).
fn a_comparison_of_other_sizes_is_a_skip_per_variant_in_every_consumer_and_exits_4() {
    Consumer::skip_unless_any();
    let dir = tempfile::tempdir().expect("temp dir");
    let baseline = dir.path().join("baseline.json");
    let saved = HarnessRun::new(&[
        "run",
        "mmap-file/warm",
        "--size",
        "8MiB",
        "--repeat",
        "1",
        "--save-baseline-file",
        baseline.to_str().expect("utf-8"),
    ]);
    saved.assert_code(0);
    let args = [
        "run",
        "mmap-file/warm",
        "--size",
        "16MiB",
        "--baseline",
        baseline.to_str().expect("utf-8"),
        "--format",
        "tap",
    ];
    let run = HarnessRun::new(&args);
    run.assert_code(4);
    let stderr = String::from_utf8_lossy(&run.output.stderr).to_string();
    assert!(
        stderr.contains("nothing was compared with the baseline (exit 4)"),
        "{}",
        run.describe()
    );
    let k = Ktap::of(run);
    let text = String::from_utf8_lossy(&k.run.output.stdout).to_string();
    let leaf = text
        .lines()
        .find(|l| l.contains(" warm.metrics "))
        .unwrap_or_else(|| panic!("no metrics leaf\n{}", k.run.describe()));
    assert!(
        leaf.contains(
            "# SKIP not compared: mmap-file: metrics not compared, the parameters differ ("
        ) && leaf.contains("file_bytes 8388608 -> 16777216"),
        "{leaf}\n{}",
        k.run.describe()
    );
    for (consumer, out) in leaves_in_every_consumer(&k) {
        let why = k.why(&out);
        match consumer {
            Consumer::Kunit => {
                assert!(
                    out.iter().any(|l| l.ends_with("warm.metrics SKIPPED")),
                    "{why}"
                );
                assert!(!out.iter().any(|l| l.ends_with(" FAILURE")), "{why}");
            }
            _ => {
                assert!(
                    out.iter()
                        .any(|l| l.starts_with("RESULT 1 ok skip warm.metrics")),
                    "{consumer:?}: {why}"
                );
            }
        }
    }
    let mut strict = args.to_vec();
    strict.push("--require-comparable");
    let required = HarnessRun::new(&strict);
    required.assert_code(1);
    let text = String::from_utf8_lossy(&required.output.stdout).to_string();
    assert!(
        text.contains(" warm.metrics\n") && text.contains("not ok"),
        "{}",
        required.describe()
    );
}

crate::tests![
    a_crashed_experiment_fails_in_the_kernels_parser_and_its_leaves_are_not_ok,
    a_clean_quick_run_passes_the_kernels_parser_tap_py_and_tap_parser,
    the_matrix_ktap_nests_kernels_experiments_and_claims_for_all_three_parsers,
    a_hang_reads_timeout_in_the_kernels_parser_and_fails_in_every_consumer,
    a_strict_claim_that_is_refuted_is_not_ok_in_every_consumer,
    a_comparison_of_other_sizes_is_a_skip_per_variant_in_every_consumer_and_exits_4,
];
