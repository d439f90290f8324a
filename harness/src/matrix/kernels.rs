//! Which kernels a matrix runs on: `debian:VERSION` (fetched from the Debian
//! archive with the system's package tools and cached), a path to a kernel image,
//! or `host` (the running kernel, measured natively). Fetching only downloads and
//! extracts the package (`apt-get download`, `dpkg-deb -x`) into the user's cache
//! folder; nothing is ever installed as the machine's kernel.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// A kernel as the user names it on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelSpec {
    /// The running kernel, measured natively (no virtual machine).
    Host,
    /// A Debian kernel package's image, e.g. `debian:6.1`.
    Debian(String),
    /// A kernel image (bzImage or an ELF vmlinux with a PVH note) on disk.
    Path(PathBuf),
}

/// No kernel image is larger than this: an uncompressed vmlinux with debug
/// information is a few hundred MiB.
const MAX_KERNEL_IMAGE_BYTES: u64 = 1 << 30;

impl KernelSpec {
    /// Parses `host`, `debian:VERSION` or a path.
    pub fn parse(text: &str) -> Result<KernelSpec, String> {
        if text == "host" {
            return Ok(KernelSpec::Host);
        }
        if let Some(version) = text.strip_prefix("debian:") {
            let valid = !version.is_empty()
                && version
                    .split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
            if !valid {
                return Err(format!(
                    "'{text}': write the Debian kernel version as debian:MAJOR.MINOR, e.g. debian:6.1"
                ));
            }
            return Ok(KernelSpec::Debian(version.to_string()));
        }
        let path = PathBuf::from(text);
        if !path.is_file() {
            return Err(format!(
                "'{text}' is neither `host`, `debian:VERSION` nor a kernel image file; \
                 `harness matrix --list-kernels` shows what is available"
            ));
        }
        // Refused here, before anything is built or booted: QEMU would only
        // fail after the guest binaries were built, with a less clear message.
        // Only a regular file of a kernel's size is read whole (not /dev/zero,
        // a FIFO, or a disk image someone passed by mistake).
        let meta = std::fs::metadata(&path).map_err(|e| format!("cannot read {text}: {e}"))?;
        if !meta.is_file() || meta.len() > MAX_KERNEL_IMAGE_BYTES {
            return Err(format!(
                "{text} is not a kernel image QEMU can boot: {}; pass a bzImage or an ELF vmlinux, or `host` or `debian:VERSION`",
                if meta.is_file() { "it is larger than any kernel image (1 GiB)" } else { "not a regular file" }
            ));
        }
        // Read as needed (a header, the notes), not whole.
        let file = std::fs::File::open(&path).map_err(|e| format!("cannot read {text}: {e}"))?;
        let cache = object::ReadCache::new(file);
        image_kind(&cache)
            .map_err(|why| format!("{text} is not a kernel image QEMU can boot: {why}"))?;
        Ok(KernelSpec::Path(path))
    }

