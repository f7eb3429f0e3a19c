use super::*;
use crate::model::test_support::{listener, outgoing, owner, with_state};
use crate::model::{Owner, Proto, Socket, State, no_owners};
use std::sync::Arc;

fn hit(s: &Socket, q: &str) -> bool {
    text_match(&haystack(s), s, &q.to_lowercase())
}

/// Through the parsed query, failing the test on a parse error.
fn q(s: &Socket, query: &str) -> bool {
    match Query::parse(query) {
        Ok(parsed) => parsed.matches(&haystack(s), s),
        Err(e) => panic!("{query:?} did not parse: {e}"),
    }
}

fn err(query: &str) -> String {
    match Query::parse(query) {
        Ok(parsed) => panic!("{query:?} parsed as {parsed:?}"),
        Err(e) => e.to_string(),
    }
}

fn owned_by(mut s: Socket, o: Owner) -> Socket {
    s.owners = Arc::from([Arc::new(o)]);
    s
}

fn java_of(user: &str, uid: u32) -> Owner {
    let mut o = (*owner(4242, "java")).clone();
    o.user = user.into();
    o.uid = uid;
    o.unit = Some("tomcat.service".into());
    o
}

#[test]
fn numbers_are_exact_ports_or_pids_and_words_are_substrings() {
    let l = listener(8080);
    assert!(hit(&l, "8080"));
    assert!(!hit(&listener(18080), "8080"), "8080 is not 18080");
    assert!(hit(&l, &l.owners[0].pid.to_string()));
    assert!(hit(&l, "SVC listen"), "case-insensitive, every word");
    assert!(!hit(&l, "svc estab"));
    let out = outgoing(45000, 5432);
    assert!(
        hit(&out, "outgoing 5432"),
        "remote port and the autobound mark"
    );
    assert!(hit(
        &with_state(outgoing(8080, 41000), State::TimeWait),
        "kernel time-wait"
    ));
}

#[test]
fn sport_and_dport_take_a_port_a_range_or_a_list() {
    let l = listener(8080);
    let out = outgoing(45000, 5432);
    assert!(q(&l, "sport:8080"));
    assert!(!q(&l, "dport:8080"), "a listener's remote port is 0");
    assert!(!q(&listener(18080), "sport:8080"));
    assert!(q(&out, "dport:5432") && !q(&out, "sport:5432"));
    assert!(q(&l, "sport:8000-8099"));
    assert!(!q(&listener(8100), "sport:8000-8099"));
    assert!(
        q(&listener(7999 + 1), "sport:8000-8099"),
        "ends are inclusive"
    );
    assert!(q(&listener(8099), "sport:8000-8099"));
    assert!(q(&listener(443), "sport:80,443,8000-8099"));
    assert!(!q(&listener(444), "sport:80,443,8000-8099"));
    assert!(q(&out, "dport:5432,6379 sport:32768-60999"));
    assert!(q(&l, "lport:8080") && q(&out, "rport:5432"), "aliases");
}

#[test]
fn state_takes_ss_names_json_names_short_forms_and_lists() {
    let cw = with_state(outgoing(8080, 41000), State::CloseWait);
    for name in ["cw", "close-wait", "CLOSE_WAIT", "closewait", "CW"] {
        assert!(q(&cw, &format!("state:{name}")), "{name}");
    }
    assert!(!q(&cw, "state:tw"));
    let tw = with_state(outgoing(8080, 41001), State::TimeWait);
    assert!(q(&tw, "state:tw") && q(&tw, "state:time-wait"));
    assert!(q(&tw, "state:cw,tw") && q(&cw, "state:cw,tw"));
    assert!(q(&outgoing(40000, 80), "state:est") && q(&outgoing(40000, 80), "state:estab"));
    assert!(q(&listener(80), "state:listen"));
    let cases = [
        (State::SynSent, "syn-sent"),
        (State::SynRecv, "syn-recv"),
        (State::FinWait1, "fin-wait-1"),
        (State::FinWait2, "fin-wait-2"),
        (State::LastAck, "last-ack"),
        (State::Closing, "closing"),
        (State::Unconn, "unconn"),
        (State::BoundInactive, "bound"),
    ];
    for (st, name) in cases {
        let s = with_state(outgoing(40000, 80), st);
        assert!(q(&s, &format!("state:{name}")), "{name}");
        assert!(q(&s, &format!("state:{}", st.name())), "{name} as JSON");
        assert!(!q(&s, "state:listen"), "{name} is not listen");
    }
    assert!(q(&tw, "state:connected") && !q(&listener(80), "state:connected"));
    assert!(q(&tw, "state:bucket") && !q(&cw, "state:bucket"));
}

#[test]
fn proc_pid_user_unit_and_proto_look_at_the_owners() {
    let s = owned_by(listener(8080), java_of("www-data", 33));
    assert!(q(&s, "proc:java") && q(&s, "comm:JAV"));
    assert!(!q(&s, "proc:nginx"));
    assert!(q(&s, "pid:4242") && q(&s, "pid:1,4242") && !q(&s, "pid:424"));
    assert!(q(&s, "user:www") && q(&s, "user:33") && !q(&s, "user:root"));
    assert!(!q(&s, "user:3"), "a uid is exact");
    assert!(q(&s, "unit:tomcat") && !q(&s, "unit:nginx"));
    assert!(q(&s, "proto:tcp") && !q(&s, "proto:udp"));
    let mut u = listener(53);
    u.proto = Proto::Udp;
    u.state = State::Unconn;
    assert!(q(&u, "proto:UDP"));
}

