// Microsoft.Compute as one IResourceProvider (the registry allows one per namespace): it routes by
// the first path segment (diskEncryptionSets, disks, snapshots, images, later virtualMachines) to
// the IComputeResourceType that owns that type. Invariant: every type's work runs through
// HandleAsync (it calls vaults over HTTPS), and resource-group deletion visits types in DeleteOrder,
// so users of a disk encryption set are gone before the set.
using System.Text.Json.Nodes;
using Ironclad.Identity;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute;

/// <summary>One resource type of Microsoft.Compute (e.g. "disks"), with the same duties as a provider.</summary>
public interface IComputeResourceType
{
    /// <summary>The type segment, e.g. "disks" (matched case-insensitively).</summary>
    string TypeName { get; }

    /// <summary>Lower runs first when a resource group is deleted (images 10, snapshots 20, disks 30, sets 90).</summary>
    int DeleteOrder { get; }

    /// <inheritdoc cref="IResourceProvider.RequiredAction"/>
    string RequiredAction(ProviderRequest request);

    /// <inheritdoc cref="IResourceProvider.HandleAsync"/>
    Task<ProviderResult> HandleAsync(ProviderRequest request, CancellationToken cancellationToken);

    /// <summary>GET bodies of this type in a subscription, optionally one group.</summary>
    IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup);

    void DeleteResourceGroupContents(Guid subscriptionId, string resourceGroup, CallerIdentity caller);
}

public sealed class ComputeProvider : IResourceProvider
{
    public const string Namespace = "Microsoft.Compute";

    private readonly Dictionary<string, IComputeResourceType> _types = new(StringComparer.OrdinalIgnoreCase);

    public ComputeProvider(IEnumerable<IComputeResourceType> types)
    {
        ArgumentNullException.ThrowIfNull(types);
        foreach (var type in types)
        {
            if (!_types.TryAdd(type.TypeName, type))
            {
                throw new InvalidOperationException($"Two handlers serve {Namespace}/{type.TypeName}.");
            }
        }
    }

    public string ProviderNamespace => Namespace;

    public IReadOnlyList<string> ResourceTypes => [.. _types.Keys.Order(StringComparer.Ordinal).Select(t => $"{Namespace}/{t}")];

    public string RequiredAction(ProviderRequest request) => TypeOf(request).RequiredAction(request);

    public ProviderResult Handle(ProviderRequest request) =>
        throw new NotSupportedException($"{Namespace} is asynchronous: the edge calls {nameof(HandleAsync)}.");

    public Task<ProviderResult> HandleAsync(ProviderRequest request, CancellationToken cancellationToken) =>
        TypeOf(request).HandleAsync(request, cancellationToken);

    public IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup, string resourceType)
    {
        ArgumentException.ThrowIfNullOrEmpty(resourceType);
        var prefix = Namespace + "/";
        return resourceType.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
            && _types.TryGetValue(resourceType[prefix.Length..], out var type)
            ? type.List(subscriptionId, resourceGroup)
            : [];
    }

    public void DeleteResourceGroupContents(Guid subscriptionId, string resourceGroup, CallerIdentity caller)
    {
        foreach (var type in _types.Values.OrderBy(t => t.DeleteOrder))
        {
            type.DeleteResourceGroupContents(subscriptionId, resourceGroup, caller);
        }
    }

    private IComputeResourceType TypeOf(ProviderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.ProviderPath.Count > 0 && _types.TryGetValue(request.ProviderPath[0], out var type)
            ? type
            : throw new ArmException(400, "InvalidResourceType",
                $"The resource type '{(request.ProviderPath.Count > 0 ? request.ProviderPath[0] : "")}' could not be found in the namespace '{Namespace}'.");
    }
}
