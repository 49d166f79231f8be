//! Finding and downloading Debian kernel packages with apt, through a private apt configuration.
//!
//! The mirror comes from the machine's apt sources (one-line `.list` files and deb822 `.sources` files,
//! wherever `apt-config` says they are): the first enabled `deb` entry for a Debian suite, and the first
//! for a Debian security suite. The private configuration (`<cache>/apt/<release>/`) has its own source
//! list naming only the suites searched, its own index lists, status file and download cache, and clears
//! the machine's update and dpkg hooks; it still reads the machine's apt.conf, so proxies and auth keep
//! working. Signatures are checked as usual, with the keyring the machine's entry names.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::{run, tail, Output};
use super::{version, KernelError};

const UPDATE_TIMEOUT: Duration = Duration::from_secs(300);
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(900);
/// apt's own per-connection timeout, seconds: a mirror that doesn't answer fails fast.
const CONNECT_TIMEOUT: u32 = 30;

/// Debian release codenames and aliases a mirror entry's suite may start with.
const DEBIAN_SUITES: &[&str] = &[
    "jessie",
    "stretch",
    "buster",
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "duke",
    "sid",
    "stable",
    "oldstable",
    "oldoldstable",
    "testing",
    "unstable",
    "experimental",
];

/// Each Debian release and the kernel series it ships.
const RELEASES: &[(&str, &str)] = &[("bullseye", "5.10"), ("bookworm", "6.1"), ("trixie", "6.12")];

/// An archive location from the machine's sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mirror {
    pub uri: String,
    /// The entry's `Signed-By`: a keyring path, or an inline armored key.
    pub signed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mirrors {
    pub debian: Mirror,
    pub security: Option<Mirror>,
}

/// One source entry of the machine's apt configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    types: Vec<String>,
    uris: Vec<String>,
    suites: Vec<String>,
    signed_by: Option<String>,
    enabled: bool,
}

/// The machine's source files: `Dir::Etc::sourcelist` and the `.list`/`.sources` files in
/// `Dir::Etc::sourceparts`, as apt reads them.
fn source_files(label: &str) -> Result<Vec<PathBuf>, KernelError> {
    let out = run(
        Command::new("apt-config").args(["shell", "L", "Dir::Etc::sourcelist/f", "P", "Dir::Etc::sourceparts/d"]),
        "apt-config",
        QUERY_TIMEOUT,
        label,
    )?;
    let value = |var: &str, default: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{var}=")))
            .map(|v| v.trim().trim_matches('\'').to_string())
            .unwrap_or_else(|| default.to_string())
    };
    let list = PathBuf::from(value("L", "/etc/apt/sources.list"));
    let parts = PathBuf::from(value("P", "/etc/apt/sources.list.d/"));
    let mut files = vec![list];
    if let Ok(dir) = std::fs::read_dir(&parts) {
        let mut more: Vec<PathBuf> = dir
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "list" || x == "sources"))
            .collect();
        more.sort();
        files.extend(more);
    }
    Ok(files)
}

/// Entries of a one-line-style file: `deb [opt=value …] uri suite [component …]`.
fn parse_one_line(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace().peekable();
        let Some(ty) = words.next() else { continue };
        let mut signed_by = None;
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            let mut options = String::new();
            for w in words.by_ref() {
                options.push(' ');
                options.push_str(w);
                if w.ends_with(']') {
                    break;
                }
            }
            for opt in options.trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace()).split_whitespace() {
                if let Some(v) = opt.strip_prefix("signed-by=") {
                    signed_by = Some(v.to_string());
                }
            }
        }
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else { continue };
        entries.push(Entry {
            types: vec![ty.to_string()],
            uris: vec![uri.to_string()],
            suites: vec![suite.to_string()],
            signed_by,
            enabled: true,
        });
    }
    entries
}

