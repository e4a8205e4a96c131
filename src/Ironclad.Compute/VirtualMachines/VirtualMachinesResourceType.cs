// Microsoft.Compute/virtualMachines: PUT / PATCH / GET (+$expand=instanceView) / list / DELETE, the
// instanceView, the power actions and our issueNbdCredentials, all through VirtualMachineService (so
// a scale-set instance and a VM behave the same). Invariant: lists show standalone VMs only; every
// path answers either through the service or with an ARM error naming what is wrong.
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ironclad.Identity;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute.VirtualMachines;

public sealed partial class VirtualMachinesResourceType : IComputeResourceType
{
    public const string Name = "virtualMachines";

    private static readonly string[] Actions = ["start", "powerOff", "deallocate", "restart", "issueNbdCredentials", "attachDetachDataDisks"];

    private readonly VirtualMachineService _service;
    private readonly int _pageSize;

    public VirtualMachinesResourceType(VirtualMachineService service, int pageSize)
    {
        _service = service ?? throw new ArgumentNullException(nameof(service));
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        _pageSize = pageSize;
    }

    public string TypeName => Name;

    public int DeleteOrder => 5;

    public string RequiredAction(ProviderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = request.ProviderPath;
        return (path.Count, request.Method) switch
        {
            (1, "GET") or (2, "GET") => $"{VirtualMachineService.VmResourceType}/read",
            (2, "PUT") or (2, "PATCH") => $"{VirtualMachineService.VmResourceType}/write",
            (2, "DELETE") => $"{VirtualMachineService.VmResourceType}/delete",
            (3, "GET") when path[2].Equals("instanceView", StringComparison.OrdinalIgnoreCase) => $"{VirtualMachineService.VmResourceType}/instanceView/read",
            (3, "POST") when Action(path[2]) is { } action => $"{VirtualMachineService.VmResourceType}/{action}/action",
            (1 or 2 or 3, _) when path.Count < 3 || path[2].Equals("instanceView", StringComparison.OrdinalIgnoreCase) || Action(path[2]) is not null =>
                throw new ArmException(405, "MethodNotAllowed", $"{request.Method} is not supported on {VirtualMachineService.VmResourceType}{(path.Count == 3 ? "/" + path[2] : "")}."),
            _ => throw new ArmException(404, "InvalidResourceType",
                $"The resource type '{string.Join('/', path)}' could not be found in the namespace '{ComputeProvider.Namespace}'."),
        };
    }

    public async Task<ProviderResult> HandleAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = request.ProviderPath;
        if (path.Count == 1)
        {
            return new ProviderResult(200, ArmPaging.Page([.. List(request.SubscriptionId, request.ResourceGroup)], ListUri(request), request.Query, _pageSize));
        }

        var group = request.ResourceGroup ?? throw new ArmException(404, "InvalidResourceType", $"{VirtualMachineService.VmResourceType}/{{name}} lives in a resource group.");
        var name = path[1];
        var id = $"/subscriptions/{request.SubscriptionId}/resourceGroups/{group}/providers/{VirtualMachineService.VmResourceType}/{name}";
        if (path.Count == 2)
        {
            switch (request.Method)
            {
                case "PUT":
                    RequireName(name);
                    var existed = _service.Find(id) is not null;
                    var created = await _service.CreateAsync(
                        new VmCreateRequest(id, request.SubscriptionId, group, name, JsonBodyOf(request), request.Caller, request.ApiVersion, request.BaseUri),
                        cancellationToken);
                    return new ProviderResult(existed ? 200 : 201, created);
                case "PATCH":
                    RequireExisting(id, group, name);
                    return new ProviderResult(200, await _service.PatchAsync(id, request.Body, request.Caller, request.BaseUri, cancellationToken));
                case "GET":
                    return new ProviderResult(200, _service.Render(id, ExpandsInstanceView(request)) ?? throw NotFound(group, name));
                case "DELETE":
                    return await _service.DeleteAsync(id, request.Caller, cancellationToken) ? new ProviderResult(200, null) : new ProviderResult(204, null);
                default:
                    break;
            }
        }
        else if (path.Count == 3 && request.Method == "GET" && path[2].Equals("instanceView", StringComparison.OrdinalIgnoreCase))
        {
            return new ProviderResult(200, _service.RenderInstanceView(id) ?? throw NotFound(group, name));
        }
        else if (path.Count == 3 && request.Method == "POST" && Action(path[2]) is { } action)
        {
            RequireExisting(id, group, name);
            if (action == "issueNbdCredentials")
            {
                return new ProviderResult(200, await _service.IssueNbdCredentialsAsync(id, request.Body, cancellationToken));
            }

            if (action == "attachDetachDataDisks")
            {
                return new ProviderResult(200, await AttachDetachDataDisksAsync(request, id, cancellationToken));
            }

            await _service.PowerAsync(id, action switch
            {
                "start" => VmPowerAction.Start,
                "powerOff" => VmPowerAction.PowerOff,
                "deallocate" => VmPowerAction.Deallocate,
                _ => VmPowerAction.Restart,
            }, cancellationToken);
            return new ProviderResult(200, null);
        }

