// Everything HTTPS needs, prepared before the listener starts: DIR/tls (mode 0700), the local CA
// and a server certificate fit for the bind address. The private keys stay in this process's
// memory (and in their 0600 PEM files); they are never logged, only thumbprints and paths are.
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ironclad.Host.Data;
using Ironclad.Host.Server;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Tls;

internal sealed class TlsMaterial : IDisposable
{
    private TlsMaterial(string caCertificatePath, X509Certificate2 serverCertificate)
    {
        CaCertificatePath = caCertificatePath;
        ServerCertificate = serverCertificate;
    }

    /// <summary>Absolute path of the CA certificate PEM (what endpoints.json points clients to).</summary>
    public string CaCertificatePath { get; }

    /// <summary>The certificate with private key, in a form Kestrel can serve.</summary>
    public X509Certificate2 ServerCertificate { get; }

    public static TlsMaterial Prepare(string tlsDirectory, IPAddress bindAddress, TimeProvider time, ILogger logger)
    {
        try
        {
            UnixFileModes.CreateOwnerOnlyDirectory(tlsDirectory);
            using var authority = LocalCertificateAuthority.LoadOrCreate(tlsDirectory, time, logger);
            using var certificate = Tls.ServerCertificate.LoadOrIssue(
                tlsDirectory, authority, Tls.ServerCertificate.RequiredNames(bindAddress), time, logger);
            return new TlsMaterial(authority.CertificatePath, ForKestrel(certificate));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"cannot prepare TLS files in '{tlsDirectory}': {e.Message}", e);
        }
    }

    // A certificate whose key was imported from PEM is "ephemeral"; SslStream on Windows cannot use
    // such a key and some platforms want a PKCS#12-backed one, so re-import it once through PKCS#12.
    private static X509Certificate2 ForKestrel(X509Certificate2 certificate)
    {
        var pkcs12 = certificate.Export(X509ContentType.Pkcs12);
        try
        {
            return X509CertificateLoader.LoadPkcs12(pkcs12, password: null);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs12);
        }
    }

    public void Dispose() => ServerCertificate.Dispose();
}