/// Entries of a deb822 `.sources` file: paragraphs of `Field: value` with indented continuation lines.
fn parse_deb822(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    for paragraph in split_blank(text) {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in paragraph.lines() {
            if line.starts_with('#') {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = fields.last_mut() {
                    let l = line.trim();
                    value.push('\n');
                    value.push_str(if l == "." { "" } else { l });
                }
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
        let words = |k: &str| get(k).map(|v| v.split_whitespace().map(str::to_string).collect()).unwrap_or_default();
        if fields.is_empty() {
            continue;
        }
        entries.push(Entry {
            types: words("types"),
            uris: words("uris"),
            suites: words("suites"),
            signed_by: get("signed-by").filter(|s| !s.is_empty()),
            enabled: !get("enabled").is_some_and(|v| v.eq_ignore_ascii_case("no")),
        });
    }
    entries
}

/// Paragraphs separated by lines that are empty or only whitespace.
fn split_blank(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push(String::new());
        } else {
            let last = out.last_mut().expect("non-empty");
            last.push_str(line);
            last.push('\n');
        }
    }
    out.into_iter().filter(|p| !p.is_empty()).collect()
}

fn is_security(suite: &str, uri: &str) -> bool {
    suite.ends_with("-security") || suite.ends_with("/updates") || uri.trim_end_matches('/').ends_with("-security")
}

fn debian_suite(suite: &str) -> bool {
    let base = suite.split(['-', '/']).next().unwrap_or(suite);
    DEBIAN_SUITES.contains(&base)
}

/// The Debian mirror (and security mirror) among the entries.
fn pick_mirrors(entries: &[Entry]) -> Option<Mirrors> {
    let mut debian = None;
    let mut security = None;
    for e in entries.iter().filter(|e| e.enabled && e.types.iter().any(|t| t == "deb")) {
        for uri in e.uris.iter().filter(|u| !u.starts_with("cdrom:")) {
            for suite in e.suites.iter().filter(|s| debian_suite(s)) {
                let m = Mirror { uri: uri.trim_end_matches('/').to_string(), signed_by: e.signed_by.clone() };
                let slot = if is_security(suite, uri) { &mut security } else { &mut debian };
                slot.get_or_insert(m);
            }
        }
    }
    Some(Mirrors { debian: debian?, security })
}

/// The machine's Debian mirrors, from its apt sources.
pub(crate) fn machine_mirrors(label: &str) -> Result<Mirrors, KernelError> {
    let files = source_files(label)?;
    let mut entries = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else { continue };
        if f.extension().is_some_and(|x| x == "sources") {
            entries.extend(parse_deb822(&text));
        } else {
            entries.extend(parse_one_line(&text));
        }
    }
    pick_mirrors(&entries).ok_or_else(|| KernelError::NoMirror {
        label: label.to_string(),
        searched: files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
    })
}

/// A suite to search: where it is and whether the search goes on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Suite {
    pub name: String,
    pub security: bool,
    /// `-updates` and `-security` only add newer builds: a mirror without them is fine.
    pub optional: bool,
}

/// Suites searched together, in order of preference, for a kernel series (`6.1`; an ABI such as
/// `6.1.0-47` is searched by its series). A release's own kernel comes from the release (with its
/// updates and security suites), then from the previous release's backports; other series from the
/// newest release's backports, then testing and unstable.
pub(crate) fn groups_for(series: &str) -> Vec<(String, Vec<Suite>)> {
    let major_minor: String = {
        let mut parts = series.splitn(3, |c: char| !c.is_ascii_digit());
        let (a, b) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        format!("{a}.{b}")
    };
    let release = |name: &str| {
        let s = |n: String, security, optional| Suite { name: n, security, optional };
        (
            name.to_string(),
            vec![
                s(name.to_string(), false, false),
                s(format!("{name}-updates"), false, true),
                s(format!("{name}-security"), true, true),
            ],
        )
    };
    let single =
        |name: &str| (name.to_string(), vec![Suite { name: name.to_string(), security: false, optional: false }]);
    match RELEASES.iter().position(|(_, k)| *k == major_minor) {
        Some(i) => {
            let mut groups = vec![release(RELEASES[i].0)];
            if i > 0 {
                groups.push(single(&format!("{}-backports", RELEASES[i - 1].0)));
            }
            groups
        }
        None => {
            let newest = RELEASES.last().expect("releases").0;
            vec![single(&format!("{newest}-backports")), single("testing"), single("unstable")]
        }
    }
}

/// A private apt configuration searching one group of suites.
pub(crate) struct PrivateApt {
    conf: PathBuf,
    label: String,
    mirrors: Mirrors,
}

