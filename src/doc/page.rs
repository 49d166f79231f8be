//! One spec file as an mdBook page a reviewer can read without `.pkt` syntax or hex: the program, the
//! maps seeded for every scenario, the shared packets, then a section per scenario (its description,
//! each packet sent as a layer/field table with the author's values apart from derived ones, the
//! expected output as a change of the input, map state set and asserted, events) and, with results,
//! its verdict. Deterministic: the same specs (and results) give the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use xdptest_compiler::fixture::{
    action_name, Expectation, ExpectedEvent, ExpectedValue, Fixture, Masked, Step, ValueField, WrittenLayer,
};
use xdptest_compiler::spec::{CompiledSpec, NamedPacket};
use xdptest_compiler::wire::{decode, DecodedField, DecodedLayer, FieldKind, FieldValue, LayerKind};

use super::results::Results;
use crate::report::scenario::{hexdump, shown_fields};
use crate::report::story::map_write;

/// The anchor of each scenario on its page: its name in lowercase words joined by `-` (as mdBook
/// makes heading ids), numbered from the second on when two names give the same.
pub fn anchors(fixtures: &[Fixture]) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    fixtures
        .iter()
        .map(|f| {
            let base = slug(&f.scenario);
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            if *n == 1 {
                base
            } else {
                format!("{base}-{n}")
            }
        })
        .collect()
}

fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() {
        "scenario".into()
    } else {
        s
    }
}

/// The page of one spec. `link` gives the relative link to the page of another spec file (by its
/// path as specs name it), when that file has a page too.
pub fn render(
    spec: &CompiledSpec,
    packets: &[NamedPacket],
    results: Option<&Results>,
    link: &dyn Fn(&str) -> Option<String>,
    source: &str,
) -> String {
    let sources = scenario_sources(source);
    let title = spec.path.display().to_string();
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", md_escape(&title));
    let _ = writeln!(s, "<!-- Written by `xdptest doc` from {title}: edit the spec, not this page. -->\n");
    match spec.fixtures.first() {
        Some(first) => {
            let p = &first.program;
            let object = tidy_path(&p.object);
            let _ = writeln!(s, "Tests the XDP program `{}` of `{object}` (section `{}`).\n", p.name, p.section);
        }
        None => s.push_str(
            "This file has no scenarios: it defines packets (and map entries) for the specs that include it.\n\n",
        ),
    }
    let anchors = anchors(&spec.fixtures);
    // The summary table: every scenario, with its result when results are given.
    if spec.fixtures.is_empty() {
    } else if results.is_some() {
        s.push_str("| Scenario | Result |\n| --- | --- |\n");
    } else {
        s.push_str("| Scenario |\n| --- |\n");
    }
    for (f, a) in spec.fixtures.iter().zip(&anchors) {
        let _ = write!(s, "| [{}](#{a}) |", cell(&f.scenario));
        if let Some(r) = results {
            let _ = write!(s, " {} |", cell(&verdict_words(r, f)));
        }
        s.push('\n');
    }
    if !spec.fixtures.is_empty() {
        s.push('\n');
    }
    let common = common_prefix(&spec.fixtures);
    if let (Some(first), true) = (spec.fixtures.first(), common > 0) {
        s.push_str("## Set before every scenario\n\n");
        for step in &first.steps[..common] {
            if let Some(line) = write_line(step, first) {
                let _ = writeln!(s, "- `{line}`");
            }
        }
        s.push('\n');
    }
    if !packets.is_empty() {
        s.push_str("## Shared packets\n\n");
        for np in packets {
            if np.file != title {
                if let Some(page) = link(&np.file) {
                    let _ = writeln!(s, "- [`{}`]({page}#packet-{}), from `{}`", np.name, slug(&np.name), np.file);
                    continue;
                }
            }
            let _ = writeln!(s, "### `{}` {{#packet-{}}}\n", np.name, slug(&np.name));
            if np.file != title {
                let _ = writeln!(s, "Defined in `{}`.\n", np.file);
            }
            for l in &np.docs {
                let _ = writeln!(s, "{}", l.trim());
            }
            if !np.docs.is_empty() {
                s.push('\n');
            }
            match &np.bytes {
                Ok(b) => s.push_str(&packet_table(b, &np.written, None)),
                Err(e) => {
                    let _ = writeln!(s, "Does not encode: {}\n", md_escape(e));
                }
            }
        }
        if !s.ends_with("\n\n") {
            s.push('\n');
        }
    }
    for (f, anchor) in spec.fixtures.iter().zip(&anchors) {
        let _ = writeln!(s, "## {} {{#{anchor}}}\n", md_escape(&f.scenario));
        if !f.description.is_empty() {
            let _ = writeln!(s, "{}\n", f.description.trim());
        }
        let _ = writeln!(s, "<small>`{}`</small>\n", f.location);
        if let Some(r) = results {
            s.push_str(&result_block(r, f));
        }
        s.push_str(&scenario_steps(f, common));
        if let Some(text) = sources.iter().find(|(n, _)| *n == f.scenario).map(|(_, t)| t) {
            let _ =
                writeln!(s, "<details><summary>As the spec writes it</summary>\n\n```pkt\n{text}\n```\n\n</details>\n");
        }
    }
    s
}

