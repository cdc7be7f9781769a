//! Typed access to the endpoint's service block: the presence table, the
//! reroute rules, the expanding-search engine, quarantine and the service
//! counters. Offsets and field positions come from the spec; every value is
//! checked here before it is written (the card checks again and counts what
//! it rejects).

use crate::blocks::read_checked;
use crate::{Device, DriverError, Endpoint};
use replimesh_regs::regmap::{self as r, TableReg};
use replimesh_spec::regmap::{self as spec, service as sr, RegField, TableSpec};
use replimesh_spec::service::{SearchState, SEARCH_STEPS, SERVICE_ENTRIES};
use replimesh_spec::{NodeId, Scope};

/// A service id: 1..=63 (0 means "no service").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(u8);

impl ServiceId {
    /// A service id, or an error naming the valid range.
    pub fn new(id: u32) -> Result<Self, DriverError> {
        if id == 0 || id >= SERVICE_ENTRIES {
            return Err(DriverError::BadServiceId(id));
        }
        Ok(ServiceId(id as u8))
    }
    /// The id.
    pub fn get(self) -> u8 {
        self.0
    }
    /// Every valid id.
    pub fn all() -> impl Iterator<Item = ServiceId> {
        (1..SERVICE_ENTRIES as u8).map(ServiceId)
    }
}

impl core::fmt::Display for ServiceId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One presence table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Presence {
    /// This node hosts the service.
    pub present: bool,
    /// It takes new requests.
    pub accepting: bool,
    /// Load reported in discovery answers.
    pub load: u8,
}

/// One reroute rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Rule {
    /// The rule addresses `service_request` packets.
    pub valid: bool,
    /// Replica node.
    pub primary: u8,
    /// Replica used when the primary refuses or is quarantined.
    pub fallback: Option<u8>,
    /// The hardware switched to the fallback.
    pub use_fallback: bool,
}

impl Rule {
    /// The replica packets go to now (ignoring quarantine).
    pub fn current(&self) -> Option<u8> {
        if !self.valid {
            return None;
        }
        Some(match (self.use_fallback, self.fallback) {
            (true, Some(f)) => f,
            _ => self.primary,
        })
    }
}

/// One step of the expanding search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchStep {
    /// Where the discovery request goes.
    pub scope: Scope,
    /// Cycles to wait for a first answer.
    pub timeout_cycles: u32,
    /// Ask the searcher's area instead of `scope`: the request goes as a
    /// multicast to group `node id`, whose tree the nodes installed in their
    /// routers (`replimesh-node`'s areas).
    pub area: bool,
}

/// What the search engine reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchStatus {
    /// State.
    pub state: SearchState,
    /// Step that found the replica (or the last tried).
    pub step: u8,
    /// Answers accepted.
    pub answers: u8,
    /// Least loaded replica and its load.
    pub best: Option<(u8, u8)>,
    /// Second least loaded.
    pub second: Option<(u8, u8)>,
    /// Cycles from start to result (so far, while running).
    pub cycles: u32,
}

fn get(f: Option<&RegField>, v: u32) -> u32 {
    f.expect("field in the spec").get(v)
}

fn put(f: Option<&RegField>, v: u32, x: u32) -> u32 {
    f.expect("field in the spec")
        .set(v, x)
        .expect("value checked to fit")
}

fn entry(t: &'static TableSpec, i: u32) -> Result<TableReg, DriverError> {
    TableReg::new(&spec::SERVICE_BLOCK, t, i).ok_or(DriverError::BadServiceId(i))
}

impl<D: Device> Endpoint<D> {
    fn svc_base(&self) -> Result<replimesh_regs::BarOffset, DriverError> {
        Ok(self.blocks().find_spec(&spec::SERVICE_BLOCK)?.base)
    }

    fn read_entry(&mut self, e: TableReg) -> Result<u32, DriverError> {
        let at = e.at(self.svc_base()?);
        read_checked(self.device(), at)
    }

    fn write_entry(&mut self, e: TableReg, v: u32) -> Result<(), DriverError> {
        let at = e.at(self.svc_base()?);
        self.device().write32(at, v)
    }

    fn nodes(&self) -> u32 {
        let i = self.info();
        i.width * i.height
    }

    fn check_node(&self, node: u8) -> Result<(), DriverError> {
        if (node as u32) < self.nodes() {
            Ok(())
        } else {
            Err(DriverError::BadNode {
                node,
                nodes: self.nodes(),
            })
        }
    }

