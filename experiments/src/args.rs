//! Typed command lines. Each experiment's arguments are one struct in its
//! [`catalog`](crate::catalog) contract: the harness fills it in and turns it into
//! the binary's command line with [`to_args`], the binary parses the same struct
//! with clap. A renamed or retyped field fails to compile on both sides;
//! [`round_trip`] checks, per experiment, that what one side writes the other reads.

use std::ffi::OsString;

use serde::Serialize;
use serde_json::Value;

/// The command line that gives `args` to the binary: `--field-name value` per
/// field (snake case turned kebab case, as clap's `#[arg(long)]` names it), a
/// bare `--flag` for a `true` bool, nothing for `false` or `None`, the option
/// repeated for a list.
///
/// # Panics
///
/// If `args` does not serialise to a flat object of numbers, strings, bools and
/// lists of them: that is a contract written wrongly, which [`round_trip`]'s
/// tests catch.
pub fn to_args<T: Serialize>(args: &T) -> Vec<OsString> {
    let value = serde_json::to_value(args).expect("experiment arguments serialise");
    let Value::Object(fields) = value else {
        panic!("experiment arguments must be a struct, not {value}");
    };
    let mut out = Vec::new();
    for (field, value) in fields {
        let option = format!("--{}", field.replace('_', "-"));
        push(&mut out, &option, &value);
    }
    out
}

fn push(out: &mut Vec<OsString>, option: &str, value: &Value) {
    match value {
        Value::Null | Value::Bool(false) => {}
        Value::Bool(true) => out.push(option.into()),
        Value::Number(n) => out.extend([option.into(), n.to_string().into()]),
        Value::String(s) => out.extend([option.into(), s.into()]),
        Value::Array(items) => items.iter().for_each(|item| push(out, option, item)),
        Value::Object(_) => panic!("{option}: nested arguments are not supported"),
    }
}

/// Parses `argv` (without the program name) as the binary would.
pub fn parse<T: clap::Args + clap::FromArgMatches>(argv: &[OsString]) -> Result<T, clap::Error> {
    let command = T::augment_args(clap::Command::new("experiment").no_binary_name(true));
    let matches = command.try_get_matches_from(argv)?;
    T::from_arg_matches(&matches)
}

/// Writes `args` with [`to_args`] and reads it back with [`parse`]: `Ok` when the
/// binary would see exactly what the harness meant.
pub fn round_trip<T>(args: &T) -> Result<(), String>
where
    T: clap::Args + clap::FromArgMatches + Serialize + PartialEq + std::fmt::Debug,
{
    let argv = to_args(args);
    let back: T = parse(&argv).map_err(|e| format!("{argv:?}: {e}"))?;
    if &back == args {
        Ok(())
    } else {
        Err(format!("{argv:?} reads back as {back:?}, not {args:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, clap::Args)]
    struct Example {
        #[arg(long)]
        file_bytes: u64,
        #[arg(long)]
        no_aslr: bool,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        size: Vec<u64>,
    }

    #[test]
    fn fields_become_kebab_case_options() {
        let args = Example {
            file_bytes: 4096,
            no_aslr: true,
            label: None,
            size: vec![1, 2],
        };
        let argv: Vec<String> = to_args(&args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            argv,
            [
                "--file-bytes",
                "4096",
                "--no-aslr",
                "--size",
                "1",
                "--size",
                "2"
            ]
        );
        round_trip(&args).unwrap();
    }

    #[test]
    fn false_and_none_are_left_out_and_still_read_back() {
        let args = Example {
            file_bytes: 1,
            no_aslr: false,
            label: Some("a b".into()),
            size: Vec::new(),
        };
        assert_eq!(to_args(&args).len(), 4);
        round_trip(&args).unwrap();
    }

    #[test]
    fn a_mismatch_is_reported() {
        #[derive(Debug, PartialEq, Serialize, clap::Args)]
        struct Renamed {
            #[arg(long = "bytes")]
            file_bytes: u64,
        }
        let err = round_trip(&Renamed { file_bytes: 1 }).unwrap_err();
        assert!(err.contains("--file-bytes"), "{err}");
    }
}
