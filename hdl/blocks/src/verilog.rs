//! Writing the mesh as Verilog: rust-hdl emits one module per instance; a text
//! pass merges byte-identical modules so a 4×4 mesh compiles as a handful of
//! modules instead of hundreds.

use crate::card::Card;
use crate::mesh::Mesh;
use crate::router_alone::RouterAlone;
use replimesh_spec::MeshGeometry;
use rust_hdl::prelude::*;
use std::collections::HashMap;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FabricParams {
    /// Mesh size.
    pub geometry: MeshGeometry,
    /// Flit width in bits: 32 or 64.
    pub flit_bits: u32,
    /// Input FIFO depth in flits.
    pub fifo_depth: usize,
    /// Routers with the fan-out logic (multicast, scoped broadcast,
    /// discovery requests); see `RouterParams::multicast`.
    pub multicast: bool,
}

impl FabricParams {
    /// The defaults for a mesh: 64-bit flits (a whole header per flit), 8-deep FIFOs.
    pub fn new(geometry: MeshGeometry) -> Self {
        Self {
            geometry,
            flit_bits: 64,
            fifo_depth: 8,
            multicast: true,
        }
    }
}

/// Name of the top module.
pub const TOP_MODULE: &str = "top";

/// Generates the mesh's Verilog, with duplicate modules merged.
pub fn generate_mesh_verilog(p: &FabricParams) -> String {
    let raw = match p.flit_bits {
        32 => {
            let mut m = Mesh::<32>::with_fanout(p.geometry, p.fifo_depth, p.multicast);
            m.connect_all();
            generate_verilog(&m)
        }
        64 => {
            let mut m = Mesh::<64>::with_fanout(p.geometry, p.fifo_depth, p.multicast);
            m.connect_all();
            generate_verilog(&m)
        }
        other => panic!("flit width {other} not supported (32 or 64)"),
    };
    merge_identical_modules(&raw)
}

/// Generates one block alone (for per-block lint and synthesis), through
/// the same merging and assignment isolation as the mesh.
pub fn generate_block_verilog<U: Block>(uut: &U) -> String {
    merge_identical_modules(&generate_verilog(uut))
}

/// Generates one router alone (top module `top`): the router of node (1, 1)
/// of `p.geometry`, every link and the configuration bus as ports. Same
/// `Router` code as the mesh; used for per-router area and Fmax.
pub fn generate_router_verilog(p: &FabricParams) -> String {
    match p.flit_bits {
        32 => {
            let mut r = RouterAlone::<32>::new(p.geometry, p.fifo_depth, p.multicast);
            r.connect_all();
            generate_block_verilog(&r)
        }
        64 => {
            let mut r = RouterAlone::<64>::new(p.geometry, p.fifo_depth, p.multicast);
            r.connect_all();
            generate_block_verilog(&r)
        }
        other => panic!("flit width {other} not supported (32 or 64)"),
    }
}

/// Generates the card (mesh plus one endpoint per node, 64-bit flits) as
/// Verilog, with duplicate modules merged. Top module `top`.
pub fn generate_card_verilog(geometry: MeshGeometry, fifo_depth: usize) -> String {
    let mut c = Card::new(geometry, fifo_depth);
    c.connect_all();
    generate_block_verilog(&c)
}

/// Splits Verilog text into `(name, body)` module chunks plus the preamble.
fn split_modules(text: &str) -> (String, Vec<(String, String)>) {
    let mut preamble = String::new();
    let mut modules = vec![];
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("module ") {
            let name = rest
                .split(|c: char| c == '(' || c.is_whitespace())
                .next()
                .unwrap_or_default()
                .to_string();
            current = Some((name, String::new()));
        }
        match current.as_mut() {
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {
                preamble.push_str(line);
                preamble.push('\n');
            }
        }
        if line.trim_start().starts_with("endmodule") {
            if let Some(m) = current.take() {
                modules.push(m);
            }
        }
    }
    (preamble, modules)
}

