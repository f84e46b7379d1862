//! The control-plane store's conformance suite on SQLite, plus what only a file can show:
//! everything survives closing and reopening.

use doorman_store::control::conformance;
use doorman_store::{SqliteStore, Store};

#[test]
fn sqlite_passes_the_conformance_suite() {
    let dirs = std::cell::RefCell::new(Vec::new());
    conformance::run_all(&|| {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        dirs.borrow_mut().push(dir);
        Box::new(store) as Box<dyn Store>
    });
}

#[test]
fn records_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let store = SqliteStore::open(dir.path()).unwrap();
        // The busiest check leaves a bit of everything behind.
        for (name, check) in conformance::CHECKS {
            if *name == "installation_lifecycle" {
                check(&store);
            }
        }
        (
            store.properties(None).unwrap(),
            store.pending_outbox(1000).unwrap(),
        )
    };
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.properties(None).unwrap(), before.0);
    assert_eq!(store.pending_outbox(1000).unwrap(), before.1);
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join(doorman_store::control::CONTROL_DB_FILE))
        .unwrap();
    conn.execute("UPDATE schema_version SET version = version + 1", [])
        .unwrap();
    drop(conn);
    let e = SqliteStore::open(dir.path()).unwrap_err();
    assert!(e.to_string().contains("newer"), "{e}");
}
