//! libpq's host selection over a real primary and standby: `target_session_attrs` over a
//! multi-host list, with pgvitals' own read-only session options in force.

use pgvitals::conninfo::ConnSpec;

use crate::common::{primary, standby};

/// Connects with `arg` and the session options pgvitals itself sends
/// (`default_transaction_read_only=on`, so read-write cannot be judged by the session's own
/// `transaction_read_only`); returns the port of the server reached, or the error.
async fn reached(arg: &str) -> Result<u16, String> {
    let spec = ConnSpec::parse_with(Some(arg), &|_| None, None).map_err(|e| e.to_string())?;
    let connector = spec
        .connector(&|c| {
            c.options("-c default_transaction_read_only=on");
        })
        .map_err(|e| e.to_string())?;
    let (client, _task) = connector.connect().await.map_err(|e| format!("{e:?}"))?;
    let port: String = client
        .query_one("SELECT current_setting('port')", &[])
        .await
        .map_err(|e| e.to_string())?
        .get(0);
    port.parse().map_err(|e| format!("{e}"))
}

#[tokio::test]
async fn target_session_attrs_picks_the_server_asked_for() {
    let (p, s) = (primary(), standby());
    let both = format!(
        "host={},{} port={},{} user=postgres dbname=postgres",
        s.socket_dir.display(),
        p.socket_dir.display(),
        s.port,
        p.port
    );
    // the standby is listed first: "any" takes it, read-write and primary skip it
    for (attrs, port) in [
        ("any", s.port),
        ("read-write", p.port),
        ("primary", p.port),
        ("read-only", s.port),
        ("standby", s.port),
        ("prefer-standby", s.port),
    ] {
        assert_eq!(
            reached(&format!("{both} target_session_attrs={attrs}")).await,
            Ok(port),
            "{attrs}"
        );
    }
    // listed the other way round, standby and prefer-standby still find the standby
    let reversed = format!(
        "host={},{} port={},{} user=postgres dbname=postgres",
        p.socket_dir.display(),
        s.socket_dir.display(),
        p.port,
        s.port
    );
    assert_eq!(
        reached(&format!("{reversed} target_session_attrs=prefer-standby")).await,
        Ok(s.port)
    );
    assert_eq!(
        reached(&format!("{reversed} target_session_attrs=read-write")).await,
        Ok(p.port)
    );
    // only the primary: standby fails with libpq's reason, prefer-standby settles for it
    let only_primary = format!(
        "host={} port={} user=postgres dbname=postgres",
        p.socket_dir.display(),
        p.port
    );
    let err = reached(&format!("{only_primary} target_session_attrs=standby"))
        .await
        .unwrap_err();
    assert!(err.contains("server is not in hot standby mode"), "{err}");
    assert_eq!(
        reached(&format!(
            "{only_primary} target_session_attrs=prefer-standby"
        ))
        .await,
        Ok(p.port)
    );
    let only_standby = format!(
        "host={} port={} user=postgres dbname=postgres",
        s.socket_dir.display(),
        s.port
    );
    let err = reached(&format!("{only_standby} target_session_attrs=read-write"))
        .await
        .unwrap_err();
    assert!(err.contains("session is read-only"), "{err}");
}