        throw new ArmException(405, "MethodNotAllowed", $"{request.Method} is not supported on {VirtualMachineService.VmResourceType}.");
    }

    public IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup) => _service.List(subscriptionId, resourceGroup);

    public void DeleteResourceGroupContents(Guid subscriptionId, string resourceGroup, CallerIdentity caller)
    {
        foreach (var id in _service.IdsInGroup(subscriptionId, resourceGroup))
        {
            // The resource-group contract is synchronous; the server has no synchronization context to deadlock.
#pragma warning disable VSTHRD002
            _service.DeleteAsync(id, caller, CancellationToken.None).GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
        }
    }

    /// <summary>
    /// POST …/attachDetachDataDisks: {dataDisksToAttach:[{diskId, lun?, caching?, deleteOption?}], dataDisksToDetach:[{diskId}]}
    /// becomes the same data-disk difference a PATCH applies (hot while running); answers the new storageProfile.
    /// </summary>
    private async Task<JsonObject> AttachDetachDataDisksAsync(ProviderRequest request, string id, CancellationToken cancellationToken)
    {
        var body = JsonBodyOf(request);
        var current = _service.Render(id, withInstanceView: false)?["properties"]?["storageProfile"]?["dataDisks"]?.AsArray()
            ?? throw new ArmException(404, "ResourceNotFound", $"The virtual machine '{id}' was not found.");
        var disks = current.Select(d => new JsonObject
        {
            ["lun"] = d!["lun"]!.GetValue<int>(),
            ["createOption"] = "Attach",
            ["caching"] = d["caching"]?.GetValue<string>(),
            ["deleteOption"] = d["deleteOption"]?.GetValue<string>(),
            ["managedDisk"] = new JsonObject { ["id"] = d["managedDisk"]!["id"]!.GetValue<string>() },
        }).ToList();

        var toDetach = Disks.JsonBody.Property(body, "dataDisksToDetach");
        var toAttach = Disks.JsonBody.Property(body, "dataDisksToAttach");
        if (toDetach is null && toAttach is null)
        {
            throw new ArmException(400, "InvalidParameter", "Give dataDisksToAttach and/or dataDisksToDetach (arrays of {\"diskId\": \"<disk id>\"}).");
        }

        foreach (var (entry, index) in Entries(toDetach, "dataDisksToDetach"))
        {
            var diskId = RequireDiskId(entry, $"dataDisksToDetach[{index}]");
            if (disks.RemoveAll(d => d["managedDisk"]!["id"]!.GetValue<string>().Equals(diskId, StringComparison.OrdinalIgnoreCase)) == 0)
            {
                throw new ArmException(400, "InvalidParameter", $"dataDisksToDetach[{index}].diskId '{diskId}' is not a data disk of '{id}'.");
            }
        }

        foreach (var (entry, index) in Entries(toAttach, "dataDisksToAttach"))
        {
            var path = $"dataDisksToAttach[{index}]";
            var diskId = RequireDiskId(entry, path);
            if (Disks.JsonBody.Property(entry, "diskEncryptionSet") is { ValueKind: not System.Text.Json.JsonValueKind.Null })
            {
                throw new ArmException(400, "InvalidParameter",
                    $"{path}.diskEncryptionSet is not taken here: an attached disk keeps the encryption it was created with. Change the disk's encryption on the disk (PATCH properties.encryption) while it is unattached.");
            }

            var lun = Disks.JsonBody.OptionalInt64(entry, "lun", path)
                ?? Enumerable.Range(0, 64).First(l => disks.All(d => d["lun"]!.GetValue<int>() != l));
            disks.Add(new JsonObject
            {
                ["lun"] = lun,
                ["createOption"] = "Attach",
                ["caching"] = Disks.JsonBody.OptionalString(entry, "caching", path),
                ["deleteOption"] = Disks.JsonBody.OptionalString(entry, "deleteOption", path),
                ["managedDisk"] = new JsonObject { ["id"] = diskId },
            });
        }

        var patch = new JsonObject { ["properties"] = new JsonObject { ["storageProfile"] = new JsonObject { ["dataDisks"] = new JsonArray([.. disks]) } } };
        var patched = await _service.PatchAsync(id, System.Text.Json.JsonSerializer.SerializeToElement(patch), request.Caller, request.BaseUri, cancellationToken);
        return patched["properties"]?["storageProfile"]?.DeepClone().AsObject() ?? [];

        static IEnumerable<(System.Text.Json.JsonElement Entry, int Index)> Entries(System.Text.Json.JsonElement? array, string name) =>
            array switch
            {
                null or { ValueKind: System.Text.Json.JsonValueKind.Null } => [],
                { ValueKind: System.Text.Json.JsonValueKind.Array } a => a.EnumerateArray().Select((e, i) => (e, i)),
                _ => throw new ArmException(400, "InvalidParameter", $"{name} must be an array."),
            };

        static string RequireDiskId(System.Text.Json.JsonElement entry, string path) =>
            Disks.JsonBody.OptionalString(entry, "diskId", path)
            ?? throw new ArmException(400, "InvalidParameter", $"{path}.diskId is required: the id of a managed disk.");
    }

    private void RequireExisting(string id, string group, string name)
    {
        if (_service.Find(id) is null)
        {
            throw NotFound(group, name);
        }
    }

    private static ArmException NotFound(string group, string name) =>
        new(404, "ResourceNotFound", $"The Resource '{VirtualMachineService.VmResourceType}/{name}' under resource group '{group}' was not found.");

    private static System.Text.Json.JsonElement JsonBodyOf(ProviderRequest request) => Disks.JsonBody.RequireObject(request.Body);

    private static bool ExpandsInstanceView(ProviderRequest request) =>
        request.Query.FirstOrDefault(q => q.Key.Equals("$expand", StringComparison.OrdinalIgnoreCase)).Value is { } expand
        && expand.Split(',').Any(e => e.Trim().Equals("instanceView", StringComparison.OrdinalIgnoreCase));

    private static string? Action(string segment) => Actions.FirstOrDefault(a => a.Equals(segment, StringComparison.OrdinalIgnoreCase));

    /// <summary>VM names: 1-64 letters, digits, '-', '_' and '.'; start with a letter or digit, end with a letter, digit or '_'.</summary>
    private static void RequireName(string name)
    {
        if (!NamePattern().IsMatch(name))
        {
            throw new ArmException(400, "InvalidResourceName",
                $"The virtual machine name '{name}' is invalid: use 1-64 letters, digits, hyphens, underscores and periods, starting with a letter or digit and ending with a letter, digit or underscore.");
        }
    }

    private static Uri ListUri(ProviderRequest request) =>
        new(request.BaseUri, request.ResourceGroup is { } rg
            ? $"subscriptions/{request.SubscriptionId}/resourceGroups/{rg}/providers/{VirtualMachineService.VmResourceType}"
            : $"subscriptions/{request.SubscriptionId}/providers/{VirtualMachineService.VmResourceType}");

    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$")]
    private static partial Regex NamePattern();
}
