//! The lock tree: who waits on whom, built from each session's `pg_blocking_pids()`
//! ([`Session::blocked_by`]). Pure data (pids, wait times, chains); the activity panel draws
//! it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::sample::Session;

/// One session in the lock tree with every session waiting behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct LockNode {
    pub pid: i32,
    /// Seconds this session has been waiting (`query_age_s` of a blocked session); `None` for
    /// a session that waits on nobody.
    pub wait_s: Option<f64>,
    /// The pid is in the sessions list (a blocker can be a backend we do not see: another
    /// role's session without pg_read_all_stats, a background process, a prepared
    /// transaction).
    pub known: bool,
    /// The pid already appears above on this chain: a cycle (a deadlock until the detector
    /// ends it). Not expanded further.
    pub cycle: bool,
    /// The sessions waiting on this one, longest wait first.
    pub waiters: Vec<LockNode>,
}

impl LockNode {
    /// How many nodes hang below this one (all levels).
    pub fn behind(&self) -> usize {
        self.waiters.iter().map(|w| 1 + w.behind()).sum()
    }
}

/// More nodes than this are not built (a pathological fan-out must not stall the screen).
pub const MAX_NODES: usize = 2000;

/// Build the lock forest from each session's `blocked_by`: every root blocker (a session
/// that blocks others and waits on nobody, or, when every blocker waits, one member of the
/// cycle) with the whole chain of sessions waiting behind it, recursively. A waiter blocked
/// by several sessions appears under each of them. Roots are ordered by the number of
/// sessions behind them, then pid. Empty when nobody waits on a lock.
pub fn lock_tree(sessions: &[Session]) -> Vec<LockNode> {
    let by_pid: HashMap<i32, &Session> = sessions.iter().map(|s| (s.pid, s)).collect();
    let waiters_of = waiters_by_blocker(sessions, &by_pid);
    let mut forest = Forest {
        by_pid: &by_pid,
        waiters_of: &waiters_of,
        visited: BTreeSet::new(),
        nodes: 0,
    };
    let mut roots = forest.free_roots();
    forest.cycle_roots(&mut roots);
    roots.sort_by(|a, b| b.behind().cmp(&a.behind()).then(a.pid.cmp(&b.pid)));
    roots
}

/// Seconds `pid` has waited: the query age of a known session that is blocked.
fn wait_of(by_pid: &HashMap<i32, &Session>, pid: i32) -> Option<f64> {
    by_pid
        .get(&pid)
        .filter(|s| !s.blocked_by.is_empty())
        .and_then(|s| s.query_age_s.get())
}

/// Every blocker with the pids waiting on it (each once), longest wait first, then pid.
fn waiters_by_blocker(
    sessions: &[Session],
    by_pid: &HashMap<i32, &Session>,
) -> BTreeMap<i32, Vec<i32>> {
    let mut waiters_of: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for s in sessions {
        let mut seen = BTreeSet::new();
        for &b in &s.blocked_by {
            if seen.insert(b) {
                waiters_of.entry(b).or_default().push(s.pid);
            }
        }
    }
    for ws in waiters_of.values_mut() {
        ws.sort_by(|a, b| {
            wait_of(by_pid, *b)
                .unwrap_or(0.0)
                .total_cmp(&wait_of(by_pid, *a).unwrap_or(0.0))
                .then(a.cmp(b))
        });
    }
    waiters_of
}

/// The forest being built: which pids were reached, and how many nodes were built.
struct Forest<'a> {
    by_pid: &'a HashMap<i32, &'a Session>,
    waiters_of: &'a BTreeMap<i32, Vec<i32>>,
    visited: BTreeSet<i32>,
    nodes: usize,
}

