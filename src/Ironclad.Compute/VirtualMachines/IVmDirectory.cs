// What the rest of Compute may ask about virtual machines (the virtualMachines type implements it):
// which VMs should be running (resumed at start-up), which VMs use a volume (revocation), and the
// record of a VM the server stopped. Invariant: only the VM resource persists power state; the
// runtime reports, the directory records.
namespace Ironclad.Compute.VirtualMachines;

public interface IVmDirectory
{
    /// <summary>VMs (and scale-set instances) whose recorded power state is running: the start-up resume list.</summary>
    IReadOnlyList<VmRuntimeSpec> ShouldBeRunning();

    /// <summary>A VM or scale-set instance by ARM id (case-insensitive), or null.</summary>
    VmRuntimeSpec? Find(string vmId);

    /// <summary>VM ids with a disk on <paramref name="volumeId"/>.</summary>
    IReadOnlyList<string> UsingVolume(Guid volumeId);

    /// <summary>Records that the server stopped the VM (power state stopped, the code and reason shown in its instance view).</summary>
    void RecordStoppedByServer(VmStoppedByServer stopped);
}
