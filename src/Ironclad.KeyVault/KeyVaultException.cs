// The one failure type of the keys data plane: an HTTP status and the cloud's error code (and inner
// code), which the edge writes as {"error":{"code","message","innererror":{"code"}}}. Invariant: the
// message never contains key material, a plaintext, a ciphertext or a token — only names and versions.
namespace Ironclad.KeyVault;

public sealed class KeyVaultException : Exception
{
    public KeyVaultException(int status, string code, string message, string? innerCode = null)
        : base(message)
    {
        Status = status;
        Code = code;
        InnerCode = innerCode;
    }

    public KeyVaultException()
        : this(500, KeyVaultErrorCodes.InternalError, "The vault failed.")
    {
    }

    public KeyVaultException(string message)
        : this(500, KeyVaultErrorCodes.InternalError, message)
    {
    }

    public KeyVaultException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = 500;
        Code = KeyVaultErrorCodes.InternalError;
    }

    public int Status { get; }

    public string Code { get; }

    public string? InnerCode { get; }

    public static KeyVaultException BadParameter(string message) => new(400, KeyVaultErrorCodes.BadParameter, message);

    public static KeyVaultException KeyNotFound(string name, string? version = null) =>
        new(404, KeyVaultErrorCodes.KeyNotFound, version is null or ""
            ? $"A key with (name/id) {name} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command."
            : $"A key with (name/id) {name}/{version} was not found in this key vault.");

    public static KeyVaultException Forbidden(string message, string innerCode) => new(403, KeyVaultErrorCodes.Forbidden, message, innerCode);

    public static KeyVaultException Conflict(string message, string? innerCode = null) => new(409, KeyVaultErrorCodes.Conflict, message, innerCode);

    /// <summary>The cloud's answer to create/import/restore over a soft-deleted name (api-compat §1.6).</summary>
    public static KeyVaultException DeletedButRecoverable(string name) =>
        Conflict(
            $"Key {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.",
            KeyVaultErrorCodes.ObjectIsDeletedButRecoverable);
}

/// <summary>The error codes (and inner codes) the cloud's keys data plane uses; docs/error-codes.md lists them.</summary>
public static class KeyVaultErrorCodes
{
    public const string BadParameter = "BadParameter";
    public const string Unauthorized = "Unauthorized";
    public const string Forbidden = "Forbidden";
    public const string KeyNotFound = "KeyNotFound";
    public const string Conflict = "Conflict";
    public const string InternalError = "InternalError";

    // Inner codes.
    public const string AccessDenied = "AccessDenied";
    public const string ForbiddenByPolicy = "ForbiddenByPolicy";
    public const string ForbiddenByRbac = "ForbiddenByRbac";
    public const string KeyDisabled = "KeyDisabled";

    /// <summary>The operation is not in the key's key_ops (403; the cloud's inner code, seen in azure-sdk-for-net#11518).</summary>
    public const string KeyOperationForbidden = "KeyOperationForbidden";
    public const string KeyExpired = "KeyExpired";
    public const string KeyNotYetValid = "KeyNotYetValid";
    public const string ObjectIsDeletedButRecoverable = "ObjectIsDeletedButRecoverable";
    public const string ObjectIsBeingDeleted = "ObjectIsBeingDeleted";
    public const string PurgeProtected = "PurgeProtected";
}
