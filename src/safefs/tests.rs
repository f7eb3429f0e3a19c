//! Unit tests of the safe file operations.

use super::*;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

#[test]
fn atomic_write_replaces_a_link_never_its_target() {
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, "secret").unwrap();
    symlink(&victim, d.path().join("a.conf")).unwrap();
    let dir = Dir::open(d.path()).unwrap();
    let before = dir.inspect("a.conf").unwrap();
    assert_eq!(
        before,
        Existing::Symlink {
            target: victim.clone()
        }
    );
    dir.write_atomic("a.conf", b"new\n", 0o644).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret");
    assert_eq!(dir.read_regular("a.conf").unwrap().unwrap(), b"new\n");
    let mode = std::fs::metadata(d.path().join("a.conf"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    dir.restore("a.conf", &before).unwrap();
    assert_eq!(std::fs::read_link(d.path().join("a.conf")).unwrap(), victim);
    let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
    assert_eq!(names.len(), 2, "no temporary file left");
}

#[test]
fn refuses_fifo_device_link_and_oversized() {
    let d = tempfile::tempdir().unwrap();
    nix::unistd::mkfifo(&d.path().join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    symlink("/dev/zero", d.path().join("zero")).unwrap();
    std::fs::File::create(d.path().join("big"))
        .unwrap()
        .set_len(MAX_FILE + 1)
        .unwrap();
    let dir = Dir::open(d.path()).unwrap();
    let e = dir.inspect("fifo").unwrap_err();
    assert!(e.to_string().contains("FIFO"), "{e}");
    assert!(
        dir.read_regular("zero")
            .unwrap_err()
            .to_string()
            .contains("symbolic link")
    );
    assert!(
        dir.inspect("big")
            .unwrap_err()
            .to_string()
            .contains("bytes")
    );
    assert!(
        read_config(&d.path().join("fifo"))
            .unwrap_err()
            .to_string()
            .contains("FIFO")
    );
    assert!(
        read_config(&d.path().join("zero"))
            .unwrap_err()
            .to_string()
            .contains("device")
    );
    assert_eq!(read_config(Path::new("/dev/null")).unwrap(), Some(vec![]));
    assert_eq!(read_config(&d.path().join("nope")).unwrap(), None);
    assert_eq!(dir.inspect("nope").unwrap(), Existing::Absent);
}

#[test]
fn directories_are_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let real = d.path().join("real");
    std::fs::create_dir(&real).unwrap();
    symlink(&real, d.path().join("link")).unwrap();
    assert!(
        Dir::open(&d.path().join("link"))
            .unwrap_err()
            .to_string()
            .contains("symbolic link")
    );
    std::fs::create_dir_all(d.path().join("root/etc")).unwrap();
    symlink(&real, d.path().join("root/etc/sysctl.d")).unwrap();
    let e = Dir::open_beneath(&d.path().join("root"), Path::new("/etc/sysctl.d")).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert!(Dir::open_beneath(&d.path().join("root"), Path::new("../x")).is_err());
    assert!(Dir::open_beneath(d.path(), Path::new("real")).is_ok());
}

#[test]
fn bytes_round_trip_through_json() {
    for b in [b"plain\n".to_vec(), vec![0xff, 0x00, b'a'], vec![]] {
        let j = serde_json::to_string(&Bytes(b.clone())).unwrap();
        let back: Bytes = serde_json::from_str(&j).unwrap();
        assert_eq!(back.0, b, "{j}");
    }
}

#[test]
fn leftovers_are_removed_and_private_dirs_checked() {
    let d = tempfile::tempdir().unwrap();
    let dir = Dir::open(d.path()).unwrap();
    std::fs::write(d.path().join(".a.conf.portscope-0011.tmp"), "x").unwrap();
    std::fs::write(d.path().join("other"), "x").unwrap();
    assert_eq!(dir.remove_leftovers("a.conf").unwrap(), 1);
    assert!(d.path().join("other").exists());
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let dir = Dir::open(d.path()).unwrap();
    assert!(dir.check_private(nix::unistd::geteuid().as_raw()).is_err());
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = Dir::open(d.path()).unwrap();
    assert!(dir.check_private(nix::unistd::geteuid().as_raw()).is_ok());
}
