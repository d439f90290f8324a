//! The processes of a traced or watched program: a root and everything it
//! forked, each given a role the first time it is seen (`main`, then `child-1`,
//! `child-2`, ... in order of discovery) that it keeps for the whole run.

use std::collections::BTreeMap;

use crate::probe::Probe;

/// Whether `pid` still runs (a zombie does not: it only waits to be reaped).
pub fn alive(probe: &dyn Probe, pid: i32) -> bool {
    probe
        .process_text(pid, "stat")
        .and_then(|s| super::wait::parse_state(&s))
        .is_some_and(|state| state != 'Z' && state != 'X')
}

/// One process of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its role (`main`, `child-1`).
    pub role: String,
    /// Its pid.
    pub pid: i32,
    /// The role of the process it was first seen under, if any.
    pub parent: Option<String>,
}

/// Every process seen so far, by pid, with the roles they were given.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    members: BTreeMap<i32, Member>,
    order: Vec<i32>,
}

impl Tree {
    /// A tree of one process, `main`.
    pub fn new(root: i32) -> Tree {
        let mut tree = Tree::default();
        tree.add(root, None);
        tree
    }

    fn add(&mut self, pid: i32, parent: Option<i32>) {
        if self.members.contains_key(&pid) {
            return;
        }
        let role = if self.order.is_empty() {
            "main".to_string()
        } else {
            format!("child-{}", self.order.len())
        };
        let parent = parent
            .and_then(|p| self.members.get(&p))
            .map(|m| m.role.clone());
        self.members.insert(pid, Member { role, pid, parent });
        self.order.push(pid);
    }

    /// Looks for new children of every live member (children of orphans too,
    /// since their parent's exit does not take them out of the tree), and returns
    /// the live members in order of discovery; `probe` reads /proc.
    pub fn refresh(&mut self, probe: &dyn Probe) -> Vec<Member> {
        let mut index = 0;
        while index < self.order.len() {
            let pid = self.order[index];
            if alive(probe, pid) {
                for child in probe.children(pid) {
                    self.add(child, Some(pid));
                }
            }
            index += 1;
        }
        self.live(probe)
    }

    /// The members that still run, in order of discovery.
    pub fn live(&self, probe: &dyn Probe) -> Vec<Member> {
        self.order
            .iter()
            .filter(|pid| alive(probe, **pid))
            .filter_map(|pid| self.members.get(pid).cloned())
            .collect()
    }

    /// Every member ever seen, in order of discovery.
    pub fn all(&self) -> impl Iterator<Item = &Member> {
        self.order.iter().filter_map(|pid| self.members.get(pid))
    }

    /// Every member with its pid and who forked it, for the record's
    /// `processes` note.
    pub fn describe(&self) -> String {
        self.all()
            .map(|m| match &m.parent {
                Some(p) => format!("{} pid {} (forked by {p})", m.role, m.pid),
                None => format!("{} pid {}", m.role, m.pid),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_captured_shell_and_its_two_children_are_a_tree() {
        let probe = crate::probe::traced();
        let mut tree = Tree::new(29687);
        let live = tree.refresh(&probe);
        let roles: Vec<(&str, i32, Option<&str>)> = live
            .iter()
            .map(|m| (m.role.as_str(), m.pid, m.parent.as_deref()))
            .collect();
        assert_eq!(
            roles,
            [
                ("main", 29687, None),
                ("child-1", 29691, Some("main")),
                ("child-2", 29692, Some("main")),
            ]
        );
        assert!(alive(&probe, 29689));
        assert!(!alive(&probe, 4), "no such process");
        assert_eq!(
            tree.describe(),
            "main pid 29687; child-1 pid 29691 (forked by main); child-2 pid 29692 (forked by main)"
        );
    }

    #[test]
    fn this_process_sees_a_child_it_started() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("start sleep");
        let me = std::process::id() as i32;
        let mut tree = Tree::new(me);
        let live = tree.refresh(&crate::probe::ProcProbe);
        let _ = child.kill();
        let _ = child.wait();
        let seen = live
            .iter()
            .find(|m| m.pid == child.id() as i32)
            .expect("child seen");
        assert!(seen.role.starts_with("child-"));
        assert_eq!(seen.parent.as_deref(), Some("main"));
        assert_eq!(live[0].role, "main");
    }
}
