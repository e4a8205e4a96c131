// Client secrets: generated from 30 random bytes as 40 URL-safe characters (so no form or shell
// escaping trouble), stored only as SHA-256, compared in constant time. A secret is high-entropy,
// so an unsalted fast hash is enough (no dictionary to attack); the plaintext exists only in the
// response to the call that created it.
using System.Security.Cryptography;
using System.Text;

namespace Ironclad.Identity.Principals;

public static class ClientSecrets
{
    public const int SecretLengthChars = 40;

    public static string Generate()
    {
        // 30 bytes -> 40 base64url characters exactly, no padding.
        var bytes = RandomNumberGenerator.GetBytes(30);
        var text = Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');
        CryptographicOperations.ZeroMemory(bytes);
        return text;
    }

    public static byte[] Hash(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        return SHA256.HashData(Encoding.UTF8.GetBytes(secret));
    }

    public static bool Matches(string presented, byte[] storedHash)
    {
        ArgumentNullException.ThrowIfNull(presented);
        ArgumentNullException.ThrowIfNull(storedHash);
        return CryptographicOperations.FixedTimeEquals(Hash(presented), storedHash);
    }
}