/// A kernel package found in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub package: String,
    pub version: String,
    pub suite: String,
    /// `uname -r` of the kernel inside: the package name without `linux-image-`.
    pub release: String,
}

pub(crate) const FLAVOUR: &str = "-cloud-amd64";

impl PrivateApt {
    /// Writes the configuration for `suites` under `dir` (kept between runs, so index updates are
    /// incremental).
    pub fn new(dir: &Path, mirrors: &Mirrors, suites: &[Suite], label: &str) -> Result<PrivateApt, KernelError> {
        let io = |p: &Path, e| KernelError::io(p, e);
        for sub in ["lists/partial", "archives/partial", "sources.list.d", "preferences.d"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| io(&dir.join(sub), e))?;
        }
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| io(&p, e))
        };
        write("sources.list", "")?;
        write("status", "")?;
        let mut sources = String::from("# Written by xdptest: the suites searched for a kernel package.\n");
        for security in [false, true] {
            let names: Vec<&str> = suites.iter().filter(|s| s.security == security).map(|s| s.name.as_str()).collect();
            let mirror = if security { mirrors.security.as_ref() } else { Some(&mirrors.debian) };
            let (Some(mirror), false) = (mirror, names.is_empty()) else { continue };
            sources += &format!(
                "\nTypes: deb\nURIs: {}\nSuites: {}\nComponents: main\nArchitectures: amd64\nTargets: Packages\n",
                mirror.uri,
                names.join(" ")
            );
            match &mirror.signed_by {
                Some(key) if key.contains('\n') => {
                    let file = format!("key-{}.asc", if security { "security" } else { "debian" });
                    write(&file, key)?;
                    sources += &format!("Signed-By: {}\n", dir.join(file).display());
                }
                Some(key) => sources += &format!("Signed-By: {key}\n"),
                None => {}
            }
        }
        write("sources.list.d/xdptest.sources", &sources)?;
        let d = dir.display();
        let conf = format!(
            "// Written by xdptest: a private apt configuration for downloading kernel packages. It keeps the\n\
             // machine's settings (proxies) but not its sources, lists, status, preferences or hooks.\n\
             #clear APT::Update::Pre-Invoke;\n#clear APT::Update::Post-Invoke;\n\
             #clear APT::Update::Post-Invoke-Success;\n#clear DPkg::Pre-Invoke;\n#clear DPkg::Post-Invoke;\n\
             #clear DPkg::Pre-Install-Pkgs;\n#clear APT::Architectures;\n\
             Dir::Etc::sourcelist \"{d}/sources.list\";\nDir::Etc::sourceparts \"{d}/sources.list.d\";\n\
             Dir::Etc::preferences \"{d}/preferences\";\nDir::Etc::preferencesparts \"{d}/preferences.d\";\n\
             Dir::State::Lists \"{d}/lists\";\nDir::State::status \"{d}/status\";\n\
             Dir::State::extended_states \"{d}/extended_states\";\n\
             Dir::Cache \"{d}\";\nDir::Cache::archives \"{d}/archives\";\n\
             Dir::Cache::pkgcache \"\";\nDir::Cache::srcpkgcache \"\";\n\
             Acquire::Languages \"none\";\nAPT::Architecture \"amd64\";\nAPT::Architectures {{ \"amd64\"; }};\n\
             APT::Update::Error-Mode \"any\";\nAPT::Get::List-Cleanup \"true\";\n\
             Acquire::http::Timeout \"{CONNECT_TIMEOUT}\";\nAcquire::https::Timeout \"{CONNECT_TIMEOUT}\";\n\
             Acquire::ftp::Timeout \"{CONNECT_TIMEOUT}\";\nAcquire::Retries \"2\";\n\
             APT::Sandbox::User \"root\";\n"
        );
        write("apt.conf", &conf)?;
        Ok(PrivateApt { conf: dir.join("apt.conf"), label: label.into(), mirrors: mirrors.clone() })
    }

    fn command(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        c.arg("-c").arg(&self.conf).arg("-q");
        c
    }

    /// `apt-get update` of the private lists. Failures of optional suites are returned (the caller may
    /// retry without them); anything else becomes a precise error.
    pub fn update(&self, suites: &[Suite]) -> Result<Result<(), Vec<String>>, KernelError> {
        let mut cmd = self.command("apt-get");
        cmd.arg("update");
        let out = run(&mut cmd, "updating the package index", UPDATE_TIMEOUT, &self.label)?;
        classify_update(&out, suites, &self.mirrors, &self.label)
    }

    /// Kernel packages of `series` in the index, from `suites` only.
    pub fn candidates(&self, series: &str, suites: &[Suite]) -> Result<Vec<Candidate>, KernelError> {
        let mut cmd = self.command("apt-cache");
        cmd.args(["pkgnames", "linux-image-"]);
        let out = run(&mut cmd, "apt-cache pkgnames", QUERY_TIMEOUT, &self.label)?;
        if !out.status.success() {
            return Err(apt_failed("apt-cache pkgnames", &out));
        }
        let mut names: Vec<&str> = out.stdout.lines().map(str::trim).filter(|n| matches_series(n, series)).collect();
        names.sort();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = self.command("apt-cache");
        cmd.arg("madison").args(&names);
        let out = run(&mut cmd, "apt-cache madison", QUERY_TIMEOUT, &self.label)?;
        if !out.status.success() {
            return Err(apt_failed("apt-cache madison", &out));
        }
        let mut found = Vec::new();
        for line in out.stdout.lines() {
            // ` linux-image-6.1.0-47-cloud-amd64 | 6.1.170-3 | http://… bookworm/main amd64 Packages`
            let cols: Vec<&str> = line.split('|').map(str::trim).collect();
            let [package, version, source] = cols[..] else { continue };
            let Some(suite) = source.split_whitespace().nth(1).and_then(|s| s.split('/').next()) else { continue };
            if !suites.iter().any(|s| s.name == suite) || !source.ends_with("Packages") {
                continue;
            }
            let release = package.strip_prefix("linux-image-").unwrap_or(package).to_string();
            let c = Candidate { package: package.into(), version: version.into(), suite: suite.into(), release };
            if !found.iter().any(|f: &Candidate| f.package == c.package && f.version == c.version) {
                found.push(c);
            }
        }
        Ok(found)
    }

    /// All kernel package names of any series, for a "did you mean" list.
    pub fn available_series(&self) -> Vec<String> {
        let mut cmd = self.command("apt-cache");
        cmd.args(["pkgnames", "linux-image-"]);
        let Ok(out) = run(&mut cmd, "apt-cache pkgnames", QUERY_TIMEOUT, &self.label) else { return Vec::new() };
        let mut abis: Vec<String> = out
            .stdout
            .lines()
            .filter_map(|n| n.trim().strip_prefix("linux-image-")?.strip_suffix(FLAVOUR).map(str::to_string))
            .filter(|abi| abi.starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        abis.sort_by(|a, b| version::compare(a, b));
        abis
    }

    /// The package's download size in bytes, from the index.
    pub fn size(&self, c: &Candidate) -> Option<u64> {
        let mut cmd = self.command("apt-cache");
        cmd.arg("show").arg(format!("{}={}", c.package, c.version));
        let out = run(&mut cmd, "apt-cache show", QUERY_TIMEOUT, &self.label).ok()?;
        out.stdout.lines().find_map(|l| l.strip_prefix("Size:")?.trim().parse().ok())
    }

    /// Downloads the package into `dest` and returns the `.deb`'s path and the time taken.
    pub fn download(&self, c: &Candidate, dest: &Path) -> Result<(PathBuf, Duration), KernelError> {
        let start = Instant::now();
        let mut cmd = self.command("apt-get");
        cmd.arg("download").arg(format!("{}={}", c.package, c.version)).current_dir(dest);
        let out = run(&mut cmd, &format!("downloading {}", c.package), DOWNLOAD_TIMEOUT, &self.label)?;
        if !out.status.success() {
            let all = format!("{}\n{}", out.stdout, out.stderr);
            let network = ["Could not resolve", "Could not connect", "Connection timed out", "Unable to connect"];
            if let Some(line) = all.lines().find(|l| network.iter().any(|n| l.contains(n))) {
                return Err(KernelError::MirrorUnreachable {
                    label: self.label.clone(),
                    mirror: self.mirrors.debian.uri.clone(),
                    detail: line.trim().to_string(),
                });
            }
            return Err(apt_failed(&format!("apt-get download {}={}", c.package, c.version), &out));
        }
        let deb = std::fs::read_dir(dest)
            .map_err(|e| KernelError::io(dest, e))?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .ok_or_else(|| KernelError::Apt {
                command: format!("apt-get download {}", c.package),
                status: String::new(),
                detail: format!("it reported success but left no .deb in {}", dest.display()),
            })?;
        Ok((deb, start.elapsed()))
    }
}

