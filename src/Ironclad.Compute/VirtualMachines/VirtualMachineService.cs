// The VM life cycle (IVirtualMachineService) and the record of what should run (IVmDirectory): disks
// provisioned through the disks type as the caller, marked Attached to the VM, the VM stored, then
// started by the runtime. Invariants: a failed create leaves no disk it made and no disk it attached;
// only this class writes a VM's power state; a key refusal at start keeps the VM, stopped, with the reason.
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Disks;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Marketplace;
using Ironclad.Identity;
using Ironclad.Metadata;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Rbac;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ironclad.Compute.VirtualMachines;

public sealed partial class VirtualMachineService : IVirtualMachineService, IVmDirectory
{
    public const string VmResourceType = "Microsoft.Compute/virtualMachines";
    public const string InstanceResourceType = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines";

    private readonly VmStore _store;
    private readonly IDiskDirectory _disks;
    private readonly Authorizer _authorizer;
    private readonly Lazy<ComputeProvider?> _provider;
    private readonly Lazy<IVmRuntime?> _runtime;
    private readonly Func<IVmNbdCredentialIssuer?> _issuer;
    private readonly Func<IMarketplaceImages?> _marketplace;
    private readonly Func<IVmDiskExports?> _exports;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.OrdinalIgnoreCase);

    /// <param name="provider">The Compute provider (to call the disks type); this and the other functions are called on first use.</param>
    /// <param name="runtime">Null while the server has no VM runtime: operations that need it answer 503.</param>
    public VirtualMachineService(
        MetadataDatabase database,
        IDiskDirectory disks,
        Authorizer authorizer,
        Func<ComputeProvider?> provider,
        Func<IVmRuntime?> runtime,
        Func<IVmNbdCredentialIssuer?> issuer,
        Func<IMarketplaceImages?> marketplace,
        Func<IVmDiskExports?> exports,
        TimeProvider time,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _store = new VmStore(database);
        _disks = disks ?? throw new ArgumentNullException(nameof(disks));
        _authorizer = authorizer ?? throw new ArgumentNullException(nameof(authorizer));
        ArgumentNullException.ThrowIfNull(provider);
        _provider = new Lazy<ComputeProvider?>(provider);
        ArgumentNullException.ThrowIfNull(runtime);
        _runtime = new Lazy<IVmRuntime?>(() =>
        {
            var found = runtime();
            if (found is not null)
            {
                found.StoppedByServer += RecordStoppedByServer;
            }

            return found;
        });
        _issuer = issuer ?? throw new ArgumentNullException(nameof(issuer));
        _marketplace = marketplace ?? throw new ArgumentNullException(nameof(marketplace));
        _exports = exports ?? throw new ArgumentNullException(nameof(exports));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Resolves the runtime and subscribes to StoppedByServer; the host calls it at start-up, before VMs are resumed.</summary>
    public bool ConnectRuntime() => _runtime.Value is not null;

    // ── create / replace ───────────────────────────────────────────────────────────────────

    public async Task<JsonObject> CreateAsync(VmCreateRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var hold = await LockAsync(request.VmId, cancellationToken);
        var body = JsonBody.RequireObject(request.Body);
        if (_store.Find(request.VmId) is { } existing)
        {
            var context = new VmContext(existing.Id, existing.SubscriptionId, existing.ResourceGroup, existing.Name, existing.Location,
                request.Caller, request.BaseUri, existing.ScaleSetId is not null);
            return Render(await UpdateAsync(existing, context, body, replace: true, cancellationToken), withInstanceView: false);
        }

        return Render(await CreateNewAsync(request, body, cancellationToken), withInstanceView: false);
    }

    private async Task<VmRecord> CreateNewAsync(VmCreateRequest request, JsonElement body, CancellationToken cancellationToken)
    {
        var location = JsonBody.RequireLocation(body);
        var tags = JsonBody.Tags(body);
        var properties = VmRequest.Properties(body);
        var storage = VmRequest.StorageProfile(properties)
            ?? throw new ArmException(400, "InvalidParameter", "properties.storageProfile is required: give imageReference and osDisk (or osDisk with createOption Attach).");
        var imageElement = VmRequest.ImageReference(storage);
        var osDisk = VmRequest.OsDisk(storage, imageElement is not null);
        var dataDisks = VmRequest.DataDisks(storage);
        if (dataDisks.FirstOrDefault(d => d.ToBeDetached) is { } detached)
        {
            throw new ArmException(400, "InvalidParameter", $"{detached.Path}.toBeDetached is only for an existing VM: remove the data disk from the new VM instead.");
        }

        VmRequest.RequireNoIdForNewDisk(osDisk);
        foreach (var data in dataDisks)
        {
            VmRequest.RequireNoIdForNewDisk(data);
        }

        var context = new VmContext(request.VmId, request.SubscriptionId, request.ResourceGroup, request.Name, location, request.Caller, request.BaseUri,
            request.ScaleSetId is not null);
        var image = imageElement is { } i ? ResolveImage(i, context) : null;
        if (image is { CustomImageId: null } && dataDisks.FirstOrDefault(d => d.CreateOption == "FromImage") is { } fromImage)
        {
            throw new ArmException(400, "InvalidParameter",
                $"{fromImage.Path}.createOption FromImage takes the data disk at that lun of a custom image; marketplace images have no data disks. Use Empty.");
        }

        if (image is null && dataDisks.FirstOrDefault(d => d.CreateOption == "FromImage") is { } noImage)
        {
            throw new ArmException(400, "InvalidParameter", $"{noImage.Path}.createOption FromImage needs properties.storageProfile.imageReference.id (a custom image).");
        }

        var made = new Provisioned();
        var disks = new List<VmDiskRecord>();
        try
        {
            disks.Add(await ProvisionAsync(context, osDisk, image, made, cancellationToken));
            foreach (var data in dataDisks)
            {
                disks.Add(await ProvisionAsync(context, data, image, made, cancellationToken));
            }
        }
        catch
        {
            await RollbackAsync(context, made);
            throw;
        }

        IVmRuntime runtime;
        try
        {
            runtime = RequireRuntime();
        }
        catch
        {
            await RollbackAsync(context, made);
            throw;
        }

        var record = new VmRecord(
            request.VmId, request.SubscriptionId, request.ResourceGroup, request.Name, location, tags.ToJsonString(), Guid.NewGuid(),
            VmRequest.HardwareProfile(properties), VmRequest.OsProfileWithoutSecrets(properties), VmRequest.ExtraProperties(properties).ToJsonString(),
            image?.Rendered.ToJsonString(), disks, VmPowerStates.Stopped, null, null, null, request.ScaleSetId, request.InstanceId, _time.GetUtcNow());
        if (!_store.TryInsert(record))
        {
            await RollbackAsync(context, made);
            throw new ArmException(409, "Conflict", $"The virtual machine '{request.Name}' was created by a concurrent request; retry to update it.");
        }

        try
        {
            await StartAsync(runtime, record, cancellationToken);
        }
        catch (ArmException e) when (e.Data.Contains(KeyRefusalMarker))
        {
            throw; // The VM stays, stopped, with the reason in its instance view.
        }
        catch
        {
            _store.Delete(record.Id);
            await RollbackAsync(context, made);
            throw;
        }

        return _store.Find(record.Id) ?? record;
    }

    // ── PATCH (and PUT of an existing VM) ──────────────────────────────────────────────────

    /// <summary>PATCH of a VM (the virtualMachines type; scale sets call CreateAsync with a full body).</summary>
    internal async Task<JsonObject> PatchAsync(string vmId, JsonElement? body, CallerIdentity caller, Uri baseUri, CancellationToken cancellationToken)
    {
        using var hold = await LockAsync(vmId, cancellationToken);
        var existing = RequireVm(vmId);
        var context = new VmContext(existing.Id, existing.SubscriptionId, existing.ResourceGroup, existing.Name, existing.Location, caller, baseUri,
            existing.ScaleSetId is not null);
        return Render(await UpdateAsync(existing, context, JsonBody.RequireObject(body), replace: false, cancellationToken), withInstanceView: false);
    }

    private async Task<VmRecord> UpdateAsync(VmRecord existing, VmContext context, JsonElement body, bool replace, CancellationToken cancellationToken)
    {
        if (replace && !DiskEncryptionPolicy.SameRegion(JsonBody.RequireLocation(body), existing.Location))
        {
            throw new ArmException(400, "InvalidResourceLocation",
                $"The virtual machine '{existing.Name}' already exists in location '{existing.Location}'; a resource cannot change its location.");
        }

        var tags = replace || JsonBody.HasProperty(body, "tags") ? JsonBody.Tags(body).ToJsonString() : existing.TagsJson;
        var properties = JsonBody.OptionalObject(body, "properties", "body");
        var updated = existing with { TagsJson = tags };
        IReadOnlyList<VmDiskRequest>? desired = null;
        if (properties is { } p)
        {
            if (JsonBody.HasProperty(p, "hardwareProfile"))
            {
                updated = updated with { HardwareProfileJson = VmRequest.HardwareProfile(p) };
            }

            if (JsonBody.HasProperty(p, "osProfile"))
            {
                updated = updated with { OsProfileJson = VmRequest.OsProfileWithoutSecrets(p) };
            }

            var extra = VmRequest.ExtraProperties(p);
            if (!replace)
            {
                var merged = JsonNode.Parse(existing.ExtraPropertiesJson)!.AsObject();
                foreach (var (name, value) in extra)
                {
                    merged[name] = value?.DeepClone();
                }

                extra = merged;
            }

            updated = updated with { ExtraPropertiesJson = extra.ToJsonString() };
            if (VmRequest.StorageProfile(p) is { } storage)
            {
                updated = updated with { Disks = UpdateOsDisk(existing, storage) };
                if (JsonBody.Property(storage, "dataDisks") is not null)
                {
                    desired = VmRequest.DataDisks(storage);
                }
            }
        }

        _store.Update(updated);
        if (desired is not null)
        {
            updated = await ApplyDataDisksAsync(updated, context, desired, cancellationToken);
        }

        return _store.Find(updated.Id) ?? updated;
    }

    /// <summary>The OS disk cannot be swapped; its caching and deleteOption may change.</summary>
    private static List<VmDiskRecord> UpdateOsDisk(VmRecord existing, JsonElement storage)
    {
        var disks = existing.Disks.ToList();
        if (JsonBody.OptionalObject(storage, "osDisk", "properties.storageProfile") is not { } osDisk)
        {
            return disks;
        }

        var os = existing.OsDisk;
        if (JsonBody.OptionalObject(osDisk, "managedDisk", "properties.storageProfile.osDisk") is { } managed
            && JsonBody.OptionalString(managed, "id", "properties.storageProfile.osDisk.managedDisk") is { } id
            && !id.Equals(os.DiskId, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmException(409, "PropertyChangeNotAllowed",
                $"Changing property 'osDisk.managedDisk.id' is not allowed: the OS disk of '{existing.Name}' is '{os.DiskId}'. Create a new VM to use another OS disk.");
        }

        var deleteOption = JsonBody.OptionalString(osDisk, "deleteOption", "properties.storageProfile.osDisk");
        if (deleteOption is not null && !deleteOption.Equals("Delete", StringComparison.OrdinalIgnoreCase) && !deleteOption.Equals("Detach", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmException(400, "InvalidParameter", $"properties.storageProfile.osDisk.deleteOption '{deleteOption}' is not supported: use Delete, Detach.");
        }

        var updated = os with
        {
            Caching = JsonBody.OptionalString(osDisk, "caching", "properties.storageProfile.osDisk") ?? os.Caching,
            DeleteOption = deleteOption is null ? os.DeleteOption : char.ToUpperInvariant(deleteOption[0]) + deleteOption[1..].ToLowerInvariant(),
        };
        disks[disks.IndexOf(os)] = updated;
        return disks;
    }

    /// <summary>Attaches and detaches the difference between the VM's data disks and <paramref name="desired"/> (hot while running).</summary>
    private async Task<VmRecord> ApplyDataDisksAsync(VmRecord vm, VmContext context, IReadOnlyList<VmDiskRequest> desired, CancellationToken cancellationToken)
    {
        var wanted = desired.Where(d => !d.ToBeDetached).ToDictionary(d => d.Lun!.Value);
        var current = vm.DataDisks.ToList();
        foreach (var disk in current)
        {
            if (wanted.TryGetValue(disk.Lun!.Value, out var want) && want.ManagedDiskId is { } id && !id.Equals(disk.DiskId, StringComparison.OrdinalIgnoreCase))
            {
                throw new ArmException(409, "OperationNotAllowed",
                    $"Lun {disk.Lun} of '{vm.Name}' holds the disk '{disk.DiskId}': detach it first (leave it out of dataDisks), then attach '{id}' at that lun or another one.");
            }
        }

        var toDetach = current.Where(d => !wanted.ContainsKey(d.Lun!.Value)).ToList();
        var toAttach = wanted.Values.Where(w => current.All(c => c.Lun != w.Lun)).OrderBy(w => w.Lun).ToList();
        foreach (var request in toAttach)
        {
            VmRequest.RequireNoIdForNewDisk(request);
        }

        if (toAttach.FirstOrDefault(d => d.CreateOption == "FromImage") is { } fromImage)
        {
            throw new ArmException(400, "InvalidParameter",
                $"{fromImage.Path}.createOption FromImage is only for a new VM: attach an Empty disk, or a disk made from the image, with Attach.");
        }

        var running = vm.PowerState == VmPowerStates.Running;
        var runtime = running && (toDetach.Count > 0 || toAttach.Count > 0) ? RequireRuntime() : _runtime.Value;
        var disks = vm.Disks.Select(d => d.Lun is { } lun && wanted.TryGetValue(lun, out var want) && current.Contains(d)
            ? d with { Caching = want.Caching ?? d.Caching, DeleteOption = want.DeleteOption ?? d.DeleteOption }
            : d).ToList();

        foreach (var disk in toDetach)
        {
            if (runtime is not null)
            {
                await runtime.DetachAsync(vm.Id, disk.DiskId, cancellationToken);
            }

            _disks.TrySetDiskState(disk.DiskId, DiskStates.Attached, DiskStates.Unattached, null);
            disks.RemoveAll(d => d.Lun == disk.Lun);
        }

        vm = vm with { Disks = disks };
        _store.Update(vm);

        var made = new Provisioned();
        var hotAdded = new List<string>();
        try
        {
            foreach (var request in toAttach)
            {
                var disk = await ProvisionAsync(context, request, image: null, made, cancellationToken);
                if (running && runtime is not null)
                {
                    try
                    {
                        await runtime.AttachAsync(vm.Id, new VmDisk(disk.DiskId, disk.Name, disk.VolumeId, disk.Lun), cancellationToken);
                    }
                    catch (KeyAccessException e)
                    {
                        throw DiskEncryptionPolicy.KeyError(e, $"attach the disk '{disk.Name}' to the running VM '{vm.Name}' at lun {disk.Lun}");
                    }

                    hotAdded.Add(disk.DiskId);
                }

                disks.Add(disk);
            }
        }
        catch
        {
            foreach (var id in hotAdded)
            {
                await runtime!.DetachAsync(vm.Id, id, CancellationToken.None);
            }

            await RollbackAsync(context, made);
            throw;
        }

        vm = vm with { Disks = disks };
        _store.Update(vm);
        return vm;
    }

    // ── delete ─────────────────────────────────────────────────────────────────────────────

    public async Task<bool> DeleteAsync(string vmId, CallerIdentity caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(vmId);
        ArgumentNullException.ThrowIfNull(caller);
        using var hold = await LockAsync(vmId, cancellationToken);
        if (_store.Find(vmId) is not { } vm)
        {
            return false;
        }

        var toDelete = vm.Disks.Where(d => vm.ScaleSetId is not null || d.DeleteOption == "Delete").ToList();
        foreach (var disk in toDelete)
        {
            RequireLinkedAction(caller, "Microsoft.Compute/disks/delete", disk.DiskId);
        }

        if (_runtime.Value is { } runtime)
        {
            await runtime.StopAsync(vm.Id, cancellationToken);
        }

        foreach (var disk in vm.Disks)
        {
            _disks.TrySetDiskState(disk.DiskId, DiskStates.Attached, DiskStates.Unattached, null);
        }

        _store.Delete(vm.Id);
        ArmException? failure = null;
        foreach (var disk in toDelete)
        {
            try
            {
                await DeleteDiskAsync(vm.SubscriptionId, caller, disk.DiskId, CancellationToken.None);
            }
            catch (ArmException e)
            {
                // The other disks are still deleted; the first failure is answered (the disk stays, Unattached).
                failure ??= new ArmException(e.StatusCode, e.Code,
                    $"The virtual machine '{vm.Name}' was deleted, but its disk '{disk.Name}' (deleteOption Delete) could not be: {e.Message} Delete the disk itself.");
            }
        }

        return failure is null ? true : throw failure;
    }

    // ── power ──────────────────────────────────────────────────────────────────────────────

    public async Task PowerAsync(string vmId, VmPowerAction action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(vmId);
        using var hold = await LockAsync(vmId, cancellationToken);
        var vm = RequireVm(vmId);
        var runtime = RequireRuntime();
        switch (action)
        {
            case VmPowerAction.Start:
                await StartAsync(runtime, vm, cancellationToken);
                break;
            case VmPowerAction.PowerOff:
                await runtime.StopAsync(vm.Id, cancellationToken);
                _store.SetPower(vm.Id, VmPowerStates.Stopped, null, null, null);
                break;
            case VmPowerAction.Deallocate:
                await runtime.StopAsync(vm.Id, cancellationToken);
                _store.SetPower(vm.Id, VmPowerStates.Deallocated, null, null, null);
                break;
            case VmPowerAction.Restart:
                if (vm.PowerState != VmPowerStates.Running)
                {
                    throw new ArmException(409, "OperationNotAllowed",
                        $"Cannot restart the virtual machine '{vm.Name}': it is {vm.PowerState}{(vm.StopCode is null ? "" : $" ({vm.StopCode})")}. Start it instead.");
                }

                await runtime.StopAsync(vm.Id, cancellationToken);
                _store.SetPower(vm.Id, VmPowerStates.Stopped, null, null, null);
                await StartAsync(runtime, vm, cancellationToken);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(action), action, "Unknown power action.");
        }
    }

    /// <summary>The runtime's start; a key refusal records the VM stopped with the code and reason and answers the key error.</summary>
    private async Task StartAsync(IVmRuntime runtime, VmRecord vm, CancellationToken cancellationToken)
    {
        try
        {
            await runtime.StartAsync(vm.ToSpec(), cancellationToken);
        }
        catch (KeyAccessException e)
        {
            var error = DiskEncryptionPolicy.KeyError(e, $"start the virtual machine '{vm.Name}' (a disk's data key is unwrapped through the vault at start)");
            _store.SetPower(vm.Id, VmPowerStates.Stopped, error.Code, error.Message, _time.GetUtcNow());
            error.Data[KeyRefusalMarker] = true;
            throw error;
        }

        _store.SetPower(vm.Id, VmPowerStates.Running, null, null, null);
    }

    private const string KeyRefusalMarker = "Ironclad.VmStartKeyRefusal";

    // ── credentials ────────────────────────────────────────────────────────────────────────

    public Task<JsonObject> IssueNbdCredentialsAsync(string vmId, JsonElement? body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(vmId);
        cancellationToken.ThrowIfCancellationRequested();
        var vm = RequireVm(vmId);
        var hours = 24L;
        if (body is { ValueKind: JsonValueKind.Object } b)
        {
            hours = JsonBody.OptionalInt64(b, "validityInHours", "body") ?? 24;
        }
        else if (body is { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined })
        {
            throw new ArmException(400, "InvalidRequestContent", "The body of issueNbdCredentials is optional; when given it is {\"validityInHours\": 1-720}.");
        }

        if (hours is < 1 or > 720)
        {
            throw new ArmException(400, "InvalidParameter", $"validityInHours must be between 1 and 720 (30 days); it was {hours}.");
        }

        var issuer = _issuer() ?? throw Unavailable("issue NBD client certificates", "the server has no VM certificate issuer");
        var credentials = issuer.Issue(vm.VmUniqueId, TimeSpan.FromHours(hours));
        var running = _runtime.Value?.Find(vm.Id);
        var exports = _exports();
        return Task.FromResult(new JsonObject
        {
            ["nbdAddress"] = running?.NbdAddress ?? exports?.NbdAddress,
            ["tls"] = running?.TlsMode ?? exports?.TlsMode ?? "required",
            ["clientCertificateSubject"] = credentials.Subject,
            ["exports"] = RenderExports(running),
            ["caCertificate"] = credentials.CaCertificatePem,
            ["clientCertificate"] = credentials.CertificatePem,
            ["clientKey"] = credentials.PrivateKeyPem,
            ["expiresOn"] = credentials.ExpiresOn.ToUniversalTime().ToString("o", CultureInfo.InvariantCulture),
        });
    }

    // ── reads ──────────────────────────────────────────────────────────────────────────────

    public JsonObject? Render(string vmId, bool withInstanceView) =>
        _store.Find(vmId ?? throw new ArgumentNullException(nameof(vmId))) is { } vm ? Render(vm, withInstanceView) : null;

    public JsonObject? RenderInstanceView(string vmId) =>
        _store.Find(vmId ?? throw new ArgumentNullException(nameof(vmId))) is { } vm ? InstanceView(vm) : null;

    public IReadOnlyList<string> InstancesOf(string scaleSetId) =>
        [.. _store.ListScaleSet(scaleSetId ?? throw new ArgumentNullException(nameof(scaleSetId)))
            .OrderBy(v => long.TryParse(v.InstanceId, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : long.MaxValue)
            .ThenBy(v => v.InstanceId, StringComparer.Ordinal)
            .Select(v => v.Id)];

    /// <summary>Standalone VMs (scale-set instances are listed by their set).</summary>
    internal IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup) =>
        [.. _store.ListStandalone(subscriptionId, resourceGroup).Select(vm => Render(vm, withInstanceView: false))];

    /// <summary>Every VM and instance of a group, for the resource group's deletion.</summary>
    internal IReadOnlyList<string> IdsInGroup(Guid subscriptionId, string resourceGroup) =>
        [.. _store.ListGroup(subscriptionId, resourceGroup).Select(vm => vm.Id)];

    // ── IVmDirectory ───────────────────────────────────────────────────────────────────────

    public IReadOnlyList<VmRuntimeSpec> ShouldBeRunning() => [.. _store.InPowerState(VmPowerStates.Running).Select(vm => vm.ToSpec())];

    public VmRuntimeSpec? Find(string vmId) => _store.Find(vmId ?? throw new ArgumentNullException(nameof(vmId)))?.ToSpec();

    public IReadOnlyList<string> UsingVolume(Guid volumeId) =>
        [.. _store.All().Where(vm => vm.Disks.Any(d => d.VolumeId == volumeId)).Select(vm => vm.Id)];

    public void RecordStoppedByServer(VmStoppedByServer stopped)
    {
        ArgumentNullException.ThrowIfNull(stopped);
        // No VM lock here: the runtime may raise this while a request holding the lock waits on it.
        if (!_store.SetPower(stopped.VmId, VmPowerStates.Stopped, stopped.Code, stopped.Reason, stopped.At))
        {
            LogStoppedUnknownVm(_logger, stopped.VmId);
        }
    }

    // ── helpers ────────────────────────────────────────────────────────────────────────────

    private VmRecord RequireVm(string vmId) =>
        _store.Find(vmId) ?? throw new ArmException(404, "ResourceNotFound", $"The virtual machine '{vmId}' was not found.");

    private IVmRuntime RequireRuntime() =>
        _runtime.Value ?? throw Unavailable("run virtual machines", "the server has no VM runtime (NBD exports of VM disks)");

    private ComputeProvider RequireProvider() =>
        _provider.Value ?? throw Unavailable("provision VM disks", "the Compute provider is not available");

    private static ArmException Unavailable(string what, string why) =>
        new(503, "ServiceUnavailable", $"This server cannot {what}: {why}. Use a server build that includes it.");

    private void RequireLinkedAction(CallerIdentity caller, string action, string resourceId)
    {
        if (!ResourceManager.Ids.ResourceId.TryParse(resourceId, out var scope) || !_authorizer.IsActionAllowed(caller.ObjectId, action, scope))
        {
            throw new ArmException(403, "LinkedAuthorizationFailed",
                $"The client '{caller.ObjectId}' does not have permission to perform action '{action}' on the linked resource '{resourceId}': assign it a role that grants it (e.g. Virtual Machine Contributor) at that scope.");
        }
    }

    private async Task<IDisposable> LockAsync(string vmId, CancellationToken cancellationToken)
    {
        var semaphore = _locks.GetOrAdd(vmId, _ => new SemaphoreSlim(1, 1));
        await semaphore.WaitAsync(cancellationToken);
        return new Releaser(semaphore);
    }

    private sealed class Releaser(SemaphoreSlim semaphore) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                semaphore.Release();
            }
        }
    }

    [LoggerMessage(EventId = 6300, Level = LogLevel.Warning, Message = "The runtime reported stopping {VmId}, which has no VM record")]
    private static partial void LogStoppedUnknownVm(ILogger logger, string vmId);

    [LoggerMessage(EventId = 6301, Level = LogLevel.Error, Message = "Rolling back the disk {DiskId} of the failed VM request {VmId} failed; the disk may be left behind")]
    private static partial void LogRollbackFailed(ILogger logger, string diskId, string vmId, Exception exception);
}
