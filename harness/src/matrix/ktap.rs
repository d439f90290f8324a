//! KTAP for kernel CI: one test per kernel × claim, plus one failing test for a
//! kernel that produced no results. The plan line is the number of tests built
//! from the data, never a count kept by hand.
//!
//! Mapping of verdicts: confirmed is `ok`; refuted is `not ok`, unless the
//! experiment expected that refutation on current kernels (then `ok # XFAIL`
//! with the reason); inconclusive is `ok # SKIP` with the evidence.

use super::KernelResult;
use crate::model::Verdict;

/// Renders the KTAP document.
pub fn render(results: &[KernelResult]) -> String {
    let mut tests: Vec<String> = Vec::new();
    for k in results {
        match &k.run {
            Err(why) => tests.push(format!(
                "not ok {{}} {} boot # {}",
                name(&k.label),
                one_line(why)
            )),
            Ok(run) => {
                for e in &run.experiments {
                    for c in &e.claims {
                        let test = match &c.variant {
                            Some(v) => format!("{} {}.{}.{}", name(&k.label), e.name, v, c.id),
                            None => format!("{} {}.{}", name(&k.label), e.name, c.id),
                        };
                        let expected_refutation = c.expected.as_ref().filter(|x| {
                            x.verdict == Verdict::Refuted && c.verdict == Verdict::Refuted
                        });
                        let line = match (c.verdict, expected_refutation) {
                            (Verdict::Confirmed, _) => format!("ok {{}} {test}"),
                            (Verdict::Refuted, Some(x)) => {
                                format!("ok {{}} {test} # XFAIL {}", one_line(&x.reason))
                            }
                            (Verdict::Refuted, None) => {
                                format!("not ok {{}} {test} # {}", one_line(&c.evidence))
                            }
                            (Verdict::Inconclusive, _) => {
                                format!("ok {{}} {test} # SKIP {}", one_line(&c.evidence))
                            }
                        };
                        tests.push(line);
                    }
                }
            }
        }
    }
    let mut out = format!("KTAP version 1\n1..{}\n", tests.len());
    for (i, line) in tests.iter().enumerate() {
        out.push_str(&line.replacen("{}", &(i + 1).to_string(), 1));
        out.push('\n');
    }
    out
}

/// A test name without spaces or `#` (KTAP's directive marker).
fn name(label: &str) -> String {
    label.replace([' ', '#'], "_")
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ").replace('#', "no.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::compare::tests::run;
    use crate::model::{Expectation, Verdict};

    #[test]
    fn the_plan_counts_every_kernel_and_claim_and_a_failed_boot() {
        let good = run(4096, 1, Verdict::Confirmed);
        let mut refuted = run(4096, 1, Verdict::Refuted);
        let mut expected = run(4096, 1, Verdict::Refuted);
        expected.experiments[0].claims[0].expected = Some(Expectation {
            verdict: Verdict::Refuted,
            reason: "fault-around".into(),
        });
        refuted.experiments[0].claims[0].evidence = "saw #16 pages".into();
        let results = vec![
            KernelResult {
                label: "debian:6.1".into(),
                run: Ok(good),
            },
            KernelResult {
                label: "new".into(),
                run: Ok(refuted),
            },
            KernelResult {
                label: "xf".into(),
                run: Ok(expected),
            },
            KernelResult {
                label: "debian:6.12".into(),
                run: Err("timed out\nconsole tail".into()),
            },
        ];
        let ktap = render(&results);
        let lines: Vec<&str> = ktap.lines().collect();
        assert_eq!(lines[0], "KTAP version 1");
        assert_eq!(lines[1], "1..4");
        assert_eq!(
            lines[2],
            "ok 1 debian:6.1 mmap-file.warm.read-all-makes-file-resident"
        );
        assert_eq!(
            lines[3],
            "not ok 2 new mmap-file.warm.read-all-makes-file-resident # saw no.16 pages"
        );
        assert_eq!(
            lines[4],
            "ok 3 xf mmap-file.warm.read-all-makes-file-resident # XFAIL fault-around"
        );
        assert_eq!(
            lines[5],
            "not ok 4 debian:6.12 boot # timed out console tail"
        );
    }
}
