//! Random reserved-ports lists through `reserve status`, `plan`, `apply` and `undo`, in a
//! private network namespace, compared with the kernel after every step.
//!
//! The expected values come from a bitmap model written here, not from portscope's own port
//! set, and the kernel's value is read the way `cat` reads it (one read at offset 0). Lists are
//! long (up to the kernel's one-page limit), and ports cluster around 0, 1023/1024, the
//! ephemeral range's ends and 65535, where an off-by-one or a cut read shows.
//!
//! The seed is printed; `PORTSCOPE_TEST_SEED=N` replays a failing run.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)]

mod common;

use common::reserve::*;
use common::*;

/// xorshift64*: small, seedable, good enough to spread lists over the port space.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn port(&mut self, allow_zero: bool) -> u16 {
        const EDGES: [u16; 12] = [
            0, 1, 1023, 1024, 1025, 32767, 32768, 32769, 60999, 61000, 65534, 65535,
        ];
        let p = if self.below(3) == 0 {
            EDGES[self.below(EDGES.len() as u64) as usize]
        } else {
            self.below(65536) as u16
        };
        if p == 0 && !allow_zero { 1 } else { p }
    }
}

/// The reference model: one bit a port.
#[derive(Clone, PartialEq)]
struct Model(Vec<bool>);

impl Model {
    fn empty() -> Self {
        Model(vec![false; 65536])
    }

    fn add(&mut self, lo: u16, hi: u16) {
        for p in lo.min(hi)..=lo.max(hi) {
            self.0[usize::from(p)] = true;
        }
    }

    fn union(&self, o: &Model) -> Model {
        Model(self.0.iter().zip(&o.0).map(|(a, b)| *a || *b).collect())
    }

    fn minus(&self, o: &Model) -> Model {
        Model(self.0.iter().zip(&o.0).map(|(a, b)| *a && !*b).collect())
    }

    fn is_empty(&self) -> bool {
        !self.0.contains(&true)
    }

    /// The kernel's canonical form: ascending, ranges as `lo-hi`, comma-separated.
    fn canonical(&self) -> String {
        let mut out = Vec::new();
        let mut p = 0usize;
        while p < 65536 {
            if self.0[p] {
                let start = p;
                while p + 1 < 65536 && self.0[p + 1] {
                    p += 1;
                }
                out.push(if start == p {
                    start.to_string()
                } else {
                    format!("{start}-{p}")
                });
            }
            p += 1;
        }
        out.join(",")
    }
}

/// A random list as a person would type it (unsorted, overlapping) of about `budget` characters,
/// and its model.
fn random_list(rng: &mut Rng, budget: usize, allow_zero: bool) -> (String, Model) {
    let mut model = Model::empty();
    let mut parts: Vec<String> = Vec::new();
    let mut len = 0;
    while len < budget {
        let a = rng.port(allow_zero);
        let part = if rng.below(3) == 0 {
            let b = a.saturating_add(rng.below(40) as u16);
            model.add(a, b);
            format!("{a}-{b}")
        } else {
            model.add(a, a);
            a.to_string()
        };
        len += part.len() + 1;
        parts.push(part);
    }
    (parts.join(","), model)
}

