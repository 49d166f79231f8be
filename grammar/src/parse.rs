//! From pest pairs to the [`ast`](crate::ast): one `parse_<rule>` function per grammar rule, plus the
//! translation of pest's errors into sentences a network engineer can act on ("expected a value" rather
//! than rule names).

use crate::ast::*;
use crate::SyntaxError;
use pest::iterators::Pair;
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "pkt.pest"]
struct PktParser;

/// Parses a whole `.pkt` source. On failure returns every error found: a grammar error stops parsing at
/// its position, literal errors (bad octets, oversized numbers) are all collected.
pub fn parse(source: &str) -> Result<File, Vec<SyntaxError>> {
    if let Some(e) = too_deep(source) {
        return Err(vec![e]);
    }
    let chunks = chunks(source);
    let parsed: Vec<Chunk> = if chunks.len() > 1 {
        use rayon::prelude::*;
        chunks.par_iter().map(|&(start, end)| parse_chunk(source, start, end)).collect()
    } else {
        vec![parse_chunk(source, 0, source.len())]
    };
    let mut file = File::default();
    let mut errors = Vec::new();
    for chunk in parsed {
        // A grammar error anywhere: say it as a parse of the whole file says it (the furthest position
        // pest reached, with what it expected there), whatever the chunks were.
        let Ok((items, errs)) = chunk else { return Err(vec![detailed_error(source)]) };
        file.items.extend(items);
        errors.extend(errs);
    }
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

/// Sources at least this long are cut into [`chunks`] parsed in parallel.
const CHUNKED: usize = 64 * 1024;

/// Where a large source may be cut so that each part is a sequence of whole items: before a line that
/// starts a `scenario` at the top level (outside brackets, strings and comments), moved back over the
/// blank, comment and `##` lines in front of it (the `##` lines are that scenario's description). Every
/// part then parses, as a file, into exactly the items a parse of the whole source gives for that
/// range, and a part with a mistake fails as the whole would. Returns `(start, end)` byte ranges
/// covering the source, one for a small source.
fn chunks(source: &str) -> Vec<(usize, usize)> {
    if source.len() < CHUNKED {
        return vec![(0, source.len())];
    }
    let target = (source.len() / (4 * rayon::current_num_threads().max(1))).max(CHUNKED / 4);
    let bytes = source.as_bytes();
    let mut cuts = vec![0];
    // Byte offset where the current run of blank / comment / `##` lines began (a cut moves back to it).
    let (mut depth, mut quotes) = (0usize, Quotes::default());
    let mut run_start: Option<usize> = None;
    let mut line_start = 0;
    while line_start < bytes.len() {
        let line_end = bytes[line_start..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| line_start + i + 1);
        let line = &bytes[line_start..line_end];
        let text = line.trim_ascii_start();
        if depth == 0 && !quotes.open {
            if text.is_empty() || text.starts_with(b"#") {
                run_start.get_or_insert(line_start);
            } else {
                let starts_scenario = text
                    .strip_prefix(b"scenario")
                    .is_some_and(|r| r.first().is_some_and(|c| matches!(c, b' ' | b'\t' | b'"')));
                let cut = run_start.unwrap_or(line_start);
                if starts_scenario && cut - cuts[cuts.len() - 1] >= target {
                    cuts.push(cut);
                }
                run_start = None;
            }
        } else {
            run_start = None;
        }
        // Brackets and strings of the line (a `#` outside a string ends it).
        for &b in line {
            if !quotes.feed(b) {
                match b {
                    b'#' => break,
                    b'(' | b'[' | b'{' => depth += 1,
                    b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
        }
        line_start = line_end;
    }
    let mut ranges: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    ranges.push((cuts[cuts.len() - 1], source.len()));
    ranges
}

/// Whether the bytes fed so far leave a string literal open (`\\` escapes the next byte).
#[derive(Debug, Default, Clone, Copy)]
struct Quotes {
    open: bool,
    escaped: bool,
}

impl Quotes {
    /// Feeds the next byte; true when it belongs to a string literal (its quotes included).
    fn feed(&mut self, b: u8) -> bool {
        if self.open {
            match (self.escaped, b) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => self.open = false,
                _ => {}
            }
            true
        } else {
            self.open = b == b'"';
            self.open
        }
    }
}

thread_local! {
    /// Where the part being converted starts in its file: added to every span (see [`span`]).
    static BASE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A part of a source parsed: its items and the literal errors in them, or `Err` on a grammar error.
type Chunk = Result<(Vec<Item>, Vec<SyntaxError>), ()>;

/// The items of `source[start..end]` and the literal errors in them, or `Err` on a grammar error.
fn parse_chunk(source: &str, start: usize, end: usize) -> Chunk {
    let mut pairs = PktParser::parse(Rule::file, &source[start..end]).map_err(|_| ())?;
    let mut cx = Cx { errors: Vec::new() };
    let file_pair = pairs.next().expect("file rule always yields one pair");
    BASE.with(|b| b.set(start));
    let items = file_pair.into_inner().filter(|p| p.as_rule() == Rule::item).map(|p| cx.item(p)).collect();
    BASE.with(|b| b.set(0));
    Ok((items, cx.errors))
}

/// The longest byte string (`hex"…"`, or a string) a spec may write: the limit of `payload(len=N)`
/// too, so a payload cannot be larger written out than counted.
pub const MAX_BYTES: usize = 65_535;

/// How deep `(`, `[` and `{` may nest. Real specs nest a handful of levels (a struct in a map value in
/// a list); pest and the tree walk recurse once per level, and a few thousand levels overflow the stack.
pub const MAX_NESTING: usize = 64;

/// The first bracket that opens level [`MAX_NESTING`] + 1, outside strings and comments: checked in one
/// pass before pest sees the source, so no input can recurse deeper than that.
fn too_deep(source: &str) -> Option<SyntaxError> {
    let (mut depth, mut quotes, mut in_comment) = (0usize, Quotes::default(), false);
    for (i, b) in source.bytes().enumerate() {
        if in_comment {
            in_comment = b != b'\n';
        } else if !quotes.feed(b) {
            match b {
                b'#' => in_comment = true,
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some(SyntaxError {
                            message: format!("brackets nest deeper than {MAX_NESTING} levels"),
                            span: Span { start: i, end: i + 1 },
                            label: format!("level {depth}"),
                            help: Some(format!(
                                "xdptest reads at most {MAX_NESTING} levels of `(`, `[` and `{{`: flatten this value"
                            )),
                        });
                    }
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    None
}

/// The error of a failing parse, parsed again with pest's detailed tracking, which also records literal
/// tokens (`)`, `,`) and so points at the real place of the mistake. It is slower, so only failures pay
/// for it.
///
/// The switch is process-wide and read when a parse starts: the lock keeps another thread from turning
/// it off between our switching it on and our parse starting (specs are parsed in parallel, and a race
/// made the same bad spec get different messages). Parses that start while it is on only record more.
fn detailed_error(source: &str) -> SyntaxError {
    static DETAIL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = DETAIL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    pest::set_error_detail(true);
    let detailed = PktParser::parse(Rule::file, source).err();
    pest::set_error_detail(false);
    drop(guard);
    match detailed {
        Some(e) => from_pest(e, source),
        // Cannot happen (the grammar is deterministic), but a second parse that succeeds is no reason
        // to panic: say so at the start of the file.
        None => SyntaxError {
            message: "the parser failed without saying where".into(),
            span: Span { start: 0, end: 0 },
            label: "here".into(),
            help: None,
        },
    }
}

/// The pair's span up to its last significant character: pest keeps the whitespace and comments it
/// skipped before an optional part that then did not match (`expect XDP_PASS  # note` would otherwise
/// reach over the comment into the next line).
fn span(p: &Pair<Rule>) -> Span {
    let s = p.as_span();
    let start = s.start() + BASE.with(|b| b.get());
    Span { start, end: start + significant_len(p.as_str()) }
}

/// Length of `text` without trailing whitespace and `#` comments (a `#` inside a string is text).
fn significant_len(text: &str) -> usize {
    // Without a `#` only whitespace can trail: no need to walk the text (spans are taken for every
    // pair, so the walk made parsing quadratic in nesting depth).
    if !text.as_bytes().contains(&b'#') {
        return text.trim_end().len();
    }
    let (mut end, mut in_string, mut escaped, mut in_comment) = (0, false, false, false);
    for (i, c) in text.char_indices() {
        if in_comment {
            in_comment = c != '\n';
        } else if in_string {
            end = i + c.len_utf8();
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '#' {
            in_comment = true;
        } else if !c.is_whitespace() {
            end = i + c.len_utf8();
            in_string = c == '"';
        }
    }
    end
}

fn spanned(p: &Pair<Rule>) -> Spanned<String> {
    Spanned { node: p.as_str().to_string(), span: span(p) }
}

/// Words for rules, used in "expected ..." messages. No `_` arm: a new rule must get a name here.
fn rule_words(rule: &Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        Rule::WHITESPACE | Rule::COMMENT => "whitespace",
        Rule::file => "an item (`program`, `include`, `env`, `packet`, `map`, `scenario`)",
        Rule::doc | Rule::doc_text => "a `##` doc comment",
        Rule::item => "an item (`program`, `include`, `env`, `packet`, `map`, `scenario`)",
        Rule::include => "`include \"file.pkt\"`",
        Rule::program => "`program \"file.o\" xdp \"name\"`",
        Rule::hook => "the hook `xdp`",
        Rule::env => "`env { ... }`",
        Rule::env_stmt | Rule::env_kw => "`link`, `route` or `neigh`",
        Rule::env_arg => "an argument",
        Rule::packet_def => "`packet NAME = ...`",
        Rule::packet_expr => "a packet",
        Rule::term | Rule::layer | Rule::constructor => "a layer (e.g. `ipv4(...)`) or a packet name",
        Rule::group => "`( packet )`",
        Rule::call_args => "`(` arguments `)`",
        Rule::arg | Rule::named_arg => "an argument (`field=value` or a flag)",
        Rule::modifier => "`with`, `without` or `push`",
        Rule::with_mod | Rule::kw_with => "`with`",
        Rule::assignment => "`layer.field=value`",
        Rule::field_name => "a field name",
        Rule::without_mod | Rule::kw_without => "`without`",
        Rule::selector_list => "`[layer, ...]`",
        Rule::push_mod | Rule::kw_push => "`push`",
        Rule::position => "`after` or `before`",
        Rule::selector | Rule::layer_name => "a layer name (e.g. `ipv4` or `ipv4:2`)",
        Rule::layer_index => "a layer occurrence number",
        Rule::map_set => "`map NAME[KEY] = VALUE`",
        Rule::global_set => "`global NAME = VALUE`",
        Rule::kw_global => "`global`",
        Rule::clock_set | Rule::kw_clock => "`clock DURATION` (e.g. `clock 1500ms`, `clock +1s`)",
        Rule::clock_advance => "`+`",
        Rule::duration => "a duration with its unit: `500ns`, `20us`, `1500ms`, `2s`",
        Rule::random_set | Rule::kw_random => "`random N`",
        Rule::expect_global => "`expect global NAME == VALUE`",
        Rule::expect_event => "`expect event MAP == VALUE`",
        Rule::kw_event => "`event`",
        Rule::record_type | Rule::kw_as | Rule::kw_struct => "`as struct NAME`",
        Rule::packet_tail => "`+ packet(N)`",
        Rule::expect_no_event => "`expect no event`",
        Rule::kw_no => "`no event`",
        Rule::expect_meta => "`expect meta == VALUE`",
        Rule::kw_meta => "`meta`",
        Rule::send_program => "`program NAME`",
        Rule::send_meta => "`meta VALUE`",
        Rule::redirect_target | Rule::kw_to => "`to TARGET` (an interface, `cpu N` or `xsk N`)",
        Rule::cpu_target | Rule::kw_cpu => "`cpu N`",
        Rule::xsk_target | Rule::kw_xsk => "`xsk N`",
        Rule::prog_ref => "`program NAME`",
        Rule::map_ref => "`map NAME`",
        Rule::xsk_ref => "`xsk IFACE [queue N]`",
        Rule::scenario => "`scenario \"name\" { ... }`",
        Rule::stmt => "a statement (`send`, `expect`, `map`, `clock`, `random`) or `}`",
        Rule::send => "`send PACKET`",
        Rule::send_option => "`ingress IFACE`, `queue N`, `program NAME` or `meta VALUE`",
        Rule::ingress | Rule::kw_ingress => "`ingress`",
        Rule::iface_name | Rule::dotted_name => "an interface name",
        Rule::queue | Rule::kw_queue => "`queue`",
        Rule::expect_packet => "`expect XDP_...`",
        Rule::action => "an XDP action (XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT) or a number",
        Rule::expect_map => "`expect map NAME[KEY] == VALUE`",
        Rule::expect_snapshot => "`expect snapshot`",
        Rule::kw_snapshot => "`snapshot`",
        Rule::kw_missing => "`missing`",
        Rule::value => "a value",
        Rule::wildcard => "`*`",
        Rule::mac | Rule::hex_byte => "a MAC address",
        Rule::ipv4 => "an IPv4 address",
        Rule::prefix | Rule::prefix_len => "an IPv4 prefix",
        Rule::ipv6 | Rule::ipv4_tail => "an IPv6 address",
        Rule::prefix6 => "an IPv6 prefix",
        Rule::call => "`name(...)`",
        Rule::flag_set => "flags `a|b`",
        Rule::number => "a number",
        Rule::string | Rule::string_inner => "a string",
        Rule::bytes | Rule::bytes_inner => "a byte string `hex\"...\"`",
        Rule::struct_lit => "a struct `{ field: value }`",
        Rule::field_init => "`field: value`",
        Rule::list => "a list `[ ... ]`",
        Rule::per_cpu => "`per_cpu [ ... ]`",
        Rule::keyword => "a keyword",
        Rule::ident | Rule::ident_char => "a name",
    }
}

fn from_pest(e: pest::error::Error<Rule>, source: &str) -> SyntaxError {
    use pest::error::{ErrorVariant, InputLocation};
    let (mut start, mut end) = match e.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, e)) => (s, e),
    };
    // Tokens expected at the furthest position pest reached, when detailed tracking recorded them.
    let mut detailed: Vec<String> = Vec::new();
    if let Some(attempts) = e.parse_attempts() {
        if attempts.max_position > start {
            start = attempts.max_position;
            end = start;
            // pest does not export the token type; its Display gives the literal text, or `a..z`
            // for character ranges, which we leave out.
            for t in attempts.expected_tokens() {
                let token = t.to_string();
                if !token.trim().is_empty() && !token.contains("..") && token != "#" && token != "_" {
                    detailed.push(format!("`{token}`"));
                }
            }
        }
    }
    // Point at the offending token (up to the next whitespace), not an empty position.
    let rest = &source[start.min(source.len())..];
    let end = end.max(start + first_word(rest).len());
    // At whitespace, show the next token (or the end of the file).
    let next = first_word(rest.trim_start());
    let found = if next.is_empty() { "end of file".to_string() } else { format!("`{next}`") };
    let before = &source[..start.min(source.len())];
    let (message, help) = match e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut words: Vec<&str> = if detailed.is_empty() {
                positives.iter().map(rule_words).collect()
            } else {
                detailed.iter().map(String::as_str).collect()
            };
            words.sort();
            words.dedup();
            let expected = match words.len() {
                0 => "something else".to_string(),
                1 => words[0].to_string(),
                _ => {
                    let (last, init) = words.split_last().unwrap();
                    format!("{} or {}", init.join(", "), last)
                }
            };
            let help = hint_for(before, rest, &positives);
            (format!("expected {expected}, found {found}"), help)
        }
        ErrorVariant::CustomError { message } => (message, None),
    };
    SyntaxError { message, span: Span { start, end }, label: "here".into(), help }
}

