"""Virtual-machine detection with each OS's answers supplied (runs on every OS)."""

from __future__ import annotations

import json

from tests.platform.fakes import FakeMacSystem, FakeSystem, FakeWindowsSystem
from zhishiyun.platform.base import CommandResult
from zhishiyun.platform.linux import LinuxPlatform
from zhishiyun.platform.macos import MacPlatform
from zhishiyun.platform.windows import BIOS_KEY, CIM_COMMAND, WindowsPlatform

CPUINFO_GUEST = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr hypervisor lahf_lm\n"
CPUINFO_METAL = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr vmx lahf_lm\n"


def dmi(**fields):
    return {f"/sys/class/dmi/id/{k}": v + "\n" for k, v in fields.items()}


def test_linux_qemu_guest_is_virtual_and_named():
    firmware = dmi(sys_vendor="QEMU", product_name="Standard PC (Q35 + ICH9, 2009)")
    system = FakeSystem(files={"/proc/cpuinfo": CPUINFO_GUEST, **firmware})
    report = LinuxPlatform(system).virtual_machine()
    assert report.virtual and report.product == "QEMU"
    assert "cpu flag: hypervisor" in report.evidence
    assert "dmi sys_vendor: QEMU" in report.evidence


def test_linux_virtualbox_without_cpu_flag_is_found_by_its_firmware():
    system = FakeSystem(files={"/proc/cpuinfo": CPUINFO_METAL,
                               **dmi(sys_vendor="innotek GmbH", product_name="VirtualBox")})
    report = LinuxPlatform(system).virtual_machine()
    assert report.virtual and report.product == "VirtualBox"


def test_linux_laptop_is_not_virtual_even_with_vmx_and_a_container_marker():
    system = FakeSystem(files={"/proc/cpuinfo": CPUINFO_METAL, "/.dockerenv": "",
                               **dmi(sys_vendor="LENOVO", product_name="20XW0055CD",
                                     product_version="ThinkPad X1 Carbon Gen 9")})
    report = LinuxPlatform(system).virtual_machine()
    assert not report.virtual and report.product == "" and report.evidence == ()
    assert report.hints == ("container: docker (/.dockerenv)",)


def test_linux_systemd_detect_virt_names_the_hypervisor_when_dmi_is_hidden():
    system = FakeSystem(files={"/proc/cpuinfo": CPUINFO_GUEST}, programs=["systemd-detect-virt"],
                        commands={("systemd-detect-virt", "--vm"): CommandResult(0, "kvm\n")})
    report = LinuxPlatform(system).virtual_machine()
    assert report.virtual and report.product == "KVM"
    assert "systemd-detect-virt: kvm" in report.evidence


def test_linux_systemd_detect_virt_none_adds_nothing():
    system = FakeSystem(files={"/proc/cpuinfo": CPUINFO_METAL}, programs=["systemd-detect-virt"],
                        commands={("systemd-detect-virt", "--vm"): CommandResult(1, "none\n")})
    assert not LinuxPlatform(system).virtual_machine().virtual


def test_linux_hyperv_guest_by_microsoft_virtual_machine_model():
    system = FakeSystem(files={"/proc/cpuinfo": CPUINFO_METAL,
                               **dmi(sys_vendor="Microsoft Corporation",
                                     product_name="Virtual Machine")})
    report = LinuxPlatform(system).virtual_machine()
    assert report.virtual and report.product == "Hyper-V"


def test_macos_apple_silicon_vm():
    system = FakeMacSystem(sysctl={"kern.hv_vm_present": "1", "hw.model": "VirtualMac2,1"})
    report = MacPlatform(system).virtual_machine()
    assert report.virtual and report.product == "Apple Virtualization"
    assert "sysctl kern.hv_vm_present: 1" in report.evidence


def test_macos_intel_vmware_guest_by_vmm_feature_and_model():
    system = FakeMacSystem(sysctl={"machdep.cpu.features": "FPU VME DE PSE VMM SSE3",
                                   "hw.model": "VMware7,1"})
    report = MacPlatform(system).virtual_machine()
    assert report.virtual and report.product == "VMware"
    assert "cpu feature: VMM" in report.evidence


def test_macbook_is_not_virtual():
    system = FakeMacSystem(sysctl={"kern.hv_vm_present": "0", "hw.model": "MacBookPro18,3"})
    report = MacPlatform(system).virtual_machine()
    assert not report.virtual and report.evidence == ()


def test_windows_vmware_by_bios_registry():
    system = FakeWindowsSystem(registry={(BIOS_KEY, "SystemManufacturer"): "VMware, Inc.",
                                         (BIOS_KEY, "SystemProductName"): "VMware7,1"})
    report = WindowsPlatform(system).virtual_machine()
    assert report.virtual and report.product == "VMware"
    assert system.ran == [], "WMI is not asked when the registry already answers"


def test_windows_azure_vm_by_wmi_when_the_registry_says_nothing():
    cim = json.dumps({"Manufacturer": "Microsoft Corporation", "Model": "Virtual Machine",
                      "HypervisorPresent": True})
    system = FakeWindowsSystem(commands={CIM_COMMAND: CommandResult(0, cim)})
    report = WindowsPlatform(system).virtual_machine()
    assert report.virtual and report.product == "Hyper-V"
    assert "Win32_ComputerSystem Model: Virtual Machine" in report.evidence


def test_windows_physical_pc_with_vbs_hypervisor_is_only_a_hint():
    cim = json.dumps({"Manufacturer": "Dell Inc.", "Model": "Latitude 7420",
                      "HypervisorPresent": True})
    system = FakeWindowsSystem(registry={(BIOS_KEY, "SystemManufacturer"): "Dell Inc.",
                                         (BIOS_KEY, "SystemProductName"): "Latitude 7420"},
                               commands={CIM_COMMAND: CommandResult(0, cim)})
    report = WindowsPlatform(system).virtual_machine()
    assert not report.virtual
    assert report.hints == ("Win32_ComputerSystem HypervisorPresent: True",)


def test_windows_broken_wmi_answer_means_unknown_not_a_crash():
    system = FakeWindowsSystem(commands={CIM_COMMAND: CommandResult(0, "not json")})
    assert WindowsPlatform(system).virtual_machine().virtual is False