/// What `apt-get update`'s output says: success, failures of optional suites only (their names), or an
/// error that names the cause (mirror unreachable, bad signature, suite missing).
fn classify_update(
    out: &Output,
    suites: &[Suite],
    mirrors: &Mirrors,
    label: &str,
) -> Result<Result<(), Vec<String>>, KernelError> {
    let failed_lines: Vec<&str> = out
        .stderr
        .lines()
        .chain(out.stdout.lines())
        .filter(|l| {
            l.starts_with("E:")
                || l.starts_with("Err:")
                || (l.starts_with("W:") && (l.contains("Failed to fetch") || l.contains("signature")))
        })
        .collect();
    if out.status.success() && failed_lines.is_empty() {
        return Ok(Ok(()));
    }
    let all = format!("{}\n{}", out.stdout, out.stderr);
    let mentions = |s: &Suite| {
        failed_lines.iter().any(|l| {
            l.contains(&format!("/dists/{}/", s.name))
                || l.contains(&format!(" {} ", s.name))
                || l.contains(&format!(" {} Release", s.name))
                || l.contains(&format!(" {} InRelease", s.name))
        })
    };
    let failing: Vec<&Suite> = suites.iter().filter(|s| mentions(s)).collect();
    // The suite to blame: a required one if any failed.
    let blamed = failing.iter().find(|s| !s.optional).or(failing.first()).copied();
    let only_optional = blamed.is_some_and(|s| s.optional);
    let mirror = match blamed {
        Some(s) if s.security => mirrors.security.as_ref().unwrap_or(&mirrors.debian),
        _ => &mirrors.debian,
    };
    let network = [
        "Could not resolve",
        "Temporary failure resolving",
        "Could not connect",
        "Connection timed out",
        "Connection failed",
        "Unable to connect",
        "No route to host",
        "Network is unreachable",
        "Connection refused",
    ];
    let signature = ["NO_PUBKEY", "EXPKEYSIG", "not signed", "couldn't be verified", "BADSIG", "OpenPGP signature"];
    let line_with =
        |needles: &[&str]| all.lines().find(|l| needles.iter().any(|n| l.contains(n))).map(|l| l.trim().to_string());
    // Failures of optional suites alone (a security mirror that is down, an -updates suite that is
    // gone) are survivable: the caller searches without them.
    if only_optional {
        return Ok(Err(failing.iter().map(|s| s.name.clone()).collect()));
    }
    if let Some(detail) = line_with(&network) {
        return Err(KernelError::MirrorUnreachable { label: label.to_string(), mirror: mirror.uri.clone(), detail });
    }
    if let Some(detail) = line_with(&signature) {
        return Err(KernelError::Signature {
            suite: blamed.map_or_else(|| "?".into(), |s| s.name.clone()),
            mirror: mirror.uri.clone(),
            keyring: mirror.signed_by.clone().unwrap_or_else(|| "(apt's trusted keys)".into()),
            detail,
        });
    }
    if let Some(s) = blamed {
        if all.contains("does not have a Release file") || all.contains("404") {
            let first_error = failed_lines.iter().find(|l| l.starts_with("E:")).unwrap_or(&failed_lines[0]);
            return Err(KernelError::SuiteMissing {
                suite: s.name.clone(),
                mirror: mirror.uri.clone(),
                detail: first_error.trim_start_matches("E: ").to_string(),
            });
        }
    }
    Err(apt_failed("apt-get update", out))
}

