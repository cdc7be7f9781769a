# KCU105 (xcku040-ffva1156-2-e): PCIe edge connector, x4 Gen2 through XDMA.
# UNVERIFIED: written from the board's published pinout, never built here (no Vivado).
# PCIe reference clock (100 MHz from the slot), MGTREFCLK0 of quad 225.
set_property PACKAGE_PIN AB6 [get_ports {pcie_refclk_clk_p[0]}]
set_property PACKAGE_PIN AB5 [get_ports {pcie_refclk_clk_n[0]}]
create_clock -period 10.000 -name pcie_refclk [get_ports {pcie_refclk_clk_p[0]}]
# PERST# from the slot (bank 65, 1.8 V).
set_property PACKAGE_PIN K22 [get_ports pcie_perstn]
set_property IOSTANDARD LVCMOS18 [get_ports pcie_perstn]
set_property PULLUP true [get_ports pcie_perstn]
set_false_path -from [get_ports pcie_perstn]
# Lane LOCs come from the XDMA IP (PCIe block X0Y0, quad 225/224 for the KCU105 edge fingers).
# Configuration.
set_property CONFIG_VOLTAGE 1.8 [current_design]
set_property CFGBVS GND [current_design]
set_property BITSTREAM.GENERAL.COMPRESS TRUE [current_design]
