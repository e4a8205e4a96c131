// Client certificates for NBD mutual TLS (`ironclad dev issue-client-cert`): ECDSA P-256, 1 year,
// EKU clientAuth only, signed by the data directory's local CA, written in the directory layout
// qemu's tls-creds-x509 (endpoint=client) and libnbd's tls-certificates= read: ca-cert.pem,
// client-cert.pem, client-key.pem. Invariant: the private key file is 0600 from creation and an
// existing identity is never overwritten unless asked.
using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ironclad.Host.Tls;

internal static class ClientCertificate
{
    public const string CaFileName = "ca-cert.pem";
    public const string CertificateFileName = "client-cert.pem";
    public const string KeyFileName = "client-key.pem";

    /// <summary>X.520 ub-common-name: a CN is at most 64 characters (RFC 5280 Appendix A.1).</summary>
    public const int NameLengthMax = 64;

    public static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    private static readonly TimeSpan ValidityPeriod = TimeSpan.FromDays(365);

    /// <summary>Issues a client certificate with subject CN=<paramref name="name"/>, O=Ironclad; <paramref name="authority"/> must hold its key.</summary>
    public static X509Certificate2 Issue(X509Certificate2 authority, string name, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(authority);
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // The builder escapes the name: "x, O=Other" stays one CN instead of adding an attribute.
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(name);
        subject.AddOrganizationName("Ironclad");
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(
            certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ClientAuthentication], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(
            authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));

        var (notBefore, notAfter) = CertificateIssuance.Validity(authority, now, ValidityPeriod);
        using var certificate = request.Create(authority, notBefore, notAfter, CertificateIssuance.RandomSerialNumber());
        return certificate.CopyWithPrivateKey(key);
    }

    /// <summary>The files of the qemu/libnbd layout that already exist in <paramref name="directory"/>.</summary>
    public static IReadOnlyList<string> ExistingFiles(string directory) =>
        [.. new[] { CaFileName, CertificateFileName, KeyFileName }.Select(file => Path.Combine(directory, file)).Where(File.Exists)];

    /// <summary>Writes the CA certificate, the client certificate (0644) and its key (0600) into <paramref name="directory"/>, key first.</summary>
    public static void Write(string directory, X509Certificate2 authority, X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(authority);
        ArgumentNullException.ThrowIfNull(certificate);
        using (var key = certificate.GetECDsaPrivateKey())
        {
            PemFiles.WritePrivateKey(Path.Combine(directory, KeyFileName), key ?? throw new UnreachableException("issued certificate has no ECDSA key"));
        }

        // ExportCertificatePem writes the certificate only, never the key it carries.
        PemFiles.WritePublicCertificate(Path.Combine(directory, CertificateFileName), certificate);
        PemFiles.WritePublicCertificate(Path.Combine(directory, CaFileName), authority);
    }
}
