//! The linearizability search on one key: Wing & Gong's depth-first search
//! with Lowe's just-in-time linearization and memo of (placed operations,
//! model state), extended to a nondeterministic model and to indeterminate
//! operations.
//!
//! A configuration is a set of placed operations and a model state. From
//! one, an operation can be placed next if it is not placed yet and was
//! invoked before every unplaced acknowledged operation returned (else that
//! one must come first). Indeterminate operations never return, so they
//! never block anything, and they need not be placed at all: the search
//! succeeds once every acknowledged operation is placed. Acknowledged
//! candidates are tried first (in invocation order), then indeterminate
//! ones: of each class of interchangeable calls, only its first unplaced
//! member (the others are the same call, invoked no earlier), and none that
//! presents a token the key has left behind for good.
//!
//! # Stranded configurations
//!
//! Tokens only grow: every transition keeps the key's least possible token
//! or raises it. An acknowledged operation that saw token `t` (a fresh grant:
//! got `t`, so the key's token was below it) can only be placed while that
//! least token is at most `t` (`ModelOp::last_token`). A configuration
//! whose state is past the bound of any unplaced acknowledged operation has
//! no way forward, and the search backs out of it at once instead of
//! trying every indeterminate operation that could be stacked on it (which
//! can never lower the token again).
//!
//! # Reads first
//!
//! When an acknowledged read (an operation that never writes: see
//! `ModelOp::is_read`) can be placed without changing the state, it is placed
//! at once and nothing else is tried from that configuration. This loses
//! nothing: take any successful order that places the read r later, at
//! state x, going to x'. Move r to the front. The operations before r's old
//! place are still placeable (one fewer unplaced operation can only relax
//! the real-time bound) and reach x as before; and a read leaves x as x'
//! with x' equal to x, x forgotten, or x with an unseen token bound. From x
//! the rest of the order still works: every operation may also act on the
//! forgotten state, and an unseen token allows whatever a bound one does.
//! Without this, a read concurrent with many writes multiplies the
//! configurations by the number of places it could go, which makes proving
//! a long history non-linearizable hopeless.

use super::prepare::Prepared;
use super::visited::{InfoCounts, Placed, Visited};
use crate::model::state::State;
use crate::model::step::successors;
use std::collections::HashSet;

/// How the search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Linearizable,
    /// Every order fails; `furthest` is where the search got furthest.
    NotLinearizable {
        furthest: Furthest,
    },
    /// More than the budget of configurations was needed.
    GaveUp {
        furthest: Furthest,
    },
}

/// The configuration that placed the most acknowledged operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Furthest {
    /// Acknowledged operations placed.
    pub placed: usize,
    /// The acknowledged operations that were candidates there (indices into
    /// `Prepared::oks`): none of them could be placed.
    pub blocked: Vec<usize>,
    pub state: State,
}

/// The search's result and how many configurations it stored.
pub fn search(p: &Prepared, acked: &HashSet<u64>, max_states: usize) -> (Found, usize) {
    search_with(p, acked, max_states, true)
}

/// [`search`], optionally without backing out of stranded configurations
/// (tests compare the two).
pub(super) fn search_with(
    p: &Prepared,
    acked: &HashSet<u64>,
    max_states: usize,
    prune_stranded: bool,
) -> (Found, usize) {
    let mut s = Search {
        p,
        acked,
        prune_stranded,
        placed_ok: vec![false; p.oks.len()],
        placed_in_class: vec![0; p.classes.len()],
        first_open: 0,
        placed: 0,
        infos_placed: Vec::new(),
        visited: Visited::default(),
        furthest: None,
    };
    let found = s.run(max_states);
    (found, s.visited.len())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    Ok(usize),
    Info(usize),
}

/// One configuration on the search path, and the moves left to try from it.
struct Frame {
    /// The move that led here (none for the root).
    via: Option<Pick>,
    moves: Vec<(Pick, State)>,
    next: usize,
}

struct Search<'a> {
    p: &'a Prepared,
    acked: &'a HashSet<u64>,
    prune_stranded: bool,
    placed_ok: Vec<bool>,
    /// How many members of each class of indeterminate operations are
    /// placed: always its first ones, in invocation order.
    placed_in_class: Vec<usize>,
    /// The first unplaced acknowledged operation (`oks.len()`: none).
    first_open: usize,
    /// Acknowledged operations placed.
    placed: usize,
    /// Indeterminate operations placed, in the order they were.
    infos_placed: Vec<usize>,
    visited: Visited,
    furthest: Option<Furthest>,
}

