// A Key Vault key as Compute names it: the vault origin (one port per vault on loopback), the key's
// name and, when pinned, its version — parsed from a keyUrl / kid such as
// https://127.0.0.1:21000/keys/k1/0123abcd. Invariant: a KeyReference is always an https origin root
// plus /keys/{name}[/{version}], so it can be compared, stored and sent to the vault verbatim.
using System.Diagnostics.CodeAnalysis;

namespace Ironclad.Compute.KeyAccess;

public sealed record KeyReference(Uri VaultUri, string Name, string? Version)
{
    /// <summary>True when <see cref="Version"/> is set (a kid); false for a versionless keyUrl.</summary>
    public bool IsVersioned => Version is not null;

    /// <summary>https://host:port/keys/{name}/{version} or, versionless, https://host:port/keys/{name}.</summary>
    public override string ToString() =>
        Version is null ? $"{VaultUri.GetLeftPart(UriPartial.Authority)}/keys/{Name}" : $"{VaultUri.GetLeftPart(UriPartial.Authority)}/keys/{Name}/{Version}";

    /// <summary>The same key without its version.</summary>
    public KeyReference Versionless() => this with { Version = null };

    /// <summary>True when both name the same key of the same vault (versions ignored; names case-insensitive like the vault).</summary>
    public bool IsSameKey(KeyReference other) =>
        other is not null
        && Uri.Compare(VaultUri, other.VaultUri, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0
        && Name.Equals(other.Name, StringComparison.OrdinalIgnoreCase);

    public static bool TryParse(string? keyUrl, [NotNullWhen(true)] out KeyReference? key)
    {
        key = null;
        if (!Uri.TryCreate(keyUrl, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            return false;
        }

        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length is < 2 or > 3 || !segments[0].Equals("keys", StringComparison.OrdinalIgnoreCase)
            || !IsName(segments[1]) || (segments.Length == 3 && !IsVersion(segments[2])))
        {
            return false;
        }

        key = new KeyReference(new Uri(uri.GetLeftPart(UriPartial.Authority) + "/"), segments[1], segments.Length == 3 ? segments[2] : null);
        return true;
    }

    public static KeyReference Parse(string keyUrl) =>
        TryParse(keyUrl, out var key) ? key : throw new FormatException($"'{keyUrl}' is not a Key Vault key URL (https://{{vault}}/keys/{{name}}[/{{version}}]).");

    // Key Vault object names: 1-127 of [0-9a-zA-Z-]; versions: 32 hex digits (we accept any [0-9a-zA-Z]).
    private static bool IsName(string s) => s.Length is >= 1 and <= 127 && s.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    private static bool IsVersion(string s) => s.Length is >= 1 and <= 64 && s.All(char.IsAsciiLetterOrDigit);
}