/// Hints for the mistakes people make most often.
/// The text up to the first whitespace, at most 40 characters of it (cut on a character boundary:
/// spans and quotes slice the source with it).
fn first_word(text: &str) -> &str {
    let word = text.char_indices().find(|(_, c)| c.is_whitespace()).map_or(text, |(i, _)| &text[..i]);
    word.char_indices().nth(40).map_or(word, |(i, _)| &word[..i])
}

fn hint_for(before: &str, rest: &str, positives: &[Rule]) -> Option<String> {
    // `packet send = ...`: a keyword where a name goes.
    let trimmed = before.trim_end();
    let last_word = trimmed.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("");
    const KEYWORDS: [&str; 17] = [
        "without", "with", "push", "ingress", "queue", "missing", "after", "before", "send", "expect", "scenario",
        "packet", "map", "include", "program", "env", "per_cpu",
    ];
    if KEYWORDS.contains(&last_word) {
        let prev = trimmed[..trimmed.len() - last_word.len()].trim_end();
        if prev.ends_with("packet") || prev.ends_with("map") {
            return Some(format!("`{last_word}` is a keyword and cannot be a name"));
        }
    }
    if rest.starts_with('=') && !rest.starts_with("==") && positives.contains(&Rule::kw_missing) {
        return Some("compare with `==`: `expect map NAME[KEY] == VALUE`".into());
    }
    if rest.starts_with("//") {
        return Some("comments start with `#`".into());
    }
    if rest.starts_with('\'') {
        return Some("strings use double quotes: \"...\"".into());
    }
    if positives.contains(&Rule::action) {
        return Some("write the action in capitals, e.g. `expect XDP_PASS`".into());
    }
    if positives.contains(&Rule::item) {
        return Some("a file holds `program`, `include`, `env`, `packet`, `map` and `scenario` items".into());
    }
    if positives.contains(&Rule::stmt) {
        return Some("inside a scenario: `send`, `expect`, `map`, `clock` and `random` statements".into());
    }
    None
}