impl Search<'_> {
    fn run(&mut self, max_states: usize) -> Found {
        if self.p.oks.is_empty() {
            return Found::Linearizable;
        }
        let root = State::INITIAL;
        self.visited.insert(self.placed_key(root), Box::new([]));
        let mut stack = vec![Frame {
            via: None,
            moves: self.moves(root),
            next: 0,
        }];
        while let Some(top) = stack.last_mut() {
            let Some(&(pick, state)) = top.moves.get(top.next) else {
                if let Some(via) = stack.pop().and_then(|f| f.via) {
                    self.unplace(via);
                }
                continue;
            };
            top.next += 1;
            self.place(pick);
            if !self
                .visited
                .insert(self.placed_key(state), self.infos_key(state))
            {
                self.unplace(pick);
                continue;
            }
            if self.placed == self.p.oks.len() {
                return Found::Linearizable;
            }
            if self.visited.len() > max_states {
                return Found::GaveUp {
                    furthest: self.furthest.clone().unwrap_or_else(|| self.nowhere()),
                };
            }
            let moves = self.moves(state);
            stack.push(Frame {
                via: Some(pick),
                moves,
                next: 0,
            });
        }
        Found::NotLinearizable {
            furthest: self.furthest.clone().unwrap_or_else(|| self.nowhere()),
        }
    }

    fn nowhere(&self) -> Furthest {
        Furthest {
            placed: 0,
            blocked: Vec::new(),
            state: State::INITIAL,
        }
    }

    fn place(&mut self, pick: Pick) {
        match pick {
            Pick::Ok(j) => {
                self.placed_ok[j] = true;
                self.placed += 1;
                while self.placed_ok.get(self.first_open) == Some(&true) {
                    self.first_open += 1;
                }
            }
            Pick::Info(i) => {
                self.placed_in_class[self.p.infos[i].class as usize] += 1;
                self.infos_placed.push(i);
            }
        }
    }

    fn unplace(&mut self, pick: Pick) {
        match pick {
            Pick::Ok(j) => {
                self.placed_ok[j] = false;
                self.placed -= 1;
                self.first_open = self.first_open.min(j);
            }
            Pick::Info(i) => {
                self.placed_in_class[self.p.infos[i].class as usize] -= 1;
                self.infos_placed.pop();
            }
        }
    }

    /// The acknowledged operations placed, compactly, with the state.
    fn placed_key(&self, state: State) -> Placed {
        let after: Vec<u32> = self
            .open_window()
            .skip(1)
            .filter(|&j| self.placed_ok[j])
            .map(|j| j as u32)
            .collect();
        Placed {
            state,
            first_open: self.first_open as u32,
            placed_after: after.into_boxed_slice(),
        }
    }

    /// The first open acknowledged operation and those invoked before it
    /// returns (indices into `oks`; empty when all are placed). Every placed
    /// operation after the first open one is in it (it was placed before
    /// that one returned); past it, nothing is placed.
    fn open_window(&self) -> std::ops::Range<usize> {
        let oks = &self.p.oks;
        let Some(open) = oks.get(self.first_open) else {
            return self.first_open..self.first_open;
        };
        let end = oks[self.first_open..]
            .iter()
            .position(|op| op.invoke > open.ret)
            .map_or(oks.len(), |n| self.first_open + n);
        self.first_open..end
    }

    /// How many indeterminate operations of each class are placed, leaving
    /// out the classes that can never act again (their token is below the
    /// state's): whether they were placed makes no difference to what may
    /// follow.
    fn infos_key(&self, state: State) -> InfoCounts {
        let mut counts: Vec<(u32, u32)> = Vec::new();
        for &i in &self.infos_placed {
            let op = &self.p.infos[i];
            if !op.op.is_spent(state.token) && !counts.iter().any(|(c, _)| *c == op.class) {
                let n = self.placed_in_class[op.class as usize] as u32;
                counts.push((op.class, n));
            }
        }
        counts.sort_unstable();
        counts.into_boxed_slice()
    }

    /// Every (operation, next state) that can be placed from `state`, and
    /// notes the configuration if it is the furthest yet.
    fn moves(&mut self, state: State) -> Vec<(Pick, State)> {
        let oks = &self.p.oks;
        let mut deadline = usize::MAX;
        let mut candidates = Vec::new();
        for (j, op) in oks.iter().enumerate().skip(self.first_open) {
            if op.invoke > deadline {
                break;
            }
            if !self.placed_ok[j] {
                deadline = deadline.min(op.ret);
                candidates.push(j);
            }
        }
        self.note_furthest(state, &candidates);
        if self.prune_stranded && self.stranded(state) {
            return Vec::new();
        }
        // A read that can be placed here without changing the state is
        // placed at once, with no alternative (see "Reads first" above).
        if let Some(&j) = candidates.iter().find(|&&j| {
            let op = &oks[j].op;
            op.is_read() && successors(state, op, self.acked).iter().any(|s| s == state)
        }) {
            return vec![(Pick::Ok(j), state)];
        }
        let mut moves = Vec::new();
        for &j in &candidates {
            for next in successors(state, &oks[j].op, self.acked).iter() {
                moves.push((Pick::Ok(j), next));
            }
        }
        // The next member of each class, if it was invoked in time.
        for (class, members) in self.p.classes.iter().enumerate() {
            let Some(&i) = members.get(self.placed_in_class[class]) else {
                continue;
            };
            let op = &self.p.infos[i];
            if op.invoke > deadline || op.op.is_spent(state.token) {
                continue;
            }
            for next in successors(state, &op.op, self.acked).iter() {
                moves.push((Pick::Info(i), next));
            }
        }
        moves
    }

    /// Whether some acknowledged operation not placed yet saw a token the
    /// key has left behind (see "Stranded configurations" above): then no
    /// order from here can place it.
    fn stranded(&self, state: State) -> bool {
        let lowest = state.token.lowest();
        let window = self.open_window();
        let end = window.end;
        window
            .filter(|&j| !self.placed_ok[j])
            .any(|j| self.p.oks[j].op.last_token().is_some_and(|t| t < lowest))
            || self.p.last_token_from[end] < lowest
    }

    fn note_furthest(&mut self, state: State, candidates: &[usize]) {
        if self
            .furthest
            .as_ref()
            .is_none_or(|f| self.placed > f.placed)
        {
            self.furthest = Some(Furthest {
                placed: self.placed,
                blocked: candidates.to_vec(),
                state,
            });
        }
    }
}
