// Paging continuation tokens: opaque to callers (base64url), meaningful only here. Invariant: a token
// that does not decode to one of ours is refused with 400 BadParameter, never silently restarted.
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Ironclad.KeyVault.Keys;

internal static class SkipTokens
{
    private const string NamePrefix = "n1:";
    private const string SequencePrefix = "s1:";

    public static string Name(string nameKey) => Encode(NamePrefix + nameKey);

    public static string Sequence(long sequence) => Encode(SequencePrefix + sequence.ToString(CultureInfo.InvariantCulture));

    /// <summary>The name after which the page starts; null for the first page.</summary>
    public static string? ReadName(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        var text = Decode(token);
        return text is not null && text.StartsWith(NamePrefix, StringComparison.Ordinal) ? text[NamePrefix.Length..] : throw Invalid();
    }

    /// <summary>The sequence after which the page starts; 0 for the first page.</summary>
    public static long ReadSequence(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return 0;
        }

        var text = Decode(token);
        return text is not null && text.StartsWith(SequencePrefix, StringComparison.Ordinal)
            && long.TryParse(text.AsSpan(SequencePrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
            ? sequence
            : throw Invalid();
    }

    private static string Encode(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    private static string? Decode(string token)
    {
        try
        {
            return Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static KeyVaultException Invalid() => KeyVaultException.BadParameter("The skip token is not valid.");
}
