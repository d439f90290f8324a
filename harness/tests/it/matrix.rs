//! `harness matrix`: a Debian kernel booted under QEMU with the initramfs sends
//! its results back. Skipped with a reason where QEMU or a kernel image is not
//! available (CI installs qemu-system-x86, and the kernel is fetched from the
//! Debian archive once and cached).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::util::{harness_bin, page_size, process, region, u64_at, variant};

/// A `harness matrix` invocation with its own results folder.
struct MatrixRun {
    out: tempfile::TempDir,
    args: Vec<String>,
    output: Output,
}

impl MatrixRun {
    fn new(args: &[&str]) -> MatrixRun {
        MatrixRun::in_columns(args, None)
    }

    /// The run with `COLUMNS` set to `columns` (a terminal that wide), when given.
    fn in_columns(args: &[&str], columns: Option<usize>) -> MatrixRun {
        let out = tempfile::tempdir().expect("temp dir");
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.extend(["--out".into(), out.path().display().to_string()]);
        let mut command = Command::new(harness_bin());
        command.args(&args);
        if let Some(columns) = columns {
            command.env("COLUMNS", columns.to_string());
        }
        let output = command.output().expect("run the harness");
        MatrixRun { out, args, output }
    }

    fn describe(&self) -> String {
        format!(
            "command: harness {}\nstatus: {}\nresults: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.output.status,
            self.out.path().display(),
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn run_dir(&self) -> PathBuf {
        std::fs::canonicalize(self.out.path().join("latest"))
            .unwrap_or_else(|e| panic!("no latest run ({e})\n{}", self.describe()))
    }

    fn read(&self, path: &Path) -> String {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {} ({e})\n{}", path.display(), self.describe()))
    }
}

fn qemu_installed() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("qemu-system-x86_64").is_file()))
}

/// True when `matrix --list-kernels` shows debian:6.1 cached or fetchable.
fn debian_6_1_available() -> bool {
    let listing = MatrixRun::new(&["matrix", "--list-kernels"]);
    String::from_utf8_lossy(&listing.output.stdout).contains("debian:6.1 ")
}

/// Why a guest cannot run here (not asked for, QEMU missing, or, when `kernel`
/// is asked for, no debian:6.1 image to be had), if it cannot.
fn guest_unavailable(kernel: bool) -> Option<&'static str> {
    if !crate::trials::heavy_tests_asked() {
        return Some(crate::trials::HEAVY_TESTS_REASON);
    }
    if !qemu_installed() {
        return Some("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)");
    }
    if kernel && !debian_6_1_available() {
        return Some(
            "no debian:6.1 kernel cached or in the apt sources (harness matrix --list-kernels)",
        );
    }
    None
}

/// Ends the test as ignored, with the reason, when a guest cannot run here.
macro_rules! skip_without_guest {
    ($kernel:expr) => {
        if let Some(reason) = guest_unavailable($kernel) {
            crate::trials::skip(reason);
        }
    };
}

