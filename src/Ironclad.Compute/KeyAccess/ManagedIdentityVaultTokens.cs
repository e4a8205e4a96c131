// Managed-identity tokens for the vault audience, issued in-process through the platform credential
// (the analogue of a host's instance metadata service) and cached per principal until shortly before
// they expire. Invariant: tokens stay in this cache and in Authorization headers; an identity that
// no longer exists is reported as IdentityRejected, never as a crash.
using System.Collections.Concurrent;
using Ironclad.Identity;
using Ironclad.Identity.Tokens;

namespace Ironclad.Compute.KeyAccess;

public sealed class ManagedIdentityVaultTokens : IVaultAccessTokens
{
    public const string VaultResource = "https://vault.azure.net";

    /// <summary>A cached token is replaced this long before it expires (or at half its lifetime, if shorter).</summary>
    private static readonly TimeSpan RefreshMarginMax = TimeSpan.FromMinutes(5);

    private readonly IdentityProvider _identity;
    private readonly PlatformCredential _credential;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<Guid, CachedToken> _cache = new();

    public ManagedIdentityVaultTokens(IdentityProvider identity, PlatformCredential credential, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(credential);
        ArgumentNullException.ThrowIfNull(time);
        _identity = identity;
        _credential = credential;
        _time = time;
    }

    public ValueTask<string> GetTokenAsync(Guid principalId, bool forceRefresh, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var now = _time.GetUtcNow();
        if (!forceRefresh && _cache.TryGetValue(principalId, out var cached) && now < cached.RefreshAt)
        {
            return ValueTask.FromResult(cached.AccessToken);
        }

        IssuedToken issued;
        try
        {
            issued = _identity.IssueManagedIdentityToken(_credential, principalId, VaultResource);
        }
        catch (InvalidOperationException e)
        {
            _cache.TryRemove(principalId, out _);
            throw new KeyAccessException(KeyAccessFailure.IdentityRejected, "",
                $"The managed identity {principalId:D} no longer exists, so it cannot call the vault; assign an existing identity and grant it get, wrapKey and unwrapKey.",
                innerException: e);
        }

        var lifetime = issued.ExpiresOn - now;
        var margin = lifetime / 2 < RefreshMarginMax ? lifetime / 2 : RefreshMarginMax;
        _cache[principalId] = new CachedToken(issued.AccessToken, issued.ExpiresOn - margin);
        return ValueTask.FromResult(issued.AccessToken);
    }

    /// <summary>Drops a principal's cached token (its identity was deleted).</summary>
    public void Forget(Guid principalId) => _cache.TryRemove(principalId, out _);

    private sealed record CachedToken(string AccessToken, DateTimeOffset RefreshAt)
    {
        public override string ToString() => $"CachedToken(redacted, refresh at {RefreshAt:O})";
    }
}
