//! Kernel build configurations (`CONFIG_X=y`) and what the guest needs from one.

use std::collections::BTreeMap;

use super::{modules, Kernel, KernelError};

/// A parsed kernel configuration: `CONFIG_X=y|m|<value>`, and `# CONFIG_X is not set` as `n`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelConfig {
    values: BTreeMap<String, String>,
}

impl KernelConfig {
    /// Parses `.config` text. Unknown lines are ignored; string values lose their quotes.
    pub fn parse(text: &str) -> Self {
        let mut values = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("# ") {
                if let Some(key) = rest.strip_suffix(" is not set") {
                    if key.starts_with("CONFIG_") && !key.contains(char::is_whitespace) {
                        values.insert(key.to_string(), "n".to_string());
                    }
                }
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            if !key.starts_with("CONFIG_") || key.contains(char::is_whitespace) {
                continue;
            }
            let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
                None => value.to_string(),
            };
            values.insert(key.to_string(), value);
        }
        KernelConfig { values }
    }

    /// The value of an option (`CONFIG_BPF_SYSCALL` or just `BPF_SYSCALL`): `y`, `m`, `n` (explicitly not
    /// set), a number or string; `None` when the configuration doesn't mention it (also: not built).
    pub fn get(&self, key: &str) -> Option<&str> {
        let value =
            if key.starts_with("CONFIG_") { self.values.get(key) } else { self.values.get(&format!("CONFIG_{key}")) };
        value.map(String::as_str)
    }

    /// Built in (`y`) or as a module (`m`).
    pub fn enabled(&self, key: &str) -> bool {
        matches!(self.get(key), Some("y" | "m"))
    }

    /// Number of options mentioned.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// All options in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// One option the guest relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// Without the `CONFIG_` prefix.
    pub option: &'static str,
    /// Whether a module (`=m`) is enough; if so the guest loads it from the kernel's module tree.
    pub module: Option<&'static str>,
    /// What breaks without it.
    pub why: &'static str,
}

/// Options a kernel must have to boot the guest and run the suite. XDP has no option of its own: it
/// comes with `BPF_SYSCALL` and `NET`. `XDP_SOCKETS` (AF_XDP) is not needed.
pub const REQUIRED: &[Need] = &[
    Need { option: "BPF_SYSCALL", module: None, why: "the bpf() syscall that loads and test-runs XDP programs" },
    Need { option: "NET", module: None, why: "networking, which XDP is part of" },
    Need { option: "NET_NS", module: None, why: "network namespaces, one per env stage" },
    Need { option: "VETH", module: Some("veth"), why: "veth pairs that env stages are built from" },
    Need { option: "BLK_DEV_INITRD", module: None, why: "booting the guest from an initramfs" },
    Need { option: "DEVTMPFS", module: None, why: "device nodes in the guest" },
    Need { option: "SERIAL_8250", module: None, why: "the serial ports the guest talks through" },
    Need { option: "SERIAL_8250_CONSOLE", module: None, why: "a console on the first serial port" },
    Need { option: "BINFMT_ELF", module: None, why: "running the guest's init" },
    Need { option: "PROC_FS", module: None, why: "/proc, for namespaces and BPF information" },
    Need { option: "SYSFS", module: None, why: "/sys, for the CPU count and kernel BTF" },
];

/// Options whose absence only limits what can run: each is a warning.
pub const OPTIONAL: &[Need] = &[
    Need {
        option: "DEBUG_INFO_BTF",
        module: None,
        why: "kernel BTF (/sys/kernel/btf/vmlinux): without it programs with CO-RE relocations fail to load (BTF-defined maps still work)",
    },
    Need { option: "BPF_JIT", module: None, why: "the BPF JIT: without it programs run in the slower interpreter" },
    Need { option: "DUMMY", module: Some("dummy"), why: "dummy links: without the driver they become veth pairs" },
    Need { option: "VLAN_8021Q", module: Some("8021q"), why: "vlan links: specs with them fail" },
];

pub(crate) fn check(k: &Kernel) -> Result<Vec<String>, KernelError> {
    let mut warnings = Vec::new();
    let Some(config) = &k.config else {
        let why = super::image::no_config_reason(k).map(|r| format!(" ({r})")).unwrap_or_default();
        warnings.push(format!(
            "no configuration found for kernel {}{why}: can't check that it has BPF, network namespaces, veth \
             and a serial console; booting it anyway",
            k.version
        ));
        return Ok(warnings);
    };
    let mut missing = Vec::new();
    for need in REQUIRED {
        let value = config.get(need.option);
        match (value, need.module) {
            (Some("y"), _) => {}
            (Some("m"), Some(module)) => {
                if modules::find(k, module).is_none() {
                    warnings.push(format!(
                        "CONFIG_{}=m but {module}.ko is not in the kernel's module tree ({}): specs that need {} will fail",
                        need.option,
                        k.modules_dir.as_ref().map_or("it has none".into(), |d| d.display().to_string()),
                        need.why
                    ));
                }
            }
            (value, module) => missing.push(format!(
                "  CONFIG_{}={} ({}; it is {})",
                need.option,
                if module.is_some() { "y or m" } else { "y" },
                need.why,
                match value {
                    None | Some("n") => "not set".to_string(),
                    Some(v) => v.to_string(),
                }
            )),
        }
    }
    if !missing.is_empty() {
        return Err(KernelError::MissingOptions {
            label: k.label.clone(),
            version: k.version.clone(),
            missing: missing.join("\n"),
        });
    }
    for need in OPTIONAL {
        match (config.get(need.option), need.module) {
            (Some("y"), _) => {}
            (Some("m"), Some(module)) if modules::find(k, module).is_some() => {}
            (Some("m"), Some(module)) => warnings.push(format!(
                "CONFIG_{}=m but {module}.ko is not in the kernel's module tree: {}",
                need.option, need.why
            )),
            _ => warnings.push(format!("no CONFIG_{}: {}", need.option, need.why)),
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "#\n# Automatically generated file; DO NOT EDIT.\nCONFIG_BPF_SYSCALL=y\nCONFIG_VETH=m\n\
                        # CONFIG_IKCONFIG is not set\nCONFIG_LOCALVERSION=\"-test \\\"x\\\"\"\nCONFIG_NR_CPUS=64\n\
                        garbage line\n";

    #[test]
    fn parse_values() {
        let c = KernelConfig::parse(TEXT);
        assert_eq!(c.get("CONFIG_BPF_SYSCALL"), Some("y"));
        assert_eq!(c.get("BPF_SYSCALL"), Some("y"));
        assert_eq!(c.get("VETH"), Some("m"));
        assert_eq!(c.get("IKCONFIG"), Some("n"));
        assert_eq!(c.get("LOCALVERSION"), Some("-test \"x\""));
        assert_eq!(c.get("NR_CPUS"), Some("64"));
        assert_eq!(c.get("XDP"), None);
        assert!(c.enabled("VETH") && !c.enabled("IKCONFIG") && !c.enabled("NOPE"));
        assert_eq!(c.len(), 5);
    }
}
