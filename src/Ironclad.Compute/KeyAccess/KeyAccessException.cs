// Why the vault refused a key operation, in terms Compute turns into ARM errors and revocation
// decisions. Invariant: the message names the key (its URL), the identity and what is wrong — never
// a token, a DEK or wrapped key bytes.
namespace Ironclad.Compute.KeyAccess;

public enum KeyAccessFailure
{
    /// <summary>403 Forbidden: the identity lacks the permission (access policy or RBAC data action).</summary>
    PermissionDenied,

    /// <summary>403 KeyDisabled.</summary>
    KeyDisabled,

    /// <summary>403 KeyExpired or KeyNotYetValid (wrap refused; unwrap of an expired key still works at the vault).</summary>
    KeyNotValidNow,

    /// <summary>404 KeyNotFound (deleted, purged, or never existed) or the version does not exist.</summary>
    KeyNotFound,

    /// <summary>The vault does not exist (purged, soft-deleted so its port answers nothing) or did not answer.</summary>
    VaultUnavailable,

    /// <summary>401: the identity's token was refused (the identity was deleted, or the tenant moved).</summary>
    IdentityRejected,

    /// <summary>Anything else the vault answered (400s, 5xx).</summary>
    Other,
}

public sealed class KeyAccessException : Exception
{
    public KeyAccessException()
    {
    }

    public KeyAccessException(string message)
        : base(message)
    {
    }

    public KeyAccessException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public KeyAccessException(KeyAccessFailure failure, string keyUrl, string message, string? vaultErrorCode = null, string? missingPermission = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
        KeyUrl = keyUrl;
        VaultErrorCode = vaultErrorCode;
        MissingPermission = missingPermission;
    }

    public KeyAccessFailure Failure { get; } = KeyAccessFailure.Other;

    /// <summary>The key the operation was on (a URL, safe to show).</summary>
    public string KeyUrl { get; } = "";

    /// <summary>The vault's error code (e.g. Forbidden, KeyDisabled), when it answered.</summary>
    public string? VaultErrorCode { get; }

    /// <summary>For <see cref="KeyAccessFailure.PermissionDenied"/>: the permission, e.g. "unwrapKey".</summary>
    public string? MissingPermission { get; }
}