fn a_debian_kernel_boots_in_qemu_and_sends_its_measured_results_back() {
    skip_without_guest!(true);
    let run = MatrixRun::new(&[
        "matrix",
        "--kernel",
        "debian:6.1",
        "--experiments",
        "mmap-file,shared-file",
        "--size",
        "1MiB",
        "--memory",
        "256MiB",
        "--thp",
        "never",
        "--ktap",
    ]);
    assert_eq!(run.output.status.code(), Some(0), "{}", run.describe());
    let dir = run.run_dir();
    let results: Value = serde_json::from_str(&run.read(&dir.join("debian-6.1/results.json")))
        .unwrap_or_else(|e| panic!("results.json does not parse ({e})\n{}", run.describe()));
    crate::schema::assert_valid(
        &dir.join("debian-6.1/results.json"),
        "matrix guest debian-6.1",
    );

    // The environment says where and how it ran.
    let env = &results["environment"];
    assert!(
        env["kernel"].as_str().unwrap_or("").starts_with("6.1."),
        "{env:#}"
    );
    assert_eq!(env["virtual_machine"], true, "{env:#}");
    assert_eq!(u64_at(env, &["guest", "memory_bytes"]), 256 << 20);
    assert_eq!(env["guest"]["thp_cmdline"], "never");
    assert_eq!(
        env["thp_enabled"], "never",
        "the guest kernel took the mode"
    );
    assert!(
        env["guest"]["kernel_cmdline"]
            .as_str()
            .unwrap_or("")
            .contains("transparent_hugepage=never"),
        "{env:#}"
    );

    // The files were on the guest's ext4 disk, not in RAM.
    assert_eq!(env["temp_dir_fs"], "ext4", "{env:#}");
    assert!(
        run.read(&dir.join("debian-6.1/console.log"))
            .contains("vmlab-guest: files on /dev/vda (ext4)"),
        "{}",
        run.describe()
    );

    // The figures were measured inside the guest: reading the whole mapping made
    // it resident, within a page of its size.
    let exp = &results["experiments"][0];
    assert_eq!(exp["name"], "mmap-file");
    let map_bytes = u64_at(exp, &["params", "map_bytes"]);
    let warm = variant(&results, "mmap-file", "warm");
    assert_eq!(warm["status"], "ok", "{warm:#}");
    let data = region(process(warm, "after-read-all", "main"), "data");
    let resident = u64_at(data, &["rss_bytes"]);
    assert!(
        resident + page_size() >= map_bytes && resident <= map_bytes + page_size(),
        "data rss {resident} for a {map_bytes}-byte mapping\n{}",
        run.describe()
    );

    // The guest has POSIX shared memory (a tmpfs on /dev/shm), as a
    // distribution does: the shm variant ran instead of skipping.
    let shm = variant(&results, "shared-file", "shm");
    assert_eq!(shm["status"], "ok", "{shm:#}");

    // KTAP on stdout and on disk: the one kernel, its experiments, a leaf per claim.
    let claims = exp["claims"].as_array().map_or(0, Vec::len);
    assert!(claims > 0, "{exp:#}");
    let ktap = String::from_utf8_lossy(&run.output.stdout).into_owned();
    assert!(
        ktap.starts_with(
            "KTAP version 1\n1..1\n  KTAP version 1\n  # Subtest: debian_6.1\n  1..2\n"
        ),
        "{}",
        run.describe()
    );
    assert!(
        ktap.contains(&format!("    # Subtest: mmap-file\n    1..{claims}\n")),
        "{}",
        run.describe()
    );
    assert_eq!(run.read(&dir.join("matrix.ktap")), ktap);
    let table = run.read(&dir.join("matrix.txt"));
    assert!(table.contains("debian:6.1 (ref)"), "{table}");
    assert!(
        !run.stderr().contains("/results/"),
        "no guest path on the host's log\n{}",
        run.describe()
    );

    // The kernel's folder, copied elsewhere, gives the same matrix.
    let copies = tempfile::tempdir().expect("temp dir");
    let copy = copies.path().join("debian-6.1");
    std::fs::create_dir(&copy).expect("mkdir");
    std::fs::copy(
        dir.join("debian-6.1/results.json"),
        copy.join("results.json"),
    )
    .expect("copy results.json");
    let again = MatrixRun::new(&["matrix", "--results", &copy.display().to_string()]);
    assert_eq!(again.output.status.code(), Some(0), "{}", again.describe());
    assert_eq!(
        again.read(&again.run_dir().join("matrix.txt")),
        table,
        "{}",
        again.describe()
    );
    assert!(
        run.read(&dir.join("debian-6.1/console.log"))
            .contains("vmlab-guest: done"),
        "the console was captured"
    );
}