    /// A short name safe for a folder (`debian-6.1`, `host`, `vmlinuz-custom`).
    pub fn folder_name(&self) -> String {
        let raw = match self {
            KernelSpec::Host => "host".to_string(),
            KernelSpec::Debian(v) => format!("debian-{v}"),
            KernelSpec::Path(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "kernel".into()),
        };
        raw.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

impl fmt::Display for KernelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelSpec::Host => write!(f, "host"),
            KernelSpec::Debian(v) => write!(f, "debian:{v}"),
            KernelSpec::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The two kinds of image `qemu-system-x86_64 -kernel` boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// A bzImage: the x86 boot protocol's setup header (`HdrS` at 0x202).
    BzImage,
    /// An ELF vmlinux with a PVH entry point (a `Xen` note of type
    /// XEN_ELFNOTE_PHYS32_ENTRY in a PT_NOTE segment), which QEMU starts directly.
    ElfPvh,
}

/// Offset of the boot protocol's header signature in a bzImage
/// (Documentation/arch/x86/boot.rst: `header` at 0x202, "HdrS").
const BZIMAGE_MAGIC_AT: usize = 0x202;
/// The ELF note type that carries the PVH entry point (xen/interface/elfnote.h).
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

/// What kind of bootable image `bytes` are, or why they are not one.
pub fn image_kind<'a, R: object::ReadRef<'a>>(bytes: R) -> Result<ImageKind, String> {
    if bytes.read_bytes_at(BZIMAGE_MAGIC_AT as u64, 4).ok() == Some(&b"HdrS"[..]) {
        return Ok(ImageKind::BzImage);
    }
    if bytes.read_bytes_at(0, 4).ok() != Some(&b"\x7fELF"[..]) {
        return Err(format!(
            "neither a bzImage (no \"HdrS\" at offset {BZIMAGE_MAGIC_AT:#x}) nor an ELF file"
        ));
    }
    use object::read::elf::{ElfFile64, ProgramHeader};
    let file = ElfFile64::<object::Endianness, R>::parse(bytes)
        .map_err(|e| format!("an ELF file that does not parse as 64-bit ELF: {e}"))?;
    let endian = file.endian();
    for header in file.elf_program_headers() {
        // A kernel's notes are a few KiB: a header claiming more is not read.
        if header.p_filesz(endian) > MAX_NOTES_BYTES {
            continue;
        }
        let Ok(Some(mut notes)) = header.notes(endian, bytes) else {
            continue;
        };
        while let Ok(Some(note)) = notes.next() {
            if note.name() == b"Xen" && note.n_type(endian).0 == XEN_ELFNOTE_PHYS32_ENTRY {
                return Ok(ImageKind::ElfPvh);
            }
        }
    }
    Err("an ELF file without a PVH entry note (built without CONFIG_PVH); pass the bzImage".into())
}

/// The most of an ELF image's notes segment read to find its PVH entry.
const MAX_NOTES_BYTES: u64 = 1 << 20;

/// A kernel image ready to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelImage {
    /// The image file.
    pub path: PathBuf,
    /// Its release (`6.1.0-47-amd64`) when known from the package.
    pub release: Option<String>,
    /// The folder of modules taken from the same package for the guest (see
    /// [`GUEST_MODULES`]), when the package was one.
    pub modules: Option<PathBuf>,
}

/// The modules a guest needs for its files' disk, where the kernel has them as
/// modules rather than built in: the virtio PCI transport and block driver, and
/// ext4. `crc32c_generic` is listed too: ext4's metadata checksums ask the
/// crypto API for "crc32c", which a guest without modprobe cannot load on
/// demand. Their dependencies come from each module's own `depends=` list.
pub const GUEST_MODULES: &[&str] = &["virtio_pci", "virtio_blk", "ext4", "crc32c_generic"];

/// The file in a modules folder that lists them in load order.
pub const MODULE_ORDER: &str = "order";

/// A module's name from its file or path (`kernel/fs/ext4/ext4.ko` is `ext4`;
/// dashes and underscores are the same to the kernel).
fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_")
}

/// A module's file and the names of the modules it depends on, by name; None
/// when the kernel has no such module file.
pub type ModuleLookup<'a> = &'a dyn Fn(&str) -> Option<(String, Vec<String>)>;

/// The modules to load for `wanted`, each after the modules it depends on and
/// each once; `lookup` gives a module's file and the names it depends on, or
/// None when the kernel has no such module file. Names without a file are
/// returned apart (built in, or not in the kernel at all).
pub fn load_order(wanted: &[&str], lookup: ModuleLookup<'_>) -> (Vec<String>, Vec<String>) {
    fn visit(name: &str, lookup: ModuleLookup<'_>, order: &mut Vec<String>, depth: usize) -> bool {
        let Some((path, needs)) = lookup(name) else {
            return false;
        };
        if order.contains(&path) || depth > 64 {
            return true;
        }
        for need in needs {
            visit(&need, lookup, order, depth + 1);
        }
        if !order.contains(&path) {
            order.push(path);
        }
        true
    }
    let mut order = Vec::new();
    let mut missing = Vec::new();
    for name in wanted {
        if !visit(&name.replace('-', "_"), lookup, &mut order, 0) {
            missing.push(name.to_string());
        }
    }
    (order, missing)
}

/// The `depends=` list of a module file's `.modinfo` section (what depmod
/// reads to write modules.dep, which Debian's packages do not ship: it is made
/// when the package is installed).
pub fn module_depends(bytes: &[u8]) -> Result<Vec<String>, String> {
    use object::read::{Object, ObjectSection};
    let file = object::read::elf::ElfFile64::<object::Endianness>::parse(bytes)
        .map_err(|e| format!("not a 64-bit ELF module: {e}"))?;
    let section = file
        .section_by_name(".modinfo")
        .ok_or("no .modinfo section")?;
    let data = section
        .data()
        .map_err(|e| format!("unreadable .modinfo: {e}"))?;
    Ok(data
        .split(|b| *b == 0)
        .filter_map(|entry| entry.strip_prefix(b"depends="))
        .flat_map(|list| {
            String::from_utf8_lossy(list)
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| d.replace('-', "_"))
                .collect::<Vec<_>>()
        })
        .collect())
}