/// The link from page `from` to page `to` (both relative to the output directory).
pub fn relative_link(from: &std::path::Path, to: &std::path::Path) -> String {
    let from_dir: Vec<_> = from.parent().map(|p| p.components().collect()).unwrap_or_default();
    let to_parts: Vec<_> = to.components().collect();
    let common = from_dir.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); from_dir.len() - common];
    parts.extend(to_parts[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

/// `a/b/../../c` as `c`: the object path as the fixture holds it, without the detour.
pub fn tidy_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "." => {}
            ".." if parts.last().is_some_and(|l| *l != ".." && !l.is_empty()) => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Each scenario's text in the spec file, by name (empty when the file does not parse: the
/// compiler has accepted it, so that does not happen).
fn scenario_sources(source: &str) -> Vec<(String, String)> {
    let Ok(file) = xdptest_grammar::parse(source) else { return Vec::new() };
    file.items
        .iter()
        .filter_map(|item| match &item.kind {
            xdptest_grammar::ast::ItemKind::Scenario(sc) => {
                source.get(item.span.start..item.span.end).map(|t| (sc.name.node.clone(), t.trim_end().to_string()))
            }
            _ => None,
        })
        .collect()
}

/// How many leading steps every scenario shares (the spec's map defaults).
fn common_prefix(fixtures: &[Fixture]) -> usize {
    let Some(first) = fixtures.first() else { return 0 };
    let mut n = 0;
    while n < first.steps.len()
        && matches!(first.steps[n], Step::SetMap { .. })
        && fixtures.iter().all(|f| f.steps.get(n) == Some(&first.steps[n]))
    {
        n += 1;
    }
    n
}

fn verdict_words(r: &Results, f: &Fixture) -> String {
    let outcomes = r.of(&f.spec, &f.scenario);
    if outcomes.is_empty() {
        return "not run".into();
    }
    outcomes
        .iter()
        .map(|o| {
            let word = status_word(&o.status);
            if outcomes.len() > 1 || o.target != "host" {
                format!("{word} on {}", o.target)
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `send 2: ` for a difference of the scenario's second send, `line 24: ` for another statement.
fn where_in(f: &Fixture, at: Option<&str>) -> String {
    let Some(at) = at else { return String::new() };
    let sends = f.steps.iter().filter_map(|s| if let Step::Run { source, .. } = s { Some(source) } else { None });
    if let Some(n) = sends.enumerate().find(|(_, s)| *s == at).map(|(n, _)| n + 1) {
        return format!("send {n}: ");
    }
    match at.rsplit(':').nth(1) {
        Some(line) => format!("line {line}: "),
        None => format!("{at}: "),
    }
}

/// A verdict as the pages show it.
fn status_word(status: &str) -> &str {
    match status {
        "pass" => "✅ passed",
        "fail" => "❌ failed",
        "error" => "⚠️ error",
        "skip" => "skipped",
        other => other,
    }
}

fn result_block(r: &Results, f: &Fixture) -> String {
    let mut s = String::new();
    let outcomes = r.of(&f.spec, &f.scenario);
    if outcomes.is_empty() {
        s.push_str("**Result:** not run.\n\n");
    }
    for o in outcomes {
        let word = status_word(&o.status);
        let _ = writeln!(s, "**Result on {}:** {word} in {} µs.\n", o.target, o.duration_us);
        for (at, d) in &o.details {
            let _ = writeln!(s, "- {}{}", where_in(f, at.as_deref()), md_escape(d));
        }
        if !o.details.is_empty() {
            s.push('\n');
        }
    }
    s
}

/// The scenario's own steps (after the `skip` shared ones), in order.
fn scenario_steps(f: &Fixture, skip: usize) -> String {
    let mut s = String::new();
    let mut sends = 0;
    let mut i = skip;
    let steps = &f.steps;
    while i < steps.len() {
        match &steps[i] {
            Step::SetMap { .. } => {
                s.push_str(if sends == 0 { "**Set first:**\n\n" } else { "**Then set:**\n\n" });
                while let Some(step @ Step::SetMap { .. }) = steps.get(i) {
                    if let Some(line) = write_line(step, f) {
                        let _ = writeln!(s, "- `{line}`");
                    }
                    i += 1;
                }
                s.push('\n');
                continue;
            }
            Step::Run { input, expect, written, ctx, .. } => {
                sends += 1;
                let _ = writeln!(s, "### Send {sends}\n");
                if let Some(how) = context_text(ctx) {
                    let _ = writeln!(s, "{how}\n");
                }
                s.push_str(&packet_table(&input.0, written, None));
                s.push_str(&expectation(&input.0, expect.as_ref()));
            }
            Step::SetClock { .. } | Step::SetRandom { .. } => {
                if let Some(text) = steps[i].control_text() {
                    let _ = writeln!(s, "**Then:** {text}.\n");
                }
            }
            Step::CheckMap { .. } | Step::CheckEvent { .. } => {
                s.push_str("**Then expect:**\n\n");
                while let Some(step @ (Step::CheckMap { .. } | Step::CheckEvent { .. })) = steps.get(i) {
                    let _ = writeln!(s, "- {}", check_line(step));
                    i += 1;
                }
                s.push('\n');
                continue;
            }
        }
        i += 1;
    }
    s
}

fn write_line(step: &Step, f: &Fixture) -> Option<String> {
    match step {
        Step::SetMap { map, key, value, ifaces, shown, .. } => {
            Some(map_write(map, &key.0, value, ifaces, shown, Some(&f.program)))
        }
        _ => None,
    }
}

fn check_line(step: &Step) -> String {
    match step {
        Step::CheckMap { entry, expected: None, .. } => format!("no entry `{entry}`"),
        Step::CheckMap { entry, expected: Some(v), layout, .. } => {
            let summed = if matches!(v, ExpectedValue::Sum(_)) { " (summed over CPUs)" } else { "" };
            format!("`{entry} == {}`{summed}", expected_value(v, layout))
        }
        Step::CheckEvent { map, expected: None, .. } if map.is_empty() => "no more events".into(),
        Step::CheckEvent { map, expected: None, .. } => format!("no more events on `{map}`"),
        Step::CheckEvent { map, expected: Some(e), .. } => format!("an event on `{map}`: `{}`", event_text(e)),
        _ => String::new(),
    }
}

fn masked_fields(m: &Masked, layout: &[ValueField]) -> String {
    let show = |f: &ValueField| {
        let r = f.offset as usize..(f.offset + f.size) as usize;
        match (m.bytes.0.get(r.clone()), m.mask.0.get(r)) {
            (Some(b), Some(k)) => f.show(b, k),
            (Some(b), None) => f.show(b, &[]),
            _ => "?".into(),
        }
    };
    match layout {
        [] => xdptest_compiler::fixture::hex(&m.bytes.0),
        [one] if one.name.is_empty() => show(one),
        many => {
            format!("{{ {} }}", many.iter().map(|f| format!("{}: {}", f.name, show(f))).collect::<Vec<_>>().join(", "))
        }
    }
}

fn expected_value(v: &ExpectedValue, layout: &[ValueField]) -> String {
    match v {
        ExpectedValue::Exact(m) => masked_fields(m, layout),
        ExpectedValue::Sum(m) => masked_fields(m, layout),
        ExpectedValue::PerCpu(ms) => {
            format!("per_cpu [{}]", ms.iter().map(|m| masked_fields(m, layout)).collect::<Vec<_>>().join(", "))
        }
    }
}

fn event_text(e: &ExpectedEvent) -> String {
    let mut s = masked_fields(&e.record, &e.layout);
    if let Some(n) = e.packet {
        let _ = write!(s, " + the first {n} bytes of the packet");
    }
    s
}

/// What a decoded field is to the reader: the author's value, a wildcard, or computed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Written,
    Any,
    Derived,
    Default,
}

/// Where each decoded field comes from: the spec's layer `i` when it is of the same kind; a field
/// inside an option list takes the list's origin; `mask` marks wildcards.
fn origin(layer: &DecodedLayer, i: usize, f: &DecodedField, written: &[WrittenLayer], mask: Option<&[u8]>) -> Origin {
    if let Some(mask) = mask {
        let open =
            (f.bit_offset..f.bit_offset + f.bits).all(|b| mask.get(b / 8).is_some_and(|m| m & (0x80 >> (b % 8)) == 0));
        if f.bits > 0 && open {
            return Origin::Any;
        }
    }
    // A named value inside a list field (`mss` in `options`) is that field's.
    let owner = match layer.kind.field(f.name) {
        Some(def) => def,
        None => match layer.fields.iter().find(|o| {
            o.name != f.name
                && layer.kind.field(o.name).is_some_and(|d| d.list.is_some())
                && o.bit_offset <= f.bit_offset
                && f.bit_offset + f.bits <= o.bit_offset + o.bits
        }) {
            Some(list) => layer.kind.field(list.name).expect("checked above"),
            None => return Origin::Default,
        },
    };
    let said = written.get(i).filter(|w| w.layer == layer.kind.name());
    match said {
        Some(w) if w.fields.iter().any(|n| n == owner.name) => Origin::Written,
        Some(w) if w.wild.iter().any(|n| n == owner.name) => Origin::Any,
        _ if owner.derived => Origin::Derived,
        _ => Origin::Default,
    }
}

/// Layer names as selectors: `ipv4`, or `ipv4:2` for the second of several.
fn layer_names(layers: &[DecodedLayer]) -> Vec<String> {
    let mut seen: BTreeMap<LayerKind, usize> = BTreeMap::new();
    layers
        .iter()
        .map(|l| {
            let n = seen.entry(l.kind).or_insert(0);
            *n += 1;
            if layers.iter().filter(|x| x.kind == l.kind).count() > 1 {
                format!("{}:{n}", l.kind.name())
            } else {
                l.kind.name().to_string()
            }
        })
        .collect()
}

/// A packet as a table, one row per layer: the values the spec writes (in bold), the ones derived
/// from the layers around (lengths, checksums, protocol numbers), and the defaults; wildcards of an
/// expected packet as `..`. Then the bytes, folded.
fn packet_table(bytes: &[u8], written: &[WrittenLayer], mask: Option<&[u8]>) -> String {
    let d = decode(bytes);
    let names = layer_names(&d.layers);
    let mut s = format!("{} bytes:\n\n", bytes.len());
    s.push_str("| Layer | Written | Derived | Defaults |\n| --- | --- | --- | --- |\n");
    for (i, (l, name)) in d.layers.iter().zip(&names).enumerate() {
        let mut cols: [Vec<String>; 3] = Default::default();
        for f in shown_fields(l) {
            let value = shown_value(l, f);
            match origin(l, i, f, written, mask) {
                Origin::Written if is_flag(l, f) && f.value == FieldValue::Int(1) => {
                    cols[0].push(format!("**{}**", f.name))
                }
                Origin::Written => cols[0].push(format!("{} **{}**", f.name, cell(&value))),
                Origin::Any => cols[0].push(format!("{} **..**", f.name)),
                Origin::Derived => cols[1].push(format!("{} {}", f.name, cell(&value))),
                Origin::Default => cols[2].push(format!("{} {}", f.name, cell(&value))),
            }
        }
        let [w, dv, df] = cols.map(|c| c.join(", "));
        let _ = writeln!(s, "| `{name}` | {w} | {dv} | {df} |");
    }
    if let Some(why) = &d.truncated {
        let _ = writeln!(s, "\nDecoding stopped: {}.", md_escape(why));
    }
    s.push_str("\n<details><summary>Bytes</summary>\n\n```text\n");
    s.push_str(&hexdump(bytes));
    s.push_str("```\n\n</details>\n\n");
    s
}

fn is_flag(l: &DecodedLayer, f: &DecodedField) -> bool {
    l.kind.field(f.name).is_some_and(|d| d.kind == FieldKind::Flag)
}

/// A field's value as the page shows it: a payload that is text as text (`"abcd"`).
fn shown_value(l: &DecodedLayer, f: &DecodedField) -> String {
    match (&f.value, l.kind) {
        (FieldValue::Bytes(b), LayerKind::Payload)
            if !b.is_empty() && b.len() <= 64 && b.iter().all(|c| (0x20..0x7f).contains(c)) =>
        {
            format!("\"{}\"", String::from_utf8_lossy(b))
        }
        _ => f.display_value(),
    }
}

/// The expectation after a send: the action, and the output as a change of the input.
fn expectation(input: &[u8], expect: Option<&Expectation>) -> String {
    let Some(e) = expect else {
        return "Not checked: the scenario only sends it.\n\n".into();
    };
    let action = action_name(e.action);
    let mut target = match &e.target {
        Some(t) => format!(" to {}", target_text(t)),
        None => String::new(),
    };
    if let Some(meta) = &e.meta {
        // Metadata in front of the packet (`expect meta == …`), `..` where it is left open.
        let shown: String = meta
            .bytes
            .0
            .iter()
            .zip(meta.mask.0.iter().chain(std::iter::repeat(&0xff)))
            .map(|(b, m)| if *m == 0 { "..".to_string() } else { format!("{b:02x}") })
            .collect();
        let shown = if shown.is_empty() { "none".to_string() } else { format!("`{shown}`") };
        target.push_str(&format!(" with metadata {shown}"));
    }
    let Some(m) = &e.packet else {
        return format!("**Expected:** `{action}`{target}.\n\n");
    };
    let open = m.mask.0.iter().any(|b| *b != 0xff);
    if m.bytes.0 == input && !open {
        return format!("**Expected:** `{action}`{target}, the input unchanged.\n\n");
    }
    let mut s = format!("**Expected:** `{action}`{target}, the input changed:\n\n");
    for line in changes(input, m, &e.written) {
        let _ = writeln!(s, "- {line}");
    }
    s.push_str("\n<details><summary>The expected packet</summary>\n\n");
    s.push_str(&packet_table(&m.bytes.0, &e.written, Some(&m.mask.0)));
    s.push_str("</details>\n\n");
    s
}

/// How a packet is sent, when not plainly: another program, metadata, the ingress interface and
/// receive queue of the `xdp_md` context.
fn context_text(ctx: &xdptest_compiler::fixture::Ctx) -> Option<String> {
    use xdptest_compiler::fixture::Iface;
    let mut parts = Vec::new();
    if let Some(p) = &ctx.program {
        parts.push(format!("into the program `{p}`"));
    }
    if let Some(m) = &ctx.meta {
        parts.push(format!("with metadata `{}`", xdptest_compiler::fixture::hex(&m.0)));
    }
    match &ctx.ingress {
        Some(Iface::Name(n)) => parts.push(format!("arriving on `{n}`")),
        Some(Iface::Index(i)) => parts.push(format!("arriving on ifindex {i}")),
        None => {}
    }
    if let Some(q) = ctx.rx_queue {
        parts.push(format!("on receive queue {q}"));
    }
    (!parts.is_empty()).then(|| format!("Sent {}.", parts.join(", ")))
}

fn target_text(t: &xdptest_compiler::fixture::RedirectTarget) -> String {
    use xdptest_compiler::fixture::{Iface, RedirectTarget};
    match t {
        RedirectTarget::Cpu(n) => format!("CPU {n}"),
        RedirectTarget::Xsk(n) => format!("AF_XDP socket {n}"),
        RedirectTarget::Iface(Iface::Name(n)) => format!("`{n}`"),
        RedirectTarget::Iface(Iface::Index(n)) => format!("ifindex {n}"),
    }
}

/// The expected packet against the input: headers removed and pushed (by the longest common
/// sequence of layer kinds), fields changed, fields left open.
fn changes(input: &[u8], expected: &Masked, written: &[WrittenLayer]) -> Vec<String> {
    let (a, b) = (decode(input), decode(&expected.bytes.0));
    let (an, bn) = (layer_names(&a.layers), layer_names(&b.layers));
    let pairs = common_layers(&a.layers, &b.layers);
    let mut out = Vec::new();
    let (mut ia, mut ib) = (0, 0);
    for (pa, pb) in pairs.iter().copied().chain(std::iter::once((a.layers.len(), b.layers.len()))) {
        while ia < pa {
            out.push(format!("header `{}` removed", an[ia]));
            ia += 1;
        }
        while ib < pb {
            let l = &b.layers[ib];
            let stated: Vec<String> = shown_fields(l)
                .into_iter()
                .filter(|f| origin(l, ib, f, written, None) == Origin::Written)
                .map(|f| format!("{}={}", f.name, shown_value(l, f)))
                .collect();
            let with = if stated.is_empty() { String::new() } else { format!(" ({})", stated.join(", ")) };
            out.push(format!("header `{}` pushed{}", bn[ib], cell(&with)));
            ib += 1;
        }
        if pa == a.layers.len() {
            break;
        }
        let (la, lb) = (&a.layers[pa], &b.layers[pb]);
        for f in shown_fields(lb) {
            let o = origin(lb, pb, f, written, Some(&expected.mask.0));
            if o == Origin::Any {
                out.push(format!("`{}.{}`: any value", bn[pb], f.name));
                continue;
            }
            let before = la.fields.iter().find(|x| x.name == f.name && x.bits == f.bits);
            match before {
                Some(x) if x.value == f.value => {}
                Some(x) => out.push(format!(
                    "`{}.{}`: {} → **{}**{}",
                    bn[pb],
                    f.name,
                    cell(&shown_value(la, x)),
                    cell(&shown_value(lb, f)),
                    if o == Origin::Derived { " (derived)" } else { "" }
                )),
                None => out.push(format!("`{}.{}`: **{}**", bn[pb], f.name, cell(&shown_value(lb, f)))),
            }
        }
        ia = pa + 1;
        ib = pb + 1;
    }
    if out.is_empty() {
        out.push("the same bytes".into());
    }
    out
}

/// Indexes of layers the two packets share, in order: the most layers of the same kind, and among
/// alignments with as many, the one whose paired layers differ in the fewest fields (so that
/// decapsulation reads as the outer headers removed, not the inner ones).
fn common_layers(a: &[DecodedLayer], b: &[DecodedLayer]) -> Vec<(usize, usize)> {
    let (n, m) = (a.len(), b.len());
    let differing = |x: &DecodedLayer, y: &DecodedLayer| {
        shown_fields(y).iter().filter(|f| !x.fields.iter().any(|g| g.name == f.name && g.value == f.value)).count()
    };
    // best[i][j]: (pairs, -differing fields) for a[i..] against b[j..].
    let mut best = vec![vec![(0usize, 0isize); m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            let mut v = best[i + 1][j].max(best[i][j + 1]);
            if a[i].kind == b[j].kind {
                let (p, d) = best[i + 1][j + 1];
                v = v.max((p + 1, d - differing(&a[i], &b[j]) as isize));
            }
            best[i][j] = v;
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n && j < m {
        let (p, d) = best[i + 1][j + 1];
        if a[i].kind == b[j].kind && best[i][j] == (p + 1, d - differing(&a[i], &b[j]) as isize) {
            out.push((i, j));
            i += 1;
            j += 1;
        } else if best[i][j] == best[i + 1][j] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Text for a table cell: `|` would end the cell.
fn cell(s: &str) -> String {
    md_escape(s).replace('|', "\\|")
}

/// Text that Markdown must not read as markup or HTML.
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '*' | '_' | '`' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_heading_ids() {
        assert_eq!(slug("uplink ICMP is decapsulated"), "uplink-icmp-is-decapsulated");
        assert_eq!(slug("a SYN to 0.0.0.0/8 (bogon) is dropped!"), "a-syn-to-0-0-0-0-8-bogon-is-dropped");
        assert_eq!(slug("!!!"), "scenario");
    }

    #[test]
    fn links_between_pages_are_relative() {
        use std::path::Path;
        assert_eq!(relative_link(Path::new("upf/upf.md"), Path::new("upf/packets.md")), "packets.md");
        assert_eq!(relative_link(Path::new("a/b.md"), Path::new("c/d/e.md")), "../c/d/e.md");
        assert_eq!(relative_link(Path::new("x.md"), Path::new("y/z.md")), "y/z.md");
    }

    #[test]
    fn escaping_keeps_text_as_text() {
        assert_eq!(cell("syn|ack"), "syn\\|ack");
        assert_eq!(md_escape("<b>_x_ [y]"), "&lt;b&gt;\\_x\\_ \\[y\\]");
    }
}
