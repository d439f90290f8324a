//! Measuring any program the way the built-in experiments are measured.
//!
//! `harness trace -- CMD` ([`command`]) starts an unmodified program
//! ([`launch`]) and takes a checkpoint whenever it or a process it forked
//! ([`tree`]) stops to wait: it reads its standard input, sits in pause() or
//! sigsuspend(), or stopped itself ([`wait`], told from /proc without ptrace).
//! [`session`] snapshots the whole tree at each one through the same probe and
//! figures as the runner, labels it ([`label`]) and resumes the program the way
//! its wait ends. Programs may also name their checkpoints through the SDK
//! (`experiments/sdk/`), over the channel [`launch::CHANNEL_ENV`] names.
//! [`claims`] judges a TOML file of criteria on the result, which is an
//! ordinary [`crate::model::RunRecord`] written through [`crate::store`].
//!
//! `harness watch PID` ([`watch`]) snapshots a process the harness did not
//! start, while it runs. Both record what each process was doing while it
//! was read ([`moment`]); a trace that reached no checkpoint says what the
//! program slept in instead ([`idle`]).

pub mod claims;
pub mod command;
pub mod idle;
pub mod label;
pub mod launch;
pub mod moment;
pub mod session;
pub mod tree;
pub mod wait;
pub mod watch;