struct Cx {
    errors: Vec<SyntaxError>,
}

impl Cx {
    fn error(&mut self, span: Span, message: impl Into<String>, help: Option<&str>) {
        self.errors.push(SyntaxError {
            message: message.into(),
            span,
            label: "here".into(),
            help: help.map(str::to_string),
        });
    }

    fn item(&mut self, p: Pair<Rule>) -> Item {
        let item_span = span(&p);
        let mut docs = Vec::new();
        let mut kind = None;
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::doc => {
                    let text = c.into_inner().next().map(|t| t.as_str()).unwrap_or("");
                    docs.push(text.strip_prefix(' ').unwrap_or(text).trim_end().to_string());
                }
                Rule::include => {
                    kind = Some(ItemKind::Include(self.string(c.into_inner().next().unwrap())));
                }
                Rule::program => kind = Some(ItemKind::Program(self.program(c))),
                Rule::env => kind = Some(ItemKind::Env(c.into_inner().map(|s| self.env_stmt(s)).collect())),
                Rule::packet_def => {
                    let mut it = c.into_inner();
                    let name = spanned(&it.next().unwrap());
                    let expr = self.packet_expr(it.next().unwrap());
                    kind = Some(ItemKind::Packet(PacketDef { name, expr }));
                }
                Rule::map_set => kind = Some(ItemKind::Map(self.map_set(c))),
                Rule::global_set => kind = Some(ItemKind::Global(self.global_set(c))),
                Rule::scenario => kind = Some(ItemKind::Scenario(self.scenario(c))),
                r => unreachable!("item child {r:?}"),
            }
        }
        Item { docs, kind: kind.expect("grammar guarantees an item kind"), span: item_span }
    }

    fn program(&mut self, p: Pair<Rule>) -> Program {
        let mut it = p.into_inner();
        let object = self.string(it.next().unwrap());
        let hook = spanned(&it.next().unwrap());
        let name = it.next().map(|s| self.string(s));
        Program { object, hook, name }
    }

    fn env_stmt(&mut self, p: Pair<Rule>) -> EnvStmt {
        let sp = span(&p);
        let mut it = p.into_inner();
        let keyword = spanned(&it.next().unwrap());
        let args = it.map(|a| spanned(&a)).collect();
        EnvStmt { keyword, args, span: sp }
    }

    fn map_set(&mut self, p: Pair<Rule>) -> MapSet {
        let sp = span(&p);
        let mut it = p.into_inner();
        let map = spanned(&it.next().unwrap());
        let values: Vec<Pair<Rule>> = it.collect();
        let (key, value) = match values.len() {
            2 => (self.value(values[0].clone()), self.value(values[1].clone())),
            _ => (Value { kind: ValueKind::Nothing, span: sp }, self.value(values[0].clone())),
        };
        MapSet { map, key, value, span: sp }
    }

    fn global_set(&mut self, p: Pair<Rule>) -> GlobalSet {
        let sp = span(&p);
        let mut it = p.into_inner().skip(1);
        let name = spanned(&it.next().unwrap());
        let value = self.value(it.next().unwrap());
        GlobalSet { name, value, span: sp }
    }

    /// `as struct NAME`, when the next pair is one.
    fn record_type<'i, I: Iterator<Item = Pair<'i, Rule>>>(
        &mut self,
        it: &mut std::iter::Peekable<I>,
    ) -> Option<Ident> {
        if it.peek().is_some_and(|p| p.as_rule() == Rule::record_type) {
            let r = it.next().unwrap();
            return r.into_inner().find(|c| c.as_rule() == Rule::ident).map(|n| spanned(&n));
        }
        None
    }

    fn scenario(&mut self, p: Pair<Rule>) -> Scenario {
        let mut it = p.into_inner();
        let name = self.string(it.next().unwrap());
        let stmts = it.map(|s| self.stmt(s.into_inner().next().unwrap())).collect();
        Scenario { name, stmts }
    }

    fn stmt(&mut self, p: Pair<Rule>) -> Stmt {
        let sp = span(&p);
        match p.as_rule() {
            Rule::map_set => Stmt::Map(self.map_set(p)),
            Rule::global_set => Stmt::Global(self.global_set(p)),
            Rule::expect_global => {
                let mut it = p.into_inner().skip(1);
                let name = spanned(&it.next().unwrap());
                let expected = self.value(it.next().unwrap());
                Stmt::ExpectGlobal(ExpectGlobal { name, expected, span: sp })
            }
            Rule::expect_event => {
                let mut it = p.into_inner().skip(1).peekable();
                let map = spanned(&it.next().unwrap());
                let record = self.record_type(&mut it);
                let expected = self.value(it.next().unwrap());
                let packet = it.next().map(|t| {
                    let n = t.into_inner().next().unwrap();
                    Spanned { node: self.number(&n), span: span(&n) }
                });
                Stmt::ExpectEvent(ExpectEvent { map, record, expected, packet, span: sp })
            }
            Rule::expect_no_event => {
                let map = p.into_inner().find(|c| c.as_rule() == Rule::ident).map(|n| spanned(&n));
                Stmt::ExpectNoEvent { map, span: sp }
            }
            Rule::expect_meta => {
                let mut it = p.into_inner().skip(1).peekable();
                let record = self.record_type(&mut it);
                let expected = self.value(it.next().unwrap());
                Stmt::ExpectMeta(ExpectMeta { record, expected, span: sp })
            }
            Rule::send => {
                let mut it = p.into_inner();
                let packet = self.packet_expr(it.next().unwrap());
                let mut send = Send { packet, ingress: None, queue: None, program: None, meta: None, span: sp };
                for opt in it {
                    let o = opt.into_inner().next().unwrap();
                    let osp = span(&o);
                    let target = o.clone().into_inner().last().unwrap();
                    match o.as_rule() {
                        Rule::send_program => {
                            if send.program.is_some() {
                                self.error(osp, "`program` given twice", None);
                            }
                            send.program = Some(spanned(&target));
                        }
                        Rule::send_meta => {
                            if send.meta.is_some() {
                                self.error(osp, "`meta` given twice", None);
                            }
                            send.meta = Some(self.value(target));
                        }
                        Rule::ingress => {
                            let node = if target.as_rule() == Rule::number {
                                IfaceRef::Index(self.number(&target))
                            } else {
                                IfaceRef::Name(target.as_str().to_string())
                            };
                            if send.ingress.is_some() {
                                self.error(osp, "`ingress` given twice", None);
                            }
                            send.ingress = Some(Spanned { node, span: osp });
                        }
                        Rule::queue => {
                            if send.queue.is_some() {
                                self.error(osp, "`queue` given twice", None);
                            }
                            send.queue = Some(Spanned { node: self.number(&target), span: osp });
                        }
                        r => unreachable!("send option {r:?}"),
                    }
                }
                Stmt::Send(send)
            }
            Rule::expect_packet => {
                let mut it = p.into_inner().peekable();
                let action = spanned(&it.next().unwrap());
                let target = if it.peek().is_some_and(|t| t.as_rule() == Rule::redirect_target) {
                    let t = it.next().unwrap();
                    let tsp = span(&t);
                    let inner = t.into_inner().nth(1).unwrap();
                    let node = match inner.as_rule() {
                        Rule::cpu_target => RedirectTarget::Cpu(self.number(&inner.into_inner().nth(1).unwrap())),
                        Rule::xsk_target => RedirectTarget::Xsk(self.number(&inner.into_inner().nth(1).unwrap())),
                        Rule::number => RedirectTarget::Iface(IfaceRef::Index(self.number(&inner))),
                        _ => RedirectTarget::Iface(IfaceRef::Name(inner.as_str().to_string())),
                    };
                    Some(Spanned { node, span: tsp })
                } else {
                    None
                };
                let packet = it.next().map(|e| self.packet_expr(e));
                Stmt::ExpectPacket(ExpectPacket { action, target, packet, span: sp })
            }
            Rule::expect_snapshot => Stmt::ExpectSnapshot(sp),
            Rule::clock_set => {
                let mut it = p.into_inner().skip(1).peekable();
                let advance = it.next_if(|x| x.as_rule() == Rule::clock_advance).is_some();
                let d = it.next().unwrap();
                Stmt::Clock { ns: Spanned { node: self.duration(&d), span: span(&d) }, advance, span: sp }
            }
            Rule::random_set => {
                let n = p.into_inner().nth(1).unwrap();
                Stmt::Random { value: Spanned { node: self.number(&n), span: span(&n) }, span: sp }
            }
            Rule::expect_map => {
                let mut it = p.into_inner().peekable();
                let map = spanned(&it.next().unwrap());
                let mut rest: Vec<Pair<Rule>> = it.collect();
                let last = rest.pop().unwrap();
                let key = match rest.pop() {
                    Some(k) => self.value(k),
                    None => Value { kind: ValueKind::Nothing, span: span(&last) },
                };
                let expected = (last.as_rule() == Rule::value).then(|| self.value(last));
                Stmt::ExpectMap(ExpectMap { map, key, expected, span: sp })
            }
            r => unreachable!("stmt {r:?}"),
        }
    }

    fn packet_expr(&mut self, p: Pair<Rule>) -> PacketExpr {
        let sp = span(&p);
        let mut expr = PacketExpr { stack: Vec::new(), modifiers: Vec::new(), span: sp };
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::term => {
                    let t = c.into_inner().next().unwrap();
                    expr.stack.push(match t.as_rule() {
                        Rule::group => Term::Group(Box::new(self.packet_expr(t.into_inner().next().unwrap()))),
                        Rule::layer => Term::Layer(self.layer(t)),
                        r => unreachable!("term {r:?}"),
                    });
                }
                Rule::modifier => expr.modifiers.push(self.modifier(c.into_inner().next().unwrap())),
                r => unreachable!("packet_expr child {r:?}"),
            }
        }
        expr
    }

    fn layer(&mut self, p: Pair<Rule>) -> LayerCall {
        let sp = span(&p);
        let mut it = p.into_inner();
        let name = spanned(&it.next().unwrap());
        let args = it.next().map(|a| a.into_inner().map(|arg| self.arg(arg)).collect());
        LayerCall { name, args, span: sp }
    }

    fn arg(&mut self, p: Pair<Rule>) -> Arg {
        let sp = span(&p);
        let inner = p.into_inner().next().unwrap();
        match inner.as_rule() {
            Rule::named_arg => {
                let mut it = inner.into_inner();
                let name = spanned(&it.next().unwrap());
                let value = self.value(it.next().unwrap());
                Arg { name: Some(name), value, span: sp }
            }
            Rule::value => Arg { name: None, value: self.value(inner), span: sp },
            r => unreachable!("arg {r:?}"),
        }
    }

    fn modifier(&mut self, p: Pair<Rule>) -> Modifier {
        let sp = span(&p);
        match p.as_rule() {
            Rule::with_mod => Modifier::With(
                p.into_inner()
                    .filter(|c| c.as_rule() == Rule::assignment)
                    .map(|a| {
                        let asp = span(&a);
                        let mut it = a.into_inner();
                        let selector = self.selector(it.next().unwrap());
                        let field = spanned(&it.next().unwrap());
                        let value = self.value(it.next().unwrap());
                        Assignment { selector, field, value, span: asp }
                    })
                    .collect(),
            ),
            Rule::without_mod => {
                let target = p.into_inner().nth(1).unwrap();
                let selectors = match target.as_rule() {
                    Rule::selector_list => target.into_inner().map(|s| self.selector(s)).collect(),
                    _ => vec![self.selector(target)],
                };
                Modifier::Without(selectors)
            }
            Rule::push_mod => {
                let mut it = p.into_inner().skip(1);
                let layer = self.layer(it.next().unwrap());
                let position = match it.next().unwrap().as_str() {
                    "before" => Position::Before,
                    _ => Position::After,
                };
                let anchor = self.selector(it.next().unwrap());
                Modifier::Push { layer, position, anchor, span: sp }
            }
            r => unreachable!("modifier {r:?}"),
        }
    }

    fn selector(&mut self, p: Pair<Rule>) -> Selector {
        let sp = span(&p);
        let mut it = p.into_inner();
        let layer = spanned(&it.next().unwrap());
        let index = it.next().map(|i| {
            let isp = span(&i);
            let n = self.number(&i);
            if n == 0 {
                self.error(
                    isp,
                    "layer occurrences count from 1",
                    Some("`ipv4:1` is the first ipv4 layer, `ipv4:2` the second"),
                );
            }
            Spanned { node: u32::try_from(n).unwrap_or(u32::MAX), span: isp }
        });
        Selector { layer, index, span: sp }
    }

    fn string(&mut self, p: Pair<Rule>) -> Spanned<String> {
        let sp = span(&p);
        let inner = p.into_inner().next().map(|i| i.as_str()).unwrap_or("");
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    match u8::from_str_radix(&hex, 16) {
                        Ok(b) if b < 0x80 => out.push(b as char),
                        _ => self.error(
                            sp,
                            format!("bad escape `\\x{hex}`"),
                            Some("`\\xHH` takes two hex digits below 80; use hex\"..\" for raw bytes"),
                        ),
                    }
                }
                other => self.error(
                    sp,
                    format!("unknown escape `\\{}`", other.map(String::from).unwrap_or_default()),
                    Some("known escapes: \\n \\t \\r \\0 \\\\ \\\" \\xHH"),
                ),
            }
        }
        if out.len() > MAX_BYTES {
            self.error(
                sp,
                format!("a string of {} bytes is longer than {MAX_BYTES}", out.len()),
                Some("no field or payload holds more: the largest test-run frame is smaller"),
            );
        }
        Spanned { node: out, span: sp }
    }

    /// `1500ms` in nanoseconds.
    fn duration(&mut self, p: &Pair<Rule>) -> u64 {
        let text: String = p.as_str().chars().filter(|c| *c != '_').collect();
        let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let scale: u64 = match &text[digits.len()..] {
            "ns" => 1,
            "us" => 1_000,
            "ms" => 1_000_000,
            _ => 1_000_000_000,
        };
        match digits.parse::<u64>().ok().and_then(|n| n.checked_mul(scale)) {
            Some(ns) => ns,
            None => {
                self.error(
                    span(p),
                    format!("`{}` is more nanoseconds than a 64-bit clock holds", p.as_str()),
                    Some("the kernel's clocks are 64-bit counts of nanoseconds: at most about 584 years"),
                );
                0
            }
        }
    }

    fn number(&mut self, p: &Pair<Rule>) -> u64 {
        let text: String = p.as_str().chars().filter(|c| *c != '_').collect();
        let parsed = if let Some(h) = text.strip_prefix("0x") {
            u64::from_str_radix(h, 16)
        } else if let Some(b) = text.strip_prefix("0b") {
            u64::from_str_radix(b, 2)
        } else {
            text.parse()
        };
        parsed.unwrap_or_else(|_| {
            self.error(span(p), format!("`{}` is not a valid 64-bit number", p.as_str()), None);
            0
        })
    }

    fn ipv4(&mut self, p: &Pair<Rule>) -> [u8; 4] {
        let mut out = [0u8; 4];
        for (i, part) in p.as_str().split('.').enumerate() {
            match part.parse::<u8>() {
                Ok(b) => out[i] = b,
                Err(_) => {
                    self.error(
                        span(p),
                        format!("`{}` is not an IPv4 address: `{part}` is above 255", p.as_str()),
                        None,
                    );
                }
            }
        }
        out
    }

    fn ipv6(&mut self, p: &Pair<Rule>) -> [u8; 16] {
        let text = p.as_str();
        match text.parse::<std::net::Ipv6Addr>() {
            Ok(a) => a.octets(),
            // Groups of exactly two digits and no `::`: a MAC address with a group too few or too many.
            Err(_) if !text.contains("::") && text.split(':').all(|g| g.len() == 2) => {
                self.error(
                    span(p),
                    format!("`{text}` is not a MAC address: it has {} groups", text.split(':').count()),
                    Some("a MAC address has six groups of two hex digits: 00:00:5e:00:53:01"),
                );
                [0; 16]
            }
            Err(_) => {
                self.error(
                    span(p),
                    format!("`{}` is not an IPv6 address", p.as_str()),
                    Some("eight groups of up to four hex digits, `::` for one run of zero groups: 2001:db8::1"),
                );
                [0; 16]
            }
        }
    }

    fn value(&mut self, p: Pair<Rule>) -> Value {
        let sp = span(&p);
        let inner = p.into_inner().next().unwrap();
        let kind = match inner.as_rule() {
            Rule::wildcard => ValueKind::Wildcard,
            Rule::number => ValueKind::Int(self.number(&inner)),
            // An address alone is a prefix without its length.
            Rule::prefix => {
                let mut it = inner.into_inner();
                let addr = self.ipv4(&it.next().unwrap());
                let Some(len_pair) = it.next() else {
                    return Value { kind: ValueKind::Ipv4(addr), span: sp };
                };
                let len = self.number(&len_pair);
                if len > 32 {
                    self.error(span(&len_pair), format!("prefix length {len} is above 32"), None);
                }
                ValueKind::Prefix(addr, len.min(32) as u8)
            }
            Rule::prefix6 => {
                let mut it = inner.into_inner();
                let addr = self.ipv6(&it.next().unwrap());
                let Some(len_pair) = it.next() else {
                    return Value { kind: ValueKind::Ipv6(addr), span: sp };
                };
                let len = self.number(&len_pair);
                if len > 128 {
                    self.error(span(&len_pair), format!("prefix length {len} is above 128"), None);
                }
                ValueKind::Prefix6(addr, len.min(128) as u8)
            }
            Rule::prog_ref => ValueKind::ProgramRef(spanned(&inner.into_inner().next().unwrap())),
            Rule::map_ref => ValueKind::MapRef(spanned(&inner.into_inner().next().unwrap())),
            Rule::xsk_ref => {
                let mut it = inner.into_inner().skip(1);
                let iface = spanned(&it.next().unwrap());
                let queue = it.next().map(|q| {
                    let n = q.into_inner().nth(1).unwrap();
                    Spanned { node: self.number(&n), span: span(&n) }
                });
                ValueKind::XskRef { iface, queue }
            }
            Rule::call => {
                let mut it = inner.into_inner();
                let name = spanned(&it.next().unwrap());
                ValueKind::Call(name, it.map(|v| self.value(v)).collect())
            }
            Rule::flag_set => ValueKind::Flags(inner.into_inner().map(|n| spanned(&n)).collect()),
            Rule::mac => {
                let mut out = [0u8; 6];
                for (i, part) in inner.as_str().split(':').enumerate() {
                    out[i] = u8::from_str_radix(part, 16).unwrap_or(0);
                }
                ValueKind::Mac(out)
            }
            Rule::string => ValueKind::Str(self.string(inner).node),
            Rule::bytes => {
                let digits: String =
                    inner.as_str()[4..inner.as_str().len() - 1].chars().filter(|c| c.is_ascii_hexdigit()).collect();
                if !digits.len().is_multiple_of(2) {
                    self.error(
                        sp,
                        "a byte string needs an even number of hex digits",
                        Some("write each byte as two digits, e.g. hex\"0a 0b\""),
                    );
                }
                if digits.len() / 2 > MAX_BYTES {
                    self.error(
                        sp,
                        format!("a byte string of {} bytes is longer than {MAX_BYTES}", digits.len() / 2),
                        Some("no field or payload holds more: the largest test-run frame is smaller"),
                    );
                }
                let bytes = digits
                    .as_bytes()
                    .chunks(2)
                    .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap_or("0"), 16).unwrap_or(0))
                    .collect();
                ValueKind::Bytes(bytes)
            }
            Rule::struct_lit => ValueKind::Struct(
                inner
                    .into_inner()
                    .map(|f| {
                        let mut it = f.into_inner();
                        let name = spanned(&it.next().unwrap());
                        (name, self.value(it.next().unwrap()))
                    })
                    .collect(),
            ),
            Rule::list => ValueKind::List(inner.into_inner().map(|v| self.value(v)).collect()),
            Rule::per_cpu => {
                let list = inner.into_inner().next().unwrap();
                ValueKind::PerCpu(list.into_inner().map(|v| self.value(v)).collect())
            }
            Rule::ident | Rule::dotted_name => ValueKind::Ident(inner.as_str().to_string()),
            r => unreachable!("value {r:?}"),
        };
        Value { kind, span: sp }
    }
}

