//! Builds the programs that some experiments measure in several builds (static and
//! dynamic linking, with and without debug information, with no C library at all).
//!
//! They land in `vmlab-programs/` next to the experiment binaries (the profile
//! folder: `target/<profile>/vmlab-programs/`), where the experiments look for
//! them. A program that cannot be built here (no static C library, another
//! architecture) does not fail the build: `<name>.status` says why, and the
//! experiment skips that variant with the reason.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How one program is built.
enum Recipe {
    /// C sources compiled and linked with these flags in one step.
    C {
        source: &'static str,
        flags: &'static [&'static str],
    },
    /// A C object compiled once with `compile` flags (cached in OUT_DIR), then
    /// linked with `link` flags: two links of one object give the same code.
    CLink {
        source: &'static str,
        compile: &'static [&'static str],
        link: &'static [&'static str],
    },
    /// A Rust source compiled by rustc on its own, with the standard library.
    Rust { source: &'static str },
}

/// Static, not position independent: the classic static executable.
const STATIC: &[&str] = &["-O2", "-static", "-fno-pie", "-no-pie"];
/// Static, calling exit() rather than _exit() at the end.
const STATIC_EXIT: &[&str] = &["-O2", "-static", "-fno-pie", "-no-pie", "-DCALL_EXIT"];
/// Dynamic, position independent: what distributions build by default.
const DYNAMIC: &[&str] = &["-O2", "-fPIE", "-pie"];
/// The same, making the many small allocations its arguments ask for.
const DYNAMIC_MANY: &[&str] = &["-O2", "-fPIE", "-pie", "-DMANY_SMALL"];
/// The flags every libc-free build shares (no C library, no start-up files,
/// no unwind tables, no RELRO, no build id), followed by its own.
macro_rules! freestanding {
    ($($own:expr),* $(,)?) => {
        &[
            "-O2",
            "-static",
            "-nostdlib",
            "-fno-pie",
            "-no-pie",
            "-ffreestanding",
            "-fno-stack-protector",
            "-fno-asynchronous-unwind-tables",
            "-fno-unwind-tables",
            "-Wl,-z,norelro",
            "-Wl,-z,noexecstack",
            "-Wl,--build-id=none",
            $($own),*
        ]
    };
}
/// No C library and no start-up files; code and headers share one segment.
const MINIMAL: &[&str] = freestanding!("-Wl,-z,noseparate-code");
/// The minimal build with its allocations served from the free tail of .bss.
const MINIMAL_BSS: &[&str] = freestanding!("-Wl,-z,noseparate-code", "-DARENA_IN_BSS");
/// That build linked with `ld -N`: text, data and bss in one writable and
/// executable segment, not page-aligned, which Linux loads as it is.
const MINIMAL_RWX: &[&str] =
    freestanding!("-Wl,-N", "-Wl,--no-warn-rwx-segments", "-DARENA_IN_BSS");
/// A shared library whose segments each start on a 2 MiB boundary: the
/// loader leaves real holes (---p) between them.
const HOLES_LIBRARY: &[&str] = &[
    "-O2",
    "-shared",
    "-fPIC",
    "-Wl,-z,max-page-size=0x200000",
    "-Wl,-z,separate-code",
];
/// Full debug information, macros included (`-g3`), so the two files differ a lot.
const DEBUG_COMPILE: &[&str] = &["-O2", "-g3", "-fPIE", "-c"];

