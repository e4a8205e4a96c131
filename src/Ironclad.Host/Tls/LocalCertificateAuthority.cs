// The data directory's own certificate authority (ECDSA P-256, ~10 years). Clients trust its
// certificate file, so the invariant is: once DIR/tls/ca.pem exists it is never replaced by the
// server. A CA certificate without its key, a damaged CA or an expired one stops the start with
// instructions rather than silently minting a new root that every client would then reject.
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ironclad.Host.Logging;
using Ironclad.Host.Server;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Tls;

internal sealed class LocalCertificateAuthority : IDisposable
{
    public const string CertificateFileName = "ca.pem";
    public const string KeyFileName = "ca-key.pem";

    private static readonly TimeSpan ValidityPeriod = TimeSpan.FromDays(3653);
    private static readonly TimeSpan ClockSkewAllowance = TimeSpan.FromHours(1);

    private LocalCertificateAuthority(X509Certificate2 certificate, string certificatePath)
    {
        Certificate = certificate;
        CertificatePath = certificatePath;
    }

    /// <summary>The CA certificate with its private key (in memory only).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Absolute path of the CA certificate PEM that clients trust.</summary>
    public string CertificatePath { get; }

    public static LocalCertificateAuthority LoadOrCreate(string tlsDirectory, TimeProvider time, ILogger logger)
    {
        var certificatePath = Path.Combine(tlsDirectory, CertificateFileName);
        var keyPath = Path.Combine(tlsDirectory, KeyFileName);
        if (!File.Exists(certificatePath))
        {
            // The key is written before the certificate, so a key alone is a first start that
            // stopped half-way: no client can trust a CA whose certificate was never written.
            return Create(certificatePath, keyPath, time, logger);
        }

        return LoadExisting(tlsDirectory, certificatePath, keyPath, time, logger);
    }

    /// <summary>Loads the CA a server created earlier; never creates one (issuing client certificates must not race a server's first start).</summary>
    public static LocalCertificateAuthority Load(string tlsDirectory, TimeProvider time, ILogger logger)
    {
        var certificatePath = Path.Combine(tlsDirectory, CertificateFileName);
        if (!File.Exists(certificatePath))
        {
            throw new StartupException(
                $"there is no local CA in '{tlsDirectory}': start `ironclad server` on the data directory once to create it");
        }

        return LoadExisting(tlsDirectory, certificatePath, Path.Combine(tlsDirectory, KeyFileName), time, logger);
    }

    private static LocalCertificateAuthority LoadExisting(
        string tlsDirectory, string certificatePath, string keyPath, TimeProvider time, ILogger logger)
    {
        if (!File.Exists(keyPath))
        {
            throw new StartupException(
                $"the local CA certificate '{certificatePath}' exists but its private key '{keyPath}' is missing; " +
                "restore the key, or delete the certificate to create a new CA (clients must then trust the new one)");
        }

        X509Certificate2 certificate;
        try
        {
            using var publicCertificate = PemFiles.ReadCertificate(certificatePath);
            using var key = PemFiles.ReadEcdsaPrivateKey(keyPath);
            certificate = publicCertificate.CopyWithPrivateKey(key);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new StartupException(
                $"the local CA in '{tlsDirectory}' cannot be loaded ({e.Message}); restore '{CertificateFileName}' and " +
                $"'{KeyFileName}', or delete both to create a new CA (clients must then trust the new one)", e);
        }

        var now = time.GetUtcNow();
        if (certificate.NotAfter.ToUniversalTime() <= now.UtcDateTime)
        {
            var notAfter = certificate.NotAfter.ToUniversalTime();
            certificate.Dispose();
            throw new StartupException(
                $"the local CA '{certificatePath}' expired on {notAfter:yyyy-MM-dd}; delete '{CertificateFileName}' and " +
                $"'{KeyFileName}' to create a new CA (clients must then trust the new one)");
        }

        HostLog.CertificateAuthorityLoaded(logger, certificate, certificatePath);
        return new LocalCertificateAuthority(certificate, certificatePath);
    }

    private static LocalCertificateAuthority Create(string certificatePath, string keyPath, TimeProvider time, ILogger logger)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var instance = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        var request = new CertificateRequest(
            new X500DistinguishedName($"CN=Ironclad Local CA {instance}, O=Ironclad"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(
            certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));

        var now = time.GetUtcNow();
        var certificate = request.CreateSelfSigned(now - ClockSkewAllowance, now + ValidityPeriod);
        try
        {
            PemFiles.WritePrivateKey(keyPath, key);
            PemFiles.WriteCertificate(certificatePath, certificate);
        }
        catch
        {
            certificate.Dispose();
            throw;
        }

        HostLog.CertificateAuthorityCreated(logger, certificate, certificatePath);
        return new LocalCertificateAuthority(certificate, certificatePath);
    }

    public void Dispose() => Certificate.Dispose();
}
