//! What an alert is about, in PostgreSQL's terms.

use std::cmp::Ordering;
use std::fmt;

use serde::{Serialize, Serializer};

/// What an alert is about. Its text (`Display`, and the JSON `subject` of `pgvitals
/// snapshot`) is `server`, `database app`, `table public.orders`, `pid 4242`,
/// `standby replica1` or `slot s1`.
///
/// Subjects order like their text, so lists of alerts keep the order they had when subjects
/// were strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The server as a whole (connections, unreachable, a standby's own replay).
    Server,
    /// A database, by `datname`.
    Database(String),
    /// A table of the current database.
    Table { schema: String, name: String },
    /// A backend, by pid.
    Backend(i32),
    /// A standby seen from its walsender, by [`crate::sample::Standby::display_name`].
    Standby(String),
    /// A replication slot, by `slot_name`.
    Slot(String),
    /// A pg_stat_statements entry, by `queryid`.
    Statement(i64),
}

impl Subject {
    /// A table by schema and name.
    pub fn table(schema: &str, name: &str) -> Subject {
        Subject::Table {
            schema: schema.to_string(),
            name: name.to_string(),
        }
    }

    /// The subject whose text ([`fmt::Display`]) is `text`, as a recording keeps it; `None`
    /// for a text no subject writes. A table's text splits at its first dot (a schema name
    /// with a dot reads back as another split of the same text).
    pub fn parse(text: &str) -> Option<Subject> {
        if text == "server" {
            return Some(Subject::Server);
        }
        let (kind, rest) = text.split_once(' ')?;
        Some(match kind {
            "database" => Subject::Database(rest.into()),
            "standby" => Subject::Standby(rest.into()),
            "slot" => Subject::Slot(rest.into()),
            "pid" => Subject::Backend(rest.parse().ok()?),
            "statement" => Subject::Statement(rest.parse().ok()?),
            "table" => {
                let (schema, name) = rest.split_once('.')?;
                Subject::table(schema, name)
            }
            _ => return None,
        })
    }

    /// The first word of the text.
    fn kind(&self) -> &'static str {
        match self {
            Subject::Server => "server",
            Subject::Database(_) => "database",
            Subject::Table { .. } => "table",
            Subject::Backend(_) => "pid",
            Subject::Standby(_) => "standby",
            Subject::Slot(_) => "slot",
            Subject::Statement(_) => "statement",
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind();
        match self {
            Subject::Server => f.write_str(kind),
            Subject::Database(name) | Subject::Standby(name) | Subject::Slot(name) => {
                write!(f, "{kind} {name}")
            }
            Subject::Table { schema, name } => write!(f, "{kind} {schema}.{name}"),
            Subject::Backend(pid) => write!(f, "{kind} {pid}"),
            Subject::Statement(queryid) => write!(f, "{kind} {queryid}"),
        }
    }
}

impl Serialize for Subject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Ord for Subject {
    /// The order of the texts (no kind word is a prefix of another, so different kinds
    /// order by that word), without formatting them; two tables whose texts are equal
    /// (`a.b` . `c` and `a` . `b.c`) then order by schema.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Subject::Server, Subject::Server) => Ordering::Equal,
            (Subject::Database(a), Subject::Database(b))
            | (Subject::Standby(a), Subject::Standby(b))
            | (Subject::Slot(a), Subject::Slot(b)) => a.cmp(b),
            // as text: "pid 10" before "pid 9"
            (Subject::Backend(a), Subject::Backend(b)) => a.to_string().cmp(&b.to_string()),
            (Subject::Statement(a), Subject::Statement(b)) => a.to_string().cmp(&b.to_string()),
            (
                Subject::Table { schema, name },
                Subject::Table {
                    schema: other_schema,
                    name: other_name,
                },
            ) => qualified(schema, name)
                .cmp(qualified(other_schema, other_name))
                .then_with(|| schema.cmp(other_schema)),
            _ => self.kind().cmp(other.kind()),
        }
    }
}

impl PartialOrd for Subject {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The bytes of `schema.name`.
fn qualified<'a>(schema: &'a str, name: &'a str) -> impl Iterator<Item = u8> + 'a {
    schema
        .bytes()
        .chain(std::iter::once(b'.'))
        .chain(name.bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Subject> {
        vec![
            Subject::Server,
            Subject::Database("app".into()),
            Subject::Database("app2".into()),
            Subject::table("public", "orders"),
            Subject::table("a-b", "z"),
            Subject::table("a", "z"),
            Subject::table("a_x", "c"),
            Subject::Backend(9),
            Subject::Backend(10),
            Subject::Backend(4242),
            Subject::Standby("replica1".into()),
            Subject::Slot("s1".into()),
            Subject::Slot("s".into()),
            Subject::Statement(-42),
            Subject::Statement(7),
        ]
    }

    #[test]
    fn every_text_reads_back_as_its_subject() {
        for s in all() {
            assert_eq!(Subject::parse(&s.to_string()), Some(s.clone()), "{s}");
        }
        let odd = Subject::Database("my db".into());
        assert_eq!(Subject::parse(&odd.to_string()), Some(odd));
        for bad in ["", "pid x", "table nodot", "user bob", "server x"] {
            assert_eq!(Subject::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn text_and_json_are_the_strings_of_before() {
        let texts: Vec<String> = all().iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "server",
                "database app",
                "database app2",
                "table public.orders",
                "table a-b.z",
                "table a.z",
                "table a_x.c",
                "pid 9",
                "pid 10",
                "pid 4242",
                "standby replica1",
                "slot s1",
                "slot s",
                "statement -42",
                "statement 7",
            ]
        );
        assert_eq!(
            serde_json::to_value(Subject::table("public", "orders")).expect("serializes"),
            serde_json::json!("table public.orders")
        );
    }

    #[test]
    fn subjects_order_like_their_text() {
        let mut by_subject = all();
        by_subject.sort();
        let mut by_text = all();
        by_text.sort_by_key(ToString::to_string);
        assert_eq!(by_subject, by_text);
        // equal texts, different tables: not equal, ordered by schema
        let (x, y) = (Subject::table("a.b", "c"), Subject::table("a", "b.c"));
        assert_eq!(x.to_string(), y.to_string());
        assert_eq!(y.cmp(&x), Ordering::Less);
    }
}