    /// Writes the presence entry of `svc`.
    pub fn set_presence(&mut self, svc: ServiceId, p: Presence) -> Result<(), DriverError> {
        let t = &sr::PRESENCE;
        let mut v = put(t.field("present"), 0, p.present as u32);
        v = put(t.field("accepting"), v, p.accepting as u32);
        v = put(t.field("load"), v, p.load as u32);
        self.write_entry(entry(t, svc.get() as u32)?, v)
    }

    /// Reads the presence entry of `svc`.
    pub fn presence(&mut self, svc: ServiceId) -> Result<Presence, DriverError> {
        let t = &sr::PRESENCE;
        let v = self.read_entry(entry(t, svc.get() as u32)?)?;
        Ok(Presence {
            present: get(t.field("present"), v) != 0,
            accepting: get(t.field("accepting"), v) != 0,
            load: get(t.field("load"), v) as u8,
        })
    }

    /// Writes the rule of `svc` in one register write (atomic for the
    /// hardware). Nodes outside the mesh are refused here.
    pub fn set_rule(&mut self, svc: ServiceId, rule: Rule) -> Result<(), DriverError> {
        self.check_node(rule.primary)?;
        if let Some(f) = rule.fallback {
            self.check_node(f)?;
        }
        self.write_entry(entry(&sr::RULES, svc.get() as u32)?, encode_rule(rule))
    }

    /// Reads the rule of `svc`.
    pub fn rule(&mut self, svc: ServiceId) -> Result<Rule, DriverError> {
        let v = self.read_entry(entry(&sr::RULES, svc.get() as u32)?)?;
        Ok(decode_rule(v))
    }

    /// Writes the expanding-search policy (1..=8 steps, narrowest first) and
    /// the answer window.
    pub fn set_search_policy(
        &mut self,
        steps: &[SearchStep],
        window_cycles: u16,
    ) -> Result<(), DriverError> {
        if steps.is_empty() || steps.len() > SEARCH_STEPS as usize {
            return Err(DriverError::BadPolicy(format!(
                "{} steps; a policy has 1..={SEARCH_STEPS}",
                steps.len()
            )));
        }
        let t = &sr::POLICY;
        for (i, s) in steps.iter().enumerate() {
            let scope = s.scope.encode().ok_or_else(|| {
                DriverError::BadPolicy(format!("step {i}: radius {} past 15", s.scope.radius))
            })?;
            if s.timeout_cycles >= 1 << 24 || s.timeout_cycles == 0 {
                return Err(DriverError::BadPolicy(format!(
                    "step {i}: timeout {} cycles outside 1..2^24",
                    s.timeout_cycles
                )));
            }
            if s.area && self.node_id().0 as u32 >= replimesh_spec::GROUP_TABLE_ENTRIES {
                return Err(DriverError::BadPolicy(format!(
                    "step {i}: area steps use group `node id`; node {} is past the {} groups",
                    self.node_id().0,
                    replimesh_spec::GROUP_TABLE_ENTRIES
                )));
            }
            let mut v = put(t.field("scope"), 0, scope as u32);
            v = put(t.field("area"), v, s.area as u32);
            v = put(t.field("timeout_cycles"), v, s.timeout_cycles);
            self.write_entry(entry(t, i as u32)?, v)?;
        }
        let c = &sr::SEARCH_CONFIG;
        let mut v = put(c.field("steps"), 0, steps.len() as u32);
        v = put(c.field("window_cycles"), v, window_cycles as u32);
        self.write(r::SVC_SEARCH_CONFIG, v)
    }

    /// Starts an expanding search for `svc` among replicas whose load is at
    /// most `max_load`; with `install` the card writes the rule itself.
    pub fn start_search(
        &mut self,
        svc: ServiceId,
        max_load: u8,
        install: bool,
    ) -> Result<(), DriverError> {
        let st = self.search_status()?;
        if st.state == SearchState::Running {
            return Err(DriverError::SearchRunning);
        }
        let f = &sr::SEARCH_START;
        let mut v = put(f.field("service"), 0, svc.get() as u32);
        v = put(f.field("max_load"), v, max_load as u32);
        v = put(f.field("install"), v, install as u32);
        self.write(r::SVC_SEARCH_START, v)
    }

