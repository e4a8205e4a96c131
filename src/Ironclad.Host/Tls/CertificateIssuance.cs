// What every certificate the local CA issues has in common: a random positive serial number and a
// validity period that starts an hour early (clock skew) and never outlasts the CA's own, which
// CertificateRequest.Create would refuse.
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ironclad.Host.Tls;

internal static class CertificateIssuance
{
    public static readonly TimeSpan ClockSkewAllowance = TimeSpan.FromHours(1);

    /// <summary>16 random bytes as a positive DER INTEGER without a leading zero byte (RFC 5280 §4.1.2.2).</summary>
    public static byte[] RandomSerialNumber()
    {
        var serialNumber = RandomNumberGenerator.GetBytes(16);
        serialNumber[0] &= 0x7F;
        serialNumber[0] |= 0x01;
        return serialNumber;
    }

    /// <summary>[now - skew, now + period], clamped to the issuer's validity.</summary>
    public static (DateTimeOffset NotBefore, DateTimeOffset NotAfter) Validity(X509Certificate2 authority, DateTimeOffset now, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(authority);
        var authorityNotBefore = new DateTimeOffset(authority.NotBefore.ToUniversalTime());
        var authorityNotAfter = new DateTimeOffset(authority.NotAfter.ToUniversalTime());
        var notBefore = now - ClockSkewAllowance;
        var notAfter = now + period;
        return (notBefore > authorityNotBefore ? notBefore : authorityNotBefore, notAfter < authorityNotAfter ? notAfter : authorityNotAfter);
    }
}
