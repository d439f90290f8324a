//! What the user picked to run: `NAME`, `NAME/VARIANT` or
//! `NAME/VARIANT,VARIANT`, the same syntax for `run`, `matrix --experiments`
//! and `compare --only`. Names are checked against the registry here;
//! variants against the experiment's plan ([`Selection::check_variants`]), which
//! needs the machine and so comes later.

use crate::experiment::{self, Experiment};

/// One experiment, and the variants of it to run (all when `variants` is None).
#[derive(Clone)]
pub struct Selection {
    /// The experiment.
    pub experiment: &'static dyn Experiment,
    /// The variants asked for, in the order given; None: every variant.
    pub variants: Option<Vec<String>>,
}

impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selection")
            .field("experiment", &self.experiment.info().name)
            .field("variants", &self.variants)
            .finish()
    }
}

impl Selection {
    /// Parses one `NAME[/VARIANT[,VARIANT...]]`.
    pub fn parse(text: &str) -> Result<Selection, String> {
        let (name, variants) = match text.split_once('/') {
            Some((name, list)) => {
                let variants: Vec<String> =
                    list.split(',').map(str::trim).map(String::from).collect();
                if variants.iter().all(String::is_empty) {
                    return Err(format!(
                        "'{text}' names no variant after '/'; write NAME/VARIANT (see `harness explain {name}`)"
                    ));
                }
                if variants.iter().any(String::is_empty) {
                    return Err(format!(
                        "'{text}' has an empty variant name between commas; write NAME/A,B (see `harness explain {name}`)"
                    ));
                }
                (name, Some(variants))
            }
            None => (text, None),
        };
        let experiment = experiment::find(name).ok_or_else(|| {
            format!("unknown experiment '{name}'; `harness list` shows the names")
        })?;
        Ok(Selection {
            experiment,
            variants,
        })
    }

    /// Parses every argument; an experiment named twice is merged (all its
    /// variants if either asks for all).
    pub fn parse_all(texts: &[String]) -> Result<Vec<Selection>, String> {
        let mut out: Vec<Selection> = Vec::new();
        for text in texts {
            let s = Selection::parse(text)?;
            let name = s.experiment.info().name;
            match out.iter_mut().find(|o| o.experiment.info().name == name) {
                Some(existing) => match (&mut existing.variants, s.variants) {
                    (Some(have), Some(more)) => {
                        for v in more {
                            if !have.contains(&v) {
                                have.push(v);
                            }
                        }
                    }
                    (slot, _) => *slot = None,
                },
                None => out.push(s),
            }
        }
        Ok(out)
    }

    /// Every experiment, every variant.
    pub fn everything() -> Vec<Selection> {
        experiment::registry()
            .into_iter()
            .map(|experiment| Selection {
                experiment,
                variants: None,
            })
            .collect()
    }

    /// Whether `variant` is to run.
    pub fn wants(&self, variant: &str) -> bool {
        self.variants
            .as_ref()
            .is_none_or(|v| v.iter().any(|w| w == variant))
    }

    /// Fails, naming the variants there are, if one asked for is not among `available`.
    pub fn check_variants(&self, available: &[&str]) -> Result<(), String> {
        let Some(asked) = &self.variants else {
            return Ok(());
        };
        match asked.iter().find(|v| !available.contains(&v.as_str())) {
            Some(unknown) => Err(format!(
                "{} has no variant '{unknown}'; its variants are {}",
                self.experiment.info().name,
                available.join(", ")
            )),
            None => Ok(()),
        }
    }

    /// The selection as typed (`fork-cow/thp-off,thp-on`).
    pub fn spec(&self) -> String {
        let name = self.experiment.info().name;
        match &self.variants {
            Some(v) => format!("{name}/{}", v.join(",")),
            None => name.to_string(),
        }
    }
}

/// Keeps only what `selections` name of a recorded run: their experiments,
/// and of those the selected variants and the claims about them (claims about
/// no particular variant stay). An empty selection keeps everything.
pub fn restrict(run: &mut crate::model::RunRecord, selections: &[Selection]) {
    if selections.is_empty() {
        return;
    }
    run.experiments.retain_mut(|e| {
        let Some(s) = selections
            .iter()
            .find(|s| s.experiment.info().name == e.name)
        else {
            return false;
        };
        e.variants.retain(|v| s.wants(&v.name));
        e.claims
            .retain(|c| c.variant.as_deref().is_none_or(|v| s.wants(v)));
        true
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_selects_every_variant() {
        let s = Selection::parse("fork-cow").unwrap();
        assert_eq!(s.experiment.info().name, "fork-cow");
        assert!(s.variants.is_none());
        assert!(s.wants("anything"));
    }

    #[test]
    fn a_slash_selects_variants() {
        let s = Selection::parse("fork-cow/thp-off,thp-on").unwrap();
        assert_eq!(s.variants, Some(vec!["thp-off".into(), "thp-on".into()]));
        assert!(s.wants("thp-on") && !s.wants("zygote"));
        assert_eq!(s.spec(), "fork-cow/thp-off,thp-on");
    }

    #[test]
    fn unknown_names_and_variants_are_usage_errors() {
        assert!(Selection::parse("nope/x")
            .unwrap_err()
            .contains("unknown experiment 'nope'"));
        assert!(Selection::parse("fork-cow/")
            .unwrap_err()
            .contains("names no variant"));
        let s = Selection::parse("fork-cow/thp-of").unwrap();
        let err = s.check_variants(&["thp-off", "thp-on"]).unwrap_err();
        assert!(
            err.contains("no variant 'thp-of'") && err.contains("thp-off, thp-on"),
            "{err}"
        );
    }

    #[test]
    fn a_recorded_run_is_restricted_to_the_selected_variants_and_their_claims() {
        let mut run =
            crate::store::json::parse(include_str!("../tests/fixtures/runs/mmap-file-quick.json"))
                .expect("the fixture parses");
        restrict(
            &mut run,
            &Selection::parse_all(&["mmap-file/cold".into()]).unwrap(),
        );
        let e = &run.experiments[0];
        let variants: Vec<&str> = e.variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(variants, ["cold"]);
        assert!(!e.claims.is_empty());
        assert!(e
            .claims
            .iter()
            .all(|c| c.variant.as_deref().is_none_or(|v| v == "cold")));
        restrict(
            &mut run,
            &Selection::parse_all(&["fork-cow".into()]).unwrap(),
        );
        assert!(run.experiments.is_empty());
    }

    #[test]
    fn naming_an_experiment_twice_merges_its_variants() {
        let all =
            Selection::parse_all(&["fork-cow/thp-off".into(), "fork-cow/zygote".into()]).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            all[0].variants,
            Some(vec!["thp-off".into(), "zygote".into()])
        );
        let all = Selection::parse_all(&["fork-cow/thp-off".into(), "fork-cow".into()]).unwrap();
        assert!(all[0].variants.is_none());
    }
}
