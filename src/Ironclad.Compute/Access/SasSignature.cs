// The signed token of an accessSAS URL: sv, sr, sp, se and sig, where sig = HMAC-SHA256 under a
// secret that lives only in this process's memory, over the grant id, the volume, the permissions
// and the expiry. Invariants: the secret is random per process (a restart ends every grant) and is
// never written anywhere; a signature is compared in constant time; nothing here formats a token
// into a message.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Ironclad.Compute.Access;

/// <summary>The query parameters of a SAS URL, as received (any may be missing).</summary>
public sealed record SasParameters(string? Version, string? Resource, string? Permissions, string? Expiry, string? Signature);

public sealed class SasSignature : IDisposable
{
    /// <summary>The storage service version our SAS URLs name (the one Azure's disk SAS URLs carry).</summary>
    public const string ServiceVersion = "2018-03-28";

    /// <summary>Signed resource: a blob.</summary>
    public const string BlobResource = "b";

    private readonly byte[] _secret = RandomNumberGenerator.GetBytes(32);

    /// <summary>"r" for Read grants, "rw" for Write (upload) grants, which may also read back.</summary>
    public static string PermissionsOf(DiskAccessLevel access) => access == DiskAccessLevel.Write ? "rw" : "r";

    /// <summary>The expiry as it appears in the URL: ISO 8601 UTC to the second.</summary>
    public static string FormatExpiry(DateTimeOffset expiresOn) =>
        expiresOn.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>The query string (without '?') of a grant's URL.</summary>
    public string QueryFor(Guid grantId, Guid volumeId, DiskAccessLevel access, DateTimeOffset expiresOn)
    {
        var permissions = PermissionsOf(access);
        var expiry = FormatExpiry(expiresOn);
        var sig = Sign(grantId, volumeId, permissions, expiry, ServiceVersion, BlobResource);
        return $"sv={ServiceVersion}&sr={BlobResource}&sp={permissions}&se={Uri.EscapeDataString(expiry)}&sig={Uri.EscapeDataString(sig)}";
    }

    /// <summary>True when <paramref name="parameters"/> carry exactly the signature this grant's URL was given.</summary>
    public bool Verify(Guid grantId, Guid volumeId, SasParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Signature is null || parameters.Permissions is null || parameters.Expiry is null
            || parameters.Version is null || parameters.Resource is null)
        {
            return false;
        }

        byte[] presented;
        try
        {
            presented = Convert.FromBase64String(parameters.Signature);
        }
        catch (FormatException)
        {
            return false;
        }

        var expected = Convert.FromBase64String(Sign(grantId, volumeId, parameters.Permissions, parameters.Expiry, parameters.Version, parameters.Resource));
        return CryptographicOperations.FixedTimeEquals(presented, expected);
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_secret);

    private string Sign(Guid grantId, Guid volumeId, string permissions, string expiry, string version, string resource)
    {
        // One field per line, like the storage service's string-to-sign; a newline cannot occur in
        // any field we accept, so no two field lists sign the same bytes.
        var stringToSign = string.Join('\n', grantId.ToString("N"), volumeId.ToString("D"), permissions, expiry, version, resource);
        return Convert.ToBase64String(HMACSHA256.HashData(_secret, Encoding.UTF8.GetBytes(stringToSign)));
    }
}
