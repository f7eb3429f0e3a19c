//! Whether a listener takes its connections. The kernel completes handshakes into the listener's
//! accept queue whether or not the process ever calls accept(); inet_diag reports the queue's
//! length (`idiag_rqueue`) and the effective backlog (`idiag_wqueue`, min(listen backlog,
//! net.core.somaxconn)). The queue is full when it holds *more* than the backlog (the kernel's
//! `sk_acceptq_is_full`), and then every new handshake is dropped silently (with the default
//! tcp_abort_on_overflow = 0): the client's connect() succeeded, its request goes nowhere. That is
//! the "intermittently unavailable" port nobody can find in the logs.
//!
//! One look can only see the queue as it is; two or more tell a queue that drains from one that
//! does not, and give the namespace's ListenOverflows growth in between. The counters are per
//! network namespace, so drops are tied to a listener only through its own queue samples (a
//! kernel tracepoint could name the socket, but only with BPF).

use crate::model::Foreign;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Accepting,
    /// The queue was often non-empty: connections wait before the process takes them.
    Slow,
    /// The queue is full, does not drain, or the process cannot run (stopped, stuck in D).
    NotAccepting,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Accepting => "accepting",
            Health::Slow => "slow",
            Health::NotAccepting => "not_accepting",
        }
    }

    /// The words a person reads ("not accepting").
    pub fn words(self) -> &'static str {
        match self {
            Health::Accepting => "accepting",
            Health::Slow => "slow to accept",
            Health::NotAccepting => "not accepting",
        }
    }
}

/// One look at a listener's accept queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QueueLook {
    pub queued: u32,
    pub backlog: u32,
}

impl QueueLook {
    /// The kernel's test: one connection more than the backlog fits, the next is dropped.
    pub fn full(&self) -> bool {
        self.queued > self.backlog
    }
}

/// What is known about one listener.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Looks at the queue, oldest first (at least one; none counts as an empty queue).
    pub looks: Vec<QueueLook>,
    /// Milliseconds between the first look and the last.
    pub span_ms: u64,
    /// The owning process's run state (/proc/PID/stat).
    pub state: Option<char>,
    pub wchan: Option<Foreign>,
    /// Growth of the namespace's ListenOverflows between the first look and the last.
    pub overflows: Option<u64>,
    /// net.core.somaxconn of the listener's namespace.
    pub somaxconn: Option<u32>,
    /// Whether a connection seen waiting at one look had left the queue by the next (it was
    /// accepted: the queue is FIFO); `None` when the waiting connections were not followed.
    /// A queue that stays at 3 can be stuck or be taking one and getting one each time: only
    /// this tells them apart.
    pub moved: Option<bool>,
}

/// The verdict on one listener, with what it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerHealth {
    pub verdict: Health,
    /// The queue at the last look.
    pub queued: u32,
    pub backlog: u32,
    pub full: bool,
    /// Full at some look (maybe not the last).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seen_full: bool,
    /// How many looks the verdict rests on: one is weaker (it cannot see draining or drops).
    pub looks: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub span_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<char>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wchan: Option<Foreign>,
    /// Connections the namespace dropped at a full accept queue between the looks
    /// (ListenOverflows growth); `None` with one look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    /// The backlog is net.core.somaxconn: the program asked for at least that much, so only
    /// raising the sysctl gives it more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub capped_by_somaxconn: bool,
    /// What the verdict rests on, in words ("5 waiting, backlog 4: the queue is full").
    pub reasons: Vec<String>,
    /// "one look", "5 looks over 2 s".
    pub based_on: String,
    /// Where the drop count comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// "850 ms", "10 s", "2 min".
