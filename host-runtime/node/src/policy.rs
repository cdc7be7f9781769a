//! The expanding-search policy, from a TOML file: the steps a searcher
//! tries, narrowest first, each with its timeout, and the answer window.
//!
//! ```toml
//! window_cycles = 32      # after the first answer, wait this long for better ones
//! max_load = 200          # replicas above this load stay silent
//! areas = [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]  # optional
//! [[step]]
//! scope = "radius:1"      # mesh | row | column | quadrant, optionally ":<hop radius>", or area
//! timeout_cycles = 300
//! [[step]]
//! scope = "quadrant"
//! timeout_cycles = 400
//! [[step]]
//! scope = "mesh"
//! timeout_cycles = 800
//! ```

use replimesh_driver::SearchStep;
use replimesh_spec::service::SEARCH_STEPS;
use replimesh_spec::{Scope, ScopeMode};
use serde::Deserialize;

/// Why a policy was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Not TOML, or unknown keys.
    #[error("search policy: {0}")]
    Parse(#[from] toml::de::Error),
    /// A value out of range.
    #[error("search policy: {0}")]
    Invalid(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    window_cycles: Option<u16>,
    max_load: Option<u8>,
    areas: Option<Vec<Vec<u8>>>,
    step: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    scope: String,
    timeout_cycles: u32,
}

/// A checked policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPolicy {
    /// Steps, narrowest first.
    pub steps: Vec<SearchStep>,
    /// Answer window in cycles.
    pub window_cycles: u16,
    /// Largest load a replica may report and still answer.
    pub max_load: u8,
    /// Areas (regions of any shape, disjoint): an `area` step asks the
    /// searcher's own area. Each node installs, in its own router's group
    /// table, its part of every area member's multicast tree (group id =
    /// the member's node id), so no node configures another's router.
    pub areas: Vec<Vec<u8>>,
}

impl Default for SearchPolicy {
    /// One hop, then the quadrant, then the whole mesh.
    fn default() -> Self {
        let step = |mode, radius, timeout_cycles| SearchStep {
            scope: Scope { mode, radius },
            timeout_cycles,
            area: false,
        };
        SearchPolicy {
            steps: vec![
                step(ScopeMode::Mesh, 1, 300),
                step(ScopeMode::Quadrant, 0, 400),
                step(ScopeMode::Mesh, 0, 800),
            ],
            window_cycles: 24,
            max_load: 200,
            areas: vec![],
        }
    }
}

/// Parses `mesh | row | column | quadrant | radius` with an optional
/// `:<radius>` (1..=15), e.g. `quadrant`, `radius:2`, `row:3`.
pub fn parse_scope(text: &str) -> Result<Scope, PolicyError> {
    let (name, radius) = match text.split_once(':') {
        Some((n, r)) => {
            let r: u8 = r.trim().parse().map_err(|_| {
                PolicyError::Invalid(format!("scope '{text}': radius '{r}' is not a number"))
            })?;
            if !(1..=15).contains(&r) {
                return Err(PolicyError::Invalid(format!(
                    "scope '{text}': radius must be 1..=15"
                )));
            }
            (n.trim(), r)
        }
        None => (text.trim(), 0),
    };
    let mode = match name {
        "mesh" | "radius" => ScopeMode::Mesh,
        "row" => ScopeMode::Row,
        "column" => ScopeMode::Column,
        "quadrant" => ScopeMode::Quadrant,
        other => {
            return Err(PolicyError::Invalid(format!(
                "scope '{other}' is not one of mesh, radius:<n>, row, column, quadrant"
            )))
        }
    };
    if name == "radius" && radius == 0 {
        return Err(PolicyError::Invalid(
            "scope 'radius' needs a hop count, e.g. radius:1".into(),
        ));
    }
    Ok(Scope { mode, radius })
}

/// Names a step's scope the way the policy file writes it.
pub fn step_name(s: &SearchStep) -> String {
    if s.area {
        "area".into()
    } else {
        scope_name(s.scope)
    }
}

