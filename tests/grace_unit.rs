//! The grace after SIGTERM defaults to the unit's TimeoutStopSec, asked of systemd (here a
//! stand-in systemctl found through the tool path, as `--tool-path DIR` sets it).
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use portscope::action::grace::{MAX_FROM_UNIT, resolve};
use portscope::model::Owner;
use std::time::Duration;

fn owner(unit: &str) -> Owner {
    Owner {
        pid: 4242,
        comm: "postgres".into(),
        unit: Some(unit.into()),
        ..Owner::default()
    }
}

#[test]
fn a_services_timeout_stop_sec_is_the_grace_and_says_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    common::write_executable(
        &dir.path().join("systemctl"),
        b"#!/bin/sh\n\
          [ \"$1 $2 $3 $4\" = 'show -p TimeoutStopUSec --value' ] || exit 1\n\
          case \"$5\" in\n\
          postgresql.service) echo '1min 30s' ;;\n\
          stuck.service) echo infinity ;;\n\
          *) exit 1 ;;\n\
          esac\n",
    );
    portscope::tools::set_path(vec![dir.path().to_path_buf()]);

    let g = resolve(&owner("postgresql.service"));
    assert_eq!(g.wait, Duration::from_secs(90));
    assert_eq!(
        g.words(),
        "waits up to 1min 30s (TimeoutStopSec of postgresql.service) before offering SIGKILL"
    );
    let g = resolve(&owner("stuck.service"));
    assert_eq!(g.wait, MAX_FROM_UNIT);
    assert!(g.from.contains("infinity: capped"), "{g:?}");
    // A unit systemd does not answer for, or a scope: the default.
    for unit in ["gone.service", "session-1.scope"] {
        let g = resolve(&owner(unit));
        assert_eq!(g.wait, Duration::from_secs(10), "{unit}");
        assert!(g.from.contains("default"), "{unit}: {g:?}");
    }
}
