//! Cycle behaviour of the small blocks in rust-hdl's own simulator (the
//! fabric as a whole is tested on the generated Verilog in Verilator), and
//! each block's Verilog alone through `verilator --lint-only -Wall`.

use replimesh_hdl::common::arbiter::RoundRobin5;
use replimesh_hdl::common::fifo::{FlitFifo, TagFifo};
use replimesh_hdl::verilog::generate_block_verilog;
use rust_hdl::prelude::*;
use std::collections::VecDeque;

const DEPTH: usize = 8;

/// A tiny deterministic generator, so the testbench closure needs no RNG crate.
fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

#[test]
fn fifo_matches_a_queue_under_random_push_pop_and_discards_when_full() {
    let mut uut = FlitFifo::<32>::new(DEPTH);
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<FlitFifo<32>>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<FlitFifo<32>>| {
        let mut x = sim.init()?;
        x.reset.next = true;
        wait_clock_cycles!(sim, clock, x, 2);
        x.reset.next = false;
        let mut model: VecDeque<(u32, bool)> = VecDeque::new();
        let mut seed = 5u64;
        let mut overflows = 0;
        for i in 0..2000u32 {
            // What the FIFO shows must be the model's head.
            sim_assert_eq!(sim, x.empty.val(), model.is_empty(), x);
            if let Some(&(data, last)) = model.front() {
                sim_assert_eq!(sim, x.head_data.val(), Bits::<32>::from(data as u64), x);
                sim_assert_eq!(sim, x.head_last.val(), last, x);
            }
            // Phases: fill past full, then drain, then mixed.
            let r = lcg(&mut seed);
            let (push, pop) = match (i / 200) % 3 {
                0 => (!r.is_multiple_of(4), r.is_multiple_of(8)),
                1 => (r.is_multiple_of(8), !r.is_multiple_of(4)),
                _ => (r.is_multiple_of(2), (r >> 1).is_multiple_of(2)),
            };
            let data = lcg(&mut seed) as u32;
            let last = data & 1 == 1;
            x.push.next = push;
            x.push_data.next = (data as u64).to_bits();
            x.push_last.next = last;
            x.pop.next = pop;
            let full = model.len() == DEPTH;
            wait_clock_cycle!(sim, clock, x);
            if pop {
                model.pop_front();
            }
            if push && full {
                overflows += 1;
            } else if push {
                model.push_back((data, last));
            }
        }
        sim_assert!(sim, overflows > 10, x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 100_000).unwrap();
}

/// The router's input FIFO: both tags travel with their flit; the second
/// tag is written only while `b_enable` is high (a router without fan-out
/// logic never writes it, so synthesis removes its RAM).
#[test]
fn tag_fifo_keeps_tags_with_their_flits_and_b_only_when_enabled() {
    let mut uut = TagFifo::<32, 14, 12>::new(DEPTH);
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<TagFifo<32, 14, 12>>| {
        x.clock.next = !x.clock.val()
    });
    sim.add_testbench(move |mut sim: Sim<TagFifo<32, 14, 12>>| {
        let mut x = sim.init()?;
        x.reset.next = true;
        wait_clock_cycles!(sim, clock, x, 2);
        x.reset.next = false;
        // (data, tag a, tag b as it must read back)
        let mut model: VecDeque<(u32, u64, u64)> = VecDeque::new();
        // What each slot's b RAM holds: unwritten pushes leave it alone.
        let mut slot_b = [0u64; DEPTH];
        let mut wr = 0usize;
        let mut seed = 11u64;
        let mut b_seen = 0;
        for i in 0..1500u32 {
            sim_assert_eq!(sim, x.empty.val(), model.is_empty(), x);
            if let Some(&(data, a, b)) = model.front() {
                sim_assert_eq!(sim, x.head_data.val(), Bits::<32>::from(data as u64), x);
                sim_assert_eq!(sim, x.head_a.val(), Bits::<14>::from(a), x);
                sim_assert_eq!(sim, x.head_b.val(), Bits::<12>::from(b), x);
                b_seen += 1;
            }
            let r = lcg(&mut seed);
            let push = !r.is_multiple_of(3);
            let pop = (r >> 2).is_multiple_of(2);
            let data = lcg(&mut seed) as u32;
            let a = lcg(&mut seed) & 0x3fff;
            let b = lcg(&mut seed) & 0xfff;
            // The first 500 cycles write tag b; later pushes must leave each
            // slot's b as it was.
            let b_en = i < 500;
            x.push.next = push;
            x.push_data.next = (data as u64).to_bits();
            x.push_last.next = false;
            x.push_a.next = a.to_bits();
            x.push_b.next = b.to_bits();
            x.b_enable.next = b_en;
            x.pop.next = pop;
            let full = model.len() == DEPTH;
            wait_clock_cycle!(sim, clock, x);
            if pop {
                model.pop_front();
            }
            if push && !full {
                if b_en {
                    slot_b[wr] = b;
                }
                model.push_back((data, a, slot_b[wr]));
                wr = (wr + 1) % DEPTH;
            }
        }
        sim_assert!(sim, b_seen > 100, x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 100_000).unwrap();
}

#[test]
fn round_robin_rotates_through_every_requester_and_respects_enable() {
    let mut uut = RoundRobin5::default();
    uut.connect_all();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<RoundRobin5>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |mut sim: Sim<RoundRobin5>| {
        let mut x = sim.init()?;
        x.reset.next = true;
        wait_clock_cycles!(sim, clock, x, 2);
        x.reset.next = false;
        // Everyone asks, every grant is used: the winner walks 0,1,2,3,4,0,...
        x.request.next = 0b11111u64.to_bits();
        x.enable.next = true;
        x.advance.next = true;
        wait_clock_cycle!(sim, clock, x);
        let mut seen = vec![];
        for _ in 0..10 {
            seen.push(x.grant.val().index());
            wait_clock_cycle!(sim, clock, x);
        }
        let order: Vec<usize> = seen.iter().map(|g| g.trailing_zeros() as usize).collect();
        for w in order.windows(2) {
            sim_assert_eq!(sim, w[1], (w[0] + 1) % 5, x);
        }
        // Without `advance` (a packet still streaming) the winner stays.
        x.advance.next = false;
        wait_clock_cycle!(sim, clock, x);
        let held = x.grant.val();
        wait_clock_cycles!(sim, clock, x, 3);
        sim_assert_eq!(sim, x.grant.val(), held, x);
        // No credit, no grant; a lone requester wins at once.
        x.enable.next = false;
        wait_clock_cycle!(sim, clock, x);
        sim_assert_eq!(sim, x.grant.val(), Bits::<5>::from(0u64), x);
        x.enable.next = true;
        x.request.next = 0b01000u64.to_bits();
        wait_clock_cycle!(sim, clock, x);
        sim_assert_eq!(sim, x.grant.val(), Bits::<5>::from(0b01000u64), x);
        sim.done(x)
    });
    sim.run(Box::new(uut), 10_000).unwrap();
}

fn lint(name: &str, verilog: &str) {
    let dir = std::env::temp_dir().join(format!("replimesh-block-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.v"));
    std::fs::write(&file, verilog).unwrap();
    let out = std::process::Command::new("verilator")
        .args(["--lint-only", "-Wall", "--top-module", "top"])
        .arg(&file)
        .output()
        .expect("verilator on PATH (scripts/ensure-tools.sh installs it)");
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn small_blocks_lint_clean_alone() {
    let mut fifo = FlitFifo::<64>::new(DEPTH);
    fifo.connect_all();
    lint("fifo", &generate_block_verilog(&fifo));
    let mut tag_fifo = TagFifo::<32, 14, 12>::new(DEPTH);
    tag_fifo.connect_all();
    lint("tag_fifo", &generate_block_verilog(&tag_fifo));
    let mut arb = RoundRobin5::default();
    arb.connect_all();
    lint("arbiter", &generate_block_verilog(&arb));
}
