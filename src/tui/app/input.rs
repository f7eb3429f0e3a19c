//! Text typed by a person or a script: the why field's bind request, and keys for a string.

use crate::ask::Question;
use crossterm::event::KeyEvent;

/// Why the why field's text is not a bind request (shown under the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindTextError {
    /// The port, address or protocol (the same parser as `portscope why PORT`).
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    #[error("--user needs a user name or uid")]
    UserMissing,
    #[error("--user {0:?}: no such user")]
    NoSuchUser(String),
    #[error("{0:?}: expected --v6only, --reuseport, --freebind or --user USER")]
    UnknownOption(String),
}

/// Parses what a person types in the why view: `8080`, `8080/udp`, `127.0.0.1:8080`,
/// `[::1]:8080/tcp`, then why's options: `--v6only`, `--reuseport`, `--freebind`, `--user U`.
pub fn parse_bind(text: &str) -> Result<Question, BindTextError> {
    let mut words = text.split_whitespace();
    let t = words.next().unwrap_or("");
    let target = crate::target::parse_target(t)?;
    let mut q = Question::port(target.port);
    q.proto = target.proto;
    q.addrs = target.addr.into_iter().collect();
    parse_options(words, &mut q)?;
    Ok(q)
}

/// Key events for a typed string, for scripted sessions (tests, screenshots): `\n` is Enter,
/// `\x1b` Esc, `\t` Tab, `↑↓←→` arrows, upper-case letters come with Shift.
#[doc(hidden)]
pub fn typed(text: &str) -> Vec<KeyEvent> {
    use crossterm::event::{KeyCode, KeyModifiers};
    text.chars()
        .map(|c| match c {
            '\n' => KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
            '\x1b' => KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
            '\t' => KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE),
            '↑' => KeyEvent::new(KeyCode::Up, KeyModifiers::NONE),
            '↓' => KeyEvent::new(KeyCode::Down, KeyModifiers::NONE),
            '←' => KeyEvent::new(KeyCode::Left, KeyModifiers::NONE),
            '→' => KeyEvent::new(KeyCode::Right, KeyModifiers::NONE),
            c if c.is_ascii_uppercase() => KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT),
            c => KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
        })
        .collect()
}

/// why's options after the port in the why field. `--user` is kept as typed: the runtime looks
/// it up (I/O) when it carries out the watch, never this key press.
fn parse_options<'a>(
    mut words: impl Iterator<Item = &'a str>,
    q: &mut crate::ask::Question,
) -> Result<(), BindTextError> {
    while let Some(w) = words.next() {
        match w {
            "--v6only" => q.v6only = true,
            "--reuseport" => q.reuseport = true,
            "--freebind" => q.freebind = true,
            "--user" => {
                let u = words.next().ok_or(BindTextError::UserMissing)?;
                q.user = Some(u.to_string());
            }
            _ => {
                return Err(BindTextError::UnknownOption(w.to_string()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::TargetError;

    #[test]
    fn bind_text() {
        // No protocol named: both are asked, as `portscope why 8080` does.
        assert_eq!(parse_bind("8080"), Ok(Question::port(8080)));
        let r = parse_bind("[::1]:53/udp").unwrap();
        assert_eq!(
            (r.port, r.proto, r.addrs.clone()),
            (
                53,
                Some(crate::model::Proto::Udp),
                vec!["::1".parse().unwrap()]
            )
        );
        assert_eq!(r.words(), "[::1]:53/udp");
        let r = parse_bind(" 127.0.0.1:80 ").unwrap();
        assert_eq!(r.addrs, vec![std::net::IpAddr::from([127, 0, 0, 1])]);
        let says = |t| parse_bind(t).unwrap_err().to_string();
        assert!(says("70000").contains("outside"));
        assert!(says("0").contains("any free port"));
        assert!(matches!(
            parse_bind("80/icmp"),
            Err(BindTextError::Target(TargetError::Proto(_)))
        ));
        assert!(matches!(
            parse_bind("nope:80"),
            Err(BindTextError::Target(TargetError::Addr(_)))
        ));
        assert_eq!(
            parse_bind("::1:80"),
            Err(BindTextError::Target(TargetError::Ipv6Port(
                "::1:80".into()
            )))
        );
        for guess in ["::1:80", "[::1", "[::1]", "::1", "[::1:80"] {
            let err = says(guess);
            assert!(err.contains(guess), "{guess}: {err}");
        }
    }
}
