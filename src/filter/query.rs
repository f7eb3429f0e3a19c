//! The filter language: free words and `field:value` terms, parsed once and matched against
//! every socket. The same `Query` serves `snapshot --filter` and the TUI's `/` filter.
//!
//! Terms are ANDed; the values of one field separated by commas are ORed (`state:cw,tw`);
//! `!term` (or `-field:value`) negates a term.

use crate::model::{Proto, Socket, State};
use crate::portset::PortSet;

/// A query term that could not be understood, named as the user typed it (the TUI's footer
/// and `snapshot --filter` show it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{term}: {reason}")]
pub struct QueryError {
    pub term: String,
    pub reason: TermError,
}

/// What is wrong with one term.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermError {
    #[error("nothing after the negation")]
    NothingAfterNegation,
    #[error("{field}: needs a value")]
    NoValue { field: String },
    #[error("unknown field; try {FIELDS}")]
    UnknownField,
    #[error("{token:?} is not a port or range: {reason}")]
    NotAPort { token: String, reason: &'static str },
    #[error("{0:?} is not a process id")]
    NotAPid(String),
    #[error("{0:?} is not a namespace inode (net:[INODE])")]
    NotANetns(String),
    #[error("unknown protocol {0:?}; try tcp or udp")]
    UnknownProto(String),
    #[error("unknown state {0:?}; {STATE_HINT}")]
    UnknownState(String),
}

/// The fields a term can name, as listed in error messages and help.
pub const FIELDS: &str =
    "sport, dport, state, proc (comm), pid, user, unit, netns, proto; bare auto, kernel";

const STATE_HINT: &str = "try cw, tw, est, listen, syn-sent, syn-recv, fin-wait-1, fin-wait-2, \
     close-wait, last-ack, closing, unconn, bound, or the groups connected, bucket";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pred {
    /// A number on its own: a local or remote port, or an owner's pid, exactly.
    Number(u32),
    /// Anything else on its own: a substring of the haystack (already lower-case).
    Word(String),
    Sport(PortSet),
    Dport(PortSet),
    /// Any of these states.
    State(Vec<State>),
    /// A substring of an owner's command name (lower-case).
    Proc(String),
    Pid(Vec<u32>),
    /// An owner's (or, when the owner is hidden, the socket's) uid exactly.
    Uid(u32),
    /// A substring of an owner's user name (lower-case).
    User(String),
    /// A substring of an owner's unit, container, pod or user unit (lower-case).
    Unit(String),
    Netns(u64),
    Proto(Proto),
    Auto,
    Kernel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    negated: bool,
    pred: Pred,
}

/// A parsed filter. The empty query matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    terms: Vec<Term>,
}

impl std::str::FromStr for Query {
    type Err = QueryError;
    fn from_str(s: &str) -> Result<Query, QueryError> {
        Query::parse(s)
    }
}

