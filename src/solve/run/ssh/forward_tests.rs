use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::mpsc;

use super::*;

/// A fake agent at `path`: answers every message with `[6, type]` (SSH_AGENT_SUCCESS and
/// the type seen) and reports each type it got.
fn fake_agent(path: &Path) -> mpsc::Receiver<u8> {
    let listener = UnixListener::bind(path).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                while let Ok(Some(msg)) = read_message(&mut conn) {
                    let _ = tx.send(msg[0]);
                    if write_message(&mut conn, &[6, msg[0]]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    rx
}

fn ask(conn: &mut UnixStream, body: &[u8]) -> Option<Vec<u8>> {
    write_message(conn, body).ok()?;
    read_message(conn).ok()?
}

#[test]
fn listing_and_signing_reach_the_agent_and_nothing_else_does() {
    let t = tempfile::tempdir().unwrap();
    let seen = fake_agent(&t.path().join("agent"));
    let socket = t.path().join("step.sock");
    let fwd = Forwarder::start(&socket, t.path().join("agent")).unwrap();
    let mut conn = UnixStream::connect(&socket).unwrap();
    assert_eq!(ask(&mut conn, &[REQUEST_IDENTITIES]), Some(vec![6, 11]));
    assert_eq!(ask(&mut conn, &[SIGN_REQUEST, 1, 2, 3]), Some(vec![6, 13]));
    // Add identity, remove all, lock, extension: refused here.
    for kind in [17u8, 19, 22, 27] {
        assert_eq!(ask(&mut conn, &[kind, 0]), Some(vec![FAILURE]));
    }
    let got: Vec<u8> = seen.try_iter().collect();
    assert_eq!(got, vec![11, 13]);
    drop(fwd);
    // The connection is closed with the step.
    assert_eq!(ask(&mut conn, &[REQUEST_IDENTITIES]), None);
    assert!(
        UnixStream::connect(&socket).is_err(),
        "nobody listens after the step"
    );
}

#[test]
fn oversized_messages_end_the_connection() {
    let t = tempfile::tempdir().unwrap();
    let _seen = fake_agent(&t.path().join("agent"));
    let socket = t.path().join("step.sock");
    let _fwd = Forwarder::start(&socket, t.path().join("agent")).unwrap();
    let mut conn = UnixStream::connect(&socket).unwrap();
    conn.write_all(&u32::MAX.to_be_bytes()).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(conn.read(&mut buf).unwrap_or(0), 0);
}

#[test]
fn connections_beyond_the_limit_are_closed() {
    let t = tempfile::tempdir().unwrap();
    let _seen = fake_agent(&t.path().join("agent"));
    let socket = t.path().join("step.sock");
    let _fwd = Forwarder::start(&socket, t.path().join("agent")).unwrap();
    let mut held: Vec<UnixStream> = (0..MAX_CONNECTIONS)
        .map(|_| {
            let mut c = UnixStream::connect(&socket).unwrap();
            assert_eq!(ask(&mut c, &[REQUEST_IDENTITIES]), Some(vec![6, 11]));
            c
        })
        .collect();
    let mut extra = UnixStream::connect(&socket).unwrap();
    assert_eq!(ask(&mut extra, &[REQUEST_IDENTITIES]), None);
    // One closes: a new one is served again.
    held.pop();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mut again = UnixStream::connect(&socket).unwrap();
    assert_eq!(ask(&mut again, &[REQUEST_IDENTITIES]), Some(vec![6, 11]));
}

#[test]
fn long_socket_paths_are_bound_through_the_directory() {
    let t = tempfile::tempdir().unwrap();
    let _seen = fake_agent(&t.path().join("agent"));
    let deep = t.path().join("d".repeat(60)).join("e".repeat(60));
    std::fs::create_dir_all(&deep).unwrap();
    let socket = deep.join("step.sock");
    let _fwd = Forwarder::start(&socket, t.path().join("agent")).unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&socket).unwrap().file_type().is_socket());
}
