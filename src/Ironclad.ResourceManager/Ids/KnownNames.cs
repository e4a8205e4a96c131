// The canonical spelling of provider namespaces and resource type names that clients send in any
// casing (arm-resources sends "resourcegroups"). Ids are echoed with these spellings; unknown names
// keep the casing they arrived with. Providers register their own type names at start.
using System.Collections.Concurrent;

namespace Ironclad.ResourceManager.Ids;

public static class KnownNames
{
    private static readonly ConcurrentDictionary<string, string> Names = new(StringComparer.OrdinalIgnoreCase);

    static KnownNames()
    {
        foreach (var name in new[]
        {
            "Microsoft.Authorization", "roleAssignments", "roleDefinitions",
            "Microsoft.Resources", "resourceGroups", "subscriptions", "resources", "deployments",
            "Microsoft.Insights", "eventtypes",
            "Microsoft.KeyVault", "vaults", "deletedVaults", "locations", "accessPolicies", "keys", "secrets",
            "Microsoft.Compute", "disks", "snapshots", "diskEncryptionSets", "images", "virtualMachines", "virtualMachineScaleSets",
            "Microsoft.ManagedIdentity", "userAssignedIdentities", "identities",
        })
        {
            Names[name] = name;
        }
    }

    /// <summary>Makes <paramref name="name"/> the canonical spelling of itself in ids.</summary>
    public static void Register(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Names.TryAdd(name, name);
    }

    /// <summary>The canonical spelling of <paramref name="name"/>, or the name itself if unknown.</summary>
    public static string Canonical(string name) => Names.TryGetValue(name, out var canonical) ? canonical : name;
}
