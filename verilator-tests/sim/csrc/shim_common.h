// Structs shared by every variant's shim and by src/ffi.rs (#[repr(C)] twins).
#pragma once
#include <cstdint>

// Mesh-wide inputs and outputs of one cycle.
struct CycleIo {
    uint8_t reset;
    uint8_t cfg_we;
    uint8_t cfg_re;
    uint8_t cfg_error;  // out
    uint8_t cfg_node;
    uint8_t pad0[1];
    uint16_t cfg_addr;
    uint32_t cfg_wdata;
    uint32_t cfg_rdata;  // out
};

// One node's local port: injection (host -> router) and ejection (router -> host).
struct PortIo {
    uint64_t inj_data;
    uint64_t ej_data;     // out
    uint8_t inj_valid;
    uint8_t inj_last;
    uint8_t ej_credit;
    uint8_t inj_credit;   // out
    uint8_t ej_valid;     // out
    uint8_t ej_last;      // out
    uint8_t ej_err;       // out: the tail closes a packet cut by a failure
    uint8_t kill;         // fault injection: router dead
    uint8_t cut;          // fault injection: outgoing directions cut (bit per N,E,S,W)
    uint8_t corrupt;      // fault injection: outgoing directions corrupted
    uint8_t pad[4];
};