#[test]
fn unit_also_finds_containers_and_pods() {
    let mut o = java_of("root", 0);
    o.unit = None;
    o.container = Some("docker 3f2a9c".into());
    let s = owned_by(listener(8080), o.clone());
    assert!(q(&s, "unit:docker") && q(&s, "unit:3f2a"));
    let mut w: crate::model::Workload = serde_json::from_value(serde_json::json!({
        "runtime": "containerd",
        "name": "app",
        "pod": {"namespace": "payments", "name": "api-7d9f"},
        "label": "k8s: payments/api-7d9f (container app)"
    }))
    .expect("a workload");
    w.monitor = false;
    o.workload = Some(Arc::new(w));
    let s = owned_by(listener(8080), o);
    assert!(q(&s, "unit:payments") && q(&s, "unit:api-7d9f") && !q(&s, "unit:billing"));
}

#[test]
fn auto_and_kernel_are_the_marks_and_netns_the_inode() {
    let out = outgoing(45000, 5432);
    let tw = with_state(outgoing(8080, 41000), State::TimeWait);
    let l = listener(80);
    assert!(q(&out, "auto") && !q(&l, "auto") && !q(&tw, "auto"));
    assert!(q(&tw, "kernel") && !q(&out, "kernel"));
    assert!(q(&tw, "KERNEL"), "keywords ignore case");
    let mut n = listener(80);
    n.netns = 4_026_532_001;
    assert!(q(&n, "netns:4026532001") && !q(&l, "netns:4026532001"));
}

#[test]
fn negation_with_bang_or_dash() {
    let out = outgoing(45000, 5432);
    let tw = with_state(outgoing(8080, 41000), State::TimeWait);
    assert!(q(&tw, "!auto") && !q(&out, "!auto"));
    assert!(q(&out, "-kernel") && !q(&tw, "-kernel"));
    assert!(q(&out, "-state:tw") && !q(&tw, "-state:tw"));
    assert!(q(&out, "!sport:8080") && !q(&tw, "!sport:8080"));
    assert!(
        q(&out, "!time-wait") && !q(&tw, "!time-wait"),
        "negated word"
    );
    assert!(q(&out, "!8080") && !q(&tw, "!8080"), "negated number");
    assert!(
        q(&out, "auto -dport:80,443 state:est"),
        "terms combine with AND"
    );
    assert!(!q(&out, "auto -dport:5432"));
}

#[test]
fn endpoints_with_colons_stay_free_text() {
    let out = outgoing(45000, 5432);
    assert!(q(&out, "127.0.0.1:45000"));
    assert!(q(&out, ":5432"));
    let mut v6 = listener(443);
    v6.local_addr = "fe80::1".parse().expect("an address");
    assert!(q(&v6, "fe80::1") && q(&v6, "[fe80::1]:443"));
}

#[test]
fn bad_fields_and_values_are_named_in_one_line() {
    let cases = [
        (
            "state:bogus",
            "state:bogus: unknown state \"bogus\"; try cw, tw, est, listen",
        ),
        ("sport:http", "sport:http: \"http\" is not a port or range"),
        (
            "dport:70000",
            "dport:70000: \"70000\" is not a port or range",
        ),
        ("sport:9000-8000", "reversed range"),
        ("sport:80,", "empty entry"),
        ("pid:abc", "pid:abc: \"abc\" is not a process id"),
        (
            "proto:sctp",
            "proto:sctp: unknown protocol \"sctp\"; try tcp or udp",
        ),
        ("netns:host", "is not a namespace inode"),
        (
            "colour:red",
            "colour:red: unknown field; try sport, dport, state",
        ),
        ("state:", "state:: state: needs a value"),
        (
            "-state:cw,bogus",
            "-state:cw,bogus: unknown state \"bogus\"",
        ),
        ("!", "!: nothing after the negation"),
    ];
    for (query, want) in cases {
        let e = err(&format!("listen {query}"));
        assert!(e.contains(want), "{query}: {e}");
        assert!(!e.contains('\n'), "{query}: one line: {e}");
    }
}

#[test]
fn text_match_falls_back_to_words_while_a_field_is_being_typed() {
    let cw = with_state(outgoing(8080, 41000), State::CloseWait);
    assert!(hit(&cw, "state:cw"));
    assert!(
        !hit(&cw, "state:c"),
        "as the word 'state:c', which is nowhere"
    );
    assert!(hit(&cw, "close"), "a prefix of a state is still a word");
}

#[test]
fn the_empty_query_matches_everything_and_needs_no_haystack() {
    let parsed = Query::parse("  ").expect("empty parses");
    assert!(parsed.is_empty() && parsed.matches("", &listener(1)));
    let fields = Query::parse("sport:80 state:listen !kernel").expect("parses");
    assert!(!fields.needs_haystack());
    assert!(fields.matches("", &listener(80)));
    assert!(Query::parse("nginx").expect("parses").needs_haystack());
    let mut kernel = listener(80);
    kernel.owners = no_owners();
    assert!(!q(&kernel, "user:0"), "no owner: uid 0 is not root's");
}