#[cfg(test)]
mod tests {
    use super::{chunks, first_word, parse_chunk, CHUNKED};

    /// A large spec with the things a cut must not split: `##` descriptions, comments, strings that
    /// hold `scenario`, braces and `#`, values over several lines, literal errors in late items.
    fn large_spec(bad_literal: bool) -> String {
        let mut s = String::from("program \"p.o\" xdp \"f\"\npacket base = ether / ipv4 / udp\n");
        for i in 0..1200 {
            if i % 7 == 0 {
                s.push_str(&format!("## Scenario {i}: a description\n##\n## over lines, with a # inside\n"));
            }
            if i % 5 == 0 {
                s.push_str("# a comment\n\n");
            }
            s.push_str(&format!(
                "scenario \"s{i} {{ scenario # \\\" }}\" {{\n  map m[{i}] = {{\n    a: 1,\n b: 2 }}\n  send base with ipv4.ttl={}\n  expect XDP_PASS\n}}\n",
                1 + i % 250
            ));
            if i % 11 == 0 {
                s.push_str(&format!("map top[{i}] = \"scenario\nscenario \\\"x\\\" {{\"\n"));
            }
        }
        if bad_literal {
            s.push_str("scenario \"late\" {\n  send ether / ipv4(src=10.0.0.300)\n}\n");
        }
        s
    }

