// The backup blob of one key (format v1): the ASCII magic "IRONCLAD-KEY-BACKUP/1\n" followed by a
// payload sealed under the vault service's root key with associated data "ironclad-key-backup/v1".
// The payload (JSON) holds the key's name, rotation policy and every version's public part and
// attributes; each version's private part inside it is sealed once more (software keys, AAD
// "ironclad-key-backup/v1/{version}") or wrapped by the token (HSM keys, IHsmKeyStore.ExportWrapped).
// Invariants: the blob never holds plaintext private material; any change to it, or a blob sealed by
// another root key, fails to open and is refused as 400 BadParameter, before anything is stored.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ironclad.KeyVault.Protection;

namespace Ironclad.KeyVault.Keys;

internal static class KeyBackup
{
    public const string AssociatedData = "ironclad-key-backup/v1";

    private static readonly byte[] Magic = "IRONCLAD-KEY-BACKUP/1\n"u8.ToArray();

    public static byte[] MaterialAad(string version) => Encoding.UTF8.GetBytes($"{AssociatedData}/{version}");

    public static byte[] Write(IKeyProtector protector, BackupPayload payload)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(payload);
        var sealedPayload = protector.Seal(json, Encoding.UTF8.GetBytes(AssociatedData));
        return [.. Magic, .. sealedPayload];
    }

    /// <summary>The payload, or 400 BadParameter when the blob is not an intact backup sealed by this root key.</summary>
    public static BackupPayload Read(IKeyProtector protector, ReadOnlySpan<byte> blob)
    {
        if (!blob.StartsWith(Magic))
        {
            throw NotOurs();
        }

        byte[] json;
        try
        {
            json = protector.Unseal(blob[Magic.Length..], Encoding.UTF8.GetBytes(AssociatedData));
        }
        catch (CryptographicException)
        {
            throw NotOurs();
        }

        try
        {
            var payload = JsonSerializer.Deserialize<BackupPayload>(json);
            if (payload is null || payload.Format != AssociatedData || payload.Versions is not { Count: > 0 })
            {
                throw NotOurs();
            }

            return payload;
        }
        catch (JsonException)
        {
            throw NotOurs();
        }
    }

    public static KeyVaultException NotOurs() =>
        KeyVaultException.BadParameter("The backup blob is not a key backup made by this service, or it was altered.");

    internal sealed record BackupPayload(
        [property: JsonPropertyName("format")] string Format,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("rotationPolicy")] string? RotationPolicyJson,
        [property: JsonPropertyName("versions")] IReadOnlyList<BackupVersion> Versions);

    internal sealed record BackupVersion(
        [property: JsonPropertyName("version")] string Version,
        [property: JsonPropertyName("seq")] long Sequence,
        [property: JsonPropertyName("kty")] string KeyType,
        [property: JsonPropertyName("keySize")] int KeySize,
        [property: JsonPropertyName("n")] byte[] Modulus,
        [property: JsonPropertyName("e")] byte[] PublicExponent,
        [property: JsonPropertyName("keyOps")] IReadOnlyList<string> KeyOps,
        [property: JsonPropertyName("enabled")] bool Enabled,
        [property: JsonPropertyName("nbfMs")] long? NotBeforeMs,
        [property: JsonPropertyName("expMs")] long? ExpiresMs,
        [property: JsonPropertyName("createdMs")] long CreatedMs,
        [property: JsonPropertyName("updatedMs")] long UpdatedMs,
        [property: JsonPropertyName("tags")] IReadOnlyDictionary<string, string> Tags,
        [property: JsonPropertyName("sealedPrivateKey")] byte[]? SealedPrivateKey,
        [property: JsonPropertyName("hsmWrapped")] byte[]? HsmWrapped);
}
