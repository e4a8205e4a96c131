// What the host's first-start bootstrap asks of Resource Manager: make the subscription exist and
// give the bootstrap administrator Owner on it. Idempotent, so every start may call it.
namespace Ironclad.ResourceManager;

public interface IResourceManagerBootstrap
{
    /// <summary>
    /// Creates subscription <paramref name="subscriptionId"/> in <paramref name="tenantId"/> if it does not exist, and
    /// assigns the built-in Owner role at its scope to <paramref name="ownerObjectId"/> if no such assignment exists.
    /// </summary>
    void EnsureSubscription(Guid tenantId, Guid subscriptionId, string displayName, Guid ownerObjectId);
}