impl Query {
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let terms = text
            .split_whitespace()
            .map(parse_term)
            .collect::<Result<_, _>>()?;
        Ok(Query { terms })
    }

    /// The query that treats every word as free text (numbers as ports or pids): what the filter
    /// did before it had fields, and what a half-typed field falls back to in `text_match`.
    pub fn words_only(text: &str) -> Query {
        let terms = text
            .split_whitespace()
            .map(|w| Term {
                negated: false,
                pred: word(w),
            })
            .collect();
        Query { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether the query needs the haystack (it has free words); otherwise `matches` can be
    /// given an empty one and no text is built per socket.
    pub fn needs_haystack(&self) -> bool {
        self.terms.iter().any(|t| matches!(t.pred, Pred::Word(_)))
    }

    /// `hay` is `filter::haystack(s)` (only read for free words).
    pub fn matches(&self, hay: &str, s: &Socket) -> bool {
        self.terms.iter().all(|t| t.negated != t.pred.holds(hay, s))
    }
}

impl Pred {
    fn holds(&self, hay: &str, s: &Socket) -> bool {
        match self {
            Pred::Number(n) => {
                u32::from(s.local_port) == *n
                    || u32::from(s.remote_port) == *n
                    || s.owners.iter().any(|o| o.pid == *n)
            }
            Pred::Word(w) => hay.contains(w.as_str()),
            Pred::Sport(set) => set.contains(s.local_port),
            Pred::Dport(set) => set.contains(s.remote_port),
            Pred::State(states) => states.contains(&s.state),
            Pred::Proc(p) => s.owners.iter().any(|o| lower_has(&o.comm.shown(), p)),
            Pred::Pid(pids) => s.owners.iter().any(|o| pids.contains(&o.pid)),
            Pred::Uid(uid) => {
                if s.owners.is_empty() {
                    // Kernel-held sockets report uid 0 without being root's: only a hidden
                    // owner's socket uid says who holds it.
                    s.owner_hidden && s.uid == *uid
                } else {
                    s.owners.iter().any(|o| o.uid == *uid)
                }
            }
            Pred::User(u) => s.owners.iter().any(|o| lower_has(&o.user.shown(), u)),
            Pred::Unit(u) => s.owners.iter().any(|o| {
                crate::workload::place(o).is_some_and(|p| lower_has(&p, u))
                    || o.unit.as_ref().is_some_and(|x| lower_has(&x.shown(), u))
                    || o.container
                        .as_ref()
                        .is_some_and(|x| lower_has(&x.shown(), u))
                    || o.workload.as_ref().is_some_and(|w| {
                        let pod = w.pod.as_ref();
                        [
                            w.name.as_deref(),
                            w.compose.as_deref(),
                            w.inner_unit.as_deref(),
                            pod.and_then(|p| p.name.as_deref()),
                            pod.and_then(|p| p.namespace.as_deref()),
                        ]
                        .into_iter()
                        .flatten()
                        .any(|x| lower_has(x, u))
                    })
            }),
            Pred::Netns(n) => s.netns == *n,
            Pred::Proto(p) => s.proto == *p,
            Pred::Auto => s.autobound,
            Pred::Kernel => s.kernel_held,
        }
    }
}

fn lower_has(text: &str, needle_lower: &str) -> bool {
    text.to_lowercase().contains(needle_lower)
}

fn word(w: &str) -> Pred {
    match w.parse::<u32>() {
        Ok(n) => Pred::Number(n),
        Err(_) => Pred::Word(w.to_lowercase()),
    }
}

fn parse_term(raw: &str) -> Result<Term, QueryError> {
    let err = |reason: TermError| QueryError {
        term: raw.to_string(),
        reason,
    };
    let (negated, body) = if let Some(rest) = raw.strip_prefix('!') {
        (true, rest)
    } else if let Some(rest) = raw.strip_prefix('-').filter(|r| is_field_term(r)) {
        (true, rest)
    } else {
        (false, raw)
    };
    if body.is_empty() {
        return Err(err(TermError::NothingAfterNegation));
    }
    let lower = body.to_lowercase();
    let pred = match lower.as_str() {
        "auto" => Pred::Auto,
        "kernel" => Pred::Kernel,
        _ => match field_and_value(body) {
            Some((field, value)) => {
                let field = field.to_ascii_lowercase();
                if value.is_empty() {
                    return Err(err(TermError::NoValue { field }));
                }
                field_pred(&field, value).map_err(err)?
            }
            None => word(body),
        },
    };
    Ok(Term { negated, pred })
}

/// `name:value` where name is letters only and the value has no further colon: anything else
/// with a colon (`[::1]:80`, `fe80::1`, `127.0.0.1:8080`) is free text.
fn field_and_value(body: &str) -> Option<(&str, &str)> {
    let (field, value) = body.split_once(':')?;
    (!field.is_empty() && field.bytes().all(|b| b.is_ascii_alphabetic()) && !value.contains(':'))
        .then_some((field, value))
}

fn is_field_term(body: &str) -> bool {
    field_and_value(body).is_some() || matches!(body.to_lowercase().as_str(), "auto" | "kernel")
}

fn field_pred(field: &str, value: &str) -> Result<Pred, TermError> {
    Ok(match field {
        "sport" | "lport" => Pred::Sport(ports(value)?),
        "dport" | "rport" => Pred::Dport(ports(value)?),
        "state" => Pred::State(states(value)?),
        "proc" | "comm" => Pred::Proc(value.to_lowercase()),
        "pid" => Pred::Pid(
            value
                .split(',')
                .map(|p| {
                    p.parse::<u32>()
                        .map_err(|_| TermError::NotAPid(p.to_string()))
                })
                .collect::<Result<_, _>>()?,
        ),
        "user" => match value.parse::<u32>() {
            Ok(uid) => Pred::Uid(uid),
            Err(_) => Pred::User(value.to_lowercase()),
        },
        "unit" => Pred::Unit(value.to_lowercase()),
        "netns" => Pred::Netns(
            value
                .parse()
                .map_err(|_| TermError::NotANetns(value.to_string()))?,
        ),
        "proto" => Pred::Proto(match value.to_ascii_lowercase().as_str() {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            _ => return Err(TermError::UnknownProto(value.to_string())),
        }),
        _ => return Err(TermError::UnknownField),
    })
}

fn ports(value: &str) -> Result<PortSet, TermError> {
    PortSet::parse(value).map_err(|e| TermError::NotAPort {
        token: e.token,
        reason: e.reason,
    })
}

fn states(value: &str) -> Result<Vec<State>, TermError> {
    let mut out = Vec::new();
    for name in value.split(',') {
        let found = state_group(name).ok_or_else(|| TermError::UnknownState(name.to_string()))?;
        out.extend_from_slice(found);
    }
    Ok(out)
}

/// A state name as `ss` takes it (`close-wait`, `estab`), the JSON name (`CLOSE_WAIT`), the short
/// forms people type (`cw`, `tw`, `est`), or one of `ss`'s groups.
fn state_group(name: &str) -> Option<&'static [State]> {
    use State::*;
    let norm: String = name
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    Some(match norm.as_str() {
        "listen" | "listening" => &[Listen],
        "est" | "estab" | "established" => &[Established],
        "synsent" => &[SynSent],
        "synrecv" | "synrcvd" => &[SynRecv],
        "finwait1" | "fw1" => &[FinWait1],
        "finwait2" | "fw2" => &[FinWait2],
        "timewait" | "tw" => &[TimeWait],
        "close" | "closed" => &[Close],
        "closewait" | "cw" => &[CloseWait],
        "lastack" => &[LastAck],
        "closing" => &[Closing],
        "unconn" | "unconnected" => &[Unconn],
        "bound" | "boundinactive" => &[BoundInactive],
        // ss(8): every state but listening and closed ones; and the kernel-held minisockets.
        "connected" => &[
            Established,
            SynSent,
            SynRecv,
            FinWait1,
            FinWait2,
            TimeWait,
            CloseWait,
            LastAck,
            Closing,
        ],
        "bucket" => &[SynRecv, TimeWait],
        _ => return None,
    })
}
