//! Unit tests of the model.

use super::*;

#[test]
fn state_parsing_accepts_ss_and_json_names() {
    for (s, want) in [
        ("TIME_WAIT", State::TimeWait),
        ("time-wait", State::TimeWait),
        ("estab", State::Established),
        ("listen", State::Listen),
        ("fin-wait-1", State::FinWait1),
        ("UNCONN", State::Unconn),
    ] {
        assert_eq!(s.parse::<State>(), Ok(want), "{s}");
    }
    assert!("bogus".parse::<State>().is_err());
}

#[test]
fn kernel_state_codes() {
    assert_eq!(State::from_kernel(Proto::Udp, 7), Some(State::Unconn));
    assert_eq!(
        State::from_kernel(Proto::Tcp, 7),
        Some(State::BoundInactive)
    );
    assert_eq!(State::from_kernel(Proto::Tcp, 12), Some(State::SynRecv));
    assert_eq!(State::from_kernel(Proto::Tcp, 0), None);
}