/// Replaces whole-word occurrences of module names per `renames`.
fn rename_refs(body: &str, renames: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(body.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if let Some(r) = renames.get(word.as_str()) {
            out.push_str(r);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in body.chars() {
        if c.is_alphanumeric() || c == '_' || c == '$' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Merges modules whose text, apart from their own name, is identical.
/// Children are merged first, so parents that differ only in which copy of a
/// child they instantiate become identical too; iterate to a fixed point.
pub fn merge_identical_modules(text: &str) -> String {
    let (preamble, mut modules) = split_modules(text);
    loop {
        let mut canon: HashMap<String, String> = HashMap::new();
        let mut renames: HashMap<String, String> = HashMap::new();
        for (name, body) in &modules {
            let key = body
                .replacen(&format!("module {name}"), "module _", 1)
                .replace(&format!("endmodule // {name}"), "endmodule");
            match canon.get(&key) {
                Some(first) => {
                    renames.insert(name.clone(), first.clone());
                }
                None => {
                    canon.insert(key, name.clone());
                }
            }
        }
        if renames.is_empty() {
            break;
        }
        modules = modules
            .into_iter()
            .filter(|(n, _)| !renames.contains_key(n))
            .map(|(n, b)| (n, rename_refs(&b, &renames)))
            .collect();
    }
    let mut out = String::from(LINT_WAIVERS);
    out.push_str(&preamble);
    for (name, body) in modules {
        let body = if name.contains(ENDPOINT_INSTANCE) {
            body
        } else {
            waive_single_vc(&isolate_assignments(&body))
        };
        // The module holding the routers: the top for a mesh, a child for a card.
        if name == TOP_MODULE || body.contains(" routers$") {
            out.push_str(&waive_edge_links(&body));
        } else {
            out.push_str(&body);
        }
    }
    out
}

/// Module-name fragment of everything inside a card's endpoints (the
/// `Card::eps` instances). Their modules are left without
/// [`ISOLATE`]: with it, Verilator 5.006 mis-simulated the engines (no
/// packet left node 1 of a 2×2 card), without it they lint clean and pass
/// the host-interface tests. Not understood yet; see CHANGELOG.
pub const ENDPOINT_INSTANCE: &str = "$eps$";

/// The Verilator attribute that splits a variable's assignments out of the
/// always block they sit in.
pub const ISOLATE: &str = "/*verilator isolate_assignments*/";

/// Marks every combinational `reg` (module outputs included) with
/// [`ISOLATE`].
///
/// rust-hdl writes each module's `update` as one `always @(*)` block, so a
/// parent that drives a child's inputs and reads its outputs in that block
/// forms a loop at block granularity even where no signal path loops (the
/// router's switch allocation: requests out, grants back). Verilator then
/// orders the blocks by guesswork (UNOPTFLAT) and can leave a value stale for
/// good: a router kept re-sending one flit that its input never saw granted
/// after a long ejection stall. Isolating each variable's assignments gives
/// Verilator the per-signal graph, which is acyclic, so the model is exact
/// and UNOPTFLAT needs no waiver. Synthesis tools read the attribute as a
/// comment.
///
/// Registers written with non-blocking assignments (`q <= d`, flip-flops)
/// are left alone: they cannot close a combinational loop. A name that only
/// appears in a `<=` comparison is skipped too; that errs on the safe side,
/// since any loop it leaves open fails the UNOPTFLAT lint.
pub fn isolate_assignments(body: &str) -> String {
    let clocked = nonblocking_targets(body);
    let mut out = String::with_capacity(body.len() + body.len() / 8);
    for line in body.lines() {
        let tagged = isolate_line(line).filter(|(_, name)| !clocked.contains(name.as_str()));
        match tagged {
            Some((text, _)) => out.push_str(&text),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Identifiers written on the left of `<=` anywhere in `body`.
fn nonblocking_targets(body: &str) -> std::collections::HashSet<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let mut names = std::collections::HashSet::new();
    for line in body.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("<=") {
            let before = rest[..at].trim_end();
            // Skip an index: `mem[addr] <= ...`.
            let before = match before.strip_suffix(']') {
                Some(b) => b.rsplit_once('[').map_or(b, |(head, _)| head).trim_end(),
                None => before,
            };
            let start = before
                .char_indices()
                .rev()
                .take_while(|(_, c)| ident(*c))
                .last()
                .map_or(before.len(), |(i, _)| i);
            if start < before.len() {
                names.insert(before[start..].to_string());
            }
            rest = &rest[at + 2..];
        }
    }
    names
}

/// `reg [7:0] name;` or `output reg name,` with the attribute before the
/// terminator; `None` for any other line (memories, wires, statements).
fn isolate_line(line: &str) -> Option<(String, String)> {
    let t = line.trim_start();
    let decl = t
        .strip_prefix("output reg ")
        .or_else(|| t.strip_prefix("reg "))?;
    let term = decl
        .trim_end()
        .chars()
        .last()
        .filter(|c| *c == ';' || *c == ',')?;
    let inner = decl.trim_end().strip_suffix(term)?.trim();
    // Optional range, then exactly one identifier.
    let name = match inner.strip_prefix('[') {
        Some(rest) => rest.split_once(']')?.1.trim(),
        None => inner,
    };
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    if name.is_empty() || !name.chars().all(ident) {
        return None;
    }
    let cut = line.rfind(term)?;
    Some((
        format!("{} {ISOLATE}{}", line[..cut].trim_end(), &line[cut..]),
        name.to_string(),
    ))
}

/// File-wide lint waivers, each with its reason. Everything else must pass
/// `verilator --lint-only -Wall`.
pub const LINT_WAIVERS: &str = "\
// Generated by replimesh-hdl from Rust (rust-hdl); do not edit.
// Lint waivers (see docs/architecture.md, \"Lint\"):
// DECLFILENAME: the whole fabric is one generated file.
// Every reg carries `verilator isolate_assignments` so Verilator sees the
// per-signal (acyclic) graph instead of rust-hdl's one-block-per-module
// false loops; UNOPTFLAT is not waived.
/* verilator lint_off DECLFILENAME */
";

/// Wires that carry VC1 where a port has one VC are unused by construction:
/// the local port's VC1 credit and VC wire (the host injects and takes one
/// stream), and the fan-out acquisition of a port's VC1 unit (fan-out
/// travels on VC0 only; `router::vc_port`). Waive exactly those
/// declarations.
const SINGLE_VC_WIRES: [&str; 4] = [
    " inputs$4$credit_out1;",
    " outputs$4$link_vc;",
    " vc1$fan_req;",
    " vc1$fan_take;",
];

fn waive_single_vc(body: &str) -> String {
    waive_unused(body, |t| {
        t.starts_with("wire") && SINGLE_VC_WIRES.iter().any(|w| t.ends_with(w))
    })
}

/// Mesh-edge routers have outward links that lead nowhere: their wires in the
/// top module are unused by construction. Waive exactly those declarations.
fn waive_edge_links(body: &str) -> String {
    waive_unused(body, |t| {
        // A router's outputs toward a mesh edge: its outgoing link wires
        // (but not the credit it receives) and the credit it returns.
        let tx = ["$n_tx$", "$e_tx$", "$s_tx$", "$w_tx$"];
        let rx = ["$n_rx$", "$e_rx$", "$s_rx$", "$w_rx$"];
        let router_out = t.contains("routers$")
            && ((tx.iter().any(|p| t.contains(p)) && !t.contains("$credit"))
                || (rx.iter().any(|p| t.contains(p)) && t.contains("$credit")));
        // Fault controls of links that do not exist (mesh-edge ports).
        let edge_fault = t.starts_with("input") && t.contains("faults$");
        (t.starts_with("wire") && router_out) || edge_fault
    })
}

/// Wraps every declaration line for which `is_unused` (given the line
/// without its indentation) holds in an UNUSEDSIGNAL waiver.
fn waive_unused(body: &str, is_unused: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(body.len() + 4096);
    for line in body.lines() {
        if is_unused(line.trim_start()) {
            out.push_str("/* verilator lint_off UNUSEDSIGNAL */ ");
            out.push_str(line);
            out.push_str(" /* verilator lint_on UNUSEDSIGNAL */\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolates_scalar_vector_and_output_regs_only() {
        let body = "    reg  [4:0] inputs$0$req;\n    output reg  credit;\n    reg x,\n    \
                    reg [63:0] mem [0:7];\n    wire [4:0] g;\n    reg_like = 1;\n";
        let out = isolate_assignments(body);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], format!("    reg  [4:0] inputs$0$req {ISOLATE};"));
        assert_eq!(lines[1], format!("    output reg  credit {ISOLATE};"));
        assert_eq!(lines[2], format!("    reg x {ISOLATE},"));
        assert_eq!(lines[3], "    reg [63:0] mem [0:7];");
        assert_eq!(lines[4], "    wire [4:0] g;");
        assert_eq!(lines[5], "    reg_like = 1;");
    }

    #[test]
    fn leaves_flip_flops_alone() {
        let body = "    output reg q;\n    reg [3:0] st;\n    reg c;\n\
                    always @(posedge clock) begin\n      q <= d;\n      if (reset) st <= 4'd0;\n   end\n\
                    always @(*) c = q;\n";
        let out = isolate_assignments(body);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "    output reg q;");
        assert_eq!(lines[1], "    reg [3:0] st;");
        assert_eq!(lines[2], format!("    reg c {ISOLATE};"));
    }
}