fn a_guest_that_overstays_its_timeout_is_killed_and_reported() {
    skip_without_guest!(true);
    let run = MatrixRun::new(&[
        "matrix",
        "--kernel",
        "debian:6.1",
        "--experiments",
        "mmap-file",
        "--timeout",
        "1",
    ]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.describe());
    assert!(
        run.stderr().contains("did not power off within 1 s"),
        "{}",
        run.describe()
    );
    let ktap = run.read(&run.run_dir().join("matrix.ktap"));
    assert!(
        ktap.starts_with("KTAP version 1\n1..1\nnot ok 1 debian_6.1 # ERROR no results: "),
        "{ktap}"
    );
}

fn an_unknown_debian_version_says_what_was_tried_and_what_is_available() {
    skip_without_guest!(false);
    let run = MatrixRun::new(&["matrix", "--kernel", "debian:0.1"]);
    assert_eq!(run.output.status.code(), Some(2), "{}", run.describe());
    let err = run.stderr();
    assert!(err.contains("debian:0.1"), "{}", run.describe());
    assert!(err.contains("apt-cache search"), "{}", run.describe());
    assert!(err.contains("--list-kernels"), "{}", run.describe());
}

fn guest_init_is_hidden_and_refuses_to_run_outside_a_guest() {
    let help = Command::new(harness_bin())
        .arg("--help")
        .output()
        .expect("run the harness");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("matrix"), "{text}");
    assert!(!text.contains("guest-init"), "{text}");
    let init = Command::new(harness_bin())
        .arg("guest-init")
        .output()
        .expect("run the harness");
    assert_eq!(init.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&init.stderr).contains("PID 1"));
}

/// A file that is neither a bzImage nor an ELF vmlinux is refused before any
/// guest boots (it used to cost a 30-second boot that QEMU then failed).
fn an_image_that_is_not_a_kernel_is_refused_before_any_guest_boots() {
    let junk = tempfile::NamedTempFile::new().expect("temp file");
    let noise: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(junk.path(), noise).expect("write");
    let path = junk.path().display().to_string();
    let run = MatrixRun::new(&["matrix", "--kernel", &path, "--experiments", "mmap-file"]);
    assert_eq!(run.output.status.code(), Some(2), "{}", run.describe());
    let err = run.stderr();
    assert!(err.contains("not a kernel image"), "{}", run.describe());
    assert!(err.contains("HdrS"), "{}", run.describe());
    assert_eq!(err.lines().count(), 1, "one line\n{}", run.describe());
    assert!(
        !run.out.path().join("latest").exists(),
        "nothing was run\n{}",
        run.describe()
    );
}

fn a_boot_qemu_refuses_is_reported_in_qemus_own_words() {
    skip_without_guest!(false);
    // A bzImage header (HdrS) of boot protocol 1.0, which cannot take an
    // initramfs: QEMU refuses it itself.
    let image = tempfile::NamedTempFile::new().expect("temp file");
    let mut bytes = vec![0u8; 8192];
    bytes[0x1f1] = 4; // setup sectors
    bytes[0x202..0x206].copy_from_slice(b"HdrS");
    bytes[0x206..0x208].copy_from_slice(&0x0100u16.to_le_bytes());
    std::fs::write(image.path(), bytes).expect("write");
    let path = image.path().display().to_string();
    let run = MatrixRun::new(&[
        "matrix",
        "--kernel",
        &path,
        "--experiments",
        "tiny-malloc",
        "--timeout",
        "60",
    ]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.describe());
    let err = run.stderr();
    assert!(err.contains("QEMU said: "), "{}", run.describe());
    assert!(
        err.contains("QEMU ended with exit status: 1"),
        "{}",
        run.describe()
    );
    let ktap = run.read(&run.run_dir().join("matrix.ktap"));
    assert!(
        ktap.starts_with("KTAP version 1\n1..1\nnot ok 1 ")
            && ktap.contains(" # ERROR no results: "),
        "{ktap}"
    );
}