    fn whole(source: &str) -> Result<crate::ast::File, Vec<crate::SyntaxError>> {
        match parse_chunk(source, 0, source.len()) {
            Ok((items, errors)) if errors.is_empty() => Ok(crate::ast::File { items }),
            Ok((_, errors)) => Err(errors),
            Err(()) => Err(vec![super::detailed_error(source)]),
        }
    }

    /// The parallel parse of a large source gives exactly the tree (spans included) and the errors of
    /// one parse of the whole source.
    #[test]
    fn chunked_parse_equals_the_whole_parse() {
        for bad in [false, true] {
            let src = large_spec(bad);
            assert!(src.len() > 2 * CHUNKED);
            let parts = chunks(&src);
            assert!(parts.len() > 2, "{} parts", parts.len());
            assert_eq!(parts.first().unwrap().0, 0);
            assert_eq!(parts.last().unwrap().1, src.len());
            assert!(parts.windows(2).all(|w| w[0].1 == w[1].0));
            assert_eq!(crate::parse(&src), whole(&src));
        }
        assert_eq!(crate::parse(&large_spec(false)).unwrap().items.len(), 2 + 1200 + 1200 / 11 + 1);
    }

    /// A grammar error in a late part is said as the whole parse says it.
    #[test]
    fn chunked_parse_reports_grammar_errors_like_the_whole_parse() {
        for broken in ["scenario \"x\" {\n  send ether /\n}\n", "scenario \"y\" { expect XDP_PASS\n", "}}\n"] {
            let src = format!("{}{broken}{}", large_spec(false), large_spec(false));
            let errors = crate::parse(&src).unwrap_err();
            assert_eq!(Err(errors), whole(&src));
        }
    }

    /// Found by the `parse` fuzz target: an error before a long word of multi-byte characters cut
    /// the quoted token inside a character, and slicing panicked.
    #[test]
    fn long_words_are_cut_on_character_boundaries() {
        let word = "é".repeat(50);
        assert_eq!(first_word(&format!("{word} x")), "é".repeat(40));
        assert_eq!(first_word("ab cd"), "ab");
        assert_eq!(first_word(""), "");
        let source = format!("scenario \"s\" {{\n  {} }}\n", "é".repeat(45));
        let errors = crate::parse(&source).unwrap_err();
        assert!(errors[0].message.contains(&"é".repeat(40)), "{:?}", errors[0]);
    }
}
