//! The closed sets the command line takes (`--proto`, `--state`, `--sort`, `--group-by`,
//! `--source`) as clap `ValueEnum`s, so `--help`, the man pages and shell completion list the
//! possible values instead of offering file names.
//!
//! Parsing stays with each type's own `FromStr` (case-insensitive, `ss` spellings and short
//! forms such as `tw` or `estab`, and one message that lists what would do); clap only learns
//! the canonical names from [`ValueEnum`]. The model keeps no dependency on clap.

use crate::analyze::conn_groups::GroupBy;
use crate::analyze::conn_sort::SortKey;
use crate::collect::SourcePref;
use crate::model::{Proto, State};
use clap::ValueEnum;
use clap::builder::{PossibleValue, TypedValueParser};
use std::marker::PhantomData;
use std::str::FromStr;

/// A value parser for a closed set: the type's own `FromStr`, with the `ValueEnum`'s names as
/// the possible values clap shows and completes.
#[derive(Clone)]
pub struct Choices<T>(PhantomData<T>);

/// `value_parser = choices::<Proto>()`.
pub fn choices<T>() -> Choices<T> {
    Choices(PhantomData)
}

impl<T, E> TypedValueParser for Choices<T>
where
    T: ValueEnum + FromStr<Err = E> + Clone + Send + Sync + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        // A function parser, so the error reads as every other value error does:
        // "invalid value 'x' for '--proto <PROTO>': unknown protocol "x" (expected tcp or udp)".
        let parse = |s: &str| <T as FromStr>::from_str(s);
        parse.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            T::value_variants()
                .iter()
                .filter_map(ValueEnum::to_possible_value),
        ))
    }
}

impl ValueEnum for Proto {
    fn value_variants<'a>() -> &'a [Self] {
        &[Proto::Tcp, Proto::Udp]
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

impl ValueEnum for State {
    fn value_variants<'a>() -> &'a [Self] {
        &State::ALL
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        // The JSON names; the `ss` spellings (ESTAB, TIME-WAIT, ...) are accepted too.
        Some(PossibleValue::new(self.name()).alias(self.ss_name()))
    }
}

impl ValueEnum for SortKey {
    fn value_variants<'a>() -> &'a [Self] {
        &SortKey::ALL
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

impl ValueEnum for GroupBy {
    fn value_variants<'a>() -> &'a [Self] {
        &GroupBy::ALL
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            GroupBy::Process => "pid and command",
            GroupBy::RemoteAddr => "remote address, any port",
            GroupBy::Remote => "remote address and port",
            GroupBy::StatePort => "state and local port",
        };
        Some(PossibleValue::new(self.name()).help(help))
    }
}

impl ValueEnum for SourcePref {
    fn value_variants<'a>() -> &'a [Self] {
        &[SourcePref::Auto, SourcePref::Netlink, SourcePref::Procfs]
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            SourcePref::Auto => {
                PossibleValue::new("auto").help("netlink, falling back to /proc/net")
            }
            SourcePref::Netlink => PossibleValue::new("netlink").help("sock_diag only"),
            SourcePref::Procfs => PossibleValue::new("procfs").help("/proc/net only"),
        })
    }
}

impl FromStr for SourcePref {
    type Err = super::ArgError;
    fn from_str(s: &str) -> Result<Self, super::ArgError> {
        match s {
            "auto" => Ok(SourcePref::Auto),
            "netlink" => Ok(SourcePref::Netlink),
            "procfs" => Ok(SourcePref::Procfs),
            _ => Err(super::ArgError::UnknownSource(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every canonical name parses back to its own value through `FromStr`: what `--help`
    /// lists is what the parser takes.
    fn round_trips<T: ValueEnum + FromStr + PartialEq + std::fmt::Debug>() {
        for v in T::value_variants() {
            let pv = v.to_possible_value().expect("a name");
            for name in pv.get_name_and_aliases() {
                assert_eq!(
                    <T as FromStr>::from_str(name).ok().as_ref(),
                    Some(v),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn listed_names_parse() {
        round_trips::<Proto>();
        round_trips::<State>();
        round_trips::<SortKey>();
        round_trips::<GroupBy>();
        round_trips::<SourcePref>();
    }
}