fn result_folders_made_elsewhere_make_the_same_matrix() {
    // Two kernels' `harness run` folders, as a CI fleet would collect them.
    let fleet = tempfile::tempdir().expect("temp dir");
    let first = fleet.path().join("kernel-a");
    let status = Command::new(harness_bin())
        .args(["run", "tiny-malloc", "--quick", "--format", "json", "--out"])
        .arg(&first)
        .output()
        .expect("run the harness");
    assert!(status.status.success(), "{status:?}");
    let second = fleet.path().join("kernel-b");
    std::fs::create_dir(&second).expect("mkdir");
    std::fs::copy(
        first.join("latest/results.json"),
        second.join("results.json"),
    )
    .expect("copy");
    let a = first.display().to_string();
    let b = second.display().to_string();
    let run = MatrixRun::new(&["matrix", "--results", &a, &b]);
    assert_eq!(run.output.status.code(), Some(0), "{}", run.describe());
    let table = String::from_utf8_lossy(&run.output.stdout).into_owned();
    assert!(table.contains("kernel-a (ref)"), "{table}");
    assert!(table.contains("kernel-b"), "{table}");
    assert!(
        flat(&table).contains(" 0 of "),
        "a run and its copy do not differ:\n{table}"
    );
    assert_eq!(run.read(&run.run_dir().join("matrix.txt")), table);
    let all = MatrixRun::new(&["matrix", "--results", &a, &b, "--all-rows"]);
    let all_table = String::from_utf8_lossy(&all.output.stdout).into_owned();
    assert!(
        flat(&all_table).contains("minor faults"),
        "{}",
        all.describe()
    );

    let missing = MatrixRun::new(&["matrix", "--results", "/no/such/folder"]);
    assert_eq!(
        missing.output.status.code(),
        Some(2),
        "{}",
        missing.describe()
    );
    assert!(
        missing.stderr().contains("no results.json"),
        "{}",
        missing.describe()
    );
}

/// `harness run NAMES --quick` into its own folder under `root`.
fn run_folder(root: &Path, folder: &str, names: &[&str]) -> String {
    let out = root.join(folder);
    let output = Command::new(harness_bin())
        .arg("run")
        .args(names)
        .args(["--quick", "-q", "--out"])
        .arg(&out)
        .output()
        .expect("run the harness");
    assert!(output.status.success(), "{output:?}");
    out.display().to_string()
}

/// How many rows a matrix table says differ (`N of M rows differ`).
fn differing_rows(table: &str) -> usize {
    // The legend is wrapped to the terminal: read it as one line.
    let table = &flat(table);
    let at = table
        .find(" rows differ")
        .unwrap_or_else(|| panic!("no count of differing rows:\n{table}"));
    let head = &table[..at];
    let of = head.rfind(" of ").expect("N of M");
    head[..of]
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before ' of ':\n{table}"))
}

fn a_fleets_folders_merge_with_what_one_did_not_run_as_not_run() {
    // Two native runs of the same kernel, and a folder of one experiment only.
    let fleet = tempfile::tempdir().expect("temp dir");
    let both = ["tiny-malloc", "mmap-file"];
    let a = run_folder(fleet.path(), "kernel-a", &both);
    let b = run_folder(fleet.path(), "kernel-b", &both);
    let one = run_folder(fleet.path(), "one-experiment", &["mmap-file"]);

    // Wide enough for one line per row, so that a row's name and cells are found together.
    let merged =
        MatrixRun::in_columns(&["matrix", "--results", &a, &one, "--all-rows"], Some(1000));
    assert_eq!(
        merged.output.status.code(),
        Some(0),
        "{}",
        merged.describe()
    );
    let table = String::from_utf8_lossy(&merged.output.stdout).into_owned();
    let tiny: Vec<&str> = table
        .lines()
        .filter(|l| l.contains("tiny-malloc"))
        .collect();
    assert!(!tiny.is_empty(), "{table}");
    for line in &tiny {
        assert!(line.contains("not run"), "{line}\n{table}");
        assert!(!line.contains(" *"), "not run is no difference: {line}");
    }
    assert!(
        flat(&table).contains("never counted as differences"),
        "{table}"
    );
    // Whatever differs is measured by both: at most what two runs of one
    // kernel differ in.
    assert!(differing_rows(&table) <= 2, "{table}");

    let same = MatrixRun::new(&["matrix", "--results", &a, &b]);
    assert_eq!(same.output.status.code(), Some(0), "{}", same.describe());
    let table = String::from_utf8_lossy(&same.output.stdout).into_owned();
    assert!(
        differing_rows(&table) <= 2,
        "two native runs of one kernel differ in at most 2 rows:\n{table}"
    );
    assert!(
        flat(&table).contains("compared as `harness compare`"),
        "{table}"
    );

    // -q: nothing on stdout or stderr, the table still written.
    let quiet = MatrixRun::new(&["matrix", "-q", "--results", &a, &b]);
    assert_eq!(quiet.output.status.code(), Some(0), "{}", quiet.describe());
    assert!(quiet.output.stdout.is_empty(), "{}", quiet.describe());
    assert!(quiet.output.stderr.is_empty(), "{}", quiet.describe());
    assert_eq!(quiet.read(&quiet.run_dir().join("matrix.txt")), table);
}

