// The domain shapes of the keys data plane: a key version (public part only — private material never
// leaves KeyVaultService), its attributes, deleted keys, rotation policies and the requests that
// create or change them. Invariant: these records carry no private key material and no DEK, so any
// of them may be written to JSON, a log or an event.
namespace Ironclad.KeyVault.Keys;

public static class KeyTypes
{
    public const string Rsa = "RSA";
    public const string RsaHsm = "RSA-HSM";
}

/// <summary>The key_ops names, in the cloud's spelling (camelCase on the wire).</summary>
public static class KeyOps
{
    public const string Encrypt = "encrypt";
    public const string Decrypt = "decrypt";
    public const string Sign = "sign";
    public const string Verify = "verify";
    public const string WrapKey = "wrapKey";
    public const string UnwrapKey = "unwrapKey";

    /// <summary>The default when a request names none (the cloud's full RSA set).</summary>
    public static readonly IReadOnlyList<string> AllRsa = [Encrypt, Decrypt, Sign, Verify, WrapKey, UnwrapKey];
}

public static class KeyAlgorithms
{
    public const string RsaOaep = "RSA-OAEP";
    public const string RsaOaep256 = "RSA-OAEP-256";
    public const string Rsa15 = "RSA1_5";
    public const string RS256 = "RS256";
    public const string RS384 = "RS384";
    public const string RS512 = "RS512";
    public const string PS256 = "PS256";
    public const string PS384 = "PS384";
    public const string PS512 = "PS512";
}

/// <summary>The six key operations; the data-plane permission and audit name of each is its wire name.</summary>
public enum KeyOperation
{
    Encrypt,
    Decrypt,
    WrapKey,
    UnwrapKey,
    Sign,
    Verify,
}

public sealed record KeyAttributes(
    bool Enabled,
    DateTimeOffset? NotBefore,
    DateTimeOffset? Expires,
    DateTimeOffset Created,
    DateTimeOffset Updated,
    bool Exportable);

/// <summary>One version of a key, public part only. <see cref="Vault"/> is the vault's name.</summary>
public sealed record KeyVersion(
    string Vault,
    string Name,
    string Version,
    string KeyType,
    int KeySize,
    byte[] Modulus,
    byte[] PublicExponent,
    IReadOnlyList<string> KeyOps,
    KeyAttributes Attributes,
    IReadOnlyDictionary<string, string> Tags,
    bool Managed)
{
    /// <summary>The versioned key id under the vault's origin, e.g. https://127.0.0.1:20000/keys/k1/0f1e….</summary>
    public Uri Kid(Uri vaultUri) => new(vaultUri, $"keys/{Name}/{Version}");
}

/// <summary>A soft-deleted key: its latest version as it was, and when it goes for good.</summary>
public sealed record DeletedKey(KeyVersion Key, DateTimeOffset DeletedDate, DateTimeOffset ScheduledPurgeDate);

/// <summary>One page of a list; <see cref="NextSkipToken"/> is null on the last page.</summary>
public sealed record KeyPage<T>(IReadOnlyList<T> Items, string? NextSkipToken);

/// <summary>Attributes a caller may set on create or import; null = the default (enabled, no nbf/exp, not exportable).</summary>
public sealed record NewKeyAttributes(bool? Enabled, DateTimeOffset? NotBefore, DateTimeOffset? Expires, bool? Exportable);

/// <param name="KeyType">RSA or RSA-HSM (anything else: 400 BadParameter).</param>
/// <param name="KeySize">2048, 3072 or 4096; null = 2048.</param>
/// <param name="PublicExponent">65537 or 3; null = 65537.</param>
public sealed record CreateKeyRequest(
    string KeyType,
    int? KeySize,
    int? PublicExponent,
    IReadOnlyList<string>? KeyOps,
    NewKeyAttributes? Attributes,
    IReadOnlyDictionary<string, string>? Tags);

/// <summary>A JSON Web Key as the import request carried it, fields already base64url-decoded (null = absent).</summary>
public sealed record JsonWebKeyInput(
    string? KeyType,
    byte[]? N,
    byte[]? E,
    byte[]? D,
    byte[]? P,
    byte[]? Q,
    byte[]? DP,
    byte[]? DQ,
    byte[]? QI,
    IReadOnlyList<string>? KeyOps);

/// <param name="Hsm">The request's `hsm` flag (or kty RSA-HSM): the key goes into the token.</param>
public sealed record ImportKeyRequest(
    JsonWebKeyInput Key,
    bool Hsm,
    NewKeyAttributes? Attributes,
    IReadOnlyDictionary<string, string>? Tags);

/// <summary>A PATCH of one version; null fields stay as they are.</summary>
public sealed record UpdateKeyRequest(
    bool? Enabled,
    DateTimeOffset? NotBefore,
    DateTimeOffset? Expires,
    IReadOnlyList<string>? KeyOps,
    IReadOnlyDictionary<string, string>? Tags);

/// <summary>One lifetime action: "Rotate" or "Notify", triggered a duration after creation or before expiry.</summary>
/// <param name="TimeAfterCreate">ISO 8601 duration (e.g. P90D) or null.</param>
/// <param name="TimeBeforeExpiry">ISO 8601 duration (e.g. P30D) or null; exactly one of the two is set.</param>
public sealed record LifetimeAction(string ActionType, string? TimeAfterCreate, string? TimeBeforeExpiry);

/// <param name="ExpiryTime">ISO 8601 duration given to each new version as its exp (from its creation), or null.</param>
public sealed record RotationPolicy(
    IReadOnlyList<LifetimeAction> LifetimeActions,
    string? ExpiryTime,
    DateTimeOffset? Created,
    DateTimeOffset? Updated);

/// <summary>The result of wrap/unwrap/encrypt/decrypt/sign: the version actually used and the output bytes.</summary>
public sealed record KeyOperationOutcome(KeyVersion Key, byte[] Value);

/// <summary>The result of verify.</summary>
public sealed record KeyVerifyOutcome(KeyVersion Key, bool Valid);