impl Forest<'_> {
    /// The trees of the blockers that wait on nobody.
    fn free_roots(&mut self) -> Vec<LockNode> {
        let waiters_of = self.waiters_of;
        let mut roots = Vec::new();
        for &pid in waiters_of.keys() {
            let is_blocked = self
                .by_pid
                .get(&pid)
                .is_some_and(|s| !s.blocked_by.is_empty());
            if !is_blocked {
                roots.push(self.build(pid, &mut Vec::new()));
            }
        }
        roots
    }

    /// Blockers not reached from a free root wait in a cycle (or behind one): add a tree
    /// from a member of each such cycle.
    fn cycle_roots(&mut self, roots: &mut Vec<LockNode>) {
        loop {
            let waiters_of = self.waiters_of;
            let Some(&start) = waiters_of.keys().find(|p| !self.visited.contains(p)) else {
                break;
            };
            let root = self.cycle_member(start);
            roots.push(self.build(root, &mut Vec::new()));
            if self.nodes >= MAX_NODES {
                break;
            }
        }
    }

    /// A member of the cycle above `start`, found by walking up the first blocker until a pid
    /// repeats (or the walk leaves the known, unvisited sessions).
    fn cycle_member(&self, start: i32) -> i32 {
        let mut walk = vec![start];
        let mut cur = start;
        loop {
            let next = self
                .by_pid
                .get(&cur)
                .and_then(|s| s.blocked_by.first().copied());
            match next {
                Some(n) if walk.contains(&n) => return n,
                Some(n) if self.by_pid.contains_key(&n) && !self.visited.contains(&n) => {
                    walk.push(n);
                    cur = n;
                }
                _ => return cur,
            }
        }
    }

    /// The node of `pid` with everything waiting behind it; `path` holds the pids above it
    /// on this chain (a waiter already on it is a cycle, not expanded).
    fn build(&mut self, pid: i32, path: &mut Vec<i32>) -> LockNode {
        self.visited.insert(pid);
        self.nodes += 1;
        let mut node = self.leaf(pid, false);
        path.push(pid);
        let waiters_of = self.waiters_of;
        for &w in waiters_of.get(&pid).into_iter().flatten() {
            if self.nodes >= MAX_NODES {
                break;
            }
            if path.contains(&w) {
                self.nodes += 1;
                node.waiters.push(self.leaf(w, true));
            } else {
                let child = self.build(w, path);
                node.waiters.push(child);
            }
        }
        path.pop();
        node
    }

    /// The node of `pid` without waiters.
    fn leaf(&self, pid: i32, cycle: bool) -> LockNode {
        LockNode {
            pid,
            wait_s: wait_of(self.by_pid, pid),
            known: self.by_pid.contains_key(&pid),
            cycle,
            waiters: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pid: i32, blocked_by: &[i32], wait: f64) -> Session {
        Session {
            pid,
            state: Some("active".into()),
            blocked_by: blocked_by.to_vec(),
            query_age_s: Some(wait).into(),
            ..Default::default()
        }
    }

    fn pids(n: &LockNode) -> Vec<i32> {
        n.waiters.iter().map(|w| w.pid).collect()
    }

    /// Every node, depth first.
    fn all(roots: &[LockNode]) -> Vec<&LockNode> {
        fn walk<'a>(n: &'a LockNode, out: &mut Vec<&'a LockNode>) {
            out.push(n);
            for w in &n.waiters {
                walk(w, out);
            }
        }
        let mut out = Vec::new();
        for r in roots {
            walk(r, &mut out);
        }
        out
    }

    #[test]
    fn a_chain_is_one_root_with_the_whole_chain_below() {
        let tree = lock_tree(&[s(1, &[], 100.0), s(2, &[1], 50.0), s(3, &[2], 20.0)]);
        assert_eq!(tree.len(), 1);
        let root = &tree[0];
        assert_eq!(root.pid, 1);
        assert_eq!(root.wait_s, None, "the root waits on nobody");
        assert_eq!(pids(root), vec![2]);
        assert_eq!(root.waiters[0].wait_s, Some(50.0));
        assert_eq!(pids(&root.waiters[0]), vec![3]);
        assert_eq!(root.waiters[0].waiters[0].wait_s, Some(20.0));
        assert_eq!(root.behind(), 2);
    }

    #[test]
    fn fan_out_lists_waiters_longest_wait_first() {
        let tree = lock_tree(&[
            s(1, &[], 100.0),
            s(2, &[1], 5.0),
            s(3, &[1], 60.0),
            s(4, &[1], 30.0),
            s(5, &[], 1.0),
        ]);
        assert_eq!(tree.len(), 1, "an unrelated session is no root");
        assert_eq!(pids(&tree[0]), vec![3, 4, 2]);
    }

    #[test]
    fn a_cycle_gets_a_root_and_is_not_expanded_forever() {
        // 2 and 3 wait on each other; 4 waits behind 3
        let tree = lock_tree(&[s(2, &[3], 10.0), s(3, &[2], 12.0), s(4, &[3], 5.0)]);
        assert_eq!(tree.len(), 1);
        let root = &tree[0];
        assert!(root.pid == 2 || root.pid == 3);
        let flat = all(&tree);
        assert!(flat.iter().any(|n| n.cycle), "the back edge is marked");
        assert!(flat.iter().any(|n| n.pid == 4));
        assert!(flat.len() <= 5);
    }

    #[test]
    fn a_blocker_missing_from_the_sessions_is_a_root_marked_unknown() {
        let tree = lock_tree(&[s(2, &[999], 40.0), s(3, &[2], 10.0)]);
        assert_eq!(tree.len(), 1);
        assert_eq!(tree[0].pid, 999);
        assert!(!tree[0].known);
        assert_eq!(pids(&tree[0]), vec![2]);
        assert_eq!(pids(&tree[0].waiters[0]), vec![3]);
    }

    #[test]
    fn a_waiter_with_two_blockers_appears_under_both_and_roots_order_by_size() {
        let tree = lock_tree(&[
            s(1, &[], 0.0),
            s(2, &[], 0.0),
            s(3, &[1, 2], 9.0),
            s(4, &[2], 3.0),
        ]);
        assert_eq!(tree.iter().map(|n| n.pid).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(pids(&tree[0]), vec![3, 4]);
        assert_eq!(pids(&tree[1]), vec![3]);
    }

    #[test]
    fn no_blocking_no_tree() {
        assert!(lock_tree(&[s(1, &[], 1.0), s(2, &[], 2.0)]).is_empty());
    }

    #[test]
    fn a_huge_fan_out_stops_at_the_node_cap() {
        let mut sessions = vec![s(1, &[], 0.0)];
        sessions.extend((2..MAX_NODES as i32 + 100).map(|p| s(p, &[1], 1.0)));
        let tree = lock_tree(&sessions);
        assert_eq!(all(&tree).len(), MAX_NODES);
    }
}
