// BYOK: turns an imported JSON Web Key (RFC 7517 §4, RFC 7518 §6.3) into RSAParameters after checking
// that it is a complete, consistent RSA private key of a supported size: all of n, e, d, p, q, dp,
// dq, qi present; n = p·q; d·e ≡ 1 (mod λ(n)); dp, dq, qi match; and a sign/verify round trip
// through System.Security.Cryptography agrees. Invariants: anything else is 400 BadParameter whose
// message names the field, never its value; the padded copies made here are zeroed by the caller
// through Clear().
using System.Numerics;
using System.Security.Cryptography;

namespace Ironclad.KeyVault.Keys;

internal static class JwkImport
{
    /// <summary>The key's parameters, padded to the lengths RSA.ImportParameters expects. Call <see cref="Clear"/> after use.</summary>
    public static RSAParameters Parse(JsonWebKeyInput jwk, out string keyType, out int keySizeBits)
    {
        ArgumentNullException.ThrowIfNull(jwk);
        keyType = KeyRules.KeyType(jwk.KeyType);
        var n = Trim(Required(jwk.N, "n"));
        var e = Trim(Required(jwk.E, "e"));
        foreach (var (value, field) in new[] { (jwk.D, "d"), (jwk.P, "p"), (jwk.Q, "q"), (jwk.DP, "dp"), (jwk.DQ, "dq"), (jwk.QI, "qi") })
        {
            Required(value, field);
        }

        keySizeBits = BitLength(n);
        if (!KeyRules.KeySizesBits.Contains(keySizeBits))
        {
            throw KeyVaultException.BadParameter(
                $"The imported key is {keySizeBits} bits long. Supported RSA key sizes are 2048, 3072 and 4096 bits.");
        }

        if (e.Length is 0 or > 4)
        {
            throw KeyVaultException.BadParameter("The JSON web key's public exponent (e) is not valid.");
        }

        var modulusBytes = n.Length;
        var halfBytes = (modulusBytes + 1) / 2;
        var parameters = new RSAParameters
        {
            Modulus = n,
            Exponent = e,
            D = Pad(jwk.D!, modulusBytes, "d"),
            P = Pad(jwk.P!, halfBytes, "p"),
            Q = Pad(jwk.Q!, halfBytes, "q"),
            DP = Pad(jwk.DP!, halfBytes, "dp"),
            DQ = Pad(jwk.DQ!, halfBytes, "dq"),
            InverseQ = Pad(jwk.QI!, halfBytes, "qi"),
        };

        try
        {
            CheckConsistent(parameters);
            CheckRoundTrip(parameters);
            return parameters;
        }
        catch
        {
            Clear(parameters);
            throw;
        }
    }

    /// <summary>Zeroes the private parts of <paramref name="parameters"/>.</summary>
    public static void Clear(RSAParameters parameters)
    {
        foreach (var part in new[] { parameters.D, parameters.P, parameters.Q, parameters.DP, parameters.DQ, parameters.InverseQ })
        {
            if (part is not null)
            {
                CryptographicOperations.ZeroMemory(part);
            }
        }
    }

    private static void CheckConsistent(RSAParameters k)
    {
        var n = Big(k.Modulus!);
        var e = Big(k.Exponent!);
        var d = Big(k.D!);
        var p = Big(k.P!);
        var q = Big(k.Q!);
        var one = BigInteger.One;
        var consistent =
            e > one && e.IsEven == false
            && p > one && q > one
            && p * q == n
            && d > one && d < n
            && Big(k.DP!) == d % (p - one)
            && Big(k.DQ!) == d % (q - one)
            && (Big(k.InverseQ!) * q) % p == one;
        if (consistent)
        {
            var lambda = (p - one) / BigInteger.GreatestCommonDivisor(p - one, q - one) * (q - one);
            consistent = (d * e) % lambda == one;
        }

        if (!consistent)
        {
            throw Inconsistent();
        }
    }

    /// <summary>Imports into the platform's RSA and checks that a signature made with the private key verifies with the public one.</summary>
    private static void CheckRoundTrip(RSAParameters parameters)
    {
        try
        {
            using var rsa = RSA.Create();
            rsa.ImportParameters(parameters);
            var digest = SHA256.HashData("ironclad-import-check"u8);
            var signature = rsa.SignHash(digest, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var verifier = RSA.Create();
            verifier.ImportParameters(new RSAParameters { Modulus = parameters.Modulus, Exponent = parameters.Exponent });
            if (!verifier.VerifyHash(digest, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
            {
                throw Inconsistent();
            }
        }
        catch (CryptographicException)
        {
            throw Inconsistent();
        }
    }

    private static byte[] Required(byte[]? value, string field) =>
        value is { Length: > 0 }
            ? value
            : throw KeyVaultException.BadParameter($"The JSON web key is missing the RSA parameter '{field}' (an RSA private key needs n, e, d, p, q, dp, dq and qi).");

    /// <summary>A copy right-aligned in <paramref name="length"/> bytes (JWK integers drop leading zeros).</summary>
    private static byte[] Pad(byte[] value, int length, string field)
    {
        var trimmed = value.AsSpan(LeadingZeros(value));
        if (trimmed.Length > length)
        {
            throw KeyVaultException.BadParameter($"The JSON web key's RSA parameter '{field}' is longer than the modulus allows.");
        }

        var padded = new byte[length];
        trimmed.CopyTo(padded.AsSpan(length - trimmed.Length));
        return padded;
    }

    private static byte[] Trim(byte[] value) => value.AsSpan(LeadingZeros(value)).ToArray();

    private static int LeadingZeros(byte[] value)
    {
        var zeros = 0;
        while (zeros < value.Length - 1 && value[zeros] == 0)
        {
            zeros++;
        }

        return zeros;
    }

    private static int BitLength(byte[] trimmed) =>
        trimmed.Length == 0 || trimmed[0] == 0 ? 0 : ((trimmed.Length - 1) * 8) + (32 - BitOperations.LeadingZeroCount((uint)trimmed[0]));

    private static BigInteger Big(byte[] bigEndian) => new(bigEndian, isUnsigned: true, isBigEndian: true);

    private static KeyVaultException Inconsistent() =>
        KeyVaultException.BadParameter("The JSON web key is not a consistent RSA private key (its parameters do not belong together).");
}
