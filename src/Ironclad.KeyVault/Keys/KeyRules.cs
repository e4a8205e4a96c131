// The cloud's input rules for keys: names, sizes, exponents, key_ops, tags and attributes, each
// refused with 400 BadParameter before anything is generated or stored. Invariant: every request
// that reaches the store has passed these checks, and names are compared lower-cased (the cloud
// treats key names case-insensitively) while the first spelling is kept for display.
using System.Text.RegularExpressions;

namespace Ironclad.KeyVault.Keys;

internal static partial class KeyRules
{
    public const int NameLengthMax = 127;
    public const int TagsMax = 15;
    public const int TagNameLengthMax = 512;
    public const int TagValueLengthMax = 256;
    public const int DefaultKeySizeBits = 2048;
    public const int DefaultPublicExponent = 65537;

    public static readonly IReadOnlyList<int> KeySizesBits = [2048, 3072, 4096];

    [GeneratedRegex("^[0-9a-zA-Z-]{1,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[0-9a-f]{32}$", RegexOptions.CultureInvariant)]
    private static partial Regex VersionPattern();

    /// <summary>The lookup form of a key name (lower-case), after checking the cloud's name rule.</summary>
    public static string NameKey(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!NamePattern().IsMatch(name))
        {
            var shown = name.Length > NameLengthMax ? string.Concat(name.AsSpan(0, NameLengthMax), "…") : name;
            // The cloud's exact text (a name is 1-127 of 0-9, a-z, A-Z and '-').
            throw KeyVaultException.BadParameter($"The request URI contains an invalid name: {shown}");
        }

        return name.ToLowerInvariant();
    }

    public static string VaultKey(string vaultName) => vaultName.ToLowerInvariant();

    /// <summary>A version id as stored (lower-case 32 hex), or null when it cannot be one (so it is not found).</summary>
    public static string? NormalizeVersion(string version)
    {
        var lower = version.ToLowerInvariant();
        return VersionPattern().IsMatch(lower) ? lower : null;
    }

    public static int KeySize(int? requested)
    {
        var bits = requested ?? DefaultKeySizeBits;
        if (!KeySizesBits.Contains(bits))
        {
            throw KeyVaultException.BadParameter(
                $"The key size {bits} is not supported for RSA keys. Supported sizes are 2048, 3072 and 4096 bits.");
        }

        return bits;
    }

    public static int PublicExponent(int? requested)
    {
        var exponent = requested ?? DefaultPublicExponent;
        if (exponent is not (65537 or 3))
        {
            throw KeyVaultException.BadParameter($"The public exponent {exponent} is not supported. Supported values are 65537 and 3.");
        }

        return exponent;
    }

    public static string KeyType(string? keyType)
    {
        if (string.Equals(keyType, KeyTypes.Rsa, StringComparison.OrdinalIgnoreCase))
        {
            return KeyTypes.Rsa;
        }

        if (string.Equals(keyType, KeyTypes.RsaHsm, StringComparison.OrdinalIgnoreCase))
        {
            return KeyTypes.RsaHsm;
        }

        // EC, EC-HSM and oct keys exist in the cloud; this vault holds RSA keys only (docs/keyvault/keys-lifecycle.md).
        throw KeyVaultException.BadParameter(
            $"The key type '{keyType}' is not supported. Supported key types are RSA and RSA-HSM.");
    }

    /// <summary>key_ops in the cloud's spelling, without duplicates; null = the full RSA set.</summary>
    public static IReadOnlyList<string> KeyOpsOrDefault(IReadOnlyList<string>? requested)
    {
        if (requested is null)
        {
            return KeyOps.AllRsa;
        }

        var result = new List<string>(requested.Count);
        var unsupported = new List<string>();
        foreach (var op in requested)
        {
            var known = KeyOps.AllRsa.FirstOrDefault(k => string.Equals(k, op, StringComparison.OrdinalIgnoreCase));
            if (known is null)
            {
                unsupported.Add(op ?? "null");
            }
            else if (!result.Contains(known))
            {
                result.Add(known);
            }
        }

        if (unsupported.Count > 0)
        {
            throw KeyVaultException.BadParameter(
                $"Unsupported key operation(s): {string.Join(", ", unsupported.Select(u => $"\"{u}\""))}. " +
                "Supported values are \"encrypt\", \"decrypt\", \"sign\", \"verify\", \"wrapKey\", \"unwrapKey\".");
        }

        return result;
    }

    public static IReadOnlyDictionary<string, string> Tags(IReadOnlyDictionary<string, string>? tags)
    {
        if (tags is null)
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }

        if (tags.Count > TagsMax)
        {
            throw KeyVaultException.BadParameter($"A key can have at most {TagsMax} tags; {tags.Count} were given.");
        }

        foreach (var (name, value) in tags)
        {
            if (string.IsNullOrEmpty(name) || name.Length > TagNameLengthMax)
            {
                throw KeyVaultException.BadParameter($"Tag names must be 1-{TagNameLengthMax} characters long.");
            }

            if (value is null || value.Length > TagValueLengthMax)
            {
                throw KeyVaultException.BadParameter($"The value of tag '{name}' must be a string of at most {TagValueLengthMax} characters.");
            }
        }

        return new Dictionary<string, string>(tags, StringComparer.Ordinal);
    }

    public static void Window(DateTimeOffset? notBefore, DateTimeOffset? expires)
    {
        if (notBefore is { } nbf && expires is { } exp && exp <= nbf)
        {
            throw KeyVaultException.BadParameter("The key's expiry time (exp) must be later than its activation time (nbf).");
        }
    }

    public static void Exportable(bool? exportable)
    {
        // Exportable keys need a release policy (secure key release); this vault does not release keys.
        if (exportable == true)
        {
            throw KeyVaultException.BadParameter("Exportable keys must have a release policy; key release is not supported by this vault.");
        }
    }
}
