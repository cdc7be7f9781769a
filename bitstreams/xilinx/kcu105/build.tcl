# replimesh on the Xilinx KCU105 (Kintex UltraScale xcku040-ffva1156-2-e) over PCIe.
# UNVERIFIED: no Vivado here; written for Vivado 2023.2 (XDMA 4.1). See docs/hardware.md.
#
# vivado -mode batch -source build.tcl -tclargs <generated-sources-dir> <out-dir>
#   generated sources: mesh.v and mesh_card.v from `meshctl hw sources`.
#
# Block design:
#   PCIe x4 Gen2 -- XDMA (AXI-Stream, 1 H2C + 1 C2H, AXI-Lite master on BAR0, 64-bit, 250 MHz)
#     M_AXI_LITE  -> AXI clock converter -> mesh_card.s_axil   (config bus, 100 MHz)
#     M_AXIS_H2C_0 -> AXIS clock converter -> mesh_card.s_axis_h2c (node 0 inject)
#     S_AXIS_C2H_0 <- AXIS clock converter <- mesh_card.m_axis_c2h (node 0 eject)
#   clk_wiz: 100 MHz mesh clock from XDMA's axi_aclk; proc_sys_reset for that domain.

if {[llength $argv] != 2} { error "usage: build.tcl <generated-sources-dir> <out-dir>" }
set gen [file normalize [lindex $argv 0]]
set out [file normalize [lindex $argv 1]]
set here [file dirname [file normalize [info script]]]
set rtl [file normalize $here/../rtl]
set part xcku040-ffva1156-2-e
set mesh_mhz 100

create_project -force replimesh_kcu105 $out/proj -part $part
set bp [lindex [lsort [get_board_parts -quiet xilinx.com:kcu105:*]] end]
if {$bp ne ""} { set_property board_part $bp [current_project] }

add_files -norecurse [list $gen/mesh.v $gen/mesh_card.v \
    $rtl/axil_cfg_shim.v $rtl/h2c_to_link.v $rtl/link_to_c2h.v]
add_files -fileset constrs_1 -norecurse $here/kcu105.xdc
update_compile_order -fileset sources_1

create_bd_design card

# PCIe reference clock buffer.
set refclk [create_bd_intf_port -mode Slave -vlnv xilinx.com:interface:diff_clock_rtl:1.0 pcie_refclk]
set_property CONFIG.FREQ_HZ 100000000 $refclk
set perst [create_bd_port -dir I -type rst pcie_perstn]
set_property CONFIG.POLARITY ACTIVE_LOW $perst
set ibuf [create_bd_cell -type ip -vlnv xilinx.com:ip:util_ds_buf util_ds_buf_0]
set_property CONFIG.C_BUF_TYPE IBUFDSGTE $ibuf
connect_bd_intf_net $refclk [get_bd_intf_pins util_ds_buf_0/CLK_IN_D]

# XDMA: stream mode, one channel each way, AXI-Lite master BAR.
set xdma [create_bd_cell -type ip -vlnv xilinx.com:ip:xdma xdma_0]
set_property -dict [list \
    CONFIG.mode_selection {Advanced} \
    CONFIG.pcie_blk_locn {X0Y0} \
    CONFIG.pl_link_cap_max_link_width {X4} \
    CONFIG.pl_link_cap_max_link_speed {5.0_GT/s} \
    CONFIG.axi_data_width {64_bit} \
    CONFIG.axisten_freq {250} \
    CONFIG.xdma_axi_intf_mm {AXI_Stream} \
    CONFIG.xdma_rnum_chnl {1} \
    CONFIG.xdma_wnum_chnl {1} \
    CONFIG.axilite_master_en {true} \
    CONFIG.axilite_master_size {1} \
    CONFIG.axilite_master_scale {Megabytes} \
    CONFIG.pf0_device_id {9024} \
    CONFIG.pf0_msix_enabled {false} \
    CONFIG.xdma_pcie_64bit_en {true} \
] $xdma
connect_bd_net [get_bd_pins util_ds_buf_0/IBUF_DS_ODIV2] [get_bd_pins xdma_0/sys_clk]
connect_bd_net [get_bd_pins util_ds_buf_0/IBUF_OUT] [get_bd_pins xdma_0/sys_clk_gt]
connect_bd_net $perst [get_bd_pins xdma_0/sys_rst_n]
make_bd_intf_pins_external [get_bd_intf_pins xdma_0/pcie_mgt]