/// The kernels' cells of each row of the matrix table in `out` (the table
/// whose header names `K1 (ref)`), read in the columns its rule line marks;
/// continuation and note lines (indented, blank in those columns) are
/// skipped. Panics unless all of `kernels` head a column.
fn kernel_cells(out: &str, kernels: &[&str]) -> Vec<Vec<String>> {
    let lines: Vec<Vec<char>> = out.lines().map(|l| l.chars().collect()).collect();
    let text = |line: &[char], (from, to): (usize, usize)| -> String {
        line.iter()
            .skip(from)
            .take(to - from)
            .collect::<String>()
            .trim()
            .to_string()
    };
    let header = lines
        .iter()
        .position(|l| l.iter().collect::<String>().contains("K1 (ref)"))
        .unwrap_or_else(|| panic!("no matrix header:\n{out}"));
    let rule = (header + 1..lines.len())
        .find(|&i| lines[i].contains(&'-') && lines[i].iter().all(|c| matches!(c, '-' | ' ')))
        .unwrap_or_else(|| panic!("no rule under the header:\n{out}"));
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in lines[rule].iter().chain([&' ']).enumerate() {
        match (c, start) {
            ('-', None) => start = Some(i),
            (' ', Some(from)) => {
                spans.push((from, i));
                start = None;
            }
            _ => {}
        }
    }
    let columns: Vec<(usize, usize)> = kernels
        .iter()
        .map(|k| {
            *spans
                .iter()
                .find(|span| text(&lines[header], **span).starts_with(k))
                .unwrap_or_else(|| panic!("no column for {k}:\n{out}"))
        })
        .collect();
    lines[rule + 1..]
        .iter()
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.starts_with(&[' '; 6]))
        .map(|l| {
            columns
                .iter()
                .map(|span| text(l, *span))
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells.iter().any(|c| !c.is_empty()))
        .collect()
}

/// `text` with every run of white space one space: wrapped prose as one line.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lines of `out` wider than `width` characters.
fn too_wide(out: &str, width: usize) -> Vec<&str> {
    out.lines().filter(|l| l.chars().count() > width).collect()
}

