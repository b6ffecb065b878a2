//! The `pgvitals` command line (being wired up; see the lead's notes).
fn main() {
    eprintln!("pgvitals: the command line is being wired up");
    std::process::exit(3);
}