# Mesh clock and reset.
set wiz [create_bd_cell -type ip -vlnv xilinx.com:ip:clk_wiz clk_wiz_0]
set_property -dict [list \
    CONFIG.PRIM_SOURCE {No_buffer} \
    CONFIG.PRIM_IN_FREQ {250.000} \
    CONFIG.CLKOUT1_REQUESTED_OUT_FREQ $mesh_mhz \
    CONFIG.RESET_TYPE {ACTIVE_LOW} \
] $wiz
connect_bd_net [get_bd_pins xdma_0/axi_aclk] [get_bd_pins clk_wiz_0/clk_in1]
connect_bd_net [get_bd_pins xdma_0/axi_aresetn] [get_bd_pins clk_wiz_0/resetn]
set rst [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset proc_sys_reset_0]
connect_bd_net [get_bd_pins clk_wiz_0/clk_out1] [get_bd_pins proc_sys_reset_0/slowest_sync_clk]
connect_bd_net [get_bd_pins clk_wiz_0/locked] [get_bd_pins proc_sys_reset_0/dcm_locked]
connect_bd_net [get_bd_pins xdma_0/axi_aresetn] [get_bd_pins proc_sys_reset_0/ext_reset_in]

# The mesh with its placeholder shim (generated mesh_card.v).
set card [create_bd_cell -type module -reference mesh_card mesh_card_0]
connect_bd_net [get_bd_pins clk_wiz_0/clk_out1] [get_bd_pins mesh_card_0/clk]
connect_bd_net [get_bd_pins proc_sys_reset_0/peripheral_aresetn] [get_bd_pins mesh_card_0/resetn]

# Clock-domain crossings 250 MHz <-> mesh clock.
set cc [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_clock_converter axi_clock_converter_0]
set_property CONFIG.PROTOCOL {AXI4LITE} $cc
connect_bd_intf_net [get_bd_intf_pins xdma_0/M_AXI_LITE] [get_bd_intf_pins axi_clock_converter_0/S_AXI]
connect_bd_intf_net [get_bd_intf_pins axi_clock_converter_0/M_AXI] [get_bd_intf_pins mesh_card_0/s_axil]
connect_bd_net [get_bd_pins xdma_0/axi_aclk] [get_bd_pins axi_clock_converter_0/s_axi_aclk]
connect_bd_net [get_bd_pins xdma_0/axi_aresetn] [get_bd_pins axi_clock_converter_0/s_axi_aresetn]
connect_bd_net [get_bd_pins clk_wiz_0/clk_out1] [get_bd_pins axi_clock_converter_0/m_axi_aclk]
connect_bd_net [get_bd_pins proc_sys_reset_0/peripheral_aresetn] [get_bd_pins axi_clock_converter_0/m_axi_aresetn]

foreach {name from to} {h2c xdma_0/M_AXIS_H2C_0 mesh_card_0/s_axis_h2c c2h mesh_card_0/m_axis_c2h xdma_0/S_AXIS_C2H_0} {
    set c [create_bd_cell -type ip -vlnv xilinx.com:ip:axis_clock_converter axis_cc_$name]
    connect_bd_intf_net [get_bd_intf_pins $from] [get_bd_intf_pins axis_cc_$name/S_AXIS]
    connect_bd_intf_net [get_bd_intf_pins axis_cc_$name/M_AXIS] [get_bd_intf_pins $to]
    if {$name eq "h2c"} {
        set s_clk xdma_0/axi_aclk; set s_rst xdma_0/axi_aresetn
        set m_clk clk_wiz_0/clk_out1; set m_rst proc_sys_reset_0/peripheral_aresetn
    } else {
        set s_clk clk_wiz_0/clk_out1; set s_rst proc_sys_reset_0/peripheral_aresetn
        set m_clk xdma_0/axi_aclk; set m_rst xdma_0/axi_aresetn
    }
    connect_bd_net [get_bd_pins $s_clk] [get_bd_pins axis_cc_$name/s_axis_aclk]
    connect_bd_net [get_bd_pins $s_rst] [get_bd_pins axis_cc_$name/s_axis_aresetn]
    connect_bd_net [get_bd_pins $m_clk] [get_bd_pins axis_cc_$name/m_axis_aclk]
    connect_bd_net [get_bd_pins $m_rst] [get_bd_pins axis_cc_$name/m_axis_aresetn]
}

# BAR0 (AXI-Lite master) maps the shim's 1 MiB window at 0.
assign_bd_address -offset 0x00000000 -range 1M [get_bd_addr_segs mesh_card_0/s_axil/reg0]
validate_bd_design
save_bd_design
make_wrapper -files [get_files card.bd] -top
add_files -norecurse [file rootname [get_files card.bd]]/hdl/card_wrapper.v
set_property top card_wrapper [current_fileset]
update_compile_order -fileset sources_1

launch_runs synth_1 -jobs 4
wait_on_run synth_1
if {[get_property PROGRESS [get_runs synth_1]] ne "100%"} { error "synthesis failed" }
launch_runs impl_1 -to_step write_bitstream -jobs 4
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} { error "implementation failed" }
open_run impl_1
report_utilization -file $out/utilization.rpt
report_timing_summary -file $out/timing.rpt
set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]
file copy -force [get_property DIRECTORY [get_runs impl_1]]/card_wrapper.bit $out/replimesh_kcu105.bit
puts "replimesh: bitstream $out/replimesh_kcu105.bit, worst setup slack $wns ns"
if {$wns < 0} { error "timing not met (WNS $wns ns): see $out/timing.rpt" }
