// Where the vault client gets the bearer token of the identity that acts. Production: the platform
// credential's managed-identity tokens (ManagedIdentityVaultTokens); tests may hand in tokens of
// service principals from a real server's token endpoint. Invariant: a token is only ever put in
// an Authorization header — never in a message, a log or an exception.
namespace Ironclad.Compute.KeyAccess;

public interface IVaultAccessTokens
{
    /// <summary>A bearer token for audience https://vault.azure.net of <paramref name="principalId"/>.</summary>
    /// <param name="forceRefresh">True after the vault refused the cached token (401): issue a new one.</param>
    /// <exception cref="KeyAccessException">The identity no longer exists (IdentityRejected).</exception>
    ValueTask<string> GetTokenAsync(Guid principalId, bool forceRefresh, CancellationToken cancellationToken);
}