pub fn span_words(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..120_000 => format!("{} s", (ms + 500) / 1000),
        _ => format!("{} min", (ms + 30_000) / 60_000),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Judges one listener from what was seen.
pub fn judge(e: &Evidence) -> ListenerHealth {
    let last = e.looks.last().copied().unwrap_or_default();
    let n = e.looks.len().max(1);
    let waiting = e.looks.iter().filter(|l| l.queued > 0).count();
    // Non-empty every time and nothing taken: no waiting connection left (or, where they were
    // not followed, the queue never got shorter).
    let stuck_queue = e.looks.len() >= 2
        && e.looks.iter().all(|l| l.queued > 0)
        && match e.moved {
            Some(moved) => !moved,
            None => e.looks.windows(2).all(|w| w[1].queued >= w[0].queued),
        };
    let stopped = matches!(e.state, Some('T' | 't'));
    let blocked = e.state == Some('D') && last.queued > 0;
    let dropped = e.overflows.filter(|_| e.looks.len() >= 2);
    let mut reasons = Vec::new();
    if last.full() {
        reasons.push(format!(
            "{} waiting, backlog {}: the queue is full, new handshakes are dropped",
            last.queued, last.backlog
        ));
    }
    if stuck_queue && !last.full() {
        reasons.push(format!(
            "{} waiting and not draining across {n} looks",
            last.queued
        ));
    }
    match e.state {
        Some('T') => reasons.push("its process is stopped (state T)".into()),
        Some('t') => reasons.push("its process is stopped by a debugger (state t)".into()),
        Some('D') if blocked => {
            reasons.push("its process is in uninterruptible sleep (state D)".into());
        }
        _ => {}
    }
    let verdict = if stopped || blocked || last.full() || stuck_queue {
        Health::NotAccepting
    } else if (waiting > 0 && waiting * 2 >= n)
        || e.looks.iter().any(QueueLook::full)
        || (dropped.unwrap_or(0) > 0 && waiting > 0)
    {
        if e.looks.len() >= 2 {
            reasons.push(format!(
                "its queue was non-empty in {waiting} of {n} looks (now {} waiting, backlog {})",
                last.queued, last.backlog
            ));
        } else {
            reasons.push(format!(
                "{} waiting for accept(), backlog {}",
                last.queued, last.backlog
            ));
        }
        Health::Slow
    } else {
        reasons.push(format!(
            "its accept queue {} ({} waiting, backlog {})",
            if e.looks.len() >= 2 && waiting > 0 {
                "drains"
            } else {
                "is empty"
            },
            last.queued,
            last.backlog
        ));
        Health::Accepting
    };
    let attribution = dropped.filter(|d| *d > 0).map(|_| {
        let full_seen = e.looks.iter().any(QueueLook::full);
        if full_seen {
            "ListenOverflows of its network namespace, tied to this listener by its queue samples (it was seen full)".to_string()
        } else {
            "ListenOverflows of its network namespace; this queue was not seen full, so another listener may have dropped them".to_string()
        }
    });
    ListenerHealth {
        verdict,
        queued: last.queued,
        backlog: last.backlog,
        full: last.full(),
        seen_full: e.looks.iter().any(QueueLook::full),
        looks: e.looks.len().max(1),
        span_ms: e.span_ms,
        state: e.state,
        wchan: e.wchan.clone(),
        dropped,
        capped_by_somaxconn: e.somaxconn.is_some_and(|m| m > 0 && m == last.backlog),
        reasons,
        based_on: if e.looks.len() >= 2 {
            format!("{} looks over {}", e.looks.len(), span_words(e.span_ms))
        } else {
            "one look".into()
        },
        attribution,
    }
}

impl ListenerHealth {
    /// Connections were dropped between the looks while this queue was seen full.
    pub fn overflowing(&self) -> bool {
        self.seen_full && self.dropped.unwrap_or(0) > 0
    }

    /// The queue as a column shows it: "5/4".
    pub fn queue_words(&self) -> String {
        format!("{}/{}", self.queued, self.backlog)
    }

    /// The drops between the looks: "37 connections dropped in the last 10 s", or that counting
    /// them needs two looks.
    pub fn drop_words(&self) -> String {
        match self.dropped {
            Some(d) => format!(
                "{} dropped in the last {}",
                plural(d, "connection", "connections"),
                span_words(self.span_ms)
            ),
            None => "counting dropped connections needs two looks".into(),
        }
    }

    /// The sentence that leads an answer about the port: "the port is held by a listener that
    /// is not accepting: 5 waiting, backlog 4; its process is stopped (state T); 37
    /// connections dropped in the last 10 s".
    pub fn sentence(&self) -> String {
        let lead = match self.verdict {
            Health::NotAccepting => "the port is held by a listener that is not accepting",
            Health::Slow => "the port's listener is slow to accept",
            Health::Accepting => "the port's listener is accepting",
        };
        let mut parts = vec![format!("{} waiting, backlog {}", self.queued, self.backlog)];
        parts.extend(
            self.reasons
                .iter()
                .filter(|r| r.starts_with("its process") || r.contains("not draining"))
                .cloned(),
        );
        if let Some(w) = self
            .wchan
            .as_ref()
            .filter(|_| self.verdict != Health::Accepting)
        {
            parts.push(format!("it sleeps in {w}"));
        }
        if self.verdict != Health::Accepting {
            parts.push(self.drop_words());
        }
        format!("{lead}: {}", parts.join("; "))
    }

    /// The line under a listener cause: "not accepting · accept queue 5/4, full · state T ·
    /// from one look".
    pub fn line_words(&self) -> String {
        let mut parts = vec![
            format!("listener {}", self.verdict.words()),
            format!(
                "accept queue {}{}",
                self.queue_words(),
                if self.full { ", full" } else { "" }
            ),
        ];
        if let Some(s) = self.state.filter(|s| matches!(s, 'T' | 't' | 'D')) {
            parts.push(format!("state {s}"));
        }
        if let Some(d) = self.dropped {
            parts.push(format!("{d} dropped in {}", span_words(self.span_ms)));
        }
        parts.push(format!("from {}", self.based_on));
        parts.join(" · ")
    }

    /// Where the drop count comes from: "drops: ListenOverflows of ...".
    pub fn basis_words(&self) -> String {
        match &self.attribution {
            Some(a) => format!("drops: {a}"),
            None => format!("listener health from {}", self.based_on),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn looks(qs: &[u32], backlog: u32) -> Evidence {
        Evidence {
            looks: qs
                .iter()
                .map(|&queued| QueueLook { queued, backlog })
                .collect(),
            span_ms: 2000,
            ..Evidence::default()
        }
    }

    #[test]
    fn verdicts_from_queues_and_states() {
        let table: &[(Evidence, Health)] = &[
            (looks(&[0], 128), Health::Accepting),
            (looks(&[5], 4), Health::NotAccepting),
            (looks(&[4], 4), Health::Slow),
            (looks(&[3, 0, 2, 0], 128), Health::Slow),
            (looks(&[3, 0, 0, 0], 128), Health::Accepting),
            (looks(&[2, 2, 3], 128), Health::NotAccepting),
            (
                Evidence {
                    moved: Some(true),
                    ..looks(&[3, 3, 3], 128)
                },
                Health::Slow,
            ),
            (
                Evidence {
                    moved: Some(false),
                    ..looks(&[3, 2, 2], 128)
                },
                Health::NotAccepting,
            ),
            (looks(&[0, 0], 128), Health::Accepting),
            (
                Evidence {
                    state: Some('T'),
                    ..looks(&[0], 128)
                },
                Health::NotAccepting,
            ),
            (
                Evidence {
                    state: Some('D'),
                    ..looks(&[0], 128)
                },
                Health::Accepting,
            ),
            (
                Evidence {
                    state: Some('D'),
                    ..looks(&[1], 128)
                },
                Health::NotAccepting,
            ),
        ];
        for (e, want) in table {
            assert_eq!(judge(e).verdict, *want, "{e:?}");
        }
    }

    #[test]
    fn the_sentence_says_the_queue_the_drops_and_the_basis() {
        let one = judge(&looks(&[5], 4));
        assert_eq!(
            one.sentence(),
            "the port is held by a listener that is not accepting: 5 waiting, backlog 4; counting dropped connections needs two looks"
        );
        assert_eq!(one.based_on, "one look");
        let two = judge(&Evidence {
            overflows: Some(37),
            span_ms: 10_000,
            state: Some('T'),
            somaxconn: Some(4),
            ..looks(&[5, 5], 4)
        });
        assert_eq!(
            two.sentence(),
            "the port is held by a listener that is not accepting: 5 waiting, backlog 4; its process is stopped (state T); 37 connections dropped in the last 10 s"
        );
        assert!(two.capped_by_somaxconn);
        assert!(
            two.basis_words()
                .starts_with("drops: ListenOverflows of its network namespace, tied to this")
        );
    }
}
