// Everything HTTPS and NBD-over-TLS need, prepared before the listeners start: DIR/tls (mode 0700),
// the local CA and a server certificate fit for the bind address. The private keys stay in this
// process's memory (and in their 0600 PEM files); they are never logged, only thumbprints and
// paths are. The CA is kept here without its key: it only verifies client certificates.
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ironclad.Host.Data;
using Ironclad.Host.Server;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Tls;

internal sealed class TlsMaterial : IDisposable
{
    private TlsMaterial(string caCertificatePath, X509Certificate2 caCertificate, X509Certificate2 serverCertificate)
    {
        CaCertificatePath = caCertificatePath;
        CaCertificate = caCertificate;
        ServerCertificate = serverCertificate;
    }

    /// <summary>Absolute path of the CA certificate PEM (what endpoints.json points clients to).</summary>
    public string CaCertificatePath { get; }

    /// <summary>The local CA's certificate without its private key: what client certificates must chain to (NBD mutual TLS).</summary>
    public X509Certificate2 CaCertificate { get; }

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
            var caCertificate = X509CertificateLoader.LoadCertificate(authority.Certificate.RawData);
            try
            {
                return new TlsMaterial(authority.CertificatePath, caCertificate, ForKestrel(certificate));
            }
            catch
            {
                caCertificate.Dispose();
                throw;
            }
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

    public void Dispose()
    {
        ServerCertificate.Dispose();
        CaCertificate.Dispose();
    }
}