/// Every module file under `dir`, by module name, as paths relative to `root`.
fn module_files(root: &Path, dir: &Path, into: &mut std::collections::HashMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            module_files(root, &path, into);
        } else if let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) {
            if name.contains(".ko") {
                if let Ok(relative) = path.strip_prefix(root) {
                    into.insert(module_name(&name), relative.display().to_string());
                }
            }
        }
    }
}

/// Reads a module file, unpacking XZ-compressed ones.
fn read_module(path: &Path) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    if name.ends_with(".ko") {
        return std::fs::read(path).with_context(|| format!("cannot read {name}"));
    }
    if name.ends_with(".ko.xz") {
        let out = Command::new("xz")
            .arg("-dc")
            .arg(path)
            .output()
            .with_context(|| format!("cannot run xz on {name}"))?;
        if !out.status.success() {
            bail!("xz cannot unpack {name} ({})", out.status);
        }
        return Ok(out.stdout);
    }
    bail!("{name} is compressed in a way the harness does not unpack")
}

/// Copies the guest's modules out of an unpacked package's
/// `lib/modules/<release>` into `target`, with [`MODULE_ORDER`] listing them in
/// load order (compressed modules are unpacked on the way, so the guest loads
/// plain files). Wanted modules that are built in, or missing, are noted in the
/// order file as comments.
fn stage_modules(tree: &Path, target: &Path) -> Result<()> {
    let mut files = std::collections::HashMap::new();
    module_files(tree, &tree.join("kernel"), &mut files);
    let builtin = std::fs::read_to_string(tree.join("modules.builtin")).unwrap_or_default();
    let contents: std::cell::RefCell<std::collections::HashMap<String, Vec<u8>>> =
        Default::default();
    let failures: std::cell::RefCell<Vec<String>> = Default::default();
    let lookup = |name: &str| -> Option<(String, Vec<String>)> {
        let path = files.get(name)?.clone();
        let bytes = match read_module(&tree.join(&path)) {
            Ok(b) => b,
            Err(e) => {
                failures.borrow_mut().push(format!("{e:#}"));
                return None;
            }
        };
        let depends = module_depends(&bytes).unwrap_or_else(|e| {
            failures.borrow_mut().push(format!("{path}: {e}"));
            Vec::new()
        });
        contents.borrow_mut().insert(path.clone(), bytes);
        Some((path, depends))
    };
    let (order, missing) = load_order(GUEST_MODULES, &lookup);
    if let Some(first) = failures.borrow().first() {
        bail!("cannot take the guest's modules from the package: {first}");
    }
    std::fs::create_dir_all(target)
        .with_context(|| format!("cannot create {}", target.display()))?;
    let mut listing = String::new();
    for name in missing {
        let built_in = builtin.lines().any(|l| module_name(l) == name);
        listing.push_str(&format!(
            "# {name}: {}\n",
            if built_in {
                "built in"
            } else {
                "not in this kernel"
            }
        ));
    }
    let contents = contents.into_inner();
    for path in order {
        let name = format!("{}.ko", module_name(&path));
        let dest = target.join(&name);
        let bytes = contents
            .get(&path)
            .with_context(|| format!("{path} was not read"))?;
        std::fs::write(&dest, bytes).with_context(|| format!("cannot write {}", dest.display()))?;
        listing.push_str(&name);
        listing.push('\n');
    }
    std::fs::write(target.join(MODULE_ORDER), listing)
        .with_context(|| format!("cannot write in {}", target.display()))
}

/// The modules folder beside a cached image, if its order file is there.
fn modules_beside(image: &Path) -> Option<PathBuf> {
    let dir = image.parent()?.join("modules");
    dir.join(MODULE_ORDER).is_file().then_some(dir)
}

/// The cache folder for kernels and guest builds: `$XDG_CACHE_HOME/vmlab` or
/// `~/.cache/vmlab`.
pub fn cache_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("vmlab"));
    }
    let home = std::env::var_os("HOME").filter(|d| !d.is_empty()).context(
        "neither XDG_CACHE_HOME nor HOME is set, so there is no cache folder for kernels",
    )?;
    Ok(PathBuf::from(home).join(".cache").join("vmlab"))
}

