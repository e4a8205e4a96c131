// Every IResourceProvider in the process, found by namespace (case-insensitive). The edge routes
// /providers/{namespace}/... through it; resource-group deletion and the generic resource listing
// visit all of them. Invariant: at most one provider per namespace (a duplicate fails at start).
namespace Ironclad.ResourceManager.Providers;

public sealed class ProviderRegistry
{
    private readonly Dictionary<string, IResourceProvider> _byNamespace = new(StringComparer.OrdinalIgnoreCase);

    public ProviderRegistry(IEnumerable<IResourceProvider> providers)
    {
        ArgumentNullException.ThrowIfNull(providers);
        foreach (var provider in providers)
        {
            if (!_byNamespace.TryAdd(provider.ProviderNamespace, provider))
            {
                throw new InvalidOperationException($"Two resource providers serve the namespace {provider.ProviderNamespace}.");
            }

            Ids.KnownNames.Register(provider.ProviderNamespace);
        }
    }

    public IReadOnlyCollection<IResourceProvider> All => _byNamespace.Values;

    public IResourceProvider? Find(string providerNamespace) =>
        _byNamespace.TryGetValue(providerNamespace, out var provider) ? provider : null;
}
