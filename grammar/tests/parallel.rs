//! Regression: syntax errors are the same whichever thread parses and whatever other threads parse at
//! the same time. pest's detailed error tracking is a process-wide switch; the parser once turned it on
//! and off around its second, detailed parse while other threads parsed, so a message could lose its
//! detail (`expected a value` instead of the tokens) when two bad specs were parsed at once.

use xdptest_grammar::parse;

/// Bad specs whose detailed messages differ from the coarse ones.
const BAD: &[&str] = &[
    "packet p = ipv4(ttl=3 ttl=4)\n",
    "scenario \"s\" { send ether expect XDP_PASS: ipv4(ttl=1 }\n",
    "map m[1] = { a: 1 b: 2 }\n",
    "packet q = ether / (ipv4 / udp\n",
    "scenario \"t\" { send ether\n",
    "program \"x.o\" xdp \"p\" extra\n",
    "packet r = ether(src=00:00:5e:00:53:01\n",
    "map m[1] = [1, 2\n",
];

fn message(src: &str) -> String {
    match parse(src) {
        Ok(_) => panic!("{src:?} parses"),
        Err(errs) => errs.iter().map(|e| format!("{}..{} {}", e.span.start, e.span.end, e.message)).collect(),
    }
}

#[test]
fn syntax_errors_are_deterministic_under_parallel_parsing() {
    let expected: Vec<String> = BAD.iter().map(|s| message(s)).collect();
    let threads = 4;
    let rounds = 4_000;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let expected = &expected;
            scope.spawn(move || {
                for round in 0..rounds / threads {
                    let i = (round + t) % BAD.len();
                    assert_eq!(message(BAD[i]), expected[i], "thread {t}, round {round}: {:?}", BAD[i]);
                }
            });
        }
    });
}