fn apt_failed(command: &str, out: &Output) -> KernelError {
    let detail = if out.stderr.trim().is_empty() { &out.stdout } else { &out.stderr };
    KernelError::Apt { command: command.into(), status: out.status_note(), detail: tail(detail, 3) }
}

/// `linux-image-<series>…-cloud-amd64`, where the series is followed by `.`, `-` or `+` (so `6.1`
/// doesn't match `6.12.x`) or is the whole ABI.
fn matches_series(package: &str, series: &str) -> bool {
    let Some(abi) = package.strip_prefix("linux-image-").and_then(|r| r.strip_suffix(FLAVOUR)) else {
        return false;
    };
    match abi.strip_prefix(series) {
        Some("") => true,
        Some(rest) => rest.starts_with(['.', '-', '+']),
        None => false,
    }
}

/// The newest candidate (by package version, then name).
pub(crate) fn newest(candidates: &[Candidate]) -> Option<&Candidate> {
    candidates
        .iter()
        .max_by(|a, b| version::compare(&a.version, &b.version).then_with(|| version::compare(&a.release, &b.release)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_sources() {
        let text = "Types: deb\n# comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\
                    Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n\
                    Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\
                    Components: main\n\nTypes: deb\nURIs: https://other.example/node\nSuites: nodistro\n\
                    Components: main\n\nEnabled: no\nTypes: deb\nURIs: http://disabled.example/debian\nSuites: trixie\n";
        let entries = parse_deb822(text);
        assert_eq!(entries.len(), 4);
        let m = pick_mirrors(&entries).unwrap();
        assert_eq!(m.debian.uri, "http://mirror.example/debian");
        assert_eq!(m.debian.signed_by.as_deref(), Some("/usr/share/keyrings/debian-archive-keyring.gpg"));
        assert_eq!(m.security.unwrap().uri, "http://mirror.example/debian-security");
    }

    #[test]
    fn deb822_inline_key() {
        let text = "Types: deb\nURIs: http://m.example/debian/\nSuites: trixie\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n -----END PGP PUBLIC KEY BLOCK-----\n";
        let m = pick_mirrors(&parse_deb822(text)).unwrap();
        assert_eq!(m.debian.uri, "http://m.example/debian");
        assert!(m.debian.signed_by.unwrap().contains("BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n"));
    }

    #[test]
    fn one_line_sources() {
        let text = "# deb http://commented.example/debian bookworm main\n\
                    deb-src http://src.example/debian bookworm main\n\
                    deb [ arch=amd64 signed-by=/k.gpg ] http://m.example/debian bookworm main contrib\n\
                    deb http://security.example/debian-security bookworm-security main\n\
                    deb http://archive.ubuntu.example/ubuntu jammy main\n";
        let m = pick_mirrors(&parse_one_line(text)).unwrap();
        assert_eq!(m.debian, Mirror { uri: "http://m.example/debian".into(), signed_by: Some("/k.gpg".into()) });
        assert_eq!(m.security.unwrap().uri, "http://security.example/debian-security");
        assert!(pick_mirrors(&parse_one_line("deb http://archive.ubuntu.example/ubuntu jammy main\n")).is_none());
    }

    #[test]
    fn series_matching() {
        assert!(matches_series("linux-image-6.1.0-47-cloud-amd64", "6.1"));
        assert!(matches_series("linux-image-6.1.0-47-cloud-amd64", "6.1.0-47"));
        assert!(!matches_series("linux-image-6.1.0-47-cloud-amd64", "6.1.0-4"));
        assert!(!matches_series("linux-image-6.12.43+deb12-cloud-amd64", "6.1"));
        assert!(matches_series("linux-image-6.12.43+deb12-cloud-amd64", "6.12"));
        assert!(matches_series("linux-image-6.12.43+deb12-cloud-amd64", "6.12.43"));
        assert!(!matches_series("linux-image-6.12.43+deb12-cloud-amd64-unsigned", "6.12"));
        assert!(!matches_series("linux-image-6.12.43+deb12-cloud-amd64-dbg", "6.12"));
        assert!(!matches_series("linux-image-cloud-amd64", "6.1"));
        assert!(!matches_series("linux-image-6.1.0-47-amd64", "6.1"));
    }

    #[test]
    fn suite_groups() {
        let names = |s: &str| -> Vec<Vec<String>> {
            groups_for(s).into_iter().map(|(_, g)| g.into_iter().map(|s| s.name).collect()).collect()
        };
        assert_eq!(
            names("6.1"),
            [vec!["bookworm", "bookworm-updates", "bookworm-security"], vec!["bullseye-backports"]]
        );
        assert_eq!(names("6.1.0-47"), names("6.1"));
        assert_eq!(names("6.12"), [vec!["trixie", "trixie-updates", "trixie-security"], vec!["bookworm-backports"]]);
        assert_eq!(names("6.16")[0], ["trixie-backports"]);
    }

    fn apt_output(stdout: &str, stderr: &str) -> Output {
        use std::os::unix::process::ExitStatusExt;
        Output { status: std::process::ExitStatus::from_raw(100 << 8), stdout: stdout.into(), stderr: stderr.into() }
    }

    fn mirrors() -> Mirrors {
        Mirrors {
            debian: Mirror { uri: "http://m.example/debian".into(), signed_by: Some("/k.gpg".into()) },
            security: Some(Mirror { uri: "http://m.example/debian-security".into(), signed_by: None }),
        }
    }

    #[test]
    fn update_failures() {
        let trixie = &groups_for("6.12")[0].1;
        let classify = |stdout: &str, stderr: &str| {
            classify_update(&apt_output(stdout, stderr), trixie, &mirrors(), "debian:6.12")
        };
        // Mirror down.
        let e = classify(
            "Err:1 http://m.example/debian trixie InRelease\n  Could not connect to m.example:80 (192.0.2.1). - connect (111: Connection refused)\n",
            "E: Failed to fetch http://m.example/debian/dists/trixie/InRelease  Could not connect to m.example:80 (192.0.2.1). - connect (111: Connection refused)\nE: Some index files failed to download. They have been ignored, or old ones used instead.\n",
        )
        .unwrap_err();
        assert!(
            matches!(&e, KernelError::MirrorUnreachable { mirror, .. } if mirror == "http://m.example/debian"),
            "{e}"
        );
        let e = classify(
            "",
            "E: Failed to fetch http://m.example/debian/dists/trixie/InRelease  Could not resolve 'm.example'\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("can't reach the Debian mirror http://m.example/debian"), "{e}");
        // Bad signature.
        let e = classify(
            "Err:1 http://m.example/debian trixie InRelease\n  The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 6ED0E7B82643E131\n",
            "W: An error occurred during the signature verification. The repository is not updated and the previous index files will be used. GPG error: http://m.example/debian trixie InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 6ED0E7B82643E131\nE: Failed to fetch http://m.example/debian/dists/trixie/InRelease  The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 6ED0E7B82643E131\n",
        )
        .unwrap_err();
        assert!(
            matches!(&e, KernelError::Signature { suite, keyring, .. } if suite == "trixie" && keyring == "/k.gpg"),
            "{e}"
        );
        assert!(e.to_string().contains("NO_PUBKEY 6ED0E7B82643E131"), "{e}");
        // Only an optional suite is missing: the caller retries without it.
        let r = classify(
            "Err:3 http://m.example/debian trixie-updates Release\n  404  Not Found [IP: 192.0.2.1 80]\n",
            "E: The repository 'http://m.example/debian trixie-updates Release' does not have a Release file.\n",
        )
        .unwrap();
        assert_eq!(r, Err(vec!["trixie-updates".to_string()]));
        // The security mirror down: optional too.
        let r = classify("", "E: Failed to fetch http://m.example/debian-security/dists/trixie-security/InRelease  Could not connect to m.example:80\n").unwrap();
        assert_eq!(r, Err(vec!["trixie-security".to_string()]));
        // The release itself is missing.
        let e =
            classify("", "E: The repository 'http://m.example/debian trixie Release' does not have a Release file.\n")
                .unwrap_err();
        assert!(matches!(&e, KernelError::SuiteMissing { suite, .. } if suite == "trixie"), "{e}");
        // Something else.
        let e = classify("", "E: Could not get lock /x/lists/lock. It is held by process 1\n").unwrap_err();
        assert!(matches!(&e, KernelError::Apt { .. }), "{e}");
    }

    #[test]
    fn newest_candidate() {
        let c =
            |p: &str, v: &str| Candidate { package: p.into(), version: v.into(), suite: "s".into(), release: p.into() };
        let all = [c("a", "6.1.176-1"), c("b", "6.1.192-2"), c("d", "6.1.192-1"), c("e", "6.1.99-1")];
        assert_eq!(newest(&all).unwrap().package, "b");
    }
}