/// Where extracted kernels live: one folder per release holding `vmlinuz`.
pub fn kernels_dir() -> Result<PathBuf> {
    Ok(cache_root()?.join("kernels"))
}

/// A Debian kernel image package the apt sources offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebianPackage {
    /// Package name (`linux-image-6.1.0-47-amd64-unsigned`).
    pub package: String,
    /// Kernel release inside it (`6.1.0-47-amd64`).
    pub release: String,
}

impl DebianPackage {
    /// `6.1` for release `6.1.0-47-amd64`.
    pub fn series(&self) -> String {
        series_of(&self.release)
    }

    /// The ABI number (`47`), for picking the newest.
    fn abi(&self) -> u64 {
        self.release
            .split('-')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

fn series_of(release: &str) -> String {
    release
        .split(['.', '-'])
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
}

/// The generic amd64 kernel image packages of `apt-cache search` output (not the
/// cloud, rt or debug flavours).
pub fn parse_package_list(apt_cache_output: &str) -> Vec<DebianPackage> {
    let mut packages: Vec<DebianPackage> = apt_cache_output
        .lines()
        .filter_map(|line| {
            let package = line.split_whitespace().next()?;
            let release = package
                .strip_prefix("linux-image-")?
                .strip_suffix("-unsigned")
                .unwrap_or(package.strip_prefix("linux-image-")?);
            let (version, flavour) = release.split_once('-')?;
            let (abi, arch) = flavour.split_once('-')?;
            let well_formed = arch == "amd64"
                && abi.chars().all(|c| c.is_ascii_digit())
                && version.split('.').count() == 3
                && version
                    .split('.')
                    .all(|p| p.chars().all(|c| c.is_ascii_digit()));
            well_formed.then(|| DebianPackage {
                package: package.to_string(),
                release: release.to_string(),
            })
        })
        .collect();
    // The unsigned package holds the same image without the signing wrapper;
    // keep one package per release, preferring it.
    packages.sort_by(|a, b| {
        (
            a.series(),
            a.abi(),
            &a.release,
            !a.package.ends_with("-unsigned"),
        )
            .cmp(&(
                b.series(),
                b.abi(),
                &b.release,
                !b.package.ends_with("-unsigned"),
            ))
    });
    packages.dedup_by(|later, earlier| later.release == earlier.release);
    packages
}

const APT_QUERY: &str = "^linux-image-[0-9.]+-[0-9]+-amd64(-unsigned)?$";

/// The kernel image packages the apt sources offer, or why they cannot be listed.
pub fn available_packages() -> Result<Vec<DebianPackage>> {
    let output = Command::new("apt-cache")
        .args(["search", "--names-only", APT_QUERY])
        .output()
        .context("cannot run apt-cache (Debian's package tools are needed to fetch kernels)")?;
    if !output.status.success() {
        bail!(
            "`apt-cache search --names-only '{APT_QUERY}'` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(parse_package_list(&String::from_utf8_lossy(&output.stdout)))
}

/// The releases extracted into the cache, newest last.
pub fn cached_releases() -> Vec<(String, PathBuf)> {
    let Ok(dir) = kernels_dir() else {
        return vec![];
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return vec![];
    };
    let mut found: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let image = e.path().join("vmlinuz");
            image
                .is_file()
                .then(|| (e.file_name().to_string_lossy().into_owned(), image))
        })
        .collect();
    found.sort_by_key(|(release, _)| {
        let abi: u64 = release
            .split('-')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        (series_of(release), abi)
    });
    found
}

/// Finds (fetching if needed) the image of `debian:VERSION`, as an uncompressed
/// ELF `vmlinux` where one can be made (see [`prefer_elf`]). `progress` hears
/// what is being done.
pub fn resolve_debian(version: &str, progress: &dyn Fn(&str)) -> Result<KernelImage> {
    let image = resolve_debian_bzimage(version, progress)?;
    Ok(prefer_elf(image, progress))
}

/// An uncompressed ELF `vmlinux` beside a cached `vmlinuz`, made once: under
/// software emulation, firmware plus decompressing an XZ bzImage take about four
/// seconds before the kernel prints anything, while QEMU loads an ELF image with
/// a PVH entry point (`CONFIG_PVH=y`) directly. Without `xz`, a PVH config or
/// an XZ payload, the bzImage is booted as it is.
pub fn prefer_elf(image: KernelImage, progress: &dyn Fn(&str)) -> KernelImage {
    let Some(dir) = image.path.parent() else {
        return image;
    };
    let elf = dir.join("vmlinux");
    if elf.is_file() {
        return KernelImage { path: elf, ..image };
    }
    let pvh = std::fs::read_to_string(dir.join("config"))
        .is_ok_and(|c| c.lines().any(|l| l == "CONFIG_PVH=y"));
    if !pvh || !super::qemu::on_path("xz") {
        return image;
    }
    progress("unpacking the image to an ELF vmlinux (boots faster)");
    match extract_elf(&image.path, &elf) {
        Ok(()) => KernelImage { path: elf, ..image },
        Err(e) => {
            progress(&format!("booting the bzImage: {e:#}"));
            image
        }
    }
}

/// Decompresses the XZ payload of a bzImage into `target` (atomically).
fn extract_elf(bzimage: &Path, target: &Path) -> Result<()> {
    use std::io::Write;
    const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
    let bytes =
        std::fs::read(bzimage).with_context(|| format!("cannot read {}", bzimage.display()))?;
    let start = bytes
        .windows(XZ_MAGIC.len())
        .position(|w| w == XZ_MAGIC)
        .with_context(|| format!("{} holds no XZ-compressed kernel", bzimage.display()))?;
    let dir = target.parent().context("the kernel image has no folder")?;
    let out = tempfile::Builder::new()
        .prefix(".vmlinux-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    // --single-stream: the bzImage continues after the compressed kernel.
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(std::process::Stdio::piped())
        .stdout(
            out.reopen()
                .with_context(|| format!("cannot open {}", out.path().display()))?,
        )
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("cannot run xz")?;
    let mut stdin = child.stdin.take().context("xz's stdin is not a pipe")?;
    let payload = bytes[start..].to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&payload));
    let output = child.wait_with_output().context("cannot wait for xz")?;
    // xz may stop reading before the end (trailing data); a broken pipe is fine.
    let _ = writer.join();
    if !output.status.success() {
        bail!(
            "xz failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let mut magic = [0u8; 4];
    std::io::Read::read_exact(
        &mut out.reopen().context("cannot reopen the unpacked kernel")?,
        &mut magic,
    )
    .context("the unpacked kernel is empty")?;
    if &magic != b"\x7fELF" {
        bail!("the unpacked kernel is not an ELF file");
    }
    out.persist(target)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", target.display()))?;
    Ok(())
}

fn resolve_debian_bzimage(version: &str, progress: &dyn Fn(&str)) -> Result<KernelImage> {
    let cached: Vec<(String, PathBuf)> = cached_releases()
        .into_iter()
        .filter(|(release, _)| series_of(release) == version)
        .collect();
    let available = available_packages();
    let wanted = available
        .as_ref()
        .ok()
        .and_then(|list| list.iter().rev().find(|p| p.series() == version).cloned());
    if let Some(package) = &wanted {
        if let Some((release, image)) = cached.iter().find(|(r, _)| *r == package.release) {
            // Kernels cached before the modules were kept get them now.
            let mut modules = modules_beside(image);
            if modules.is_none() {
                progress(&format!(
                    "fetching {} again for its modules",
                    package.package
                ));
                match fetch(package) {
                    Ok(fetched) => modules = fetched.modules,
                    Err(e) => progress(&format!(
                        "no modules ({e:#}); the guest's files stay in RAM"
                    )),
                }
            }
            return Ok(KernelImage {
                path: image.clone(),
                release: Some(release.clone()),
                modules,
            });
        }
        progress(&format!("fetching {}", package.package));
        match fetch(package) {
            Ok(image) => return Ok(image),
            Err(e) if !cached.is_empty() => {
                progress(&format!("fetch failed ({e:#}); using the cached kernel"));
            }
            Err(e) => return Err(e),
        }
    }
    if let Some((release, image)) = cached.last() {
        return Ok(KernelImage {
            path: image.clone(),
            release: Some(release.clone()),
            modules: modules_beside(image),
        });
    }
    let offered = match &available {
        Ok(list) => {
            let mut series: Vec<String> = list.iter().map(DebianPackage::series).collect();
            series.dedup();
            if series.is_empty() {
                "none".to_string()
            } else {
                series
                    .iter()
                    .map(|s| format!("debian:{s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }
        Err(e) => format!("unknown ({e:#})"),
    };
    bail!(
        "debian:{version}: no kernel package linux-image-{version}.*-amd64 in this machine's apt \
         sources (tried `apt-cache search --names-only '{APT_QUERY}'`) and none in the cache {}; \
         available from the apt sources: {offered}. Add an apt source that has it, pass a path to a \
         kernel image, or see `harness matrix --list-kernels`",
        kernels_dir().map(|d| d.display().to_string()).unwrap_or_default()
    )
}

/// `apt-get download` of the package into `work`, unpacked with `dpkg-deb
/// -x` into `work/tree`; returns the tree.
fn download_and_extract(package: &DebianPackage, work: &Path) -> Result<PathBuf> {
    let download = Command::new("apt-get")
        .args(["download", "-q", &package.package])
        .current_dir(work)
        .output()
        .context("cannot run apt-get")?;
    if !download.status.success() {
        bail!(
            "`apt-get download {}` failed ({}): {}; is the Debian archive reachable? \
             Cached kernels still work (`harness matrix --list-kernels`)",
            package.package,
            download.status,
            String::from_utf8_lossy(&download.stderr).trim()
        );
    }
    let deb = std::fs::read_dir(work)
        .with_context(|| format!("cannot read {}", work.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .with_context(|| format!("apt-get download {} left no .deb file", package.package))?;
    let tree = work.join("tree");
    let extract = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&tree)
        .output()
        .context("cannot run dpkg-deb")?;
    if !extract.status.success() {
        bail!(
            "`dpkg-deb -x {}` failed ({}): {}",
            deb.display(),
            extract.status,
            String::from_utf8_lossy(&extract.stderr).trim()
        );
    }
    Ok(tree)
}

/// What the cache keeps of an unpacked package, gathered in `work/staged`:
/// only the image, its config (for reference) and the few modules the guest
/// loads for its disk.
fn stage(package: &DebianPackage, tree: &Path, work: &Path) -> Result<PathBuf> {
    let boot = tree.join("boot");
    let image = boot.join(format!("vmlinuz-{}", package.release));
    if !image.is_file() {
        bail!("{} has no {}", package.package, image.display());
    }
    let staged = work.join("staged");
    std::fs::create_dir_all(&staged)
        .with_context(|| format!("cannot create {}", staged.display()))?;
    std::fs::copy(&image, staged.join("vmlinuz"))
        .with_context(|| format!("cannot copy {}", image.display()))?;
    let config = boot.join(format!("config-{}", package.release));
    if config.is_file() {
        std::fs::copy(&config, staged.join("config"))
            .with_context(|| format!("cannot copy {}", config.display()))?;
    }
    std::fs::write(staged.join("package"), format!("{}\n", package.package))
        .with_context(|| format!("cannot write in {}", staged.display()))?;
    let module_tree = tree.join("lib").join("modules").join(&package.release);
    stage_modules(&module_tree, &staged.join("modules"))?;
    Ok(staged)
}

/// Downloads a kernel package and extracts its image into the cache.
fn fetch(package: &DebianPackage) -> Result<KernelImage> {
    for tool in ["apt-get", "dpkg-deb"] {
        if !super::qemu::on_path(tool) {
            bail!("{tool} not found; fetching Debian kernels needs Debian's package tools (apt, dpkg)");
        }
    }
    let dir = kernels_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let work = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(&dir)
        .with_context(|| format!("cannot create a temporary folder in {}", dir.display()))?;
    let tree = download_and_extract(package, work.path())?;
    let staged = stage(package, &tree, work.path())?;
    let target = dir.join(&package.release);
    // Another harness may have fetched the same kernel meanwhile (and may be
    // booting it): keep what is there rather than replace it, adding only the
    // modules when they are missing.
    if let Err(e) = std::fs::rename(&staged, &target) {
        if !target.join("vmlinuz").is_file() {
            return Err(e)
                .with_context(|| format!("cannot move the kernel into {}", target.display()));
        }
        if modules_beside(&target.join("vmlinuz")).is_none() {
            let _ = std::fs::remove_dir_all(target.join("modules"));
            std::fs::rename(staged.join("modules"), target.join("modules"))
                .with_context(|| format!("cannot move the modules into {}", target.display()))?;
        }
    }
    let image = target.join("vmlinuz");
    Ok(KernelImage {
        modules: modules_beside(&image),
        path: image,
        release: Some(package.release.clone()),
    })
}

/// The text of `matrix --list-kernels`.
pub fn list_text() -> String {
    let mut out = String::new();
    let host = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    out.push_str(&format!(
        "host        {host} (the running kernel, measured natively)\n"
    ));
    let dir = kernels_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|e| format!("({e})"));
    let cached = cached_releases();
    out.push_str(&format!("\ncached in {dir}:\n"));
    if cached.is_empty() {
        out.push_str("  (none)\n");
    }
    for (release, image) in &cached {
        out.push_str(&format!(
            "  debian:{:<8} {release}  {}\n",
            series_of(release),
            image.display()
        ));
    }
    out.push_str("\nfetchable from the apt sources (apt-get download; never installed):\n");
    match available_packages() {
        Ok(list) if list.is_empty() => out.push_str("  (none)\n"),
        Ok(list) => {
            let mut last = String::new();
            for p in list.iter().rev() {
                if p.series() != last {
                    out.push_str(&format!("  debian:{:<8} {}\n", p.series(), p.package));
                    last = p.series();
                }
            }
        }
        Err(e) => out.push_str(&format!("  unknown: {e:#}\n")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_host_debian_versions_and_reject_nonsense() {
        assert_eq!(KernelSpec::parse("host"), Ok(KernelSpec::Host));
        assert_eq!(
            KernelSpec::parse("debian:6.1"),
            Ok(KernelSpec::Debian("6.1".into()))
        );
        assert!(KernelSpec::parse("debian:").is_err());
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a kernel").unwrap();
        let err = KernelSpec::parse(text.to_str().unwrap()).unwrap_err();
        assert!(err.contains("not a kernel image"), "{err}");
        let mut bzimage = vec![0u8; 0x300];
        bzimage[0x202..0x206].copy_from_slice(b"HdrS");
        let image = dir.path().join("vmlinuz");
        std::fs::write(&image, &bzimage).unwrap();
        assert!(matches!(
            KernelSpec::parse(image.to_str().unwrap()),
            Ok(KernelSpec::Path(_))
        ));
        let elf = dir.path().join("vmlinux");
        std::fs::write(&elf, b"\x7fELF\x02\x01\x01").unwrap();
        // An ELF file without a PVH note is no kernel QEMU can start.
        assert!(KernelSpec::parse(elf.to_str().unwrap()).is_err());
        assert!(KernelSpec::parse("debian:six").is_err());
        assert!(KernelSpec::parse("/no/such/vmlinuz").is_err());
        assert_eq!(
            KernelSpec::Debian("6.12".into()).folder_name(),
            "debian-6.12"
        );
    }

    #[test]
    fn only_bzimages_and_elf_images_with_a_pvh_note_are_bootable() {
        let mut bz = vec![0u8; 0x400];
        bz[0x202..0x206].copy_from_slice(b"HdrS");
        assert_eq!(image_kind(&bz[..]), Ok(ImageKind::BzImage));
        let junk: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let why = image_kind(&junk[..]).unwrap_err();
        assert!(why.contains("HdrS"), "{why}");
        // A real ELF file without the note: the test binary itself.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let why = image_kind(&me[..]).unwrap_err();
        assert!(why.contains("PVH"), "{why}");
    }

    #[test]
    fn a_path_that_is_not_a_kernel_is_refused_when_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("vmlinuz");
        std::fs::write(&junk, vec![0x5a; 4096]).unwrap();
        let why = KernelSpec::parse(junk.to_str().unwrap()).unwrap_err();
        assert!(why.contains("not a kernel image"), "{why}");
    }

    #[test]
    fn the_xz_payload_of_a_bzimage_is_unpacked_despite_trailing_data() {
        if !crate::matrix::qemu::on_path("xz") {
            eprintln!("SKIP: xz is not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let kernel: Vec<u8> = b"\x7fELF"
            .iter()
            .copied()
            .chain((0..5000u32).map(|i| (i % 251) as u8))
            .collect();
        let mut xz = Command::new("xz")
            .args(["-c", "--check=crc32"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut xz.stdin.take().unwrap(), &kernel).unwrap();
        let compressed = xz.wait_with_output().unwrap().stdout;
        // A setup header before the payload and more data after it, as in a bzImage.
        let mut bzimage = b"MZ setup code".to_vec();
        bzimage.extend_from_slice(&compressed);
        bzimage.extend_from_slice(b"\x00\x00trailing relocation data");
        let vmlinuz = dir.path().join("vmlinuz");
        std::fs::write(&vmlinuz, &bzimage).unwrap();
        let image = KernelImage {
            path: vmlinuz.clone(),
            release: None,
            modules: None,
        };

        // Without CONFIG_PVH=y in the cached config, the bzImage is kept.
        assert_eq!(prefer_elf(image.clone(), &|_| {}).path, vmlinuz);

        std::fs::write(dir.path().join("config"), "CONFIG_PVH=y\n").unwrap();
        let elf = prefer_elf(image, &|_| {});
        assert_eq!(elf.path, dir.path().join("vmlinux"));
        assert_eq!(std::fs::read(&elf.path).unwrap(), kernel);
    }

    #[test]
    fn modules_load_after_what_they_need_and_built_in_ones_are_set_apart() {
        // The dependencies of Debian 6.1's modules for the guest's disk.
        let deps: &[(&str, &[&str])] = &[
            ("ext4", &["crc16", "mbcache", "jbd2"]),
            ("jbd2", &[]),
            ("mbcache", &[]),
            ("crc16", &[]),
            ("virtio_blk", &["virtio", "virtio_ring"]),
            (
                "virtio_pci",
                &[
                    "virtio_pci_legacy_dev",
                    "virtio_pci_modern_dev",
                    "virtio_ring",
                    "virtio",
                ],
            ),
            ("virtio_pci_legacy_dev", &[]),
            ("virtio_pci_modern_dev", &[]),
            ("virtio_ring", &[]),
            ("virtio", &[]),
        ];
        let lookup = |name: &str| {
            deps.iter().find(|(n, _)| *n == name).map(|(n, d)| {
                (
                    format!("kernel/{n}.ko"),
                    d.iter().map(|s| s.to_string()).collect(),
                )
            })
        };
        let (order, missing) = load_order(
            &["virtio_pci", "virtio_blk", "ext4", "crc32c-generic"],
            &lookup,
        );
        let at = |m: &str| {
            order
                .iter()
                .position(|p| *p == format!("kernel/{m}.ko"))
                .unwrap_or_else(|| panic!("{m} missing from {order:?}"))
        };
        assert!(at("virtio") < at("virtio_pci") && at("virtio_ring") < at("virtio_pci"));
        assert!(at("virtio_pci_modern_dev") < at("virtio_pci"));
        assert!(at("virtio") < at("virtio_blk"));
        assert!(at("jbd2") < at("ext4") && at("mbcache") < at("ext4") && at("crc16") < at("ext4"));
        assert_eq!(order.len(), 10, "each module once: {order:?}");
        assert_eq!(missing, vec!["crc32c-generic"]);
    }

    #[test]
    fn a_module_names_its_dependencies_in_modinfo() {
        // A cached Debian kernel's modules, where a matrix has fetched one.
        let Some(modules) = cached_releases()
            .into_iter()
            .find_map(|(_, image)| modules_beside(&image))
        else {
            eprintln!("SKIP: no cached kernel with modules (harness matrix --kernel debian:6.1)");
            return;
        };
        let order = std::fs::read_to_string(modules.join(MODULE_ORDER)).unwrap();
        let ext4 = order.lines().position(|l| l == "ext4.ko");
        let jbd2 = order.lines().position(|l| l == "jbd2.ko");
        if let (Some(ext4), Some(jbd2)) = (ext4, jbd2) {
            assert!(jbd2 < ext4, "{order}");
            let bytes = std::fs::read(modules.join("ext4.ko")).unwrap();
            let depends = module_depends(&bytes).unwrap();
            assert!(depends.contains(&"jbd2".to_string()), "{depends:?}");
        }
    }

    #[test]
    fn apt_listing_keeps_one_generic_package_per_release_newest_last() {
        let listing = "\
linux-image-6.1.0-42-amd64-unsigned - Linux 6.1 for 64-bit PCs
linux-image-6.1.0-42-amd64 - Linux 6.1 for 64-bit PCs (signed)
linux-image-6.1.0-47-amd64-unsigned - Linux 6.1 for 64-bit PCs
linux-image-6.1.0-47-cloud-amd64-unsigned - Linux 6.1 for x86-64 cloud
linux-image-6.1.0-47-amd64-dbg - Debug symbols
linux-image-6.1.0-9-amd64 - Linux 6.1 for 64-bit PCs (signed)
linux-image-amd64 - Linux for 64-bit PCs (meta-package)
";
        let packages = parse_package_list(listing);
        let names: Vec<&str> = packages.iter().map(|p| p.package.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "linux-image-6.1.0-9-amd64",
                "linux-image-6.1.0-42-amd64-unsigned",
                "linux-image-6.1.0-47-amd64-unsigned",
            ]
        );
        assert_eq!(packages[2].release, "6.1.0-47-amd64");
        assert_eq!(packages[2].series(), "6.1");
    }
}