fn set_raw(list: &str) {
    std::fs::write(PROC, format!("{list}\n")).expect("write sysctl");
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn random_lists_read_planned_applied_and_undone_exactly() {
    if !private_netns("reserve_property") {
        return;
    }
    let seed = std::env::var("PORTSCOPE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    skip_note!("reserve_property: PORTSCOPE_TEST_SEED={seed}");
    let mut rng = Rng(seed);
    let env = Env::new();
    let budgets = [0, 5, 31, 33, 64, 200, 1000, 2500, 3900];
    let mut applied = 0;
    for round in 0..budgets.len() * 2 {
        let budget = budgets[round % budgets.len()];
        let ctx = format!("seed {seed}, round {round}");
        // The kernel's list, set behind portscope's back, as an administrator would.
        let (raw, model) = random_list(&mut rng, budget, true);
        set_raw(&raw);
        let before = model.canonical();
        assert_eq!(runtime(), before, "{ctx}: the model agrees with the kernel");

        let (code, out, err) = env.run(&["status", "--json"]);
        assert_eq!(code, 0, "{ctx}: {err}");
        assert_eq!(json(&out)["runtime"], before.as_str(), "{ctx}: status");

        let add_budget = 1 + rng.below(60) as usize;
        let (add_raw, add) = random_list(&mut rng, add_budget, false);
        let remove = if rng.below(2) == 0 || model.is_empty() {
            Model::empty()
        } else {
            // Some of what is reserved now, some of what is not.
            let (_, r) = random_list(&mut rng, 20, true);
            r.minus(&add)
        };
        let mut args = vec!["plan".to_string(), add_raw.clone()];
        if !remove.is_empty() {
            args.extend(["--remove".to_string(), remove.canonical()]);
        }
        args.push("--json".into());
        let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = env.run(&args_ref);
        assert_eq!(code, 0, "{ctx}: plan {args:?}: {err}");
        let plan = json(&out);
        let proposed = model.union(&add).minus(&remove).canonical();
        assert_eq!(plan["current"], before.as_str(), "{ctx}: plan's current");
        assert_eq!(
            plan["proposed"],
            proposed.as_str(),
            "{ctx}: plan's proposal"
        );
        let refused = !plan["refusals"].as_array().unwrap().is_empty();
        assert_eq!(
            refused,
            proposed.len() > 4094 || plan["refusals"].to_string().contains("ephemeral range"),
            "{ctx}: a refusal is the length or the ephemeral range: {}",
            plan["refusals"]
        );
        assert_eq!(runtime(), before, "{ctx}: a plan changes nothing");

        let no_persist = rng.below(2) == 0;
        args[0] = "apply".into();
        args.pop(); // --json
        args.push("--yes".into());
        if no_persist {
            args.push("--no-persist".into());
        }
        let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = env.run(&args_ref);
        if refused || (proposed == before && no_persist) {
            assert_eq!(
                runtime(),
                before,
                "{ctx}: refused or empty: unchanged\n{out}{err}"
            );
            assert!(!env.dropin().exists(), "{ctx}: no drop-in written");
            assert_eq!(env.journal_entries(), 0, "{ctx}: nothing journalled");
            continue;
        }
        assert_eq!(code, 0, "{ctx}: apply {args:?}\n{out}{err}");
        assert_eq!(runtime(), proposed, "{ctx}: applied");
        applied += 1;
        if no_persist {
            assert!(
                !env.dropin().exists(),
                "{ctx}: --no-persist writes no drop-in"
            );
        } else {
            let text = std::fs::read_to_string(env.dropin()).expect("drop-in");
            assert_eq!(
                assignment_lines(&text),
                [format!("{KEY} = {proposed}")],
                "{ctx}: persisted"
            );
        }

        let (code, out, err) = env.run(&["undo", "--yes"]);
        assert_eq!(code, 0, "{ctx}: undo\n{out}{err}");
        assert_eq!(runtime(), before, "{ctx}: undone");
        assert!(!env.dropin().exists(), "{ctx}: the drop-in is gone again");
    }
    // Most rounds get as far as apply and undo (only a list past the kernel's limit is refused).
    assert!(
        applied >= budgets.len(),
        "seed {seed}: only {applied} rounds applied"
    );
}

/// One port at a time onto a long list: each apply keeps every earlier port (the 6th used to
/// fail once the list passed 32 characters).
#[test]
fn one_port_at_a_time_onto_a_long_list_keeps_every_port() {
    if !private_netns("reserve_one_at_a_time") {
        return;
    }
    let env = Env::new();
    set_runtime("1000-1010,2000-2010,3000-3010,4000-4010");
    let mut want = Model::empty();
    for (lo, hi) in [(1000, 1010), (2000, 2010), (3000, 3010), (4000, 4010)] {
        want.add(lo, hi);
    }
    for i in 0..12u16 {
        let port = 40100 + i * 7;
        let (code, out, err) = env.run(&["apply", &port.to_string(), "--yes", "--no-persist"]);
        assert_eq!(code, 0, "apply {port}: {out}{err}");
        want.add(port, port);
        assert_eq!(runtime(), want.canonical(), "after apply {port}");
    }
}

/// Asked for nothing, apply changes nothing, even when the boot configuration holds a port the
/// kernel does not; it says what differs and the command that syncs it.
#[test]
fn an_empty_apply_changes_nothing_and_names_the_difference() {
    if !private_netns("reserve_empty_apply") {
        return;
    }
    let env = Env::new();
    set_runtime("");
    let vendor = env.root().join("usr/lib/sysctl.d");
    std::fs::create_dir_all(&vendor).unwrap();
    std::fs::write(vendor.join("50-vendor.conf"), format!("{KEY} = 5000\n")).unwrap();
    for args in [
        &["apply", "", "--yes"][..],
        &["apply", "--remove", "", "--yes"],
    ] {
        let (code, out, err) = env.run(args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        assert!(out.contains("nothing was changed"), "{out}");
        assert!(
            out.contains("portscope reserve apply 5000"),
            "the sync command is named: {out}"
        );
        assert_eq!(runtime(), "", "{args:?}: the kernel is untouched");
        assert!(env.etc_d_names().is_empty(), "{args:?}: no file written");
        assert_eq!(env.journal_entries(), 0);
    }
}

/// A port only portscope's own drop-in reserves at boot is kept by the next apply (unless
/// --remove names it).
#[test]
fn a_boot_value_held_only_in_the_drop_in_is_kept() {
    if !private_netns("reserve_keeps_dropin") {
        return;
    }
    let env = Env::new();
    set_runtime("");
    std::fs::write(env.dropin(), format!("{KEY} = 7777\n")).unwrap();
    let (code, out, err) = env.run(&["apply", "40300", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("7777"), "the kept port is named: {out}");
    assert_eq!(runtime(), "7777,40300");
    let text = std::fs::read_to_string(env.dropin()).unwrap();
    assert_eq!(assignment_lines(&text), [format!("{KEY} = 7777,40300")]);
    let (code, out, err) = env.run(&["apply", "--remove", "7777", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(runtime(), "40300");
    let text = std::fs::read_to_string(env.dropin()).unwrap();
    assert_eq!(assignment_lines(&text), [format!("{KEY} = 40300")]);
}

/// Port 0 is not a port to reserve: bad input, exit 2, nothing changed.
#[test]
fn port_zero_is_refused_as_bad_input() {
    if !private_netns("reserve_port_zero") {
        return;
    }
    let env = Env::new();
    set_runtime("9000");
    for args in [&["plan", "0"][..], &["apply", "0,8080", "--yes"]] {
        let (code, out, err) = env.run(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains("port 0"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    assert_eq!(runtime(), "9000");
}