/// Names a scope the way [`parse_scope`] reads it.
pub fn scope_name(s: Scope) -> String {
    let mode = match s.mode {
        ScopeMode::Mesh if s.radius > 0 => return format!("radius:{}", s.radius),
        ScopeMode::Mesh => "mesh",
        ScopeMode::Row => "row",
        ScopeMode::Column => "column",
        ScopeMode::Quadrant => "quadrant",
    };
    if s.radius > 0 {
        format!("{mode}:{}", s.radius)
    } else {
        mode.to_string()
    }
}

impl SearchPolicy {
    /// The area holding `node`, if any.
    pub fn area_of(&self, node: u8) -> Option<&[u8]> {
        self.areas
            .iter()
            .find(|a| a.contains(&node))
            .map(|a| a.as_slice())
    }

    /// Parses and checks a policy file's text.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let raw: RawPolicy = toml::from_str(text)?;
        if raw.step.is_empty() || raw.step.len() > SEARCH_STEPS as usize {
            return Err(PolicyError::Invalid(format!(
                "{} steps given; a policy has 1..={SEARCH_STEPS}",
                raw.step.len()
            )));
        }
        let mut steps = vec![];
        for (i, s) in raw.step.iter().enumerate() {
            if s.timeout_cycles == 0 || s.timeout_cycles >= 1 << 24 {
                return Err(PolicyError::Invalid(format!(
                    "step {i}: timeout_cycles {} outside 1..16777216",
                    s.timeout_cycles
                )));
            }
            let area = s.scope.trim() == "area";
            steps.push(SearchStep {
                scope: if area {
                    Scope::MESH
                } else {
                    parse_scope(&s.scope)?
                },
                timeout_cycles: s.timeout_cycles,
                area,
            });
        }
        let areas = raw.areas.unwrap_or_default();
        let mut seen = std::collections::BTreeSet::new();
        for (i, a) in areas.iter().enumerate() {
            if a.is_empty() {
                return Err(PolicyError::Invalid(format!("area {i} is empty")));
            }
            for n in a {
                if *n as u32 >= replimesh_spec::GROUP_TABLE_ENTRIES {
                    return Err(PolicyError::Invalid(format!(
                        "area {i}: node {n} is past the {} multicast groups areas use",
                        replimesh_spec::GROUP_TABLE_ENTRIES
                    )));
                }
                if !seen.insert(*n) {
                    return Err(PolicyError::Invalid(format!(
                        "area {i}: node {n} is in two areas"
                    )));
                }
            }
        }
        if steps.iter().any(|s| s.area) && areas.is_empty() {
            return Err(PolicyError::Invalid(
                "an `area` step needs `areas = [[...], ...]`".into(),
            ));
        }
        Ok(SearchPolicy {
            steps,
            window_cycles: raw.window_cycles.unwrap_or(24),
            max_load: raw.max_load.unwrap_or(255),
            areas,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_file_parses() {
        let p = SearchPolicy::from_toml(
            "window_cycles = 8\n[[step]]\nscope = \"radius:1\"\ntimeout_cycles = 100\n[[step]]\nscope = \"mesh\"\ntimeout_cycles = 500\n",
        )
        .unwrap();
        assert_eq!(p.steps.len(), 2);
        assert_eq!(
            p.steps[0].scope,
            Scope {
                mode: ScopeMode::Mesh,
                radius: 1
            }
        );
        assert_eq!(p.window_cycles, 8);
        assert_eq!(scope_name(p.steps[0].scope), "radius:1");
    }

    #[test]
    fn bad_policies_say_why() {
        for (text, want) in [
            (
                "[[step]]\nscope = \"galaxy\"\ntimeout_cycles = 1\n",
                "not one of",
            ),
            (
                "[[step]]\nscope = \"row:99\"\ntimeout_cycles = 1\n",
                "1..=15",
            ),
            (
                "[[step]]\nscope = \"row\"\ntimeout_cycles = 0\n",
                "timeout_cycles",
            ),
            ("step = []\n", "1..=8"),
            (
                "[[step]]\nscope = \"row\"\ntimeout_cycles = 5\ncolour = 1\n",
                "unknown field",
            ),
        ] {
            let e = SearchPolicy::from_toml(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
