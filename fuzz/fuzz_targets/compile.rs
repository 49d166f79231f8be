//! Arbitrary text as a spec file → `compile_spec`, with an in-memory loader: `spec.pkt` is the input,
//! `lib.pkt` a small packet library it may include, and every `*.o` path serves the bytes of
//! `programs/build/upf.o` (read once). Every diagnostic is also rendered the way the CLI renders it,
//! since miette slices the source with the diagnostic's span.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use miette::{GraphicalReportHandler, GraphicalTheme};
use xdptest_compiler::spec::{compile_spec, Loader};

const LIB: &str = r#"
packet lib_uplink = ether(src=00:00:5e:00:53:02, dst=00:00:5e:00:53:01) / vlan(100)
    / ipv4(src=192.168.10.1, dst=192.168.10.5, df) / udp / gtpu(teid=2)
    / ipv4(src=192.168.100.200, dst=192.168.30.1) / icmp.echo_request(id=1, seq=1) / payload("abcd")
map config[0] = { local_ip: 192.168.10.5 }
"#;

fn object() -> &'static [u8] {
    static OBJECT: OnceLock<Vec<u8>> = OnceLock::new();
    OBJECT.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../programs/build/upf.o");
        std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e} (build the programs: make -C programs)"))
    })
}

struct MemLoader<'a> {
    spec: &'a [u8],
}

impl Loader for MemLoader<'_> {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        if path == Path::new("spec.pkt") {
            return Ok(self.spec.to_vec());
        }
        if path == Path::new("lib.pkt") {
            return Ok(LIB.as_bytes().to_vec());
        }
        if path.extension().is_some_and(|e| e == "o") {
            return Ok(object().to_vec());
        }
        Err(std::io::ErrorKind::NotFound.into())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut diags = Vec::new();
    let compiled = compile_spec(Path::new("spec.pkt"), &mut MemLoader { spec: data }, &mut diags);
    assert_eq!(compiled.is_some(), diags.is_empty(), "{diags:?}");
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor());
    for d in &diags {
        let mut out = String::new();
        handler.render_report(&mut out, d.report().as_ref()).expect("render");
    }
    if let Some(spec) = compiled {
        for f in &spec.fixtures {
            let ron = f.to_ron();
            let back = xdptest_compiler::Fixture::from_ron(&ron).expect("fixtures read back");
            assert_eq!(&back, f);
        }
    }
});
