// Subscriptions and resource groups: the containers every other resource lives in. Invariants: a
// group exists only inside an existing subscription; names compare case-insensitively and keep
// their first casing; deleting a group first asks every provider to remove what it holds there,
// then removes the group's role assignments, then the group.
using System.Text.RegularExpressions;
using Ironclad.Identity;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Storage;

namespace Ironclad.ResourceManager.Groups;

public sealed partial class ResourceGroupService
{
    private readonly IResourceManagerStore _store;
    private readonly ProviderRegistry _providers;

    public ResourceGroupService(IResourceManagerStore store, ProviderRegistry providers)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(providers);
        _store = store;
        _providers = providers;
    }

    /// <summary>The subscription, or 404 SubscriptionNotFound.</summary>
    public Subscription RequireSubscription(Guid subscriptionId) =>
        _store.GetSubscription(subscriptionId)
        ?? throw new ArmException(404, "SubscriptionNotFound", $"The subscription '{subscriptionId}' could not be found.");

    public Subscription? FindSubscription(Guid subscriptionId) => _store.GetSubscription(subscriptionId);

    public IReadOnlyList<Subscription> ListSubscriptions() => _store.ListSubscriptions();

    public ResourceGroup? Get(Guid subscriptionId, string name) => _store.GetResourceGroup(subscriptionId, name);

    /// <summary>The group, or 404 ResourceGroupNotFound.</summary>
    public ResourceGroup Require(Guid subscriptionId, string name) =>
        _store.GetResourceGroup(subscriptionId, name)
        ?? throw new ArmException(404, "ResourceGroupNotFound", $"Resource group '{name}' could not be found.");

    public IReadOnlyList<ResourceGroup> List(Guid subscriptionId) => _store.ListResourceGroups(subscriptionId);

    /// <summary>PUT: create, or replace location-compatible properties. Returns the stored group and whether it was created.</summary>
    public (ResourceGroup Group, bool Created) CreateOrUpdate(Guid subscriptionId, string name, string? location, IReadOnlyDictionary<string, string>? tags, string? managedBy)
    {
        RequireSubscription(subscriptionId);
        ValidateName(name);
        if (string.IsNullOrWhiteSpace(location))
        {
            throw new ArmException(400, "LocationRequired", "The location property is required for this definition.");
        }

        var existing = _store.GetResourceGroup(subscriptionId, name);
        if (existing is not null && !string.Equals(NormalizeLocation(existing.Location), NormalizeLocation(location), StringComparison.Ordinal))
        {
            throw new ArmException(409, "InvalidResourceGroupLocation",
                $"Invalid resource group location '{location}'. The Resource group already exists in location '{existing.Location}'.");
        }

        var group = new ResourceGroup(subscriptionId, existing?.Name ?? name, existing?.Location ?? location,
            tags ?? new Dictionary<string, string>(), managedBy ?? existing?.ManagedBy);
        var created = _store.UpsertResourceGroup(group);
        return (_store.GetResourceGroup(subscriptionId, name)!, created);
    }

    /// <summary>PATCH: merges tags (replace when given) and managedBy; the location cannot change.</summary>
    public ResourceGroup Update(Guid subscriptionId, string name, IReadOnlyDictionary<string, string>? tags, string? managedBy)
    {
        var existing = Require(subscriptionId, name);
        var group = existing with { Tags = tags ?? existing.Tags, ManagedBy = managedBy ?? existing.ManagedBy };
        _store.UpsertResourceGroup(group);
        return group;
    }

    /// <summary>DELETE: removes the contents through every provider, then the group's role assignments and the group.</summary>
    public bool Delete(Guid subscriptionId, string name, CallerIdentity caller)
    {
        var group = _store.GetResourceGroup(subscriptionId, name);
        if (group is null)
        {
            return false;
        }

        foreach (var provider in _providers.All)
        {
            provider.DeleteResourceGroupContents(subscriptionId, group.Name, caller);
        }

        _store.DeleteRoleAssignmentsUnder(ResourceId.ForResourceGroup(subscriptionId, group.Name).ToString());
        return _store.DeleteResourceGroup(subscriptionId, group.Name);
    }

    private static string NormalizeLocation(string location) => location.Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant();

    // Azure: 1-90 characters, alphanumerics, underscores, parentheses, hyphens, periods (not at the end), Unicode letters.
    private static void ValidateName(string name)
    {
        if (!GroupName().IsMatch(name) || name.EndsWith('.'))
        {
            throw new ArmException(400, "InvalidResourceGroup",
                $"The provided resource group name '{name}' has these invalid characters or length. The name can only be a letter, digit, '-', '.', '(', ')' or '_', and cannot end with '.'.");
        }
    }

    [GeneratedRegex(@"^[\p{L}\p{Nd}_\-\.\(\)]{1,90}$")]
    private static partial Regex GroupName();
}