// See: issue 26
fn three_kernels_fit_80_columns_with_every_value_shown() {
    let fleet = tempfile::tempdir().expect("temp dir");
    let names = ["mmap-file", "lazy-alloc"];
    let folders = [
        "debian-6.1.0-48-amd64-in-ci",
        "kernel-b",
        "a-third-kernel-with-a-long-name",
    ]
    .map(|f| run_folder(fleet.path(), f, &names));
    let mut args = vec!["matrix", "--results"];
    args.extend(folders.iter().map(String::as_str));
    args.push("--all-rows");
    let narrow = MatrixRun::in_columns(&args, Some(80));
    assert_eq!(
        narrow.output.status.code(),
        Some(0),
        "{}",
        narrow.describe()
    );
    let stdout = String::from_utf8_lossy(&narrow.output.stdout).into_owned();
    let wide_lines = too_wide(&stdout, 80);
    assert!(
        wide_lines.is_empty(),
        "{wide_lines:#?}\n{}",
        narrow.describe()
    );
    assert!(
        too_wide(&narrow.stderr(), 80).is_empty(),
        "{}",
        narrow.describe()
    );
    // Long names are abbreviated, with a legend.
    assert!(
        stdout.contains("K1 = debian-6.1.0-48-amd64-in-ci"),
        "{stdout}"
    );
    assert!(
        stdout.contains("K3 = a-third-kernel-with-a-long-name"),
        "{stdout}"
    );

    // Every row keeps its three values, the same as a wide terminal shows.
    let kernels = ["K1", "kernel-b", "K3"];
    let shown = kernel_cells(&stdout, &kernels);
    let roomy = MatrixRun::in_columns(&args, Some(1000));
    let roomy_out = String::from_utf8_lossy(&roomy.output.stdout).into_owned();
    assert!(
        roomy_out.lines().any(|l| l.chars().count() > 80),
        "the wide layout is wider than 80 (else this checks nothing):\n{roomy_out}"
    );
    let all = kernel_cells(&roomy_out, &kernels);
    assert_eq!(all.len(), table_rows(&stdout), "{roomy_out}");
    assert!(all.iter().flatten().all(|c| !c.is_empty()), "{roomy_out}");
    assert_eq!(shown, all, "narrow:\n{stdout}\nwide:\n{roomy_out}");

    // compare's report of two of them fits too.
    let compare = Command::new(harness_bin())
        .args([
            "compare",
            &format!("{}/latest", folders[0]),
            &format!("{}/latest", folders[1]),
        ])
        .env("COLUMNS", "80")
        .output()
        .expect("run the harness");
    let report = String::from_utf8_lossy(&compare.stdout);
    assert!(compare.status.success(), "{compare:?}");
    assert!(report.contains("metrics"), "{report}");
    assert!(too_wide(&report, 80).is_empty(), "{report}");
}

/// The M of the table's `N of M rows differ`.
fn table_rows(table: &str) -> usize {
    let table = &flat(table);
    let at = table.find(" rows differ").expect("a count of rows");
    let head = &table[..at];
    head[head.rfind(" of ").expect("N of M") + 4..]
        .parse()
        .unwrap_or_else(|_| panic!("no row count:\n{table}"))
}

fn a_setting_without_its_kernel_or_for_the_host_is_refused_with_one_line() {
    for args in [
        &["matrix", "--with", "overcommit=2", "--kernel", "host"][..],
        &["matrix", "--kernel", "host", "--with", "overcommit=2"][..],
        &["matrix", "--kernel", "host", "--with", "overcommit=7"][..],
        &["matrix", "--kernel", "host", "--sysctl", "kernel.pid_max=9"][..],
    ] {
        let run = MatrixRun::new(args);
        assert_eq!(run.output.status.code(), Some(2), "{}", run.describe());
        assert_eq!(run.stderr().lines().count(), 1, "{}", run.describe());
    }
}

crate::tests![
    a_debian_kernel_boots_in_qemu_and_sends_its_measured_results_back,
    a_guest_that_overstays_its_timeout_is_killed_and_reported,
    an_unknown_debian_version_says_what_was_tried_and_what_is_available,
    guest_init_is_hidden_and_refuses_to_run_outside_a_guest,
    an_image_that_is_not_a_kernel_is_refused_before_any_guest_boots,
    a_boot_qemu_refuses_is_reported_in_qemus_own_words,
    result_folders_made_elsewhere_make_the_same_matrix,
    a_fleets_folders_merge_with_what_one_did_not_run_as_not_run,
    a_setting_without_its_kernel_or_for_the_host_is_refused_with_one_line,
    three_kernels_fit_80_columns_with_every_value_shown,
];
