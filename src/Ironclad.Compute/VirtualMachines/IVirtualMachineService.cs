// The VM life cycle as a service, for the scale-set type: each scale-set instance is a VM with its
// own disks, made, powered, rendered and deleted by the same code as a standalone VM. Invariant:
// everything the virtualMachines type does to a VM goes through here, so a scale-set instance and
// a VM never diverge (disks, encryption, attach state, NBD exports, revocation).
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Identity;

namespace Ironclad.Compute.VirtualMachines;

public enum VmPowerAction
{
    Start,
    PowerOff,
    Deallocate,
    Restart,
}

/// <summary>Create (or replace) one VM.</summary>
/// <param name="VmId">Canonical ARM id: .../virtualMachines/{name}, or .../virtualMachineScaleSets/{set}/virtualMachines/{instanceId}.</param>
/// <param name="Name">The VM's name (for an instance: "{set}_{instanceId}", used to name its disks).</param>
/// <param name="Body">A virtualMachines PUT body (location, properties.hardwareProfile, storageProfile, osProfile, …).
/// For a scale-set instance: the set's virtualMachineProfile wrapped as {"location", "properties": profile}.</param>
/// <param name="ScaleSetId">The owning scale set, or null.</param>
/// <param name="InstanceId">The instance id within the set, or null.</param>
public sealed record VmCreateRequest(
    string VmId,
    Guid SubscriptionId,
    string ResourceGroup,
    string Name,
    JsonElement Body,
    CallerIdentity Caller,
    string ApiVersion,
    Uri BaseUri,
    string? ScaleSetId = null,
    string? InstanceId = null);

public interface IVirtualMachineService
{
    /// <summary>Provisions the disks (FromImage / Empty / Attach), marks them Attached to the VM, stores the VM and starts it. Returns the rendered VM.</summary>
    Task<JsonObject> CreateAsync(VmCreateRequest request, CancellationToken cancellationToken);

    /// <summary>Stops the VM, detaches its disks and deletes those whose deleteOption is Delete (scale-set instances: all of them). False if absent.</summary>
    Task<bool> DeleteAsync(string vmId, CallerIdentity caller, CancellationToken cancellationToken);

    /// <summary>start / powerOff / deallocate / restart. Start is refused (ARM error naming the key) while a disk's key is unusable.</summary>
    Task PowerAsync(string vmId, VmPowerAction action, CancellationToken cancellationToken);

    /// <summary>The VM's GET body (with properties.instanceView when asked), or null.</summary>
    JsonObject? Render(string vmId, bool withInstanceView);

    /// <summary>The VM's instanceView body (statuses with PowerState/…, disks, and our `nbd` extension while running), or null.</summary>
    JsonObject? RenderInstanceView(string vmId);

    /// <summary>The body of POST …/issueNbdCredentials: address, exports, CA, client certificate and key.</summary>
    Task<JsonObject> IssueNbdCredentialsAsync(string vmId, JsonElement? body, CancellationToken cancellationToken);

    /// <summary>Ids of the instances of a scale set, ordered by instance id.</summary>
    IReadOnlyList<string> InstancesOf(string scaleSetId);
}