    /// Reads the search engine's state and result.
    pub fn search_status(&mut self) -> Result<SearchStatus, DriverError> {
        let s = self.read(r::SVC_SEARCH_STATUS)?;
        let res = self.read(r::SVC_SEARCH_RESULT)?;
        let cycles = self.read(r::SVC_SEARCH_CYCLES)?;
        let st = &sr::SEARCH_STATUS;
        let rs = &sr::SEARCH_RESULT;
        let state = SearchState::from_code(get(st.field("state"), s));
        let found = state == SearchState::Found;
        let has_second = get(st.field("has_second"), s) != 0;
        Ok(SearchStatus {
            state,
            step: get(st.field("step"), s) as u8,
            answers: get(st.field("answers"), s) as u8,
            best: found.then(|| {
                (
                    get(rs.field("node"), res) as u8,
                    get(rs.field("load"), res) as u8,
                )
            }),
            second: (found && has_second).then(|| {
                (
                    get(rs.field("second_node"), res) as u8,
                    get(rs.field("second_load"), res) as u8,
                )
            }),
            cycles,
        })
    }

    /// Polls the search engine every `poll_cycles` until its search ends;
    /// [`DriverError::Timeout`] after `max_cycles`.
    pub fn wait_search(
        &mut self,
        max_cycles: u64,
        poll_cycles: u64,
    ) -> Result<SearchStatus, DriverError> {
        let start = self.device().now();
        loop {
            let st = self.search_status()?;
            if st.state != SearchState::Running {
                return Ok(st);
            }
            let waited = self.device().now().saturating_sub(start);
            if waited >= max_cycles {
                return Err(DriverError::Timeout {
                    what: "the end of a search",
                    cycles: waited,
                });
            }
            self.device().advance_time(poll_cycles.max(1))?;
        }
    }

    /// Nodes this endpoint holds quarantined.
    pub fn quarantined(&mut self) -> Result<Vec<u8>, DriverError> {
        let mut out = vec![];
        let base = self.svc_base()?;
        for (k, reg) in sr::QUARANTINE.iter().enumerate() {
            let w = read_checked(self.device(), base.add(reg.offset))?;
            for b in 0..32 {
                if w >> b & 1 != 0 {
                    out.push((32 * k + b) as u8);
                }
            }
        }
        Ok(out)
    }

    /// Every register of the service block, by name (counters included).
    pub fn service_registers(&mut self) -> Result<Vec<(&'static str, u32)>, DriverError> {
        let mut out = vec![];
        for reg in r::service_regs() {
            out.push((reg.spec.name, self.read(reg)?));
        }
        Ok(out)
    }

    /// Restarts the host's liveness lease.
    pub fn heartbeat(&mut self) -> Result<(), DriverError> {
        self.write(r::SVC_HEARTBEAT, 1)
    }

    /// Sets the host liveness lease (0: off).
    pub fn set_lease(&mut self, cycles: u32) -> Result<(), DriverError> {
        self.write(r::SVC_LEASE_CYCLES, cycles)
    }

    /// The node id this endpoint belongs to, checked against the card.
    pub fn node_id(&self) -> NodeId {
        self.info().node
    }
}

/// The register word of `rule`.
pub fn encode_rule(rule: Rule) -> u32 {
    let t = &sr::RULES;
    let mut v = put(t.field("valid"), 0, rule.valid as u32);
    v = put(t.field("use_fallback"), v, rule.use_fallback as u32);
    v = put(t.field("has_fallback"), v, rule.fallback.is_some() as u32);
    v = put(t.field("primary"), v, rule.primary as u32);
    put(t.field("fallback"), v, rule.fallback.unwrap_or(0) as u32)
}

/// The rule in a register word.
pub fn decode_rule(v: u32) -> Rule {
    let t = &sr::RULES;
    Rule {
        valid: get(t.field("valid"), v) != 0,
        primary: get(t.field("primary"), v) as u8,
        fallback: (get(t.field("has_fallback"), v) != 0).then(|| get(t.field("fallback"), v) as u8),
        use_fallback: get(t.field("use_fallback"), v) != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_ids_are_checked() {
        assert!(ServiceId::new(0).is_err());
        assert!(ServiceId::new(64).is_err());
        assert_eq!(ServiceId::new(63).unwrap().get(), 63);
        assert_eq!(ServiceId::all().count(), 63);
    }

    #[test]
    fn rules_round_trip() {
        for rule in [
            Rule::default(),
            Rule {
                valid: true,
                primary: 5,
                fallback: Some(10),
                use_fallback: true,
            },
            Rule {
                valid: true,
                primary: 255,
                fallback: None,
                use_fallback: false,
            },
        ] {
            assert_eq!(decode_rule(encode_rule(rule)), rule);
        }
        let r = decode_rule(encode_rule(Rule {
            valid: true,
            primary: 1,
            fallback: Some(2),
            use_fallback: true,
        }));
        assert_eq!(r.current(), Some(2));
    }
}