/// Every program: its name in `vmlab-programs/` and how it is built.
const PROGRAMS: &[(&str, Recipe)] = &[
    (
        "tiny-malloc-static",
        Recipe::C {
            source: "c/tiny-malloc.c",
            flags: STATIC,
        },
    ),
    (
        "tiny-malloc-static-exit",
        Recipe::C {
            source: "c/tiny-malloc.c",
            flags: STATIC_EXIT,
        },
    ),
    (
        "tiny-malloc-dynamic",
        Recipe::C {
            source: "c/tiny-malloc.c",
            flags: DYNAMIC,
        },
    ),
    (
        "tiny-malloc-many",
        Recipe::C {
            source: "c/tiny-malloc.c",
            flags: DYNAMIC_MANY,
        },
    ),
    (
        "tiny-malloc-minimal",
        Recipe::C {
            source: "c/tiny-malloc-minimal.c",
            flags: MINIMAL,
        },
    ),
    (
        "tiny-malloc-minimal-bss",
        Recipe::C {
            source: "c/tiny-malloc-minimal.c",
            flags: MINIMAL_BSS,
        },
    ),
    (
        "tiny-malloc-minimal-rwx",
        Recipe::C {
            source: "c/tiny-malloc-minimal.c",
            flags: MINIMAL_RWX,
        },
    ),
    (
        "tiny-malloc-std",
        Recipe::Rust {
            source: "rust/tiny-malloc-std.rs",
        },
    ),
    (
        "libvmlab-holes.so",
        Recipe::C {
            source: "c/holes-lib.c",
            flags: HOLES_LIBRARY,
        },
    ),
    (
        "server-static",
        Recipe::C {
            source: "c/server.c",
            flags: STATIC,
        },
    ),
    (
        "server-dynamic",
        Recipe::C {
            source: "c/server.c",
            flags: DYNAMIC,
        },
    ),
    (
        "strip-debug",
        Recipe::CLink {
            source: "c/strip-demo.c",
            compile: DEBUG_COMPILE,
            link: &["-pie"],
        },
    ),
    (
        "strip-stripped",
        Recipe::CLink {
            source: "c/strip-demo.c",
            compile: DEBUG_COMPILE,
            link: &["-pie", "-s"],
        },
    ),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=c");
    println!("cargo:rerun-if-changed=rust");
    // The cc crate reads these to pick and configure the C compiler.
    for var in ["CC", "CFLAGS", "TARGET_CC", "TARGET_CFLAGS"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let Some(out_dir) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!("cargo:warning=OUT_DIR is not set; the measured programs are not built");
        return;
    };
    // OUT_DIR is <profile folder>/build/experiments-<hash>/out.
    let Some(profile_dir) = out_dir.ancestors().nth(3) else {
        println!("cargo:warning=unexpected OUT_DIR layout; the measured programs are not built");
        return;
    };
    let programs = profile_dir.join("vmlab-programs");
    if let Err(e) = fs::create_dir_all(&programs) {
        println!(
            "cargo:warning=cannot create {}: {e}; the measured programs are not built",
            programs.display()
        );
        return;
    }
    for (name, recipe) in PROGRAMS {
        let output = programs.join(name);
        let status = match build(recipe, &output, &out_dir) {
            Ok(how) => format!("built: {how}\n"),
            Err(why) => {
                // A stale binary from an earlier build must not be measured.
                let _ = fs::remove_file(&output);
                println!("cargo:warning={name} not built: {why}");
                format!("not built: {why}\n")
            }
        };
        if let Err(e) = fs::write(programs.join(format!("{name}.status")), status) {
            println!("cargo:warning=cannot write the status of {name}: {e}");
        }
    }
}

/// Builds one program; returns the command line that did it, or why it failed.
fn build(recipe: &Recipe, output: &Path, out_dir: &Path) -> Result<String, String> {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    match recipe {
        Recipe::C { source, flags } => {
            if source.contains("minimal") && !target_is_x86_64() {
                return Err("the minimal variant is written for x86-64 only".into());
            }
            let mut command = c_compiler()?;
            command
                .args(*flags)
                .arg(manifest_dir.join(source))
                .arg("-o")
                .arg(output);
            run(command)
        }
        Recipe::CLink {
            source,
            compile,
            link,
        } => {
            let object = out_dir.join("strip-demo.o");
            let mut first = c_compiler()?;
            first
                .args(*compile)
                .arg(manifest_dir.join(source))
                .arg("-o")
                .arg(&object);
            let compiled = run(first)?;
            let mut second = c_compiler()?;
            second.args(*link).arg(&object).arg("-o").arg(output);
            Ok(format!("{compiled}; {}", run(second)?))
        }
        Recipe::Rust { source } => {
            let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
            let mut command = Command::new(rustc);
            command
                .args([
                    "--edition",
                    "2021",
                    "-C",
                    "opt-level=2",
                    "-C",
                    "debuginfo=0",
                ])
                .arg(manifest_dir.join(source))
                .arg("-o")
                .arg(output);
            if let (Ok(target), Ok(host)) = (env::var("TARGET"), env::var("HOST")) {
                if target != host {
                    command.args(["--target", &target]);
                }
            }
            run(command)
        }
    }
}

fn target_is_x86_64() -> bool {
    env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "x86_64")
}

/// The system C compiler as the cc crate finds it (honours CC and CFLAGS), with
/// its target flags but without optimisation or debug flags of its own.
fn c_compiler() -> Result<Command, String> {
    let tool = cc::Build::new()
        .cargo_metadata(false)
        .debug(false)
        .opt_level(2)
        .pic(false)
        .warnings(false)
        .try_get_compiler()
        .map_err(|e| format!("no C compiler: {e}"))?;
    Ok(tool.to_command())
}

/// Runs a build command; the error holds the command and the compiler's message.
fn run(mut command: Command) -> Result<String, String> {
    let mut line = String::new();
    let _ = write!(line, "{}", command.get_program().to_string_lossy());
    for arg in command.get_args() {
        let _ = write!(line, " {}", arg.to_string_lossy());
    }
    let out = command
        .output()
        .map_err(|e| format!("cannot run `{line}`: {e}"))?;
    if out.status.success() {
        Ok(line)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr
            .lines()
            .find(|l| l.contains("error"))
            .unwrap_or(stderr.trim());
        Err(format!("`{line}` failed ({}): {first}", out.status))
    }
}
